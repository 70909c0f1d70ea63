package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/acme/autocert"
)

// CertCache is autocert's cache (tls.mode autocert) in the database, table
// acme_cache: the ACME account key, the certificates with their private
// keys, and the challenge responses of an order under way. Every process
// and instance using the database shares them: one certificate for all,
// and a challenge answered by whichever instance the ACME server reaches.
// LockOrders lets them take turns ordering.
type CertCache struct{ s *Store }

// CertCache returns the store's autocert cache.
func (s *Store) CertCache() *CertCache { return &CertCache{s: s} }

// Get implements autocert.Cache: it returns autocert.ErrCacheMiss itself
// (autocert compares with ==) for a key not stored.
func (c *CertCache) Get(ctx context.Context, key string) (data []byte, err error) {
	ctx, end := c.s.call(ctx, &err, reading)
	defer end()
	err = c.s.read.QueryRowContext(ctx, "SELECT data FROM acme_cache WHERE key = $1", key).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, autocert.ErrCacheMiss
	}
	return data, err
}

// Put implements autocert.Cache, replacing what key held.
func (c *CertCache) Put(ctx context.Context, key string, data []byte) (err error) {
	ctx, end := c.s.call(ctx, &err, writing)
	defer end()
	_, err = c.s.write.ExecContext(ctx, `INSERT INTO acme_cache (key, data, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
		key, data, c.s.now().UnixMicro())
	return err
}

// Delete implements autocert.Cache; a key not stored is no error.
func (c *CertCache) Delete(ctx context.Context, key string) (err error) {
	ctx, end := c.s.call(ctx, &err, writing)
	defer end()
	_, err = c.s.write.ExecContext(ctx, "DELETE FROM acme_cache WHERE key = $1", key)
	return err
}

// LockOrders waits until ctx ends to hold the lock on certificate orders,
// one holder at a time among every process and instance using the
// database, and returns the function that lets go. The lock goes with
// its holder: a process that dies holding it holds it no more.
//
// On PostgreSQL it is an advisory lock, per schema (as the cache is), held
// by a connection of its own that unlock closes. On SQLite it is an
// exclusive flock on the file beside the database (userhub.db-acme.lock):
// the processes sharing an SQLite file are on one machine.
func (c *CertCache) LockOrders(ctx context.Context) (unlock func(), err error) {
	if c.s.pgConfig != nil {
		unlock, err = c.lockPostgres(ctx)
	} else {
		unlock, err = lockFile(ctx, c.s.path+"-acme.lock")
	}
	if err != nil {
		return nil, fmt.Errorf("lock certificate orders: %w", err)
	}
	return unlock, nil
}

// acmeLockClass names the orders' advisory lock (with the schema's hash),
// apart from the migrations' and admins' locks, whose keys are one bigint.
const acmeLockClass = 72831055

func (c *CertCache) lockPostgres(ctx context.Context) (func(), error) {
	conn, err := pgx.ConnectConfig(ctx, c.s.pgConfig.Copy())
	if err != nil {
		return nil, err
	}
	release := func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.s.queryTimeout)
		defer cancel()
		conn.Close(ctx) // the session ends, and its advisory locks with it
	}
	err = untilDone(ctx, func() (bool, error) {
		var got bool
		err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, hashtext(current_schema()))", int32(acmeLockClass)).Scan(&got)
		return got, err
	})
	if err != nil {
		release()
		return nil, err
	}
	return release, nil
}

// untilDone calls try until it succeeds, fails or ctx ends, waiting a
// little longer between tries each time (up to a fifth of a second:
// orders are rare and take seconds).
func untilDone(ctx context.Context, try func() (bool, error)) error {
	wait := 10 * time.Millisecond
	for {
		done, err := try()
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}
