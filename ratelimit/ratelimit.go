// Package ratelimit limits requests per key (a principal, a client
// address) in a fixed window counted in a models.Counter: the database or
// Redis, shared by every worker and instance, so that they all enforce one
// limit.
//
// A write to the counter per request would cost more than most requests
// (a database write on SQLite's one writer), so each process reserves a
// share of a key's window at a time (a tenth of the limit) and serves from
// it. A process never serves more than it reserved, so the limit holds
// across processes; what one reserved and did not use is lost to the
// others until the window ends, so a client spread over many processes may
// be stopped a little early, never late.
package ratelimit

import (
	"context"
	"sync"
	"time"

	"userhub/models"
)

// Limiter allows Limit requests per Window for each key.
type Limiter struct {
	counter models.Counter
	limit   int
	window  time.Duration
	share   int // reserved from the counter at a time

	mu     sync.Mutex
	keys   map[string]*allowance
	sweeps int // Takes since the last sweep of ended windows
}

// allowance is what this process holds of one key's window.
type allowance struct {
	left   int       // reserved and not used yet
	shared int       // the window's count in the counter, after our last reservation
	ends   time.Time // when the window ends
}

// Decision is the answer for one request.
type Decision struct {
	Allowed   bool
	Limit     int
	Remaining int           // about how many more the window allows
	Reset     time.Duration // until the window ends
}

// New returns a limiter of limit requests per window, counted in counter.
func New(counter models.Counter, limit int, window time.Duration) *Limiter {
	return &Limiter{counter: counter, limit: limit, window: window, share: max(1, limit/10), keys: map[string]*allowance{}}
}

// Limit is the number of requests a window allows.
func (l *Limiter) Limit() int { return l.limit }

// Window is the limiter's window.
func (l *Limiter) Window() time.Duration { return l.window }

// Take counts one request for key. An error means the counter did not
// answer: the caller decides (userhub answers 503, as for the login limit).
func (l *Limiter) Take(ctx context.Context, key string) (Decision, error) {
	now := time.Now()
	l.mu.Lock()
	l.sweep(now)
	if a := l.keys[key]; a != nil && now.Before(a.ends) {
		if a.left > 0 {
			a.left--
			d := l.decision(true, a, now)
			l.mu.Unlock()
			return d, nil
		}
		if a.shared >= l.limit { // spent everywhere: no need to ask again
			d := l.decision(false, a, now)
			l.mu.Unlock()
			return d, nil
		}
	}
	l.mu.Unlock()

	n, left, err := l.counter.Add(ctx, key, l.share, l.window)
	if err != nil {
		return Decision{}, err
	}
	granted := l.share
	if n > l.limit {
		granted = max(0, l.share-(n-l.limit))
	}
	ends := now.Add(left)
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.keys[key]
	if a == nil || !now.Before(a.ends) || a.ends.Sub(ends).Abs() > time.Second {
		a = &allowance{ends: ends} // a new window
		l.keys[key] = a
	}
	a.left += granted
	a.shared = max(a.shared, n)
	if a.left == 0 {
		return l.decision(false, a, now), nil
	}
	a.left--
	return l.decision(true, a, now), nil
}

func (l *Limiter) decision(allowed bool, a *allowance, now time.Time) Decision {
	return Decision{Allowed: allowed, Limit: l.limit, Remaining: max(0, l.limit-a.shared+a.left), Reset: max(0, a.ends.Sub(now))}
}

// sweep drops the windows that have ended, now and then, so that keys
// seen once do not stay. l.mu is held.
func (l *Limiter) sweep(now time.Time) {
	l.sweeps++
	if l.sweeps < 1024 {
		return
	}
	l.sweeps = 0
	for k, a := range l.keys {
		if !now.Before(a.ends) {
			delete(l.keys, k)
		}
	}
}
