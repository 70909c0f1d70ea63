package store

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"time"

	"userhub/models"
)

// The list of each user's sessions: models.SessionList.

// ListSession implements models.SessionList.
func (s *Store) ListSession(ctx context.Context, e models.SessionEntry) (err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if rand.IntN(64) == 0 { // now and then, drop the rows of sessions that have expired
			if _, err := tx.ExecContext(ctx, "DELETE FROM session_list WHERE expires_at < $1", time.Now().UnixMicro()); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO session_list (sid, user_id, version, created_at, last_seen, expires_at, ip, user_agent)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (sid) DO NOTHING`,
			e.SID, e.UserID, e.Version, e.CreatedAt.UnixMicro(), e.LastSeen.UnixMicro(), e.ExpiresAt.UnixMicro(), e.IP, e.UserAgent)
		return err
	})
}

// SessionSeen implements models.SessionList.
func (s *Store) SessionSeen(ctx context.Context, sid string, at time.Time) (err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE session_list SET last_seen = $1 WHERE sid = $2", at.UnixMicro(), sid)
		return err
	})
}

// ListedSessions implements models.SessionList.
func (s *Store) ListedSessions(ctx context.Context, user, version int64, now time.Time) (list []models.SessionEntry, err error) {
	ctx, end := s.call(ctx, &err, reading)
	defer end()
	rows, err := s.read.QueryContext(ctx,
		`SELECT sid, user_id, version, created_at, last_seen, expires_at, ip, user_agent FROM session_list
		 WHERE user_id = $1 AND version = $2 AND expires_at > $3 ORDER BY created_at DESC`, user, version, now.UnixMicro())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var e models.SessionEntry
		var created, seen, expires int64
		if err := rows.Scan(&e.SID, &e.UserID, &e.Version, &created, &seen, &expires, &e.IP, &e.UserAgent); err != nil {
			return nil, err
		}
		e.CreatedAt, e.LastSeen, e.ExpiresAt = time.UnixMicro(created).UTC(), time.UnixMicro(seen).UTC(), time.UnixMicro(expires).UTC()
		list = append(list, e)
	}
	return list, rows.Err()
}

// UnlistSession implements models.SessionList.
func (s *Store) UnlistSession(ctx context.Context, sid string) (err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM session_list WHERE sid = $1", sid)
		return err
	})
}
