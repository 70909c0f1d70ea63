// Package sessions keeps login sessions: where they live (the cookie
// store, the session signed and encrypted in the cookie with nothing to
// run, or the Redis store, the cookie holding only a signed id; both from
// gin-contrib/sessions, with keys derived from one secret), and the
// Manager that starts, renews, checks and ends them. With Redis, the
// login-throttling counts live there too, over the same connection pool
// (one Redis client in the binary: redigo, which the store is built on).
//
// A session is one kind of auth.Credential: the Manager turns a valid
// session cookie into an auth.Principal. It knows nothing of routes.
package sessions

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	ginsessions "github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/gorilla/securecookie"
	gsessions "github.com/gorilla/sessions"

	"userhub/auth"
	"userhub/config"
	"userhub/middleware"
	"userhub/models"
	"userhub/outage"
)

// record is what a session holds. The cookie stays small (a few hundred
// bytes): ids, a version and times, never user data.
type record struct {
	userID  int64     // "uid"
	version int64     // "ver": the user's session version at login
	id      string    // "sid": this session's id, for revocation
	login   time.Time // "iat": when the user logged in
	expires time.Time // "exp": login + the absolute timeout of that time
	seen    time.Time // "seen": the last refresh (idle timeout)
	stage   Stage     // "stage": how far the login has come (absent: complete)
}

// Stage is how far the login of a session has come.
type Stage string

// The stages of a login.
const (
	// Complete: logged in.
	Complete Stage = ""
	// SecondFactorPending: the password was right; the second factor is
	// awaited, for at most PendingTimeout. The session is no login yet.
	SecondFactorPending Stage = "2fa"
	// MustEnrol: logged in, but an administrator who must enrol a second
	// factor before doing anything else.
	MustEnrol Stage = "enrol"
)

// PendingTimeout is how long a session waits for its second factor.
const PendingTimeout = 5 * time.Minute

// readRecord reads a session's values; ok is false when one is missing or
// of the wrong type (a session of an older layout: it has ended).
func readRecord(values map[any]any) (r record, ok bool) {
	var login, expires, seen int64
	var ok1, ok2, ok3, ok4, ok5, ok6 bool
	r.userID, ok1 = values["uid"].(int64)
	r.version, ok2 = values["ver"].(int64)
	r.id, ok3 = values["sid"].(string)
	login, ok4 = values["iat"].(int64)
	seen, ok5 = values["seen"].(int64)
	expires, ok6 = values["exp"].(int64)
	r.login, r.seen, r.expires = time.UnixMilli(login), time.UnixMilli(seen), time.UnixMilli(expires)
	if stage, ok := values["stage"].(string); ok {
		r.stage = Stage(stage)
	}
	return r, ok1 && ok2 && ok3 && ok4 && ok5 && ok6
}

// write puts r into a session's values (times in unix milliseconds).
func (r record) write(values map[any]any) {
	values["uid"] = r.userID
	values["ver"] = r.version
	values["sid"] = r.id
	values["iat"] = r.login.UnixMilli()
	values["exp"] = r.expires.UnixMilli()
	values["seen"] = r.seen.UnixMilli()
	if r.stage != Complete {
		values["stage"] = string(r.stage)
	} else {
		delete(values, "stage")
	}
}

// sessionKey is where the request's session lives in the gin context.
const sessionKey = "userhub.session"

