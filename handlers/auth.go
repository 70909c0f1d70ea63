package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"userhub/accounts"
	"userhub/auth"
	"userhub/locale"
	"userhub/middleware"
	"userhub/models"
	"userhub/sessions"
)

// Logging in and out, and one's own account. The accounts service checks
// the passwords; the session manager starts and ends the sessions.

// localPath returns next if it is a path on this site, "/" otherwise. No
// scheme, no host, no "//" or "/\" (which browsers read as another host):
// no open redirect.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	return u.RequestURI()
}

// safeNext returns where to go after logging in: a local path, but not
// back to the ways in.
func safeNext(next string) string {
	next = localPath(next)
	if u, err := url.Parse(next); err != nil || u.Path == "/login" || u.Path == "/logout" || u.Path == "/setup" {
		return "/"
	}
	return next
}

// loginPage is what login.html shows.
type loginPage struct {
	Next      string
	Name      string
	Error     string // translation key
	LoggedOut bool
	Ended     bool // a session ended: say so, not just ask for a password
	SSO       ssoLogin
}

// loginPage: GET /login.
func (h *Handlers) loginPage(c *gin.Context) error {
	next := safeNext(c.Query("next"))
	if _, ok := auth.User(c); ok {
		c.Redirect(http.StatusSeeOther, next)
		return nil
	}
	bye := c.Query("bye") != ""
	return h.renderPage(c, http.StatusOK, "login.html", "login", loginPage{Next: next, LoggedOut: bye, Ended: c.Query("ended") != "", SSO: h.ssoForLogin(bye)})
}

// loginSubmit: POST /login (a form: name, password, next). A wrong
// password or too many attempts show the form again, saying so. An
// account with a second factor goes on to /login/2fa.
func (h *Handlers) loginSubmit(c *gin.Context) error {
	name, password := c.PostForm("name"), c.PostForm("password")
	page := loginPage{Next: safeNext(c.PostForm("next")), Name: name, SSO: h.ssoForLogin(false)}
	login, err := h.accounts.LogIn(c.Request.Context(), name, password, accounts.SecondFactor{}, c.ClientIP())
	if err == nil {
		return h.startSession(c, login, page.Next)
	}
	var throttled *models.ThrottledError
	switch {
	case errors.Is(err, models.ErrBadCredentials):
		page.Error = "login.failed"
	case errors.Is(err, models.ErrSuspended):
		page.Error = "msg.account_suspended"
	case errors.As(err, &throttled):
		page.Error = "login.throttled"
	default:
		return err
	}
	p := problemFor(err)
	h.setHeaders(c, p)
	return h.renderPage(c, p.Status, "login.html", "login", page)
}

// logout: POST /logout. (GET is 405: no state changes on GET.)
func (h *Handlers) logout(c *gin.Context) error {
	if err := h.endSession(c); err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, "/login?bye=1")
	return nil
}

// endSession logs the request's user out, and records it.
func (h *Handlers) endSession(c *gin.Context) error {
	p, loggedIn := auth.From(c)
	if err := h.sessions.Logout(c); err != nil {
		return err
	}
	if loggedIn && p.User.ID != 0 {
		h.accounts.Record(c.Request.Context(), p, models.AuditLogout, p.User, nil)
	}
	return nil
}

// apiLogin: POST /api/v1/login {"name", "password", "totp"?,
// "recovery_code"?} -> 200, the user, and the session cookie. An account
// with a second factor needs it in the same request (401
// second_factor_required without). An administrator who must enrol one
// gets a session that may only do that.
func (h *Handlers) apiLogin(c *gin.Context) error {
	var in struct {
		Name         *string `json:"name" required:"true"`
		Password     *string `json:"password" required:"true"`
		TOTP         string  `json:"totp"`
		RecoveryCode string  `json:"recovery_code"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	login, err := h.accounts.LogIn(c.Request.Context(), *in.Name, *in.Password,
		accounts.SecondFactor{Code: in.TOTP, RecoveryCode: in.RecoveryCode}, c.ClientIP())
	if err != nil {
		return err
	}
	if login.SecondFactorPending {
		return models.ErrSecondFactorRequired
	}
	stage := sessions.Complete
	if login.MustEnrol {
		stage = sessions.MustEnrol
	}
	if err := h.sessions.Start(c, login.User, stage); err != nil {
		return err
	}
	writeJSON(c, http.StatusOK, typeJSON, toJSON(login.User))
	return nil
}

// apiLogout: POST /api/v1/logout -> 204.
func (h *Handlers) apiLogout(c *gin.Context) error {
	if err := h.endSession(c); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// apiMe: GET /api/v1/me -> the logged-in user.
func (h *Handlers) apiMe(c *gin.Context) error {
	writeJSON(c, http.StatusOK, typeJSON, toJSON(principal(c).User))
	return nil
}

// apiChangePassword: PUT /api/v1/me/password {"current_password",
// "new_password"} -> 204. Every other session of the user ends; this one
// goes on, under a new cookie.
func (h *Handlers) apiChangePassword(c *gin.Context) error {
	var in struct {
		Current *string `json:"current_password" required:"true"`
		New     *string `json:"new_password" required:"true"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	updated, err := h.accounts.ChangeOwnPassword(c.Request.Context(), principal(c), *in.Current, *in.New, c.ClientIP())
	if err != nil {
		return err
	}
	if err := h.sessions.Reissue(c, updated); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// setLanguage: POST /lang (lang, next) remembers the language chosen in
// the page, for a year, and goes back to the page.
func (h *Handlers) setLanguage(c *gin.Context) error {
	lang := c.PostForm("lang")
	if !locale.Supported(lang) {
		return models.Invalid("lang", "invalid_language", "unknown language")
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: middleware.IsHTTPS(c.Request), SameSite: http.SameSiteLaxMode,
	})
	c.Redirect(http.StatusSeeOther, localPath(c.PostForm("next")))
	return nil
}
