package handlers

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/netip"

	"github.com/gin-gonic/gin"

	"userhub/models"
)

// The first run: while no user exists, every page leads to /setup, which
// creates the first administrator.

// setUp reports whether a user exists. Once one does, one always will
// (the store refuses to delete the last administrator), so the store is
// asked only until then: not on every page view.
func (h *Handlers) setUp(ctx context.Context) (bool, error) {
	if h.setupDone.Load() {
		return true, nil
	}
	n, err := h.store.CountUsers(ctx, models.Filter{})
	if err != nil {
		return false, err
	}
	if n > 0 {
		h.setupDone.Store(true)
	}
	return n > 0, nil
}

// firstRun sends page visits to /setup while no user exists.
func (h *Handlers) firstRun(c *gin.Context) {
	if c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead {
		c.Next()
		return
	}
	done, err := h.setUp(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	if !done {
		c.Redirect(http.StatusSeeOther, "/setup")
		c.Abort()
		return
	}
	c.Next()
}

// needsSetup is nil while no user exists, and models.ErrSetupDone (404)
// once one does.
func (h *Handlers) needsSetup(ctx context.Context) error {
	done, err := h.setUp(ctx)
	if err == nil && done {
		err = models.ErrSetupDone
	}
	return err
}

// setupPage is what setup.html shows.
type setupPage struct {
	Name      string
	Errors    map[string]string // field -> translation key
	MinLength int               // of a password, for the hint
	Token     string            // the setup link's token, carried on by the form
}

// errSetupLocked refuses the setup page to a visitor from another machine
// without the setup link's token: whoever reached a new server first
// would otherwise make themselves its administrator.
var errSetupLocked = &requestError{http.StatusForbidden, "setup_locked", "open the setup link from the server's log (it carries a token), or the setup page from the server itself"}

// setupAllowed reports whether the request may use the setup page: from
// the server's own machine (a loopback client address: the socket's, or
// X-Forwarded-For from server.trusted_proxies), or with the setup link's
// token.
func (h *Handlers) setupAllowed(c *gin.Context, token string) bool {
	if ip, err := netip.ParseAddr(c.ClientIP()); err == nil && ip.Unmap().IsLoopback() {
		return true
	}
	return h.setupToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(h.setupToken)) == 1
}

// setupPage: GET /setup, while no user exists (404 after).
func (h *Handlers) setupPage(c *gin.Context) error {
	if err := h.needsSetup(c.Request.Context()); err != nil {
		return err
	}
	token := c.Query("token")
	if !h.setupAllowed(c, token) {
		return errSetupLocked
	}
	return h.renderPage(c, http.StatusOK, "setup.html", "setup", setupPage{MinLength: h.accounts.MinPasswordLength(), Token: token})
}

// setupSubmit: POST /setup (name, password, password_confirm) creates the
// first administrator and logs them in.
func (h *Handlers) setupSubmit(c *gin.Context) error {
	ctx := c.Request.Context()
	if err := h.needsSetup(ctx); err != nil {
		return err
	}
	token := c.PostForm("token")
	if !h.setupAllowed(c, token) {
		return errSetupLocked
	}
	name := c.PostForm("name")
	user, err := h.accounts.Setup(ctx, name, c.PostForm("password"), c.PostForm("password_confirm"), c.ClientIP())
	var verr *models.ValidationError
	if errors.As(err, &verr) {
		page := setupPage{Name: name, Errors: map[string]string{}, MinLength: h.accounts.MinPasswordLength(), Token: token}
		for _, f := range verr.Fields {
			if _, first := page.Errors[f.Field]; !first {
				page.Errors[f.Field] = "field." + f.Code
			}
		}
		return h.renderPage(c, http.StatusUnprocessableEntity, "setup.html", "setup", page)
	}
	if err != nil {
		return err
	}
	if err := h.sessions.Login(c, user); err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, "/")
	return nil
}
