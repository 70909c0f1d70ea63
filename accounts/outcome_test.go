package accounts_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"userhub/accounts"
	"userhub/auth"
	"userhub/config"
	"userhub/models"
	"userhub/store"
)

// outcomes records what a Service tells its LoginObserver.
type outcomes []accounts.LoginOutcome

func (o *outcomes) Login(x accounts.LoginOutcome) { *o = append(*o, x) }

// TestLoginOutcomes: each login tells the observer how it ended, once.
func TestLoginOutcomes(t *testing.T) {
	db, err := store.Open(ctx, store.Options{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "o.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	seen := &outcomes{}
	cfg := config.Default().Auth
	cfg.LoginLimitPerName = 2
	svc := accounts.New(accounts.Options{Store: db, Counter: db, Auth: cfg, Logins: seen, Log: slog.New(slog.DiscardHandler),
		Hasher: accounts.NewHasher(accounts.Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}, 2, 10*time.Second)})
	pw := password
	for _, name := range []string{"kim", "lee", "han"} {
		if _, err := svc.Create(ctx, auth.Operator(), accounts.NewAccount{Name: name, Password: &pw}); err != nil {
			t.Fatal(err)
		}
	}
	han, _ := db.UserByName(ctx, "han")
	if _, err := db.UpdateUser(ctx, han.ID, models.UserChange{Suspended: new(true)}); err != nil {
		t.Fatal(err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()

	for _, tt := range []struct {
		ctx            context.Context
		name, password string
		want           accounts.LoginOutcome
	}{
		{ctx, "kim", password, accounts.LoginOK},
		{ctx, "lee", "wrong password", accounts.LoginBadCredentials},
		{ctx, "nobody", password, accounts.LoginBadCredentials},
		{ctx, "lee", "wrong again", accounts.LoginBadCredentials},
		{ctx, "lee", password, accounts.LoginThrottled}, // 2 failures per name allowed
		{ctx, "han", password, accounts.LoginSuspended},
		{canceled, "kim", password, accounts.LoginError},
	} {
		*seen = nil
		svc.Authenticate(tt.ctx, tt.name, tt.password, "192.0.2.1")
		if !slices.Equal(*seen, outcomes{tt.want}) {
			t.Errorf("%s with %q: observed %v, want [%s]", tt.name, tt.password, *seen, tt.want)
		}
	}
}
