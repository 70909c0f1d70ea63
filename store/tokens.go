package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"userhub/models"
)

// Personal access tokens: models.TokenStore.

const tokenColumns = "id, user_id, name, prefix, hash, scopes, user_version, created_at, expires_at, last_used_at"

// tokenColumnsOf is tokenColumns of table alias t, for a join.
var tokenColumnsOf = "t." + strings.ReplaceAll(tokenColumns, ", ", ", t.")

func scanToken(r rowScanner, extra ...any) (models.Token, error) {
	var t models.Token
	var scopes string
	var created int64
	var expires, used sql.NullInt64
	err := r.Scan(append([]any{&t.ID, &t.UserID, &t.Name, &t.Prefix, &t.Hash, &scopes, &t.UserVersion, &created, &expires, &used}, extra...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return t, models.ErrNoToken
	}
	for s := range strings.SplitSeq(scopes, ",") {
		t.Scopes = append(t.Scopes, models.Scope(s))
	}
	t.CreatedAt = time.UnixMicro(created).UTC()
	if expires.Valid {
		t.ExpiresAt = time.UnixMicro(expires.Int64).UTC()
	}
	if used.Valid {
		t.LastUsedAt = time.UnixMicro(used.Int64).UTC()
	}
	return t, err
}

// nullTime is a time column's value: NULL for the zero time.
func nullTime(t time.Time) sql.NullInt64 {
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: !t.IsZero()}
}

// CreateToken implements models.TokenStore.
func (s *Store) CreateToken(ctx context.Context, t models.Token) (out models.Token, err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = scanToken(tx.QueryRowContext(ctx,
			`INSERT INTO api_tokens (user_id, name, prefix, hash, scopes, user_version, created_at, expires_at)
			 SELECT id, $2, $3, $4, $5, $6, $7, $8 FROM users WHERE id = $1
			 RETURNING `+tokenColumns,
			t.UserID, t.Name, t.Prefix, t.Hash, models.JoinScopes(t.Scopes, ","), t.UserVersion, now().UnixMicro(), nullTime(t.ExpiresAt)))
		if errors.Is(err, models.ErrNoToken) {
			return models.ErrNotFound // no such user
		}
		return err
	})
	return out, err
}

// TokenByHash implements models.TokenStore: the token and its user in one
// query, so that a bearer request costs one round trip.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (t models.Token, u models.User, err error) {
	ctx, end := s.call(ctx, &err, reading)
	defer end()
	var created, updated int64
	var lastLogin sql.NullInt64
	t, err = scanToken(s.read.QueryRowContext(ctx,
		"SELECT "+tokenColumnsOf+", u.id, u.name, u.role, u.password_hash, u.session_version, u.suspended, u.created_at, u.updated_at, u.last_login_at"+
			" FROM api_tokens AS t JOIN users AS u ON u.id = t.user_id WHERE t.hash = $1", hash),
		&u.ID, &u.Name, &u.Role, &u.PasswordHash, &u.SessionVersion, &u.Suspended, &created, &updated, &lastLogin)
	if err != nil {
		return models.Token{}, models.User{}, err
	}
	u.CreatedAt, u.UpdatedAt = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	if lastLogin.Valid {
		u.LastLoginAt = time.UnixMicro(lastLogin.Int64).UTC()
	}
	return t, u, nil
}

// Tokens implements models.TokenStore.
func (s *Store) Tokens(ctx context.Context, userID int64) (ts []models.Token, err error) {
	ctx, end := s.call(ctx, &err, reading)
	defer end()
	query, args := "SELECT "+tokenColumns+" FROM api_tokens WHERE user_id = $1 ORDER BY id DESC", []any{userID}
	if userID == 0 {
		query, args = "SELECT "+tokenColumns+" FROM api_tokens ORDER BY id DESC", nil
	}
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, rows.Err()
}

// DeleteToken implements models.TokenStore.
func (s *Store) DeleteToken(ctx context.Context, id, userID int64) (err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	var owner models.User
	return s.auditedTx(ctx, &owner, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx,
			`DELETE FROM api_tokens WHERE id = $1 AND (CAST($2 AS BIGINT) = 0 OR user_id = $2)
			 RETURNING user_id, (SELECT name FROM users WHERE users.id = api_tokens.user_id)`, id, userID).Scan(&owner.ID, &owner.Name)
		if errors.Is(err, sql.ErrNoRows) {
			return models.ErrNoToken
		}
		return err
	})
}

// TokenUsed implements models.TokenStore.
func (s *Store) TokenUsed(ctx context.Context, id int64, at time.Time) (err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2", at.UnixMicro(), id)
		return err
	})
}
