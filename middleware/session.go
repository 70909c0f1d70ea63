package middleware

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/gorilla/securecookie"
	gsessions "github.com/gorilla/sessions"

	"userhub/config"
	"userhub/models"
)

// Session values. The cookie stays small (a few hundred bytes): ids,
// version and times only, never user data.
const (
	keyUserID  = "uid"  // int64
	keyVersion = "ver"  // int64: the user's session version at login
	keySID     = "sid"  // string: this session's id, for revocation
	keyLogin   = "iat"  // int64 unix milliseconds: login time (absolute timeout)
	keySeen    = "seen" // int64 unix milliseconds: last refresh (idle timeout)
)

// Context keys for what Authenticate found.
const (
	userKey    = "user"
	sessionKey = "session"
)

// Sessions logs users in and out and finds the user of each request. It
// uses a gin-contrib/sessions store (cookie or Redis) directly, instead of
// that package's middleware, because login must start a NEW session (new
// id, new content: the one a visitor held before is not the one they hold
// after, against session fixation), which its middleware cannot do.
//
// A session ends at once, with either store, when: the user logs out (its
// id is recorded in Revocations), the user is deleted, the user's session
// version moves on (password change, "log out everywhere"), it has not
// been used for IdleTimeout, or AbsoluteTimeout has passed since login.
// Every request re-reads the user, so all of these are seen.
type Sessions struct {
	store       sessions.Store
	cfg         config.Session
	users       models.UserStore
	revocations models.Revocations
	log         *slog.Logger
	fail        Fail
}

// NewSessions returns Sessions over store.
func NewSessions(store sessions.Store, cfg config.Session, users models.UserStore, revocations models.Revocations, log *slog.Logger, fail Fail) *Sessions {
	return &Sessions{store: store, cfg: cfg, users: users, revocations: revocations, log: log, fail: fail}
}

// cookieName is the session cookie's name for r. A Secure cookie with no
// domain and path "/" gets the __Host- prefix: browsers then accept it only
// with Secure, from this host, for every path, so a sibling subdomain or a
// plain-HTTP page cannot plant or overwrite it. (Without Secure, browsers
// would refuse a cookie so named.)
func (s *Sessions) cookieName(r *http.Request) string {
	if s.secure(r) && s.cfg.Domain == "" && s.cfg.Path == "/" {
		return "__Host-" + s.cfg.CookieName
	}
	return s.cfg.CookieName
}

// secure reports whether the cookie gets the Secure attribute for r.
func (s *Sessions) secure(r *http.Request) bool {
	return s.cfg.Secure == "true" || (s.cfg.Secure == "auto" && r.TLS != nil)
}

// options are the cookie attributes for r.
func (s *Sessions) options(r *http.Request) *gsessions.Options {
	sameSite := http.SameSiteLaxMode
	switch s.cfg.SameSite {
	case "strict":
		sameSite = http.SameSiteStrictMode
	case "none":
		sameSite = http.SameSiteNoneMode
	}
	return &gsessions.Options{
		Path:     s.cfg.Path,
		Domain:   s.cfg.Domain,
		MaxAge:   int(s.cfg.MaxAge.Seconds()),
		Secure:   s.secure(r),
		HttpOnly: true,
		SameSite: sameSite,
	}
}

// Authenticate finds the user of the request from its session cookie and
// puts it in the context (see CurrentUser). A missing, forged, expired or
// revoked session leaves the request anonymous (and an unusable cookie is
// deleted). Responses to logged-in users are marked no-store: they hold
// personal data no cache should keep.
func (s *Sessions) Authenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		name := s.cookieName(c.Request)
		if _, err := c.Request.Cookie(name); err != nil {
			c.Next() // no cookie: anonymous, and nothing to decode
			return
		}
		sess, err := s.store.New(c.Request, name)
		var cookieErr securecookie.Error
		switch {
		case err != nil && errors.As(err, &cookieErr) && cookieErr.IsDecode():
			// Forged, tampered with, or made with another secret: anonymous.
			s.log.Info("session cookie refused", "error", err, "ip", c.ClientIP())
			s.expire(c, sess)
			c.Next()
			return
		case err != nil:
			// The store did not answer (Redis down): not the client's
			// fault, and no reason to log everyone out.
			s.log.Error("session store failed", "error", err)
			s.fail(c, fmt.Errorf("%w: session store: %v", models.ErrUnavailable, err))
			return
		}
		user, err := s.check(c, sess)
		if err != nil {
			if !errors.Is(err, errSessionEnded) {
				s.fail(c, err) // the database did not answer: not the client's fault
				return
			}
			s.expire(c, sess)
			c.Next()
			return
		}
		c.Set(userKey, user)
		c.Set(sessionKey, sess)
		c.Set(LogUserKey, user.Name)
		c.Header("Cache-Control", "no-store")
		// Record activity for the idle timeout, but at most once per
		// refresh interval: most responses carry no Set-Cookie.
		now := time.Now()
		if seen := sess.Values[keySeen].(int64); now.Sub(time.UnixMilli(seen)) >= s.refreshInterval() {
			sess.Values[keySeen] = now.UnixMilli()
			sess.Options = s.options(c.Request)
			s.save(c, sess)
		}
		c.Next()
	}
}

// refreshInterval is how stale the last-seen time may get before it is
// written again: a tenth of the idle timeout, at most a minute.
func (s *Sessions) refreshInterval() time.Duration {
	return min(s.cfg.IdleTimeout/10, time.Minute)
}

var errSessionEnded = errors.New("session ended")

