package store

import (
	"context"
	"database/sql"
	"time"
)

// RevokeSession implements models.Revocations. It also drops the entries
// of sessions that have expired by now, which keeps the table small.
func (s *Store) RevokeSession(ctx context.Context, sid string, until time.Time) (first bool, err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	now := time.Now().UnixMicro()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM revoked_sessions WHERE expires_at < $1", now); err != nil {
			return err
		}
		first, err = execOne(ctx, tx,
			"INSERT INTO revoked_sessions (sid, expires_at) VALUES ($1, $2) ON CONFLICT (sid) DO NOTHING", sid, until.UnixMicro())
		return err
	})
	return first, err
}

// SessionRevoked implements models.Revocations.
func (s *Store) SessionRevoked(ctx context.Context, sid string) (revoked bool, err error) {
	ctx, end := s.call(ctx, &err, reading)
	defer end()
	err = s.read.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM revoked_sessions WHERE sid = $1)", sid).Scan(&revoked)
	return revoked, err
}
