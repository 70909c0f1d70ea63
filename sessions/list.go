package sessions

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"userhub/auth"
	"userhub/models"
)

// A user's list of their own sessions: each started session is listed
// (models.SessionList), its last use written when the session records its
// activity anyway (at most once a minute), and a session ended from the
// list is revoked like a logout.

// ErrNoSession: the user has no such session (or it has ended).
var ErrNoSession = errors.New("no such session")

// ListedSession is one of a user's sessions, as the user sees it.
type ListedSession struct {
	ID        string // a public name: a hash of the session's id
	Current   bool   // the session of the request
	CreatedAt time.Time
	LastSeen  time.Time
	IP        string
	Device    string // "Firefox, Linux"
}

// KeepList makes m list each user's sessions in l.
func (m *Manager) KeepList(l models.SessionList) { m.list = l }

// PublicID names a session without giving its id away: in the list, and
// in the API rate limits' keys (in the database or Redis).
func PublicID(sid string) string {
	sum := sha256.Sum256([]byte("userhub session list\x00" + sid))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// listEntry is what the list keeps of a session starting now.
func (m *Manager) listEntry(c *gin.Context, rec record) models.SessionEntry {
	// Valid UTF-8 (PostgreSQL refuses anything else in text; a header may
	// carry any byte), at most 512 bytes, cut between characters.
	ua := strings.ToValidUTF8(c.GetHeader("User-Agent"), "")
	for len(ua) > 512 {
		_, size := utf8.DecodeLastRuneInString(ua)
		ua = ua[:len(ua)-size]
	}
	return models.SessionEntry{SID: rec.id, UserID: rec.userID, Version: rec.version, CreatedAt: rec.login, LastSeen: rec.seen,
		ExpiresAt: rec.expires, IP: c.ClientIP(), UserAgent: ua}
}

// listed returns the user's live sessions: of their current session
// version, not expired (the signed expiry, or the absolute timeout if it
// was lowered since), not idle past the timeout.
func (m *Manager) listed(c *gin.Context, user models.User) ([]models.SessionEntry, error) {
	if m.list == nil {
		return nil, nil
	}
	now := m.now()
	all, err := m.list.ListedSessions(c.Request.Context(), user.ID, user.SessionVersion, now)
	if err != nil {
		return nil, err
	}
	live := all[:0]
	for _, e := range all {
		if now.Sub(e.LastSeen) <= m.cfg.IdleTimeout && now.Sub(e.CreatedAt) <= m.cfg.AbsoluteTimeout && now.Before(e.ExpiresAt) {
			live = append(live, e)
		}
	}
	return live, nil
}

// Sessions lists the sessions of the request's user, newest first, the
// request's own marked.
func (m *Manager) Sessions(c *gin.Context) ([]ListedSession, error) {
	p, _ := auth.From(c)
	entries, err := m.listed(c, p.User)
	if err != nil {
		return nil, err
	}
	out := make([]ListedSession, 0, len(entries))
	for _, e := range entries {
		out = append(out, ListedSession{ID: PublicID(e.SID), Current: e.SID == p.SessionID, CreatedAt: e.CreatedAt,
			LastSeen: e.LastSeen.Truncate(time.Minute), IP: e.IP, Device: Device(e.UserAgent)})
	}
	return out, nil
}

// EndSession ends the request's user's session named id (ListedSession.ID)
// at once, wherever it is used; ending the request's own is a logout.
func (m *Manager) EndSession(c *gin.Context, id string) error {
	p, _ := auth.From(c)
	entries, err := m.listed(c, p.User)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if PublicID(e.SID) != id {
			continue
		}
		if e.SID == p.SessionID {
			return m.Logout(c)
		}
		return m.end(c, e)
	}
	return ErrNoSession
}

// end revokes a listed session and takes it off the list.
func (m *Manager) end(c *gin.Context, e models.SessionEntry) error {
	ctx := c.Request.Context()
	if _, err := m.revocations.RevokeSession(ctx, e.SID, e.ExpiresAt); err != nil {
		return err
	}
	return m.list.UnlistSession(ctx, e.SID)
}

// Device describes a User-Agent in a few words: the browser (or program)
// and the operating system, "Firefox, Linux"; "" when it says nothing known.
func Device(ua string) string {
	var browser, system string
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"SamsungBrowser/", "Samsung Internet"}, {"Firefox/", "Firefox"},
		{"Chromium/", "Chromium"}, {"Chrome/", "Chrome"}, {"CriOS/", "Chrome"}, {"FxiOS/", "Firefox"}, {"Safari/", "Safari"},
		{"curl/", "curl"}, {"Go-http-client/", "Go program"}, {"python-requests/", "Python program"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	for _, s := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"Windows", "Windows"}, {"Mac OS X", "macOS"},
		{"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, s.token) {
			system = s.name
			break
		}
	}
	switch {
	case browser != "" && system != "":
		return browser + ", " + system
	case browser != "":
		return browser
	default:
		return system
	}
}
