package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"userhub/models"
)

// OpenID Connect links: models.OIDCLinkStore.

const oidcLinkColumns = "user_id, issuer, subject, created_at"

func scanOIDCLink(r rowScanner) (models.OIDCLink, error) {
	var l models.OIDCLink
	var created int64
	err := r.Scan(&l.UserID, &l.Issuer, &l.Subject, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return l, models.ErrNoOIDCLink
	}
	l.CreatedAt = time.UnixMicro(created).UTC()
	return l, err
}

// LinkOIDC implements models.OIDCLinkStore.
func (s *Store) LinkOIDC(ctx context.Context, l models.OIDCLink) (out models.OIDCLink, err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = scanOIDCLink(tx.QueryRowContext(ctx,
			`INSERT INTO oidc_links (user_id, issuer, subject, created_at)
			 SELECT id, $2, $3, $4 FROM users WHERE id = $1
			 RETURNING `+oidcLinkColumns,
			l.UserID, l.Issuer, l.Subject, now().UnixMicro()))
		switch {
		case errors.Is(err, models.ErrNoOIDCLink):
			return models.ErrNotFound // no such user
		case s.dialect.isUniqueViolation(err):
			return models.ErrOIDCLinkTaken
		}
		return err
	})
	return out, err
}

// OIDCLinkBySubject implements models.OIDCLinkStore.
func (s *Store) OIDCLinkBySubject(ctx context.Context, issuer, subject string) (l models.OIDCLink, err error) {
	ctx, end := s.call(ctx, &err, reading)
	defer end()
	return scanOIDCLink(s.read.QueryRowContext(ctx,
		"SELECT "+oidcLinkColumns+" FROM oidc_links WHERE issuer = $1 AND subject = $2", issuer, subject))
}

// OIDCLinks implements models.OIDCLinkStore.
func (s *Store) OIDCLinks(ctx context.Context, userID int64) (ls []models.OIDCLink, err error) {
	ctx, end := s.call(ctx, &err, reading)
	defer end()
	rows, err := s.read.QueryContext(ctx,
		"SELECT "+oidcLinkColumns+" FROM oidc_links WHERE user_id = $1 ORDER BY created_at, issuer, subject", userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		l, err := scanOIDCLink(rows)
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
	}
	return ls, rows.Err()
}

// UnlinkOIDC implements models.OIDCLinkStore.
func (s *Store) UnlinkOIDC(ctx context.Context, userID int64, issuer, subject string) (err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM oidc_links WHERE user_id = $1 AND issuer = $2 AND subject = $3", userID, issuer, subject)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return models.ErrNoOIDCLink
		}
		return nil
	})
}
