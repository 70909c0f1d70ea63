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
