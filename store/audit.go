package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"userhub/models"
)

// The audit log: models.AuditStore, and the entries a change carries in
// its context (models.WithAudit), written by inTx in the change's own
// transaction.

const auditColumns = "id, at, action, actor_id, actor_name, target_id, target_name, client_ip, request_id, details"

// writeAudit inserts the entries pending in ctx, in tx. target, if not
// nil, is the user the change made or removed: entries naming no target
// get it.
func (s *Store) writeAudit(ctx context.Context, tx *sql.Tx, target *models.User) error {
	for _, e := range models.PendingAudit(ctx) {
		if target != nil && e.TargetID == 0 && e.TargetName == "" {
			e.TargetID, e.TargetName = target.ID, target.Name
		}
		if err := insertAudit(ctx, tx, e); err != nil {
			return err
		}
	}
	return nil
}

func insertAudit(ctx context.Context, tx *sql.Tx, e models.AuditEntry) error {
	details, err := json.Marshal(e.Details)
	if err != nil {
		return err
	}
	if e.Details == nil {
		details = []byte("{}")
	}
	if e.At.IsZero() {
		e.At = now() // in the transaction: the entries of one database read in time order, or nearly
	}
	_, err = tx.ExecContext(ctx,
		`INSERT INTO audit_log (at, action, actor_id, actor_name, target_id, target_name, client_ip, request_id, details)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		e.At.UnixMicro(), e.Action, nullID(e.ActorID), e.ActorName, nullID(e.TargetID), e.TargetName, e.ClientIP, e.RequestID, string(details))
	return err
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// RecordAudit implements models.AuditStore.
func (s *Store) RecordAudit(ctx context.Context, entries ...models.AuditEntry) (err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	return s.inTx(models.WithAudit(ctx, entries...), func(*sql.Tx) error { return nil })
}

// AuditLog implements models.AuditStore: a keyset on id, newest first
// (ids grow with time), or oldest first.
func (s *Store) AuditLog(ctx context.Context, q models.AuditQuery) (entries []models.AuditEntry, more bool, err error) {
	ctx, end := s.call(ctx, &err, reading)
	defer end()
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "?", placeholder(len(args))))
	}
	if q.Actor != "" {
		add("actor_name = ?", q.Actor)
	}
	if q.Target != "" {
		add("target_name = ?", q.Target)
	}
	if q.Action != "" {
		add("action = ?", q.Action)
	}
	if !q.Since.IsZero() {
		add("at >= ?", q.Since.UnixMicro())
	}
	if !q.Until.IsZero() {
		add("at < ?", q.Until.UnixMicro())
	}
	order := " ORDER BY id DESC"
	if q.Oldest {
		order = " ORDER BY id"
		if q.After > 0 {
			add("id > ?", q.After)
		}
	} else if q.Before > 0 {
		add("id < ?", q.Before)
	}
	limit := min(max(q.Limit, 1), models.MaxAuditPage)
	query := "SELECT " + auditColumns + " FROM audit_log"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, limit+1)
	rows, err := s.read.QueryContext(ctx, query+order+" LIMIT "+placeholder(len(args)), args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var e models.AuditEntry
		var at int64
		var actor, target sql.NullInt64
		var details string
		if err := rows.Scan(&e.ID, &at, &e.Action, &actor, &e.ActorName, &target, &e.TargetName, &e.ClientIP, &e.RequestID, &details); err != nil {
			return nil, false, err
		}
		e.At, e.ActorID, e.TargetID = time.UnixMicro(at).UTC(), actor.Int64, target.Int64
		if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
			return nil, false, err
		}
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	if len(entries) > limit {
		return entries[:limit], true, nil
	}
	return entries, false, nil
}

// PruneAudit implements models.AuditStore, a batch at a time: a year of
// entries removed at once would hold SQLite's write lock for long.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (removed int64, err error) {
	const batch = 5000
	for {
		n, err := s.pruneAuditBatch(ctx, before, batch)
		removed += n
		if err != nil || n < batch {
			return removed, err
		}
	}
}

func (s *Store) pruneAuditBatch(ctx context.Context, before time.Time, batch int) (n int64, err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			"DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < $1 ORDER BY at LIMIT $2)",
			before.UnixMicro(), batch)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
