package cachedstore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"userhub/models"
	"userhub/store"
)

var ctx = context.Background()

// countingInner counts the reads that reach the store below.
type countingInner struct {
	Inner
	lists, revocations atomic.Int64
}

func (c *countingInner) ListUsers(ctx context.Context, q models.ListQuery) (models.Page, error) {
	c.lists.Add(1)
	return c.Inner.ListUsers(ctx, q)
}

func (c *countingInner) SessionRevoked(ctx context.Context, sid string) (bool, error) {
	c.revocations.Add(1)
	return c.Inner.SessionRevoked(ctx, sid)
}

// openSQLite opens a migrated SQLite store at path, closed when t ends.
func openSQLite(t *testing.T, path string) *store.Store {
	t.Helper()
	s, err := store.Open(ctx, store.Options{Driver: "sqlite", DSN: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func newCached(t *testing.T) (*Store, *countingInner) {
	inner := &countingInner{Inner: openSQLite(t, filepath.Join(t.TempDir(), "c.db"))}
	return New(inner, &LocalSignal{}), inner
}

var firstPage = models.ListQuery{Limit: 10}

func TestReadsAreKeptUntilAWrite(t *testing.T) {
	s, inner := newCached(t)
	if _, err := s.CreateUser(ctx, models.NewUser{Name: "kim"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if p, err := s.ListUsers(ctx, firstPage); err != nil || p.Len() != 1 {
			t.Fatalf("page: %+v, %v", p, err)
		}
	}
	if n := inner.lists.Load(); n != 1 {
		t.Fatalf("3 reads of one page reached the store %d times, want 1", n)
	}
	if hits, misses := s.Stats(); hits != 2 || misses != 1 {
		t.Fatalf("Stats() = %d hits, %d misses; want 2, 1", hits, misses)
	}
	if _, err := s.CreateUser(ctx, models.NewUser{Name: "lee"}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.ListUsers(ctx, firstPage); p.Len() != 2 {
		t.Fatalf("after a write the page has %d users, want 2", p.Len())
	}
}

// What the cache hands out is safe to keep: changing what a caller got
// changes nothing for the next caller.
func TestValuesAreSafeToKeep(t *testing.T) {
	s, _ := newCached(t)
	s.CreateUser(ctx, models.NewUser{Name: "kim"})
	p, _ := s.ListUsers(ctx, firstPage)
	users := p.Users()
	users[0].Name = "changed by a caller"
	for _, u := range p.All() {
		u.Name = "changed too"
	}
	u, _ := s.User(ctx, 1)
	u.Name = "and this"
	again, _ := s.ListUsers(ctx, firstPage)
	if got := again.Last().Name; got != "kim" {
		t.Fatalf("a caller's change leaked into the cache: %q", got)
	}
	if got, _ := s.User(ctx, 1); got.Name != "kim" {
		t.Fatalf("a caller's change leaked into the cache: %q", got.Name)
	}
}

// A full table starts over instead of refusing new entries, and the
// revocation answers (one per session) never push out the user pages.
func TestTablesAreBoundedApart(t *testing.T) {
	s, inner := newCached(t)
	// Small bounds, so that the test runs well within maxAge.
	s.reads.max, s.revocations.max = 20, 50
	s.CreateUser(ctx, models.NewUser{Name: "kim"})
	s.ListUsers(ctx, firstPage)
	for i := range s.revocations.max + 10 {
		if _, err := s.SessionRevoked(ctx, fmt.Sprintf("sid-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(s.revocations.entries); n > s.revocations.max {
		t.Fatalf("%d revocation answers kept, the bound is %d", n, s.revocations.max)
	}
	s.ListUsers(ctx, firstPage)
	if n := inner.lists.Load(); n != 1 {
		t.Fatalf("the page was read from the store %d times: revocations evicted it", n)
	}
	for i := range s.reads.max + 10 {
		s.ListUsers(ctx, models.ListQuery{After: int64(i), Limit: 10})
	}
	if n := len(s.reads.entries); n > s.reads.max {
		t.Fatalf("%d reads kept, the bound is %d", n, s.reads.max)
	}
	before := inner.lists.Load()
	s.ListUsers(ctx, firstPage)
	s.ListUsers(ctx, firstPage)
	if n := inner.lists.Load() - before; n != 1 {
		t.Fatalf("the hot page was read %d times after the table started over, want once", n)
	}
}

// A write that was not announced (another program writing the file) is
// seen once cached entries age out.
func TestUnannouncedWritesAreSeenWithinMaxAge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.db")
	s := New(openSQLite(t, path), &LocalSignal{})
	if n, _ := s.CountUsers(ctx, models.Filter{}); n != 0 {
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
	deadline := time.Now().Add(maxAge + 2*time.Second)
	for {
		if n, _ := s.CountUsers(ctx, models.Filter{}); n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a foreign write was not seen within %v", maxAge+2*time.Second)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Two processes' caches over one database see each other's writes at once
// through the shared file.
func TestFileSignalIsShared(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("on Windows the signal is process-local")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "s.db")
	signal := func() Signal {
		sig, err := OpenFileSignal(path + "-gen")
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	a := New(openSQLite(t, path), signal())
	b := New(openSQLite(t, path), signal())
	if n, _ := b.CountUsers(ctx, models.Filter{}); n != 0 {
		t.Fatal("not empty")
	}
	if _, err := a.CreateUser(ctx, models.NewUser{Name: "kim"}); err != nil {
		t.Fatal(err)
	}
	if n, _ := b.CountUsers(ctx, models.Filter{}); n != 1 {
		t.Fatalf("the other process counts %d users right after a write, want 1", n)
	}
	fi, err := os.Stat(path + "-gen")
	if err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("signal file: %v, %v", fi, err)
	}
}
