package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"userhub/models"
)

// openMigrated opens the SQLite file at path with the schema applied; it is
// closed when the test ends.
func openMigrated(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{Driver: "sqlite", DSN: path})
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
	if _, err := s.CountUsers(context.Background()); err == nil {
		t.Error("CountUsers after Close: no error")
	}
	if _, err := s.CreateUser(context.Background(), models.NewUser{Name: "late"}); err == nil {
		t.Error("CreateUser after Close: no error")
	}
}
