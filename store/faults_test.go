package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"userhub/models"
)

// A full disk: writes answer unavailable (and say why), reads go on, Ping
// reports it until a write works again, the outage is logged once, and no
// write that was acknowledged is lost. The disk is an SQLite database
// limited with max_page_count.
func TestStorageFull(t *testing.T) {
	var log bytes.Buffer
	s := openWith(t, Options{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "full.db"), Log: slog.New(slog.NewTextHandler(&log, nil))})
	ctx := context.Background()
	var pages int
	if err := s.write.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages+2)); err != nil {
		t.Fatal(err)
	}
	var created []models.User
	var full error
	for i := range 1000 {
		u, err := s.CreateUser(ctx, models.NewUser{Name: fmt.Sprintf("user %d %s", i, strings.Repeat("x", 50))})
		if err != nil {
			full = err
			break
		}
		created = append(created, u)
	}
	if !errors.Is(full, models.ErrUnavailable) || !errors.Is(full, models.ErrStorageFull) {
		t.Fatalf("a write to a full database: %v", full)
	}
	for range 3 { // more refusals: one outage
		if _, err := s.CreateUser(ctx, models.NewUser{Name: "one more " + strings.Repeat("y", 50)}); !errors.Is(err, models.ErrStorageFull) {
			t.Fatalf("another write: %v", err)
		}
	}
	if n, err := s.CountUsers(ctx, models.Filter{}); err != nil || n != len(created) {
		t.Fatalf("a read while full: %d, %v; want %d", n, err, len(created))
	}
	if err := s.Ping(ctx); !errors.Is(err, models.ErrStorageFull) || !errors.Is(err, models.ErrUnavailable) {
		t.Fatalf("Ping while full: %v", err)
	}
	if _, err := s.write.ExecContext(ctx, "PRAGMA max_page_count = 1000000"); err != nil { // space freed
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, models.NewUser{Name: "after"}); err != nil {
		t.Fatalf("a write once there is room: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping once a write worked: %v", err)
	}
	for _, u := range created {
		if _, err := s.User(ctx, u.ID); err != nil {
			t.Fatalf("acknowledged user %d lost: %v", u.ID, err)
		}
	}
	if n := strings.Count(log.String(), "stopped answering"); n != 1 || strings.Count(log.String(), "database answers again\"") != 1 {
		t.Errorf("the outage was not told once, and its end once:\n%s", log.String())
	}
}

// A call slower than the query timeout (here: a write waiting for another
// process's lock) answers unavailable in about that time, and its write is
// not made.
func TestQueryTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slow.db")
	s := openWith(t, Options{Driver: "sqlite", DSN: path, QueryTimeout: 300 * time.Millisecond})
	ctx := context.Background()
	other := openMigrated(t, path) // another process
	conn, err := other.write.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil { // holds the write lock
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.CreateUser(ctx, models.NewUser{Name: "waits"})
	took := time.Since(start)
	if !errors.Is(err, models.ErrUnavailable) {
		t.Fatalf("a write behind another's lock: %v", err)
	}
	if took > 300*time.Millisecond+time.Second {
		t.Fatalf("answered after %v, the timeout is 300ms", took)
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByName(ctx, "waits"); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("the write that timed out was made: %v", err)
	}
	// The client going away is not an outage: its own error comes back.
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.CountUsers(gone, models.Filter{}); !errors.Is(err, context.Canceled) || errors.Is(err, models.ErrUnavailable) {
		t.Fatalf("a call for a client that went away: %v", err)
	}
}

// PostgreSQL refuses to commit a write transaction past its deadline (less
// the margin), so a server that wakes from a freeze does not commit what
// its client was told failed.
func TestPostgresCommitGuard(t *testing.T) {
	s := openWith(t, PostgresTestOptions(t))
	ctx, cancel := context.WithTimeout(context.Background(), guardMargin+2*time.Second)
	defer cancel()
	deadline, _ := ctx.Deadline()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (name, name_key, role, created_at, updated_at) VALUES ('late', 'late', 'member', 0, 0)`); err != nil {
			return err
		}
		time.Sleep(time.Until(deadline.Add(-guardMargin)) + 100*time.Millisecond) // past the guard, not past ctx
		return nil
	})
	if err == nil || pgCode(err) != "57014" {
		t.Fatalf("a commit past the guard: %v", err)
	}
	if !postgresUnavailable(err) {
		t.Fatalf("the guard's refusal is not classified as unavailable: %v", err)
	}
	if _, err := s.UserByName(context.Background(), "late"); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("the refused transaction was committed: %v", err)
	}
}
