package handlers

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"userhub/accounts"
	"userhub/auth"
	"userhub/models"
	"userhub/sessions"
)

// Second factors: the page /account/security (plain forms, no script
// needed) and /api/v1/me/totp. The accounts service keeps the rules; a
// person who had to enrol (auth.require_2fa_for_admins) gets a complete
// session once they have.

// apiBeginTOTP: POST /api/v1/me/totp -> 201 {"secret", "otpauth_url"}: a
// new secret, on once confirmed.
func (h *Handlers) apiBeginTOTP(c *gin.Context) error {
	e, err := h.accounts.BeginTOTP(c.Request.Context(), principal(c))
	if err != nil {
		return err
	}
	writeJSON(c, http.StatusCreated, typeJSON, struct {
		Secret string `json:"secret"`
		URL    string `json:"otpauth_url"`
	}{e.Secret, e.URL})
	return nil
}

// apiConfirmTOTP: POST /api/v1/me/totp/confirm {"code"} -> 200
// {"recovery_codes": [...]}, shown this once.
func (h *Handlers) apiConfirmTOTP(c *gin.Context) error {
	var in struct {
		Code *string `json:"code" required:"true"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	codes, err := h.confirmTOTP(c, *in.Code)
	if err != nil {
		return err
	}
	writeJSON(c, http.StatusOK, typeJSON, struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}{codes})
	return nil
}

// confirmTOTP confirms the request's user's secret; a session that had
// to enrol becomes a complete one.
func (h *Handlers) confirmTOTP(c *gin.Context, code string) ([]string, error) {
	p := principal(c)
	codes, err := h.accounts.ConfirmTOTP(c.Request.Context(), p, code)
	if err != nil {
		return nil, err
	}
	if p.MustEnrol {
		if err := h.sessions.Reissue(c, p.User); err != nil {
			return nil, err
		}
	}
	return codes, nil
}

// apiDisableTOTP: DELETE /api/v1/me/totp {"password", "code"} -> 204.
func (h *Handlers) apiDisableTOTP(c *gin.Context) error {
	var in struct {
		Password *string `json:"password" required:"true"`
		Code     *string `json:"code" required:"true"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if err := h.accounts.DisableTOTP(c.Request.Context(), principal(c), *in.Password, *in.Code, c.ClientIP()); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// securityPage is what account_security.html shows.
type securityPage struct {
	State         accounts.SecurityState
	QR            template.URL // the pending secret's QR code, a data: URL
	RecoveryCodes []string     // just made: shown this once
	MustEnrol     bool
	Removed       bool
	Passkeys      []passkeyRow
	// PasskeyAdded, PasskeyRemoved: what the page was sent back for.
	PasskeyAdded, PasskeyRemoved bool
	Errors                       []string // translation keys
	// SSO: single sign-on is on; OIDCLinks are the account's links to
	// the provider, OIDCName its name; Linked, Unlinked what the page was
	// sent back for.
	SSO              bool
	OIDCName         string
	OIDCLinks        []oidcRow
	Linked, Unlinked bool
}

// passkeyRow is one passkey in the page's list.
type passkeyRow struct {
	ID, Name, Created, LastUsed string
}

// securityFieldErrors translates the second factors' field errors.
var securityFieldErrors = map[string]string{
	"code:wrong_code": "security.error.wrong_code", "code:no_totp": "security.error.no_totp",
	"password:wrong_password": "security.error.wrong_password",
}

// renderSecurity renders the page for the request's user, with page's
// outcome.
func (h *Handlers) renderSecurity(c *gin.Context, status int, page securityPage) error {
	p := principal(c)
	st, err := h.accounts.Security(c.Request.Context(), p)
	if err != nil {
		return err
	}
	page.State = st
	page.MustEnrol = p.MustEnrol
	keys, err := h.accounts.Passkeys(c.Request.Context(), p)
	if err != nil {
		return err
	}
	for _, k := range keys {
		row := passkeyRow{ID: base64.RawURLEncoding.EncodeToString(k.ID), Name: k.Name, Created: displayTime(k.CreatedAt)}
		if !k.LastUsedAt.IsZero() {
			row.LastUsed = displayTime(k.LastUsedAt)
		}
		page.Passkeys = append(page.Passkeys, row)
	}
	if page.OIDCLinks, err = h.oidcLinks(c); err != nil {
		return err
	}
	if h.sso != nil {
		page.SSO, page.OIDCName = true, h.sso.Name()
	}
	if st.Pending != nil {
		page.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(st.Pending.QRPNG))
	}
	return h.renderPage(c, status, "account_security.html", "account", page)
}

// securityPageGet: GET /account/security.
func (h *Handlers) securityPageGet(c *gin.Context) error {
	return h.renderSecurity(c, http.StatusOK, securityPage{Removed: c.Query("removed") == "1",
		PasskeyAdded: c.Query("passkey_added") == "1", PasskeyRemoved: c.Query("passkey_removed") == "1",
		Linked: c.Query("linked") == "1", Unlinked: c.Query("unlinked") == "1"})
}

// securityPageBegin: POST /account/security/totp -> back to the page,
// which shows the new secret and its QR code.
func (h *Handlers) securityPageBegin(c *gin.Context) error {
	if _, err := h.accounts.BeginTOTP(c.Request.Context(), principal(c)); err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, "/account/security")
	return nil
}

