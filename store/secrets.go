package store

import (
	"context"
	"errors"
)

// SharedSecret returns the secret kept under name in a PostgreSQL
// database, storing fresh if there is none yet: every instance sharing
// the database gets the same one, whichever started first (the insert
// and the read are one statement each; a racing instance's insert does
// nothing, and both read the winner's). SQLite serves one machine, whose
// processes share a data directory: it keeps no secrets.
func (s *Store) SharedSecret(ctx context.Context, name string, fresh []byte) (secret []byte, err error) {
	if s.dialect.name != "postgres" {
		return nil, errors.New("shared secrets are kept in PostgreSQL only")
	}
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	if _, err := s.write.ExecContext(ctx,
		"INSERT INTO shared_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
		name, fresh, now().UnixMicro()); err != nil {
		return nil, err
	}
	err = s.write.QueryRowContext(ctx, "SELECT value FROM shared_secrets WHERE name = $1", name).Scan(&secret)
	return secret, err
}
