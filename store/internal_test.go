package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"userhub/models"
)

// openMigrated opens the SQLite file at path with the schema applied; it is
// closed when the test ends.
func openMigrated(t *testing.T, path string) *Store {
	t.Helper()
	return openWith(t, Options{Driver: "sqlite", DSN: path})
}

// openWith opens a store with the schema applied; it is closed when the
// test ends.
func openWith(t testing.TB, opt Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDatabaseFilesArePrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	openMigrated(t, path)
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v", filepath.Base(f), fi.Mode().Perm())
		}
	}
}

// A request still running at shutdown may use the store after Close: it
// gets an error, and the process lives.
func TestUseAfterClose(t *testing.T) {
	s := openMigrated(t, filepath.Join(t.TempDir(), "closed.db"))
	s.Close()
	if _, err := s.CountUsers(context.Background(), models.Filter{}); err == nil {
		t.Error("CountUsers after Close: no error")
	}
	if _, err := s.CreateUser(context.Background(), models.NewUser{Name: "late"}); err == nil {
		t.Error("CreateUser after Close: no error")
	}
}

// PostgresTestOptions gives a test its own schema in the database named by
// USERHUB_TEST_POSTGRES_DSN, dropped when the test ends; without it the
// test is skipped. (Exported for the store_test package.)
func PostgresTestOptions(t testing.TB) Options {
	dsn := os.Getenv("USERHUB_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("PostgreSQL suite skipped: set USERHUB_TEST_POSTGRES_DSN (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	schema := "t_" + strings.ToLower(rand.Text()[:12])
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() { admin.Exec("DROP SCHEMA " + schema + " CASCADE") })
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return Options{Driver: "postgres", DSN: dsn + sep + "search_path=" + schema}
}

// TestMigrationsMergedOutOfOrder: a database that has a higher migration
// but not a lower one (branches merged in another order than numbered)
// gets the lower one on the next Migrate.
func TestMigrationsMergedOutOfOrder(t *testing.T) {
	s := openMigrated(t, filepath.Join(t.TempDir(), "u.db"))
	ctx := context.Background()
	all, err := s.dialect.migrations()
	if err != nil {
		t.Fatal(err)
	}
	var lower Migration
	for _, m := range all {
		if strings.Contains(m.Name, "idempotency_keys") {
			lower = m
		}
	}
	if lower.Version == 0 || lower.Version == all[len(all)-1].Version {
		t.Fatalf("no migration below the newest to take out: %+v", lower)
	}
	// As if the database had been migrated by a tree without it.
	if _, err := s.write.ExecContext(ctx, "DROP TABLE idempotency_keys"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.ExecContext(ctx, "DELETE FROM schema_migrations WHERE version = $1", lower.Version); err != nil {
		t.Fatal(err)
	}
	applied, err := s.Migrate(ctx)
	if err != nil || len(applied) != 1 || applied[0].Version != lower.Version {
		t.Fatalf("Migrate applied %v, %v; want only %04d", applied, err, lower.Version)
	}
	if _, _, err := s.ClaimIdempotencyKey(ctx, "u:1", "k", []byte{1}, time.Hour, time.Hour); err != nil {
		t.Fatalf("the table of the migration applied late: %v", err)
	}
}
