package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// Closed login-attempt windows are dropped now and then, so an attack from
// many addresses does not grow the table for good.
func TestClosedWindowsAreDropped(t *testing.T) {
	s := openMigrated(t, filepath.Join(t.TempDir(), "attempts.db"))
	ctx := context.Background()
	const keys = 1000 // a cleanup runs once in 64 adds on average
	for i := range keys {
		if _, _, err := s.Add(ctx, fmt.Sprintf("ip:%d", i), 1, time.Microsecond); err != nil {
			t.Fatal(err)
		}
	}
	var rows int
	if err := s.read.QueryRowContext(ctx, "SELECT count(*) FROM login_attempts").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows >= keys {
		t.Errorf("%d rows for %d windows that closed at once: none was dropped", rows, keys)
	}
}