// Manager logs users in and out and checks the session of each request.
// It uses a gin-contrib/sessions store (cookie or Redis) directly, instead
// of that package's middleware, because login must start a NEW session
// (new id, new content: the one a visitor held before is not the one they
// hold after, against session fixation), which its middleware cannot do.
//
// A session ends at once, with either store, when: the user logs out (its
// id is recorded in the revocations), the user is deleted, the user's
// session version moves on (password change, "log out everywhere"), it
// has not been used for IdleTimeout, or AbsoluteTimeout has passed since
// login. Every request re-reads the user, so all of these are seen.
//
// The absolute expiry is written into the session at login ("exp", signed
// with the rest) and holds whatever the configuration later says: a
// raised session.absolute_timeout does not lengthen a session already
// made, so a logged-out session, whose revocation is kept only until that
// expiry, cannot come back to life once the revocation is purged. A
// lowered one shortens every session at once.
type Manager struct {
	store       ginsessions.Store
	watch       *outage.Watch // nil for a store without a server
	cfg         config.Session
	users       models.UserStore
	revocations models.Revocations
	list        models.SessionList // nil: sessions are not listed (see KeepList)
	log         *slog.Logger
	now         func() time.Time // tests move it
}

// NewManager returns a Manager keeping sessions where b says.
func NewManager(b *Backend, cfg config.Session, users models.UserStore, revocations models.Revocations, log *slog.Logger) *Manager {
	return &Manager{store: b.Store, watch: b.Watch, cfg: cfg, users: users, revocations: revocations, log: log, now: time.Now}
}

// Challenge implements auth.Credential. There is no registered scheme for
// cookies; this one says what a client needs to know: where to log in.
func (m *Manager) Challenge() string { return `Cookie realm="userhub", login="/api/v1/login"` }

// cookieName is the session cookie's name for r. A Secure cookie with no
// domain and path "/" gets the __Host- prefix: browsers then accept it only
// with Secure, from this host, for every path, so a sibling subdomain or a
// plain-HTTP page cannot plant or overwrite it. (Without Secure, browsers
// would refuse a cookie so named.)
func (m *Manager) cookieName(r *http.Request) string {
	if m.secure(r) && m.cfg.Domain == "" && m.cfg.Path == "/" {
		return "__Host-" + m.cfg.CookieName
	}
	return m.cfg.CookieName
}

// secure reports whether the cookie gets the Secure attribute for r.
func (m *Manager) secure(r *http.Request) bool {
	return m.cfg.Secure == "true" || (m.cfg.Secure == "auto" && middleware.IsHTTPS(r))
}

// options are the cookie attributes for r.
func (m *Manager) options(r *http.Request) *gsessions.Options {
	sameSite := http.SameSiteLaxMode
	switch m.cfg.SameSite {
	case "strict":
		sameSite = http.SameSiteStrictMode
	case "none":
		sameSite = http.SameSiteNoneMode
	}
	return &gsessions.Options{
		Path:     m.cfg.Path,
		Domain:   m.cfg.Domain,
		MaxAge:   int(m.cfg.MaxAge.Seconds()),
		Secure:   m.secure(r),
		HttpOnly: true,
		SameSite: sameSite,
	}
}

// Principal implements auth.Credential: the user of the request's session
// cookie. A missing, forged, expired or revoked session is no principal
// (and an unusable cookie is deleted); a store that does not answer is an
// error wrapping models.ErrUnavailable, which logs no one out.
func (m *Manager) Principal(c *gin.Context) (auth.Principal, bool, error) {
	name := m.cookieName(c.Request)
	if _, err := c.Request.Cookie(name); err != nil {
		return auth.Principal{}, false, nil // no cookie: nothing to decode
	}
	sess, err := m.store.New(c.Request, name)
	switch {
	case badCookie(err):
		// Forged, tampered with, too long, made with another secret: a
		// cookie that does not decode, whatever the reason, is no session.
		m.log.Info("session cookie refused", "error", err, "ip", c.ClientIP())
		m.expire(c, sess)
		return auth.Principal{}, false, nil
	case err != nil:
		return auth.Principal{}, false, m.storeFailed(err)
	}
	m.observe(nil)
	rec, user, err := m.check(c, sess)
	if errors.Is(err, errSessionEnded) {
		m.expire(c, sess)
		auth.MarkEnded(c)
		return auth.Principal{}, false, nil
	}
	if err != nil {
		return auth.Principal{}, false, err // the database did not answer
	}
	c.Set(sessionKey, sess)
	// Record activity for the idle timeout, but at most once per refresh
	// interval: most responses carry no Set-Cookie.
	if now := m.now(); now.Sub(rec.seen) >= m.refreshInterval() {
		rec.seen = now
		rec.write(sess.Values)
		sess.Options = m.options(c.Request)
		m.save(c, sess)
		if m.list != nil {
			// The list's "last seen" moves with the cookie's, no more often.
			if err := m.list.SessionSeen(c.Request.Context(), rec.id, now); err != nil {
				m.log.Debug("session use not listed", "error", err)
			}
		}
	}
	return rec.principal(user), true, nil
}

