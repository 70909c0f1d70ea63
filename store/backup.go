package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNotSQLite: backup and restore copy an SQLite database; PostgreSQL
// has its own tools (pg_dump, pg_restore).
var ErrNotSQLite = errors.New("not an SQLite database")

// Backup writes a consistent copy of the SQLite database to path (which
// must not exist), while it serves: VACUUM INTO reads one snapshot of the
// database, so writes committed during the copy are not in it and none
// half-made is.
func (s *Store) Backup(ctx context.Context, path string) error {
	if s.dialect.name != "sqlite" {
		return ErrNotSQLite
	}
	_, err := s.write.ExecContext(ctx, "VACUUM INTO $1", path)
	return err
}

// CheckIntegrity runs SQLite's integrity check over the whole database.
func (s *Store) CheckIntegrity(ctx context.Context) error { return s.check(ctx, "integrity_check") }

// QuickCheck runs SQLite's quick check: most of the integrity check, in
// time linear in the database's size.
func (s *Store) QuickCheck(ctx context.Context) error { return s.check(ctx, "quick_check") }

func (s *Store) check(ctx context.Context, pragma string) error {
	if s.dialect.name != "sqlite" {
		return ErrNotSQLite
	}
	rows, err := s.read.QueryContext(ctx, "PRAGMA "+pragma)
	if err != nil {
		return err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: %d problems, the first: %s", pragma, len(problems), problems[0])
	}
	return nil
}

// Now is the database server's clock (for SQLite, this machine's: the
// same clock, so no skew to find).
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	if s.dialect.name != "postgres" {
		return time.Now(), nil
	}
	var micros int64
	err := s.read.QueryRowContext(ctx, "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint").Scan(&micros)
	return time.UnixMicro(micros), err
}
