package ratelimit_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"userhub/ratelimit"
	"userhub/store"
)

// twoProcesses returns two limiters of limit per window over one SQLite
// counter, as two processes sharing a database have.
func twoProcesses(t *testing.T, limit int, window time.Duration) (a, b *ratelimit.Limiter) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "limit.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return ratelimit.New(db, limit, window), ratelimit.New(db, limit, window)
}

// TestLimitHoldsAcrossProcesses: requests for one key, alternating
// between two processes, get exactly the limit; the rest are refused with
// how long until the window ends; another key has its own window.
func TestLimitHoldsAcrossProcesses(t *testing.T) {
	a, b := twoProcesses(t, 20, time.Minute)
	ctx := context.Background()
	allowed := 0
	for i := range 50 {
		l := a
		if i%2 == 1 {
			l = b
		}
		d, err := l.Take(ctx, "t:1")
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed {
			allowed++
		} else if d.Reset <= 0 || d.Reset > time.Minute || d.Remaining != 0 || d.Limit != 20 {
			t.Errorf("refusal %d: %+v", i, d)
		}
	}
	if allowed != 20 {
		t.Errorf("%d of 50 requests allowed with a limit of 20", allowed)
	}
	if d, err := a.Take(ctx, "t:2"); err != nil || !d.Allowed || d.Remaining < 18 {
		t.Errorf("another key: %+v, %v", d, err)
	}
}

// TestLimitUnderConcurrency: many requests at once from two processes
// never get more than the limit, and not much less.
func TestLimitUnderConcurrency(t *testing.T) {
	a, b := twoProcesses(t, 20, time.Minute)
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		l := a
		if i%2 == 1 {
			l = b
		}
		wg.Go(func() {
			for range 10 {
				d, err := l.Take(context.Background(), "s:1")
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	// A process may be left holding part of its last share (2 here).
	if n := allowed.Load(); n > 20 || n < 16 {
		t.Errorf("%d of 80 concurrent requests allowed with a limit of 20", n)
	}
}

// TestWindowEnds: once the window has ended, requests are allowed again.
func TestWindowEnds(t *testing.T) {
	// A window long enough that three writes fit in it on a busy machine.
	a, _ := twoProcesses(t, 2, 2*time.Second)
	ctx := context.Background()
	for range 2 {
		if d, _ := a.Take(ctx, "ip:1"); !d.Allowed {
			t.Fatal("refused within the limit")
		}
	}
	if d, _ := a.Take(ctx, "ip:1"); d.Allowed {
		t.Fatal("allowed over the limit")
	}
	time.Sleep(3 * time.Second) // past the window
	if d, _ := a.Take(ctx, "ip:1"); !d.Allowed {
		t.Fatal("still refused after the window ended")
	}
}
