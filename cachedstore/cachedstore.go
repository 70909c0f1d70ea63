// Package cachedstore keeps the answers of the hot reads (a user by id, a
// page of users, the user count, whether a session was revoked) in memory
// until the data changes. Re-reading a page of 100 users through
// database/sql costs about forty times what serving it from memory does,
// and users change rarely.
//
// Store decorates any store: every write goes through to the store below
// and is then announced on a Signal ("the data changed"); every cached
// read first asks the Signal whether anything changed since its entries
// were read. Processes sharing one database share one Signal (for SQLite,
// a counter in a memory-mapped file beside the database), so a request
// that starts after a write was answered reads the new data, in whichever
// process it lands.
//
// It knows nothing of SQL or HTTP. What it hands out is safe to keep:
// users are values, and a models.Page cannot be changed.
package cachedstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"userhub/models"
)

// Inner is the store the cache decorates.
type Inner interface {
	models.UserStore
	models.Revocations
}

// Signal tells the processes sharing a database that its data changed.
type Signal interface {
	// Generation returns a number that moves on whenever the data changes.
	Generation() uint64
	// Changed announces a committed change.
	Changed()
}

// Bounds of what is kept. A full table is emptied and starts over, so a
// stream of distinct queries (cursors, session ids) cannot take unbounded
// memory nor switch the cache off for the hot entries, which come straight
// back. Revocation answers (one per active session) have a table of their
// own: thousands of sessions must not push out the pages every request reads.
const (
	maxReads       = 1024
	maxRevocations = 1 << 16
	// maxAge bounds how long a change that was not announced (another
	// program writing the database, or a process killed between its commit
	// and its announcement) stays unseen.
	maxAge = time.Second
)

// Store implements Inner over another Inner.
type Store struct {
	inner  Inner
	signal Signal

	mu          sync.Mutex
	at          uint64 // the generation the entries were read at
	reads       table
	revocations table

	hits, misses atomic.Uint64 // answers from memory, and from the store below
}

type table struct {
	entries map[any]entry
	max     int
}

type entry struct {
	value any
	born  time.Time
}

// New returns inner with its hot reads cached until signal says the data changed.
func New(inner Inner, signal Signal) *Store {
	return &Store{
		inner:       inner,
		signal:      signal,
		reads:       table{entries: map[any]entry{}, max: maxReads},
		revocations: table{entries: map[any]entry{}, max: maxRevocations},
	}
}

// cache keys, one type per query.
type (
	userKey  int64
	listKey  models.ListQuery
	countKey models.Filter
)

// cached returns the answer kept in t for key, or calls fill and keeps its
// answer. Entries are shared between callers: T must be a value type or
// one that cannot be changed.
func cached[T any](s *Store, t *table, key any, fill func() (T, error)) (T, error) {
	gen := s.signal.Generation()
	now := time.Now()
	s.mu.Lock()
	if gen != s.at {
		clear(s.reads.entries)
		clear(s.revocations.entries)
		s.at = gen
	}
	e, ok := t.entries[key]
	s.mu.Unlock()
	if ok && now.Sub(e.born) < maxAge {
		s.hits.Add(1)
		return e.value.(T), nil
	}
	s.misses.Add(1)
	// The generation was read before the query, so a commit racing with it
	// makes the entry look older than it is (and be read again), never newer.
	result, err := fill()
	if err != nil {
		return result, err
	}
	s.mu.Lock()
	if s.at == gen {
		if _, refresh := t.entries[key]; !refresh && len(t.entries) >= t.max {
			clear(t.entries)
		}
		t.entries[key] = entry{value: result, born: now}
	}
	s.mu.Unlock()
	return result, nil
}

// Stats is how many cached reads were answered from memory (hits) and
// from the store below (misses) since New.
func (s *Store) Stats() (hits, misses uint64) { return s.hits.Load(), s.misses.Load() }

// User implements models.UserStore.
func (s *Store) User(ctx context.Context, id int64) (models.User, error) {
	return cached(s, &s.reads, userKey(id), func() (models.User, error) { return s.inner.User(ctx, id) })
}

// ListUsers implements models.UserStore. A Page cannot be changed, so
// every caller gets the one kept.
func (s *Store) ListUsers(ctx context.Context, q models.ListQuery) (models.Page, error) {
	return cached(s, &s.reads, listKey(q), func() (models.Page, error) { return s.inner.ListUsers(ctx, q) })
}

// CountUsers implements models.UserStore.
func (s *Store) CountUsers(ctx context.Context, f models.Filter) (int, error) {
	return cached(s, &s.reads, countKey(f), func() (int, error) { return s.inner.CountUsers(ctx, f) })
}

// SessionRevoked implements models.Revocations. It is asked on every
// authenticated request.
func (s *Store) SessionRevoked(ctx context.Context, sid string) (bool, error) {
	return cached(s, &s.revocations, sid, func() (bool, error) { return s.inner.SessionRevoked(ctx, sid) })
}

// UserByName implements models.UserStore, uncached: only logins ask it,
// and each of them costs a password hash anyway.
func (s *Store) UserByName(ctx context.Context, name string) (models.User, error) {
	return s.inner.UserByName(ctx, name)
}

// Ping implements models.UserStore.
func (s *Store) Ping(ctx context.Context) error { return s.inner.Ping(ctx) }

// The writes: each is announced once it returns, whatever it answers (a
// failed commit may still have changed the data; an extra announcement
// costs only a re-read).

// CreateUser implements models.UserStore.
func (s *Store) CreateUser(ctx context.Context, n models.NewUser) (models.User, error) {
	defer s.signal.Changed()
	return s.inner.CreateUser(ctx, n)
}

// UpdateUser implements models.UserStore.
func (s *Store) UpdateUser(ctx context.Context, id int64, c models.UserChange) (models.User, error) {
	defer s.signal.Changed()
	return s.inner.UpdateUser(ctx, id, c)
}

// RecordLogin implements models.UserStore.
func (s *Store) RecordLogin(ctx context.Context, id int64, at time.Time) error {
	defer s.signal.Changed()
	return s.inner.RecordLogin(ctx, id, at)
}

// DeleteUser implements models.UserStore.
func (s *Store) DeleteUser(ctx context.Context, id int64, check models.Precondition) error {
	defer s.signal.Changed()
	return s.inner.DeleteUser(ctx, id, check)
}

// EndSessions implements models.UserStore.
func (s *Store) EndSessions(ctx context.Context, id int64) (models.User, error) {
	defer s.signal.Changed()
	return s.inner.EndSessions(ctx, id)
}

// RevokeSession implements models.Revocations.
func (s *Store) RevokeSession(ctx context.Context, sid string, until time.Time) (bool, error) {
	defer s.signal.Changed()
	return s.inner.RevokeSession(ctx, sid, until)
}
