package handlers

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"userhub/auth"
	"userhub/sessions"
	"userhub/sso"
)

// Single sign-on through an OpenID Connect provider: the button on the
// login page starts a flow (GET /login/oidc), the provider sends the
// browser back (GET /login/oidc/callback), and the person is logged in,
// or, when the flow was started from /account/security by a logged-in
// user, their account is linked. The flow's state, nonce and PKCE verifier
// wait in a signed, encrypted, single-use cookie (sessions.NewOIDCFlows),
// so any instance or cluster worker can finish what another began.

// errLinkElsewhere refuses a link begun anywhere but this site's security page.
var errLinkElsewhere = &requestError{http.StatusForbidden, "link_elsewhere", "link your account from your security page (/account/security)"}

// oidcFlowKind names the flows among the ceremonies.
const oidcFlowKind = "oidc"

// oidcFlow is what the flow's cookie holds.
type oidcFlow struct {
	Flow sso.Flow `json:"flow"`
	Next string   `json:"next"`
}

// oidcStart: GET /login/oidc (next): to the provider. A logged-in user
// goes to next.
func (h *Handlers) oidcStart(c *gin.Context) error {
	if h.sso == nil {
		return errNoRoute
	}
	next := safeNext(c.Query("next"))
	if _, ok := auth.User(c); ok {
		c.Redirect(http.StatusSeeOther, next)
		return nil
	}
	return h.toProvider(c, 0, next)
}

// oidcLink: GET /account/security/oidc/link: to the provider, to link
// the account to whom the person signs in as there. A GET, like the login
// button, because the pages' Content-Security-Policy (form-action 'self')
// stops a form's redirect to another site; it changes nothing here but
// the flow's cookie, and only an answer to this browser's flow, from a
// sign-in at the provider, links anything (to this same user).
func (h *Handlers) oidcLink(c *gin.Context) error {
	if h.sso == nil {
		return errNoRoute
	}
	// A GET another site can send the browser to: only a click on this
	// site's own page starts a link (browsers say where a navigation comes
	// from), and the provider is asked for a fresh sign-in.
	if c.GetHeader("Sec-Fetch-Site") != "same-origin" {
		return errLinkElsewhere
	}
	return h.toProvider(c, principal(c).User.ID, "/account/security")
}

// toProvider starts a flow for userID (0: a login) and sends the browser
// to the provider.
func (h *Handlers) toProvider(c *gin.Context, userID int64, next string) error {
	f := oidcFlow{Flow: sso.NewFlow(), Next: next}
	to, err := h.sso.AuthURL(c.Request.Context(), f.Flow, userID != 0)
	if err != nil {
		return err
	}
	state, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if err := h.oidcFlows.Put(c, oidcFlowKind, userID, state); err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, to)
	return nil
}

// oidcCallback: GET /login/oidc/callback (state, code or error): the
// provider's answer. Its state must be the one this browser's flow began
// with (the flow's cookie, used once), the code must be redeemable with
// the flow's verifier, and the ID token must carry the flow's nonce;
// anything else logs nobody in and says why.
func (h *Handlers) oidcCallback(c *gin.Context) error {
	if h.sso == nil {
		return errNoRoute
	}
	ctx := c.Request.Context()
	var userID int64
	if u, ok := auth.User(c); ok {
		userID = u.ID
	}
	raw, err := h.oidcFlows.Take(c, oidcFlowKind, userID)
	var f oidcFlow
	if err == nil {
		err = json.Unmarshal(raw, &f)
	}
	if errors.Is(err, sessions.ErrNoCeremony) {
		// No flow of this browser's: counted, not recorded (anyone can
		// send this request, as often as they like).
		h.accounts.CountSSOFailure()
		return sso.ErrBadState
	}
	if err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		if errors.As(err, &syntax) || errors.As(err, &typ) {
			h.accounts.RecordSSOFailure(ctx, sso.ErrBadState, c.ClientIP())
			return sso.ErrBadState
		}
		return err
	}
	id, err := h.sso.Finish(ctx, f.Flow, c.Request.URL.Query())
	if err != nil {
		if !errors.Is(err, sso.ErrUnavailable) {
			h.accounts.RecordSSOFailure(ctx, err, c.ClientIP())
		}
		return err
	}
	if userID != 0 {
		if err := h.accounts.LinkOIDC(ctx, principal(c), id); err != nil {
			return err
		}
		c.Redirect(http.StatusSeeOther, "/account/security?linked=1")
		return nil
	}
	login, err := h.accounts.LogInWithOIDC(ctx, id, c.ClientIP())
	if err != nil {
		return err
	}
	return h.startSession(c, login, safeNext(f.Next))
}

// oidcUnlink: POST /account/security/oidc/unlink (issuer, subject).
func (h *Handlers) oidcUnlink(c *gin.Context) error {
	if h.sso == nil {
		return errNoRoute
	}
	if err := h.accounts.UnlinkOIDC(c.Request.Context(), principal(c), c.PostForm("issuer"), c.PostForm("subject")); err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, "/account/security?unlinked=1")
	return nil
}

// ssoLogin is what the login page shows of single sign-on.
type ssoLogin struct {
	On bool
	// Name is the provider's, for the button ("" : a generic label).
	Name string
	// PasswordOff hides the password form.
	PasswordOff bool
	// LogoutURL is the provider's end-session endpoint, offered after a
	// logout ("" : none).
	LogoutURL string
}

// ssoForLogin returns what the login page shows of single sign-on.
func (h *Handlers) ssoForLogin(loggedOut bool) ssoLogin {
	if h.sso == nil {
		return ssoLogin{}
	}
	s := ssoLogin{On: true, Name: h.sso.Name(), PasswordOff: h.oidcPasswordOff}
	if loggedOut {
		s.LogoutURL = h.sso.LogoutURL(h.oidcAfterLogout)
	}
	return s
}

// afterLogoutURL is where the provider's end-session endpoint sends the
// browser back to: this server's /login (from oidc.redirect_url's origin).
func afterLogoutURL(redirectURL string) string {
	u, err := url.Parse(redirectURL)
	if err != nil {
		return ""
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/login"}).String()
}

// oidcRow is one link in /account/security.
type oidcRow struct {
	Issuer, Subject, Created string
}

// oidcLinks lists the principal's links for the security page.
func (h *Handlers) oidcLinks(c *gin.Context) ([]oidcRow, error) {
	if h.sso == nil {
		return nil, nil
	}
	links, err := h.accounts.OIDCLinks(c.Request.Context(), principal(c))
	if err != nil {
		return nil, err
	}
	rows := make([]oidcRow, 0, len(links))
	for _, l := range links {
		rows = append(rows, oidcRow{Issuer: l.Issuer, Subject: l.Subject, Created: displayTime(l.CreatedAt)})
	}
	return rows, nil
}