// principal is the principal of a session with record r, of user.
func (r record) principal(user models.User) auth.Principal {
	return auth.Principal{User: user, Method: auth.MethodSession, SessionID: r.id,
		SecondFactorPending: r.stage == SecondFactorPending, MustEnrol: r.stage == MustEnrol}
}

// refreshInterval is how stale the last-seen time may get before it is
// written again: a tenth of the idle timeout, at most a minute.
func (m *Manager) refreshInterval() time.Duration {
	return min(m.cfg.IdleTimeout/10, time.Minute)
}

var errSessionEnded = errors.New("session ended")

// badCookie reports whether err is the cookie's fault: securecookie said
// so (its errors, one per key, come as a MultiError, and some of them,
// "the value is too long" among them, lose their kind on the way, so the
// kind is not asked).
func badCookie(err error) bool {
	var cookieErr securecookie.Error
	return errors.As(err, &cookieErr)
}

// storeFailed is a failure of the session store's server (Redis) to
// answer: unavailable, which logs no one out (and the outage is told
// once). A cookie that cannot be made (securecookie's error) is a fault of
// ours, and stays what it is.
func (m *Manager) storeFailed(err error) error {
	if badCookie(err) {
		return err
	}
	err = fmt.Errorf("%w: session store: %v", models.ErrUnavailable, err)
	m.observe(err)
	return err
}

func (m *Manager) observe(err error) {
	if m.watch != nil {
		m.watch.Observe(err)
	}
}

// check returns the session's record and user if the session is still valid.
func (m *Manager) check(c *gin.Context, sess *gsessions.Session) (record, models.User, error) {
	rec, ok := readRecord(sess.Values)
	if !ok {
		return rec, models.User{}, errSessionEnded
	}
	// A session made while a clock ran ahead is dated in the future: it
	// has ended, rather than lasting until that clock's time.
	now := m.now()
	ahead := now.Add(models.MaxClockSkew)
	if now.Sub(rec.login) > m.cfg.AbsoluteTimeout || !now.Before(rec.expires) || now.Sub(rec.seen) > m.cfg.IdleTimeout ||
		rec.login.After(ahead) || rec.seen.After(ahead) {
		return rec, models.User{}, errSessionEnded
	}
	if rec.stage == SecondFactorPending && now.Sub(rec.login) > PendingTimeout {
		return rec, models.User{}, errSessionEnded
	}
	ctx := c.Request.Context()
	user, err := m.users.User(ctx, rec.userID)
	if errors.Is(err, models.ErrNotFound) {
		return rec, user, errSessionEnded // the user was deleted
	}
	if err != nil {
		return rec, user, err
	}
	if user.SessionVersion != rec.version || user.Suspended {
		return rec, user, errSessionEnded // password changed, logged out everywhere, or suspended
	}
	revoked, err := m.revocations.SessionRevoked(ctx, rec.id)
	if err != nil {
		return rec, user, err
	}
	if revoked {
		return rec, user, errSessionEnded
	}
	return rec, user, nil
}

// current returns the record of the session the request came with.
func current(c *gin.Context) (*gsessions.Session, record, bool) {
	v, ok := c.Get(sessionKey)
	if !ok {
		return nil, record{}, false
	}
	sess := v.(*gsessions.Session)
	rec, ok := readRecord(sess.Values)
	return sess, rec, ok
}

