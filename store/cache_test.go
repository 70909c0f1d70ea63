package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"
	"userhub/models"
)

// A write that does not bump the generation (another program writing the
// file) is seen once cached entries age out.
func TestCacheExpiresForForeignWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	s := openMigrated(t, path)
	if n, _ := s.CountUsers(context.Background()); n != 0 {
		t.Fatalf("count %d", n)
	}
	foreign, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer foreign.Close()
	if _, err := foreign.Exec(`INSERT INTO users (name, name_key, role, created_at, updated_at) VALUES ('x', 'x', 'member', 0, 0)`); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountUsers(context.Background()); n != 0 {
		t.Logf("the foreign write was seen at once (the cache was cold)")
	}
	deadline := time.Now().Add(maxCacheAge + time.Second)
	for {
		if n, _ := s.CountUsers(context.Background()); n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a foreign write was not seen within %v", maxCacheAge+time.Second)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDatabaseFilesArePrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	openMigrated(t, path)
	for _, f := range []string{path, path + "-wal", path + "-shm", path + "-gen"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v", filepath.Base(f), fi.Mode().Perm())
		}
	}
}

// A full cache starts over instead of refusing new entries, so a stream of
// distinct queries cannot switch it off for the hot ones.
func TestFullCacheStartsOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.db")
	gen, err := openGeneration(path + "-gen")
	if err != nil {
		t.Fatal(err)
	}
	c := &readCache{gen: gen, entries: map[any]cacheEntry{}}
	fills := 0
	fill := func() (int, error) { fills++; return fills, nil }
	for i := range maxCacheEntries + 10 {
		cached(c, i, fill)
	}
	if len(c.entries) > maxCacheEntries {
		t.Fatalf("%d entries kept", len(c.entries))
	}
	before := fills
	cached(c, "hot", fill)
	cached(c, "hot", fill)
	if fills != before+1 {
		t.Fatalf("the hot key was filled %d times, want once", fills-before)
	}
}

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
