package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations
var migrationFiles embed.FS

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// migrations returns the dialect's migrations in version order. Files are
// named NNNN_name.sql.
func (d dialect) migrations() ([]Migration, error) {
	dir := path.Join("migrations", d.name)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.sql", e.Name())
		}
		body, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}

// Migrate applies every migration the database has not seen yet, each in its
// own transaction, and returns the ones it applied. Several processes may
// call it at once: one applies, the others find nothing left to do. A
// database whose schema is newer than this binary is refused, so an old
// binary never writes to a schema it does not understand.
func (s *Store) Migrate(ctx context.Context) ([]Migration, error) {
	all, err := s.dialect.migrations()
	if err != nil {
		return nil, err
	}
	var applied []Migration
	for _, m := range all {
		done, err := s.applyMigration(ctx, m, all[len(all)-1].Version)
		if err != nil {
			return applied, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
		}
		if done {
			applied = append(applied, m)
		}
	}
	return applied, nil
}

// applyMigration applies m unless it already was; it reports whether it did.
func (s *Store) applyMigration(ctx context.Context, m Migration, newest int) (bool, error) {
	did := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if s.dialect.lockMigrations != "" {
			if _, err := tx.ExecContext(ctx, s.dialect.lockMigrations); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at BIGINT  NOT NULL)`); err != nil {
			return err
		}
		var current sql.NullInt64
		if err := tx.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&current); err != nil {
			return err
		}
		if current.Int64 > int64(newest) {
			return fmt.Errorf("the database schema is at version %d, newer than this binary knows (%d): run a newer userhub", current.Int64, newest)
		}
		// Each migration is applied unless it was, whatever its number:
		// branches merged in another order leave lower numbers to apply
		// after higher ones.
		var done bool
		if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", m.Version).Scan(&done); err != nil {
			return err
		}
		if done {
			return nil
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
			m.Version, m.Name, time.Now().UnixMicro()); err != nil {
			return err
		}
		did = true
		return nil
	})
	return did, err
}

// SchemaVersion returns the database's schema version (0 before any
// migration) and the newest this binary knows.
func (s *Store) SchemaVersion(ctx context.Context) (current, newest int, err error) {
	all, err := s.dialect.migrations()
	if err != nil {
		return 0, 0, err
	}
	newest = all[len(all)-1].Version
	var v sql.NullInt64
	err = s.read.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v)
	if err != nil && (strings.Contains(err.Error(), "no such table") || strings.Contains(err.Error(), "SQLSTATE 42P01")) {
		return 0, newest, nil // not migrated at all yet
	}
	return int(v.Int64), newest, err
}
