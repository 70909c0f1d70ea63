package sessions

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"userhub/config"
	"userhub/models"
	"userhub/store"
)

// A session made while the clock ran ahead is dated in the future: once
// the clock is back it has ended, instead of lasting until that time.
func TestSessionsFromAClockAhead(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "m.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	kim, err := db.CreateUser(ctx, models.NewUser{Name: "kim"})
	if err != nil {
		t.Fatal(err)
	}
	backend, err := Open(config.Default().Session, []byte("0123456789abcdef0123456789abcdef"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(backend, config.Default().Session, db, db, slog.New(slog.DiscardHandler))

	for _, tt := range []struct {
		name   string
		ahead  time.Duration // of the clock at login
		usable bool
	}{
		{"a sound clock", 0, true},
		{"within the skew", models.MaxClockSkew / 2, true},
		{"a day ahead", 24 * time.Hour, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m.now = func() time.Time { return time.Now().Add(tt.ahead) }
			rec := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(rec)
			c.Request = httptest.NewRequest("POST", "/login", nil)
			if err := m.Login(c, kim); err != nil {
				t.Fatal(err)
			}
			m.now = time.Now
			c, _ = gin.CreateTestContext(httptest.NewRecorder())
			c.Request = httptest.NewRequest("GET", "/", nil)
			for _, cookie := range rec.Result().Cookies() {
				c.Request.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
			}
			p, found, err := m.Principal(c)
			if err != nil || found != tt.usable || (found && p.User.ID != kim.ID) {
				t.Fatalf("the session made %v ahead: found %v (%+v), %v; want %v", tt.ahead, found, p, err, tt.usable)
			}
		})
	}
}

// fakeRevocations keeps revocations in memory, and forgets each once its
// time has passed on the manager's clock, as the store's purge does.
type fakeRevocations struct {
	now   *time.Time
	until map[string]time.Time
}

func (f *fakeRevocations) RevokeSession(_ context.Context, sid string, until time.Time) (bool, error) {
	_, seen := f.until[sid]
	f.until[sid] = until
	return !seen, nil
}

func (f *fakeRevocations) SessionRevoked(_ context.Context, sid string) (bool, error) {
	until, ok := f.until[sid]
	return ok && f.now.Before(until), nil
}

// TestSignedExpiry: a session's absolute expiry is fixed at login. Raising
// session.absolute_timeout afterwards lengthens no session made before,
// so a logged-out cookie, whose revocation has since been purged, does
// not come back; lowering it shortens them at once.
func TestSignedExpiry(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "m.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	kim, err := db.CreateUser(ctx, models.NewUser{Name: "kim"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		logout   bool
		later    time.Duration // since login, when the cookie is shown again
		absolute time.Duration // session.absolute_timeout by then (1h at login)
		usable   bool
	}{
		{"within the timeout", false, 30 * time.Minute, time.Hour, true},
		{"logged out, timeout raised, revocation purged", true, 2 * time.Hour, 24 * time.Hour, false},
		{"timeout raised", false, 2 * time.Hour, 24 * time.Hour, false},
		{"timeout lowered", false, 30 * time.Minute, 10 * time.Minute, false},
		{"logged out", true, 30 * time.Minute, time.Hour, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default().Session
			cfg.AbsoluteTimeout, cfg.IdleTimeout = time.Hour, 48*time.Hour
			backend, err := Open(cfg, []byte("0123456789abcdef0123456789abcdef"), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			revocations := &fakeRevocations{now: &now, until: map[string]time.Time{}}
			m := NewManager(backend, cfg, db, revocations, slog.New(slog.DiscardHandler))
			m.now = func() time.Time { return now }
			request := func(cookies []*http.Cookie) (*gin.Context, *httptest.ResponseRecorder) {
				rec := httptest.NewRecorder()
				c, _ := gin.CreateTestContext(rec)
				c.Request = httptest.NewRequest("GET", "/", nil)
				for _, cookie := range cookies {
					c.Request.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
				}
				return c, rec
			}
			c, rec := request(nil)
			if err := m.Login(c, kim); err != nil {
				t.Fatal(err)
			}
			cookies := rec.Result().Cookies()
			if tt.logout {
				c, _ := request(cookies)
				if _, found, err := m.Principal(c); !found || err != nil {
					t.Fatalf("the new session: %v, %v", found, err)
				}
				if err := m.Logout(c); err != nil {
					t.Fatal(err)
				}
				for sid, until := range revocations.until {
					if until.After(now.Add(time.Hour)) {
						t.Fatalf("session %s revoked until %v, after its expiry", sid, until)
					}
				}
			}
			now = now.Add(tt.later)
			m.cfg.AbsoluteTimeout = tt.absolute
			c, _ = request(cookies) // the copy of the cookie kept before any logout
			if _, found, err := m.Principal(c); found != tt.usable || err != nil {
				t.Fatalf("the cookie %v after login: found %v, %v; want %v", tt.later, found, err, tt.usable)
			}
		})
	}
}
