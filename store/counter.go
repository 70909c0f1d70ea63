package store

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"time"
)

// The login_attempts table implements models.Counter. Its writes do not go
// through inTx: nothing cached depends on them, so they need not announce
// themselves to other processes' caches.

// Count implements models.Counter.
func (s *Store) Count(ctx context.Context, key string) (int, time.Time, error) {
	var n int
	var resets int64
	err := s.read.QueryRowContext(ctx,
		"SELECT count, resets_at FROM login_attempts WHERE key = $1 AND resets_at > $2", key, time.Now().UnixMicro()).Scan(&n, &resets)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	return n, time.UnixMicro(resets), err
}

// Add implements models.Counter in one statement, so that concurrent
// failures from several processes are all counted.
func (s *Store) Add(ctx context.Context, key string, window time.Duration) (int, time.Time, error) {
	now := time.Now()
	if rand.IntN(64) == 0 {
		// Now and then, drop the windows that have closed. A failure here
		// costs nothing but the space: the next cleanup takes them.
		_, _ = s.write.ExecContext(ctx, "DELETE FROM login_attempts WHERE resets_at <= $1", now.UnixMicro())
	}
	var n int
	var resets int64
	err := s.write.QueryRowContext(ctx,
		`INSERT INTO login_attempts (key, count, resets_at) VALUES ($1, 1, $3)
		 ON CONFLICT (key) DO UPDATE SET
		   count     = CASE WHEN login_attempts.resets_at <= $2 THEN 1  ELSE login_attempts.count + 1 END,
		   resets_at = CASE WHEN login_attempts.resets_at <= $2 THEN $3 ELSE login_attempts.resets_at END
		 RETURNING count, resets_at`,
		key, now.UnixMicro(), now.Add(window).UnixMicro()).Scan(&n, &resets)
	return n, time.UnixMicro(resets), err
}

// Undo implements models.Counter.
func (s *Store) Undo(ctx context.Context, key string) error {
	_, err := s.write.ExecContext(ctx,
		"UPDATE login_attempts SET count = count - 1 WHERE key = $1 AND count > 0 AND resets_at > $2", key, time.Now().UnixMicro())
	return err
}

// Reset implements models.Counter.
func (s *Store) Reset(ctx context.Context, key string) error {
	_, err := s.write.ExecContext(ctx, "DELETE FROM login_attempts WHERE key = $1", key)
	return err
}