// securityPageConfirm: POST /account/security/totp/confirm (code) -> the
// page with the recovery codes, shown once, or what is wrong (422).
func (h *Handlers) securityPageConfirm(c *gin.Context) error {
	codes, err := h.confirmTOTP(c, c.PostForm("code"))
	if err == nil {
		return h.renderSecurity(c, http.StatusOK, securityPage{RecoveryCodes: codes})
	}
	return h.securityFormFailed(c, err)
}

// securityPageRemove: POST /account/security/totp/remove (password, code)
// -> back to the page, which says so.
func (h *Handlers) securityPageRemove(c *gin.Context) error {
	err := h.accounts.DisableTOTP(c.Request.Context(), principal(c), c.PostForm("password"), c.PostForm("code"), c.ClientIP())
	if err == nil {
		c.Redirect(http.StatusSeeOther, "/account/security?removed=1")
		return nil
	}
	return h.securityFormFailed(c, err)
}

// securityFormFailed shows the page again with what was wrong in a form,
// or fails as anything else does.
func (h *Handlers) securityFormFailed(c *gin.Context, err error) error {
	var verr *models.ValidationError
	var throttled *models.ThrottledError
	page := securityPage{}
	switch {
	case errors.As(err, &verr):
		for _, f := range verr.Fields {
			key, ok := securityFieldErrors[f.Field+":"+f.Code]
			if !ok {
				key = "security.error.invalid"
			}
			page.Errors = append(page.Errors, key)
		}
	case errors.As(err, &throttled):
		page.Errors = []string{"login.throttled"}
	default:
		return err
	}
	p := problemFor(err)
	h.setHeaders(c, p)
	return h.renderSecurity(c, p.Status, page)
}

// enrolmentAllowed are the requests an administrator who must enrol a
// second factor may make: enrol, read who they are, log out, and the
// public pages.
func enrolmentAllowed(r *http.Request) bool {
	path := r.URL.Path
	switch {
	case path == "/account/security", strings.HasPrefix(path, "/account/security/"),
		path == "/api/v1/me/totp", strings.HasPrefix(path, "/api/v1/me/totp/"),
		path == "/api/v1/me/passkeys", strings.HasPrefix(path, "/api/v1/me/passkeys/"),
		path == "/logout", path == "/api/v1/logout", path == "/login", path == "/login/2fa", path == "/login/oidc/callback",
		path == "/lang", path == "/about":
		return true
	case path == "/api/v1/me":
		return r.Method == http.MethodGet || r.Method == http.MethodHead
	}
	return false
}

// secondStepPage is what login_2fa.html shows.
type secondStepPage struct {
	Next  string
	Error string // translation key
}

// secondStepGet: GET /login/2fa, the login's second step: only for a
// session whose password was right, the others go to /login.
func (h *Handlers) secondStepGet(c *gin.Context) error {
	if p, ok := auth.From(c); !ok || !p.SecondFactorPending {
		c.Redirect(http.StatusSeeOther, "/login")
		return nil
	}
	return h.renderPage(c, http.StatusOK, "login_2fa.html", "login", secondStepPage{Next: safeNext(c.Query("next"))})
}

// secondStepSubmit: POST /login/2fa (code, next): the app's code or a
// recovery code completes the login (a new session); a wrong one shows
// the form again, saying so.
func (h *Handlers) secondStepSubmit(c *gin.Context) error {
	page := secondStepPage{Next: safeNext(c.PostForm("next"))}
	p, ok := auth.From(c)
	if !ok || !p.SecondFactorPending {
		c.Redirect(http.StatusSeeOther, "/login?ended=1")
		return nil
	}
	login, err := h.accounts.CompleteLogin(c.Request.Context(), p, accounts.SecondFactor{Code: c.PostForm("code")}, c.ClientIP())
	if err == nil {
		return h.startSession(c, login, page.Next)
	}
	var throttled *models.ThrottledError
	switch {
	case errors.Is(err, models.ErrBadSecondFactor), errors.Is(err, models.ErrSecondFactorRequired):
		page.Error = "login.2fa.failed"
	case errors.As(err, &throttled):
		page.Error = "login.throttled"
	default:
		return err
	}
	pr := problemFor(err)
	h.setHeaders(c, pr)
	return h.renderPage(c, pr.Status, "login_2fa.html", "login", page)
}

// startSession starts the session of a login that has come this far, and
// sends the person on: to the second step, to enrol, or to next.
func (h *Handlers) startSession(c *gin.Context, login accounts.Login, next string) error {
	stage, to := sessions.Complete, next
	switch {
	case login.SecondFactorPending:
		stage, to = sessions.SecondFactorPending, "/login/2fa"
		if next != "/" {
			to += "?next=" + url.QueryEscape(next)
		}
	case login.MustEnrol:
		stage, to = sessions.MustEnrol, "/account/security"
	}
	if err := h.sessions.Start(c, login.User, stage); err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, to)
	return nil
}
