package store_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"userhub/cachedstore"
	"userhub/models"
	"userhub/store"
	"userhub/store/storetest"
)

// newDSN makes an empty database and returns its options.
type newDSN func(t testing.TB) store.Options

func sqliteOptions(t testing.TB) store.Options {
	return store.Options{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "userhub.db")}
}

var backends = []struct {
	name    string
	options newDSN
}{
	{"SQLite", sqliteOptions},
	{"PostgreSQL", store.PostgresTestOptions},
}

// TestContract runs the store contract on every backend, bare and behind
// the read cache ("CachedSQLite"). Each open stands for another process:
// the cached ones share a change signal, as processes on one machine do.
func TestContract(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) func() models.UserStore {
				opt := b.options(t)
				return func() models.UserStore { return open(t, opt) }
			})
		})
		t.Run("Cached"+b.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) func() models.UserStore {
				opt := b.options(t)
				signalFile := filepath.Join(t.TempDir(), "gen")
				return func() models.UserStore {
					signal, err := cachedstore.OpenFileSignal(signalFile)
					if err != nil {
						t.Fatal(err)
					}
					return cachedstore.New(open(t, opt), signal)
				}
			})
		})
	}
}

// TestCounterContract runs the login-attempt counter contract on every
// backend; two stores on one database stand for two processes.
func TestCounterContract(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			storetest.RunCounter(t, func(t *testing.T) (models.Counter, models.Counter) {
				opt := b.options(t)
				return open(t, opt), open(t, opt)
			})
		})
	}
}

// TestCertCacheContract runs autocert's cache and order lock contract on
// every backend; two stores on one database stand for two processes.
func TestCertCacheContract(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			storetest.RunCertCache(t, func(t *testing.T) (storetest.CertCache, storetest.CertCache) {
				opt := b.options(t)
				return open(t, opt).CertCache(), open(t, opt).CertCache()
			})
		})
	}
}

func open(t *testing.T, opt store.Options) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestMigrateIsIdempotent(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			opt := b.options(t)
			open(t, opt) // applies every migration
			s := open(t, opt)
			if again, err := s.Migrate(context.Background()); err != nil || len(again) != 0 {
				t.Fatalf("second migrate applied %v, %v", again, err)
			}
		})
	}
}

func TestRedactDSN(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://app:s3cret@db:5432/userhub": "postgres://app:REDACTED@db:5432/userhub",
		"host=db user=app password=s3cret":      "host=db user=app password=REDACTED",
		"postgres://db/userhub":                 "postgres://db/userhub",
	} {
		if got := store.RedactDSN(in); got != want || strings.Contains(got, "s3cret") {
			t.Errorf("RedactDSN(%q) = %q, want %q", in, got, want)
		}
	}
}
