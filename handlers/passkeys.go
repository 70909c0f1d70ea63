package handlers

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"userhub/models"
	"userhub/sessions"
)

// Passkeys: registering and listing one's own under /api/v1/me/passkeys,
// signing in with one at /api/v1/login/passkey, removing one on the
// security page too. Each ceremony is two requests: the options for the
// browser (navigator.credentials), with the ceremony's state kept in a
// short-lived cookie (sessions.Ceremonies), then the browser's answer.
// static/app.js drives both from the pages.

const (
	ceremonyRegister = "register"
	ceremonyLogin    = "login"
)

// passkeyJSON is a passkey as the API shows it: never its key.
type passkeyJSON struct {
	ID         string     `json:"id"` // the credential id, base64url
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

func toPasskeyJSON(k models.Passkey) passkeyJSON {
	out := passkeyJSON{ID: base64.RawURLEncoding.EncodeToString(k.ID), Name: k.Name, CreatedAt: k.CreatedAt}
	if !k.LastUsedAt.IsZero() {
		out.LastUsedAt = &k.LastUsedAt
	}
	return out
}

// writeOptions answers a ceremony's options, raw JSON from the WebAuthn
// library.
func writeOptions(c *gin.Context, options []byte) {
	writeBody(c, http.StatusOK, typeJSON, append(options, '\n'))
}

// apiPasskeyOptions: POST /api/v1/me/passkeys/options -> 200 the options
// of a new passkey ({"publicKey": ...}), and the ceremony's cookie.
func (h *Handlers) apiPasskeyOptions(c *gin.Context) error {
	p := principal(c)
	options, state, err := h.accounts.BeginPasskeyRegistration(c.Request.Context(), p)
	if err != nil {
		return err
	}
	if err := h.ceremonies.Put(c, ceremonyRegister, p.User.ID, state); err != nil {
		return err
	}
	writeOptions(c, options)
	return nil
}

// apiAddPasskey: POST /api/v1/me/passkeys {"name", "credential"} -> 201,
// the passkey. A person who had to enrol a second factor has.
func (h *Handlers) apiAddPasskey(c *gin.Context) error {
	var in struct {
		Name       *string          `json:"name" required:"true"`
		Credential *json.RawMessage `json:"credential" required:"true"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	p := principal(c)
	state, err := h.ceremonies.Take(c, ceremonyRegister, p.User.ID)
	if err != nil {
		return err
	}
	k, err := h.accounts.FinishPasskeyRegistration(c.Request.Context(), p, *in.Name, state, *in.Credential)
	if err != nil {
		return err
	}
	if p.MustEnrol {
		if err := h.sessions.Reissue(c, p.User); err != nil {
			return err
		}
	}
	writeJSON(c, http.StatusCreated, typeJSON, toPasskeyJSON(k))
	return nil
}

// apiListPasskeys: GET /api/v1/me/passkeys -> 200 {"passkeys": [...]}.
func (h *Handlers) apiListPasskeys(c *gin.Context) error {
	keys, err := h.accounts.Passkeys(c.Request.Context(), principal(c))
	if err != nil {
		return err
	}
	out := struct {
		Passkeys []passkeyJSON `json:"passkeys"`
	}{Passkeys: []passkeyJSON{}}
	for _, k := range keys {
		out.Passkeys = append(out.Passkeys, toPasskeyJSON(k))
	}
	writeJSON(c, http.StatusOK, typeJSON, out)
	return nil
}

// passkeyID reads the :id of a passkey route.
func passkeyID(c *gin.Context) ([]byte, error) {
	id, err := base64.RawURLEncoding.DecodeString(c.Param("id"))
	if err != nil || len(id) == 0 {
		return nil, models.ErrNoPasskey
	}
	return id, nil
}

// apiRemovePasskey: DELETE /api/v1/me/passkeys/:id -> 204.
func (h *Handlers) apiRemovePasskey(c *gin.Context) error {
	id, err := passkeyID(c)
	if err != nil {
		return err
	}
	if err := h.accounts.RemovePasskey(c.Request.Context(), principal(c), id); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// securityPageRemovePasskey: POST /account/security/passkeys/:id/remove
// -> back to the page, which says so.
func (h *Handlers) securityPageRemovePasskey(c *gin.Context) error {
	id, err := passkeyID(c)
	if err != nil {
		return err
	}
	if err := h.accounts.RemovePasskey(c.Request.Context(), principal(c), id); err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, "/account/security?passkey_removed=1")
	return nil
}

// apiPasskeyLoginOptions: POST /api/v1/login/passkey/options -> 200 the
// options of a sign-in with any of this site's passkeys, and the
// ceremony's cookie.
func (h *Handlers) apiPasskeyLoginOptions(c *gin.Context) error {
	options, state, err := h.accounts.BeginPasskeyLogin()
	if err != nil {
		return err
	}
	if err := h.ceremonies.Put(c, ceremonyLogin, 0, state); err != nil {
		return err
	}
	writeOptions(c, options)
	return nil
}

// apiPasskeyLogin: POST /api/v1/login/passkey {"credential"} -> 200, the
// user, and the session cookie: a complete login.
func (h *Handlers) apiPasskeyLogin(c *gin.Context) error {
	var in struct {
		Credential *json.RawMessage `json:"credential" required:"true"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	state, err := h.ceremonies.Take(c, ceremonyLogin, 0)
	if err != nil {
		return err
	}
	login, err := h.accounts.FinishPasskeyLogin(c.Request.Context(), state, *in.Credential, c.ClientIP())
	if err != nil {
		return err
	}
	if err := h.sessions.Start(c, login.User, sessions.Complete); err != nil {
		return err
	}
	writeJSON(c, http.StatusOK, typeJSON, toJSON(login.User))
	return nil
}
