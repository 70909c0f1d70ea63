package store

import (
	"context"
	"database/sql"
	"sync"
)

// readCache keeps the results of hot read queries (a page of users, a user
// by id, the user count) until the database changes. Re-reading a page of
// 100 users through database/sql costs about forty times what noticing a
// change does, and users change rarely.
//
// A change is noticed with SQLite's PRAGMA data_version, asked on a
// connection of its own: its value moves whenever any OTHER connection
// commits, whether in this process or in another one sharing the file
// (cluster workers), so a read after a commit anywhere never sees the old
// result. PostgreSQL has no such counter; its store runs without the cache.
type readCache struct {
	version *sql.Stmt // PRAGMA data_version, on a one-connection pool

	mu      sync.Mutex
	at      int64 // the data_version the entries were read at
	entries map[any]any
}

// maxCacheEntries bounds the memory a stream of distinct queries (cursors)
// can take: when full, new results are served but not kept.
const maxCacheEntries = 1024

func newReadCache(db *sql.DB) (*readCache, error) {
	stmt, err := db.Prepare("PRAGMA data_version")
	if err != nil {
		return nil, err
	}
	return &readCache{version: stmt, entries: map[any]any{}}, nil
}

// cached returns the result kept for key, or calls fill and keeps its
// result. Values are shared between callers: they must not be modified.
func cached[T any](ctx context.Context, c *readCache, key any, fill func() (T, error)) (T, error) {
	if c == nil {
		return fill()
	}
	var version int64
	if err := c.version.QueryRowContext(ctx).Scan(&version); err != nil {
		return fill() // the fill reports whatever is wrong with the database
	}
	c.mu.Lock()
	if version != c.at {
		clear(c.entries)
		c.at = version
	}
	v, ok := c.entries[key]
	c.mu.Unlock()
	if ok {
		return v.(T), nil
	}
	// The version was read before the query, so a commit racing with it
	// makes the entry look older than it is (and be re-read), never newer.
	result, err := fill()
	if err != nil {
		return result, err
	}
	c.mu.Lock()
	if c.at == version && len(c.entries) < maxCacheEntries {
		c.entries[key] = result
	}
	c.mu.Unlock()
	return result, nil
}
