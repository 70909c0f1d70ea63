package store

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"time"

	"userhub/models"
)

// The login_attempts table implements models.Counter. Window ends are
// stored as times of the store's clock (s.now); one that lies further
// ahead than a window can reach was written while a clock ran ahead, and
// counts as closed.

// Count implements models.Counter.
func (s *Store) Count(ctx context.Context, key string, window time.Duration) (n int, left time.Duration, err error) {
	ctx, end := s.call(ctx, &err, reading)
	defer end()
	now := s.now()
	var resets int64
	err = s.read.QueryRowContext(ctx,
		"SELECT count, resets_at FROM login_attempts WHERE key = $1 AND resets_at > $2 AND resets_at <= $3",
		key, now.UnixMicro(), latestEnd(now, window)).Scan(&n, &resets)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	return n, time.UnixMicro(resets).Sub(now), err
}

// Add implements models.Counter in one statement, so that concurrent
// failures from several processes are all counted.
func (s *Store) Add(ctx context.Context, key string, events int, window time.Duration) (n int, left time.Duration, err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	now := s.now()
	if rand.IntN(64) == 0 {
		// Now and then, drop the windows that have closed. A failure here
		// costs nothing but the space: the next cleanup takes them.
		_, _ = s.write.ExecContext(ctx, "DELETE FROM login_attempts WHERE resets_at <= $1", now.UnixMicro())
	}
	var resets int64
	err = s.write.QueryRowContext(ctx,
		`INSERT INTO login_attempts (key, count, resets_at) VALUES ($1, $5, $3)
		 ON CONFLICT (key) DO UPDATE SET
		   count     = CASE WHEN login_attempts.resets_at <= $2 OR login_attempts.resets_at > $4 THEN $5 ELSE login_attempts.count + $5 END,
		   resets_at = CASE WHEN login_attempts.resets_at <= $2 OR login_attempts.resets_at > $4 THEN $3 ELSE login_attempts.resets_at END
		 RETURNING count, resets_at`,
		key, now.UnixMicro(), now.Add(window).UnixMicro(), latestEnd(now, window), events).Scan(&n, &resets)
	return n, time.UnixMicro(resets).Sub(now), err
}

// latestEnd is the latest a window of that length opened by a sound clock
// can close, in the stored form.
func latestEnd(now time.Time, window time.Duration) int64 {
	return now.Add(window + models.MaxClockSkew).UnixMicro()
}

// Reset implements models.Counter.
func (s *Store) Reset(ctx context.Context, key string) (err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	_, err = s.write.ExecContext(ctx, "DELETE FROM login_attempts WHERE key = $1", key)
	return err
}
