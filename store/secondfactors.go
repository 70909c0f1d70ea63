package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"userhub/models"
)

// Second factors: models.SecondFactorStore.

// SetTOTP implements models.SecondFactorStore.
func (s *Store) SetTOTP(ctx context.Context, userID int64, sealed []byte) (err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var exists int
		if err := tx.QueryRowContext(ctx, "SELECT 1 FROM users WHERE id = $1", userID).Scan(&exists); errors.Is(err, sql.ErrNoRows) {
			return models.ErrNotFound
		} else if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx,
			`INSERT INTO totp_secrets (user_id, sealed, created_at) VALUES ($1, $2, $3)
			 ON CONFLICT (user_id) DO UPDATE SET sealed = $2, created_at = $3, last_step = 0
			 WHERE totp_secrets.confirmed = FALSE`,
			userID, sealed, now().UnixMicro())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return models.ErrTOTPEnabled
		}
		return err
	})
}

// TOTP implements models.SecondFactorStore.
func (s *Store) TOTP(ctx context.Context, userID int64) (t models.TOTP, err error) {
	ctx, end := s.call(ctx, &err, reading)
	defer end()
	var created int64
	err = s.read.QueryRowContext(ctx, "SELECT user_id, sealed, confirmed, last_step, created_at FROM totp_secrets WHERE user_id = $1", userID).
		Scan(&t.UserID, &t.Sealed, &t.Confirmed, &t.LastStep, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return models.TOTP{}, models.ErrNoTOTP
	}
	t.CreatedAt = time.UnixMicro(created).UTC()
	return t, err
}

// ConfirmTOTP implements models.SecondFactorStore.
func (s *Store) ConfirmTOTP(ctx context.Context, userID, step int64, recoveryHashes [][]byte) (err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE totp_secrets SET confirmed = TRUE, last_step = $2 WHERE user_id = $1 AND confirmed = FALSE", userID, step)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return models.ErrNoTOTP
		}
		return replaceRecoveryCodes(ctx, tx, userID, recoveryHashes)
	})
}

func replaceRecoveryCodes(ctx context.Context, tx *sql.Tx, userID int64, hashes [][]byte) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM recovery_codes WHERE user_id = $1", userID); err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := tx.ExecContext(ctx, "INSERT INTO recovery_codes (user_id, hash) VALUES ($1, $2)", userID, h); err != nil {
			return err
		}
	}
	return nil
}

// UseTOTPStep implements models.SecondFactorStore: one conditional update,
// so that two requests with the same code cannot both succeed.
func (s *Store) UseTOTPStep(ctx context.Context, userID, step int64) (ok bool, err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	err = s.inTx(ctx, func(tx *sql.Tx) (err error) {
		ok, err = execOne(ctx, tx, "UPDATE totp_secrets SET last_step = $2 WHERE user_id = $1 AND confirmed = TRUE AND last_step < $2", userID, step)
		return err
	})
	return ok, err
}

// UseRecoveryCode implements models.SecondFactorStore.
func (s *Store) UseRecoveryCode(ctx context.Context, userID int64, hash []byte) (ok bool, err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	err = s.inTx(ctx, func(tx *sql.Tx) (err error) {
		ok, err = execOne(ctx, tx, "DELETE FROM recovery_codes WHERE user_id = $1 AND hash = $2", userID, hash)
		return err
	})
	return ok, err
}

// RecoveryCodesLeft implements models.SecondFactorStore.
func (s *Store) RecoveryCodesLeft(ctx context.Context, userID int64) (n int, err error) {
	ctx, end := s.call(ctx, &err, reading)
	defer end()
	err = s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1", userID).Scan(&n)
	return n, err
}

// DeleteTOTP implements models.SecondFactorStore.
func (s *Store) DeleteTOTP(ctx context.Context, userID int64) (err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM totp_secrets WHERE user_id = $1", userID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return models.ErrNoTOTP
		}
		return replaceRecoveryCodes(ctx, tx, userID, nil)
	})
}

// Passkeys: models.PasskeyStore.

const passkeyColumns = "id, user_id, name, data, created_at, last_used_at"

func scanPasskey(r rowScanner) (models.Passkey, error) {
	var k models.Passkey
	var created int64
	var used sql.NullInt64
	err := r.Scan(&k.ID, &k.UserID, &k.Name, &k.Data, &created, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return k, models.ErrNoPasskey
	}
	k.CreatedAt = time.UnixMicro(created).UTC()
	if used.Valid {
		k.LastUsedAt = time.UnixMicro(used.Int64).UTC()
	}
	return k, err
}

// AddPasskey implements models.PasskeyStore.
func (s *Store) AddPasskey(ctx context.Context, k models.Passkey) (out models.Passkey, err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = scanPasskey(tx.QueryRowContext(ctx,
			`INSERT INTO passkeys (id, user_id, name, data, created_at)
			 SELECT $2, id, $3, $4, $5 FROM users WHERE id = $1
			 RETURNING `+passkeyColumns,
			k.UserID, k.ID, k.Name, k.Data, now().UnixMicro()))
		if errors.Is(err, models.ErrNoPasskey) {
			return models.ErrNotFound // no such user
		}
		return err
	})
	return out, err
}

// Passkeys implements models.PasskeyStore.
func (s *Store) Passkeys(ctx context.Context, userID int64) (ks []models.Passkey, err error) {
	ctx, end := s.call(ctx, &err, reading)
	defer end()
	rows, err := s.read.QueryContext(ctx, "SELECT "+passkeyColumns+" FROM passkeys WHERE user_id = $1 ORDER BY created_at, id", userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		k, err := scanPasskey(rows)
		if err != nil {
			return nil, err
		}
		ks = append(ks, k)
	}
	return ks, rows.Err()
}

// Passkey implements models.PasskeyStore.
func (s *Store) Passkey(ctx context.Context, id []byte) (k models.Passkey, err error) {
	ctx, end := s.call(ctx, &err, reading)
	defer end()
	return scanPasskey(s.read.QueryRowContext(ctx, "SELECT "+passkeyColumns+" FROM passkeys WHERE id = $1", id))
}

// PasskeyUsed implements models.PasskeyStore.
func (s *Store) PasskeyUsed(ctx context.Context, id, data []byte, at time.Time) (err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE passkeys SET data = $2, last_used_at = $3 WHERE id = $1", id, data, at.UnixMicro())
		return err
	})
}

// DeletePasskey implements models.PasskeyStore.
func (s *Store) DeletePasskey(ctx context.Context, userID int64, id []byte) (err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM passkeys WHERE id = $1 AND user_id = $2", id, userID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return models.ErrNoPasskey
		}
		return nil
	})
}
