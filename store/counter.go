package store

import (
	"context"
	"math/rand/v2"
	"time"
)

// The login_attempts table implements models.Counter.

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
