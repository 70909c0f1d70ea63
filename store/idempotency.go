package store

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"time"

	"userhub/models"
)

// Idempotency keys: models.IdempotencyStore.

// ClaimIdempotencyKey implements models.IdempotencyStore, in one write
// transaction: two requests with one key cannot both claim it.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, scope, key string, request []byte, ttl, lease time.Duration) (held models.StoredAnswer, claimed bool, err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	now := s.now()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if rand.IntN(256) == 0 { // now and then, drop the keys that have expired
			if _, err := tx.ExecContext(ctx, "DELETE FROM idempotency_keys WHERE created_at < $1", now.Add(-ttl).UnixMicro()); err != nil {
				return err
			}
		}
		var created int64
		var body []byte
		read := func() error {
			return tx.QueryRowContext(ctx, "SELECT request, status, location, body, created_at FROM idempotency_keys WHERE scope = $1 AND key = $2"+s.dialect.forUpdate,
				scope, key).Scan(&held.Request, &held.Status, &held.Location, &body, &created)
		}
		err := read()
		switch {
		case errors.Is(err, sql.ErrNoRows):
			// A new key. Of two requests inserting it at once (PostgreSQL:
			// there is no row yet to lock), one inserts; the other sees its row.
			res, err := tx.ExecContext(ctx,
				`INSERT INTO idempotency_keys (scope, key, request, status, location, body, created_at) VALUES ($1, $2, $3, 0, '', NULL, $4)
				 ON CONFLICT (scope, key) DO NOTHING`, scope, key, request, now.UnixMicro())
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 1 {
				claimed = true
				return err
			}
			if err := read(); err != nil {
				return err
			}
			held.Body = body
			return nil
		case err != nil:
			return err
		case held.Status != 0 && now.Sub(time.UnixMicro(created)) < ttl,
			held.Status == 0 && now.Sub(time.UnixMicro(created)) < lease:
			held.Body = body
			return nil // answered, or its request still runs
		}
		claimed = true // its time is up, or its request died (the row is locked): a new claim
		_, err = tx.ExecContext(ctx, "UPDATE idempotency_keys SET request = $1, status = 0, location = '', body = NULL, created_at = $2 WHERE scope = $3 AND key = $4",
			request, now.UnixMicro(), scope, key)
		return err
	})
	if !claimed {
		return held, false, err
	}
	return models.StoredAnswer{}, true, err
}

// SaveIdempotentAnswer implements models.IdempotencyStore.
func (s *Store) SaveIdempotentAnswer(ctx context.Context, scope, key string, a models.StoredAnswer) (err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE idempotency_keys SET status = $1, location = $2, body = $3 WHERE scope = $4 AND key = $5",
			a.Status, a.Location, a.Body, scope, key)
		return err
	})
}

// ReleaseIdempotencyKey implements models.IdempotencyStore.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, scope, key string) (err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2", scope, key)
		return err
	})
}
