package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"userhub/config"
	"userhub/store"
)

// backup runs `userhub backup FILE`: a consistent copy of the SQLite
// database, taken while a server may be serving from it.
func (e env) backup(cfg config.Config, log *slog.Logger, args []string) error {
	if len(args) != 1 {
		return usageError("backup takes one FILE, which must not exist yet")
	}
	if cfg.Database.Driver == "postgres" {
		return e.postgresTools(cfg, "backup", args[0])
	}
	file, err := filepath.Abs(args[0])
	if err != nil {
		return err
	}
	if _, err := os.Stat(file); err == nil {
		return fmt.Errorf("%s exists already: back up into a new file", file)
	}
	ctx := context.Background()
	s, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	began := time.Now()
	if err := s.Backup(ctx, file); err != nil {
		return fmt.Errorf("backup to %s: %w", file, err)
	}
	if err := os.Chmod(file, 0o600); err != nil { // it holds password hashes
		return err
	}
	info, err := os.Stat(file)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "backed up %s to %s (%d bytes, %v); keep %s too, or sessions end after a restore\n",
		cfg.Database.DSN, file, info.Size(), time.Since(began).Round(time.Millisecond), filepath.Join(cfg.DataDir, "session.key"))
	return nil
}

// restore runs `userhub restore FILE`: it checks FILE (an SQLite database
// that passes the integrity check, of a schema this binary can serve) and
// puts it in place of the database, keeping the one it replaces beside it.
// It refuses while a server uses the data directory.
func (e env) restore(cfg config.Config, log *slog.Logger, args []string) error {
	if len(args) != 1 {
		return usageError("restore takes one FILE, made by userhub backup")
	}
	if cfg.Database.Driver == "postgres" {
		return e.postgresTools(cfg, "restore", args[0])
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory (data_dir): %w", err)
	}
	inUse, release, err := store.DataDirInUse(cfg.DataDir)
	if err != nil {
		return err
	}
	if inUse {
		return fmt.Errorf("a server is using %s: stop it first, then restore", cfg.DataDir)
	}
	defer release() // no server starts on the directory until the restore is done
	db := cfg.Database.DSN
	candidate := db + ".restoring"
	if err := copyFile(args[0], candidate); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer removeDatabase(candidate)
	ctx := context.Background()
	checked, err := store.Open(ctx, store.Options{Driver: "sqlite", DSN: candidate, QueryTimeout: time.Minute, Log: log})
	if err != nil {
		return fmt.Errorf("%s is not a userhub database: %w", args[0], err)
	}
	err = checked.CheckIntegrity(ctx)
	if err == nil {
		_, err = checked.Migrate(ctx) // a backup of an older version is brought up to date; a newer one refused
	}
	checked.Close()
	if err != nil {
		return fmt.Errorf("%s cannot be restored: %w", args[0], err)
	}
	replaced := ""
	if _, err := os.Stat(db); err == nil {
		replaced = db + ".replaced-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Rename(db, replaced); err != nil {
			return err
		}
		for _, suffix := range []string{"-wal", "-shm"} {
			os.Remove(db + suffix) // the old database's journal: it is replaced
		}
	}
	if err := os.Rename(candidate, db); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "restored %s from %s (integrity check ok)\n", db, args[0])
	if replaced != "" {
		fmt.Fprintf(e.stdout, "the database it replaced is kept as %s\n", replaced)
	}
	return nil
}

// postgresTools says how to back up or restore a PostgreSQL database: with
// its own tools, for the configured database (its password not shown).
func (e env) postgresTools(cfg config.Config, what, file string) error {
	dsn := store.RedactDSN(cfg.Database.DSN)
	if what == "backup" {
		fmt.Fprintf(e.stdout, "userhub keeps its data in PostgreSQL: back it up with PostgreSQL's own tool, which takes a consistent snapshot while userhub serves:\n  pg_dump --format=custom --file=%s '%s'\n", shellQuote(file), dsn)
	} else {
		fmt.Fprintf(e.stdout, "userhub keeps its data in PostgreSQL: restore with PostgreSQL's own tool, userhub stopped:\n  pg_restore --clean --if-exists --no-owner --dbname='%s' %s\n", dsn, shellQuote(file))
	}
	fmt.Fprintln(e.stdout, "(give the password with PGPASSWORD or ~/.pgpass: it is not shown here)")
	return errors.New(what + " of PostgreSQL: use the command above")
}

func shellQuote(s string) string { return "'" + s + "'" }

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// removeDatabase removes an SQLite database file and its journal.
func removeDatabase(path string) {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
}
