package store

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// readCache keeps the results of hot read queries (a page of users, a user
// by id, the user count) until the data changes. Re-reading a page of 100
// users through database/sql costs about forty times what the page costs to
// serve from memory, and users change rarely. It is used for SQLite only:
// PostgreSQL serves instances on several machines, which share no memory.
//
// A change is noticed through a generation counter shared by every process
// that opens the same database file (cluster workers, the `userhub user`
// command): an 8-byte word in a small memory-mapped file beside the
// database (<db>-gen, the way SQLite keeps its own -shm). Every write
// through a Store bumps it after committing, so a request that starts after
// a write was answered reads the new data, in whichever process it lands.
// Reading the counter is one atomic load; asking SQLite (PRAGMA
// data_version) costs a statement and two file-lock system calls, which
// was the largest part of serving GET /users.
//
// Entries also expire after maxCacheAge, which bounds how long a write that
// did not bump the counter (another program, or a process killed between
// its commit and its bump) can stay unseen.
type readCache struct {
	gen *generation

	mu      sync.Mutex
	at      uint64 // the generation the entries were read at
	entries map[any]cacheEntry
}

type cacheEntry struct {
	value any
	born  time.Time
}

const (
	// maxCacheEntries bounds the memory a stream of distinct queries
	// (cursors, session ids) can take: a full cache is emptied and starts
	// over, so the hot entries come straight back.
	maxCacheEntries = 1024
	maxCacheAge     = time.Second
)

// cached returns the result kept for key, or calls fill and keeps its
// result. Values are shared between callers: they must not be modified.
func cached[T any](c *readCache, key any, fill func() (T, error)) (T, error) {
	if c == nil {
		return fill()
	}
	gen := c.gen.load()
	now := time.Now()
	c.mu.Lock()
	if gen != c.at {
		clear(c.entries)
		c.at = gen
	}
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Sub(e.born) < maxCacheAge {
		return e.value.(T), nil
	}
	// The generation was read before the query, so a commit racing with it
	// makes the entry look older than it is (and be read again), never newer.
	result, err := fill()
	if err != nil {
		return result, err
	}
	c.mu.Lock()
	if c.at == gen {
		if _, refresh := c.entries[key]; !refresh && len(c.entries) >= maxCacheEntries {
			clear(c.entries)
		}
		c.entries[key] = cacheEntry{value: result, born: now}
	}
	c.mu.Unlock()
	return result, nil
}

// generation is the shared change counter.
type generation struct {
	mem     []byte
	counter *uint64
}

// openGeneration maps path (created if missing) and returns its counter.
func openGeneration(path string) (*generation, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()   // the mapping outlives the descriptor
	const size = 4096 // one page: the counter is page-aligned, so 8-byte aligned
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if fi.Size() < size {
		if err := f.Truncate(size); err != nil {
			return nil, err
		}
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", path, err)
	}
	return &generation{mem: mem, counter: (*uint64)(unsafe.Pointer(&mem[0]))}, nil
}

func (g *generation) load() uint64 { return atomic.LoadUint64(g.counter) }

// bump tells every process that the data changed.
func (g *generation) bump() { atomic.AddUint64(g.counter, 1) }
