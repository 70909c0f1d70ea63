package accounts_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"userhub/accounts"
	"userhub/auth"
	"userhub/config"
	"userhub/models"
)

// clockedTokens is the real token store seen from a clock moved on by
// shift: a token read through it is older, by shift, than it is (its
// creation, expiry and last use move back), so that the test need not wait
// an hour for it to expire. It counts the recorded uses.
type clockedTokens struct {
	models.TokenStore
	shift time.Duration
	used  atomic.Int32
}

func (c *clockedTokens) TokenByHash(ctx context.Context, hash []byte) (models.Token, models.User, error) {
	t, u, err := c.TokenStore.TokenByHash(ctx, hash)
	t.CreatedAt = t.CreatedAt.Add(-c.shift)
	if !t.ExpiresAt.IsZero() {
		t.ExpiresAt = t.ExpiresAt.Add(-c.shift)
	}
	if !t.LastUsedAt.IsZero() {
		t.LastUsedAt = t.LastUsedAt.Add(-c.shift)
	}
	return t, u, err
}

func (c *clockedTokens) TokenUsed(ctx context.Context, id int64, at time.Time) error {
	c.used.Add(1)
	return c.TokenStore.TokenUsed(ctx, id, at)
}

// TestTokenLifetime: a token works until it expires; its last use is
// written at most once a minute; the secret is in neither the database
// file nor the log.
func TestTokenLifetime(t *testing.T) {
	w := newWorld(t)
	clock := &clockedTokens{TokenStore: w.db}
	var log bytes.Buffer
	svc := accounts.New(accounts.Options{Store: w.db, Tokens: clock, Counter: w.db, Hasher: w.hasher,
		Auth: config.Default().Auth, Log: slog.New(slog.NewTextHandler(&log, nil))})
	made, err := svc.CreateToken(ctx, w.lee, accounts.NewToken{Name: "ci", Scopes: []models.Scope{models.ScopeRead}, ExpiresIn: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		p, err := svc.TokenPrincipal(ctx, made.Secret)
		if err != nil || p.Method != auth.MethodToken || p.User.Name != "lee" || p.Token.ID != made.ID {
			t.Fatalf("a fresh token: %+v, %v", p, err)
		}
	}
	if n := clock.used.Load(); n != 1 {
		t.Errorf("five uses within a minute wrote the last use %d times, want 1", n)
	}
	clock.shift = 2 * time.Minute // the last use was two minutes ago
	if _, err := svc.TokenPrincipal(ctx, made.Secret); err != nil {
		t.Fatal(err)
	}
	if n := clock.used.Load(); n != 2 {
		t.Errorf("a use a minute after the last wrote it %d times in all, want 2", n)
	}
	clock.shift = 2 * time.Hour // it expired now
	if _, err := svc.TokenPrincipal(ctx, made.Secret); err != models.ErrBadToken {
		t.Errorf("an expired token: %v, want ErrBadToken", err)
	}
	db, err := os.ReadFile(w.dsn)
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(w.dsn + "-wal")
	if bytes.Contains(db, []byte(made.Secret)) || bytes.Contains(wal, []byte(made.Secret)) || strings.Contains(log.String(), made.Secret) {
		t.Error("the token's secret is in the database file or the log")
	}
	if !strings.Contains(log.String(), made.Prefix) {
		t.Errorf("the log does not name the token by its prefix:\n%s", log.String())
	}
}