// Login starts a new session for user, replacing (and revoking) any the
// request came with.
func (m *Manager) Login(c *gin.Context, user models.User) error {
	return m.Start(c, user, Complete)
}

// Start starts a new session for user at stage, replacing (and revoking)
// any the request came with: each step of a login gets a session of its
// own.
func (m *Manager) Start(c *gin.Context, user models.User, stage Stage) error {
	if err := m.revokeCurrent(c); err != nil {
		return err
	}
	now := m.now()
	return m.start(c, user, now, now.Add(m.cfg.AbsoluteTimeout), stage)
}

// Reissue replaces the current session with a new, complete one under the
// user's current session version, keeping its login and expiry times:
// after a user changes their own password, the session they did it from
// goes on while every other one has ended; after an administrator who had
// to enrol a second factor has, they may go on.
func (m *Manager) Reissue(c *gin.Context, user models.User) error {
	login := m.now()
	expires := login.Add(m.cfg.AbsoluteTimeout)
	if _, rec, ok := current(c); ok {
		login, expires = rec.login, rec.expires
	}
	if err := m.revokeCurrent(c); err != nil {
		return err
	}
	return m.start(c, user, login, expires, Complete)
}

func (m *Manager) start(c *gin.Context, user models.User, login, expires time.Time, stage Stage) error {
	sess := gsessions.NewSession(m.store, m.cookieName(c.Request))
	sess.Options = m.options(c.Request)
	sess.IsNew = true
	rec := record{userID: user.ID, version: user.SessionVersion, id: rand.Text(), login: login, expires: expires, seen: m.now(), stage: stage}
	rec.write(sess.Values)
	// Listed before the cookie is sent: a session that could not be listed
	// is never handed out (its user could not see or end it). A login is
	// listed only once complete.
	if m.list != nil && stage != SecondFactorPending {
		if err := m.list.ListSession(c.Request.Context(), m.listEntry(c, rec)); err != nil {
			return err
		}
	}
	if err := m.store.Save(c.Request, c.Writer, sess); err != nil {
		return m.storeFailed(err)
	}
	c.Set(sessionKey, sess)
	auth.Set(c, rec.principal(user))
	return nil
}

// Logout ends the current session: its id is revoked (a copy of the
// cookie no longer authenticates), its server-side data deleted (Redis),
// and the browser told to drop the cookie.
func (m *Manager) Logout(c *gin.Context) error {
	if err := m.revokeCurrent(c); err != nil {
		return err
	}
	if sess, _, ok := current(c); ok {
		m.expire(c, sess)
	}
	auth.Clear(c)
	return nil
}

// revokeCurrent records the current session (if any) as ended, until it
// would have expired anyway: its signed expiry, which a later change of
// the configuration does not move.
func (m *Manager) revokeCurrent(c *gin.Context) error {
	_, rec, ok := current(c)
	if !ok {
		return nil
	}
	if _, err := m.revocations.RevokeSession(c.Request.Context(), rec.id, rec.expires); err != nil {
		return err
	}
	if m.list != nil {
		return m.list.UnlistSession(c.Request.Context(), rec.id)
	}
	return nil
}

// expire deletes the session: its server-side data (Redis) and the cookie.
func (m *Manager) expire(c *gin.Context, sess *gsessions.Session) {
	if sess == nil {
		sess = gsessions.NewSession(m.store, m.cookieName(c.Request))
	}
	sess.Options = m.options(c.Request)
	sess.Options.MaxAge = -1
	m.save(c, sess)
}

func (m *Manager) save(c *gin.Context, sess *gsessions.Session) {
	if err := m.store.Save(c.Request, c.Writer, sess); err != nil {
		m.log.Warn("session not saved", "error", err)
	}
}