// check returns the session's user if the session is still valid.
func (s *Sessions) check(c *gin.Context, sess *gsessions.Session) (models.User, error) {
	uid, ok1 := sess.Values[keyUserID].(int64)
	version, ok2 := sess.Values[keyVersion].(int64)
	sid, ok3 := sess.Values[keySID].(string)
	login, ok4 := sess.Values[keyLogin].(int64)
	seen, ok5 := sess.Values[keySeen].(int64)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return models.User{}, errSessionEnded
	}
	now := time.Now()
	if now.Sub(time.UnixMilli(login)) > s.cfg.AbsoluteTimeout || now.Sub(time.UnixMilli(seen)) > s.cfg.IdleTimeout {
		return models.User{}, errSessionEnded
	}
	ctx := c.Request.Context()
	user, err := s.users.User(ctx, uid)
	if errors.Is(err, models.ErrNotFound) {
		return user, errSessionEnded // the user was deleted
	}
	if err != nil {
		return user, err
	}
	if user.SessionVersion != version {
		return user, errSessionEnded // password changed, or logged out everywhere
	}
	revoked, err := s.revocations.SessionRevoked(ctx, sid)
	if err != nil {
		return user, err
	}
	if revoked {
		return user, errSessionEnded
	}
	return user, nil
}

// Login starts a new session for user, replacing (and revoking) any the
// request came with.
func (s *Sessions) Login(c *gin.Context, user models.User) error {
	if err := s.revokeCurrent(c); err != nil {
		return err
	}
	return s.start(c, user, time.Now())
}

// Reissue replaces the current session with a new one under the user's
// current session version, keeping its login time: after a user changes
// their own password, the session they did it from goes on while every
// other one has ended.
func (s *Sessions) Reissue(c *gin.Context, user models.User) error {
	login := time.Now()
	if sess, ok := c.Get(sessionKey); ok {
		login = time.UnixMilli(sess.(*gsessions.Session).Values[keyLogin].(int64))
	}
	if err := s.revokeCurrent(c); err != nil {
		return err
	}
	return s.start(c, user, login)
}

func (s *Sessions) start(c *gin.Context, user models.User, login time.Time) error {
	sess := gsessions.NewSession(s.store, s.cookieName(c.Request))
	sess.Options = s.options(c.Request)
	sess.IsNew = true
	sess.Values[keyUserID] = user.ID
	sess.Values[keyVersion] = user.SessionVersion
	sess.Values[keySID] = rand.Text()
	sess.Values[keyLogin] = login.UnixMilli()
	sess.Values[keySeen] = time.Now().UnixMilli()
	if err := s.store.Save(c.Request, c.Writer, sess); err != nil {
		return err
	}
	c.Set(userKey, user)
	c.Set(sessionKey, sess)
	c.Set(LogUserKey, user.Name)
	c.Header("Cache-Control", "no-store")
	return nil
}

// Logout ends the current session: its id is revoked (a copy of the
// cookie no longer authenticates), its server-side data deleted (Redis),
// and the browser told to drop the cookie.
func (s *Sessions) Logout(c *gin.Context) error {
	if err := s.revokeCurrent(c); err != nil {
		return err
	}
	if sess, ok := c.Get(sessionKey); ok {
		s.expire(c, sess.(*gsessions.Session))
	}
	c.Set(userKey, nil)
	return nil
}

// revokeCurrent records the current session (if any) as ended, until it
// would have expired anyway.
func (s *Sessions) revokeCurrent(c *gin.Context) error {
	v, ok := c.Get(sessionKey)
	if !ok {
		return nil
	}
	sess := v.(*gsessions.Session)
	until := time.UnixMilli(sess.Values[keyLogin].(int64)).Add(s.cfg.AbsoluteTimeout)
	return s.revocations.RevokeSession(c.Request.Context(), sess.Values[keySID].(string), until)
}

// expire deletes the session: its server-side data (Redis) and the cookie.
func (s *Sessions) expire(c *gin.Context, sess *gsessions.Session) {
	if sess == nil {
		sess = gsessions.NewSession(s.store, s.cookieName(c.Request))
	}
	sess.Options = s.options(c.Request)
	sess.Options.MaxAge = -1
	s.save(c, sess)
}

func (s *Sessions) save(c *gin.Context, sess *gsessions.Session) {
	if err := s.store.Save(c.Request, c.Writer, sess); err != nil {
		s.log.Warn("session not saved", "error", err)
	}
}

// CurrentUser returns the logged-in user of the request, if any.
func CurrentUser(c *gin.Context) (models.User, bool) {
	v, ok := c.Get(userKey)
	if !ok || v == nil {
		return models.User{}, false
	}
	u, ok := v.(models.User)
	return u, ok
}

// RequireLogin refuses anonymous requests: API routes with 401 (the Fail
// function adds WWW-Authenticate), pages with a redirect to the login page
// that comes back here afterwards.
func RequireLogin(fail Fail, page bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, ok := CurrentUser(c); ok {
			c.Next()
			return
		}
		if page && (c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead) {
			c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request.URL.RequestURI()))
			c.Abort()
			return
		}
		fail(c, models.ErrNotAuthenticated)
	}
}

// RequireAdmin refuses users who are not administrators (403). It runs
// after RequireLogin.
func RequireAdmin(fail Fail) gin.HandlerFunc {
	return func(c *gin.Context) {
		if u, ok := CurrentUser(c); ok && u.IsAdmin() {
			c.Next()
			return
		}
		fail(c, &models.ForbiddenError{Reason: "only administrators may do this"})
	}
}
