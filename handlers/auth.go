package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"userhub/locale"
	"userhub/middleware"
	"userhub/models"
)

// Logging in and out, the first-run setup, and one's own account.

// maxLoggedName bounds what a failed login writes to the log: the name is
// whatever the client sent.
const maxLoggedName = 64

// authenticate checks a name and password, within the login throttle, and
// returns the user. A wrong name and a wrong password fail alike and take
// the same time (a user that does not exist is checked against a dummy
// hash); the log says which, for the operator, with the client's address,
// never the password.
func (h *Handlers) authenticate(c *gin.Context, name, password string) (models.User, error) {
	ctx := c.Request.Context()
	user, rehash, err := h.checkPassword(c, name, password, nil)
	if err != nil {
		return models.User{}, err
	}
	if rehash {
		// The hash was made with older parameters: redo it while the
		// password is at hand. The sessions stay: it is the same password.
		if hash, err := h.hasher.Hash(ctx, password); err == nil {
			if updated, err := h.store.UpdateUser(ctx, user.ID, models.UserChange{PasswordHash: &hash, KeepSessions: true}); err == nil {
				user = updated
			}
		}
	}
	h.log.Info("login", "user", user.Name, "ip", c.ClientIP())
	return user, nil
}

// checkPassword checks name's password within the login throttle, and
// reports whether its hash should be redone. The user is looked up by
// name unless known (a logged-in user confirming their password).
func (h *Handlers) checkPassword(c *gin.Context, name, password string, known *models.User) (user models.User, rehash bool, err error) {
	ctx := c.Request.Context()
	ip := c.ClientIP()
	logName := truncate(name, maxLoggedName)
	if err := h.throttle.Attempt(ctx, name, ip); err != nil {
		var throttled *models.ThrottledError
		if errors.As(err, &throttled) {
			h.log.Warn("login refused: too many failures", "name", logName, "ip", ip, "retry_after", throttled.RetryAfter.Round(time.Second))
		}
		return models.User{}, false, err
	}
	// A name that could not be a user's (not text, too long, control
	// characters) is not looked up, but checked like any unknown name.
	if known != nil {
		user = *known
	} else if _, invalid := (models.NewUser{Name: name}).Normalize(); invalid == nil {
		if user, err = h.store.UserByName(ctx, name); err != nil && !errors.Is(err, models.ErrNotFound) {
			return models.User{}, false, err
		}
	}
	ok, rehash, err := h.hasher.Verify(ctx, password, user.PasswordHash)
	if err != nil {
		return models.User{}, false, err
	}
	if !ok {
		reason := "wrong password"
		switch {
		case user.ID == 0:
			reason = "no such user"
		case user.PasswordHash == "":
			reason = "the user has no password"
		}
		h.log.Warn("login failed", "name", logName, "ip", ip, "reason", reason)
		return models.User{}, false, models.ErrBadCredentials
	}
	if err := h.throttle.Succeeded(ctx, name, ip); err != nil {
		return models.User{}, false, err
	}
	return user, rehash, nil
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

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

// setUp reports whether a user exists. Once one does, one always will
// (the store refuses to delete the last administrator), so the store is
// asked only until then: not on every page view.
func (h *Handlers) setUp(ctx context.Context) (bool, error) {
	if h.setupDone.Load() {
		return true, nil
	}
	n, err := h.store.CountUsers(ctx)
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

// loginPage is what login.html shows.
type loginPage struct {
	Next      string
	Name      string
	Error     string // translation key
	LoggedOut bool
}

// loginPage: GET /login.
func (h *Handlers) loginPage(c *gin.Context) {
	next := safeNext(c.Query("next"))
	if _, ok := middleware.CurrentUser(c); ok {
		c.Redirect(http.StatusSeeOther, next)
		return
	}
	h.renderPage(c, http.StatusOK, "login.html", "login", loginPage{Next: next, LoggedOut: c.Query("bye") != ""})
}

// loginSubmit: POST /login (a form: name, password, next).
func (h *Handlers) loginSubmit(c *gin.Context) {
	name, password := c.PostForm("name"), c.PostForm("password")
	page := loginPage{Next: safeNext(c.PostForm("next")), Name: name}
	user, err := h.authenticate(c, name, password)
	if err == nil {
		err = h.sessions.Login(c, user)
	}
	var throttled *models.ThrottledError
	switch {
	case err == nil:
		c.Redirect(http.StatusSeeOther, page.Next)
	case errors.Is(err, models.ErrBadCredentials):
		page.Error = "login.failed"
		h.renderPage(c, http.StatusUnauthorized, "login.html", "login", page)
	case errors.As(err, &throttled):
		page.Error = "login.throttled"
		c.Header("Retry-After", problemFor(err).header["Retry-After"])
		h.renderPage(c, http.StatusTooManyRequests, "login.html", "login", page)
	default:
		h.fail(c, err)
	}
}

// logout: POST /logout. (GET is 405: no state changes on GET.)
func (h *Handlers) logout(c *gin.Context) {
	if err := h.sessions.Logout(c); err != nil {
		h.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/login?bye=1")
}

// credentials is the JSON login body.
type credentials struct {
	Name     *string `json:"name"`
	Password *string `json:"password"`
}

// apiLogin: POST /api/v1/login {"name", "password"} -> 200, the user, and
// the session cookie.
func (h *Handlers) apiLogin(c *gin.Context) {
	var in credentials
	if err := decodeJSON(c, &in); err != nil {
		h.fail(c, err)
		return
	}
	if in.Name == nil || in.Password == nil {
		h.fail(c, required(map[string]bool{"name": in.Name == nil, "password": in.Password == nil}))
		return
	}
	user, err := h.authenticate(c, *in.Name, *in.Password)
	if err == nil {
		err = h.sessions.Login(c, user)
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, typeJSON, toJSON(user))
}

// apiLogout: POST /api/v1/logout -> 204.
func (h *Handlers) apiLogout(c *gin.Context) {
	if err := h.sessions.Logout(c); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// apiMe: GET /api/v1/me -> the logged-in user.
func (h *Handlers) apiMe(c *gin.Context) {
	me, _ := middleware.CurrentUser(c)
	writeJSON(c, http.StatusOK, typeJSON, toJSON(me))
}

// passwordChange is the body of PUT /api/v1/me/password.
type passwordChange struct {
	Current *string `json:"current_password"`
	New     *string `json:"new_password"`
}

// apiChangePassword: PUT /api/v1/me/password -> 204. It needs the current
// password (a session left open on a shared computer must not be enough
// to take the account over), counts a wrong one as a failed login, ends
// every other session of the user, and keeps this one.
func (h *Handlers) apiChangePassword(c *gin.Context) {
	me, _ := middleware.CurrentUser(c)
	var in passwordChange
	if err := decodeJSON(c, &in); err != nil {
		h.fail(c, err)
		return
	}
	if in.Current == nil || in.New == nil {
		h.fail(c, required(map[string]bool{"current_password": in.Current == nil, "new_password": in.New == nil}))
		return
	}
	if _, _, err := h.checkPassword(c, me.Name, *in.Current, &me); err != nil {
		if errors.Is(err, models.ErrBadCredentials) {
			err = &models.ValidationError{Fields: []models.FieldError{{Field: "current_password", Code: "wrong_password", Message: "the current password is wrong"}}}
		}
		h.fail(c, err)
		return
	}
	if err := h.policy.Check("new_password", *in.New, me.Name); err != nil {
		h.fail(c, err)
		return
	}
	hash, err := h.hasher.Hash(c.Request.Context(), *in.New)
	if err != nil {
		h.fail(c, err)
		return
	}
	updated, err := h.store.UpdateUser(c.Request.Context(), me.ID, models.UserChange{PasswordHash: &hash})
	if err == nil {
		err = h.sessions.Reissue(c, updated)
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	h.log.Info("password changed", "user", me.Name, "ip", c.ClientIP())
	c.Status(http.StatusNoContent)
}

// required reports the missing fields among those given as true (nil if
// none is), in a fixed order.
func required(missing map[string]bool) error {
	var verr models.ValidationError
	for _, f := range []string{"name", "role", "password", "current_password", "new_password"} {
		if missing[f] {
			verr.Fields = append(verr.Fields, models.FieldError{Field: f, Code: "required", Message: f + " is required"})
		}
	}
	if len(verr.Fields) == 0 {
		return nil
	}
	return &verr
}

// setupPage is what setup.html shows.
type setupPage struct {
	Name      string
	Errors    map[string]string // field -> translation key
	MinLength int               // of a password, for the hint
}

// setupPage: GET /setup, while no user exists (404 after).
func (h *Handlers) setupPage(c *gin.Context) {
	done, err := h.setUp(c.Request.Context())
	if err == nil && done {
		err = models.ErrSetupDone
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	h.renderPage(c, http.StatusOK, "setup.html", "setup", setupPage{MinLength: h.policy.Min()})
}

// setupSubmit: POST /setup (name, password, password_confirm) creates the
// first administrator and logs them in.
func (h *Handlers) setupSubmit(c *gin.Context) {
	ctx := c.Request.Context()
	if done, err := h.setUp(ctx); err != nil || done {
		h.fail(c, errOr(err, models.ErrSetupDone))
		return
	}
	name, password := c.PostForm("name"), c.PostForm("password")
	page := setupPage{Name: name, Errors: map[string]string{}, MinLength: h.policy.Min()}
	var verr *models.ValidationError
	_, err := models.NewUser{Name: name, Role: models.RoleAdmin}.Normalize()
	if errors.As(err, &verr) {
		for _, f := range verr.Fields {
			page.Errors[f.Field] = "field." + f.Code
		}
	}
	if err := h.policy.Check("password", password, name); errors.As(err, &verr) {
		page.Errors["password"] = "field." + verr.Fields[0].Code
	} else if password != c.PostForm("password_confirm") {
		page.Errors["password_confirm"] = "field.password_mismatch"
	}
	if len(page.Errors) > 0 {
		h.renderPage(c, http.StatusUnprocessableEntity, "setup.html", "setup", page)
		return
	}
	hash, err := h.hasher.Hash(ctx, password)
	if err != nil {
		h.fail(c, err)
		return
	}
	user, err := h.store.CreateFirstUser(ctx, models.NewUser{Name: name, Role: models.RoleAdmin, PasswordHash: hash})
	if err == nil {
		err = h.sessions.Login(c, user)
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	h.log.Info("first administrator created", "user", user.Name, "ip", c.ClientIP())
	c.Redirect(http.StatusSeeOther, "/")
}

// errOr returns err if there is one, otherwise fallback.
func errOr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

// setLanguage: POST /lang (lang, next) remembers the language chosen in
// the page, for a year, and goes back to the page.
func (h *Handlers) setLanguage(c *gin.Context) {
	lang := c.PostForm("lang")
	if !locale.Supported(lang) {
		h.fail(c, &models.ValidationError{Fields: []models.FieldError{{Field: "lang", Code: "invalid_language", Message: "unknown language"}}})
		return
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: c.Request.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
	c.Redirect(http.StatusSeeOther, localPath(c.PostForm("next")))
}
