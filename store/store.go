package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"userhub/models"
	"userhub/outage"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Options says which database to open.
type Options struct {
	Driver string // "sqlite" or "postgres"
	// DSN is a file path for SQLite, a connection URL or key=value string for PostgreSQL.
	DSN string
	// MaxOpenConns bounds the connections to PostgreSQL, and the reading
	// connections to SQLite. 0 picks a default.
	MaxOpenConns int
	// QueryTimeout bounds every call (5s when 0).
	QueryTimeout time.Duration
	// Now is the clock of the login counts' windows (time.Now when nil):
	// tests move it.
	Now func() time.Time
	// Log is told when the database stops answering and when it answers
	// again (nowhere when nil).
	Log *slog.Logger
}

// Store implements models.UserStore over SQL.
type Store struct {
	// read serves queries; write serves statements that change data. They
	// are one pool for PostgreSQL. For SQLite, write holds ONE connection:
	// writers in this process queue in Go instead of sleeping in SQLite's busy
	// handler, and only writers in other processes (cluster workers) ever meet
	// a lock, which the busy timeout absorbs.
	read, write  *sql.DB
	dialect      dialect
	now          func() time.Time
	queryTimeout time.Duration
	watch        *outage.Watch
	// full is set by a write refused for want of space, and cleared by a
	// write that works: Ping says so meanwhile.
	full atomic.Bool
	// pgConfig connects to PostgreSQL outside the pool (ListenForChanges,
	// CertCache.LockOrders).
	pgConfig *pgx.ConnConfig
	// path is the SQLite file ("" for PostgreSQL): files beside it are
	// shared by the processes sharing it (CertCache.LockOrders).
	path string
}

// dialect holds what differs between the two databases. Statements use $N
// placeholders, which both understand.
type dialect struct {
	name string
	// lockMigrations serializes concurrent migrators (several instances
	// starting at once), and lockAdmins serializes changes that could remove
	// the last admin (so two of them cannot each see "another admin
	// remains"). Both are empty for SQLite, whose write transactions start
	// IMMEDIATE and so hold the database write lock already.
	lockMigrations, lockAdmins string
	// forUpdate locks the rows a SELECT reads until the transaction ends;
	// empty for SQLite (see above).
	forUpdate         string
	isUniqueViolation func(error) bool
	// unavailable and full classify the driver's errors (see faults.go).
	unavailable, full func(error) bool
	// guard is run first in each write transaction with its deadline, to
	// make the database refuse to commit it later (see postgresGuard).
	guard string
	// bytewise names a text column compared in byte order (code point
	// order for UTF-8), which prefix ranges need: SQLite compares so
	// already; PostgreSQL's columns follow the database's collation.
	bytewise func(column string) string
}

var (
	sqliteDialect = dialect{
		name:        "sqlite",
		bytewise:    func(column string) string { return column },
		unavailable: sqliteUnavailable,
		full:        sqliteFull,
		isUniqueViolation: func(err error) bool {
			var e *sqlite.Error
			return errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
		},
	}
	postgresDialect = dialect{
		name:        "postgres",
		bytewise:    func(column string) string { return column + ` COLLATE "C"` },
		unavailable: postgresUnavailable,
		full:        postgresFull,
		guard:       postgresGuard,
		forUpdate:   " FOR UPDATE",
		// Arbitrary constants that name userhub's two locks.
		lockMigrations: "SELECT pg_advisory_xact_lock(7283105574)",
		lockAdmins:     "SELECT pg_advisory_xact_lock(7283105575)",
		isUniqueViolation: func(err error) bool {
			var e *pgconn.PgError
			return errors.As(err, &e) && e.Code == "23505"
		},
	}
)

// Open connects to the database and checks that it answers. It does not
// migrate; call Migrate.
func Open(ctx context.Context, opt Options) (*Store, error) {
	if opt.QueryTimeout <= 0 {
		opt.QueryTimeout = 5 * time.Second
	}
	var s *Store
	var err error
	switch opt.Driver {
	case "sqlite":
		s, err = openSQLite(opt)
	case "postgres":
		s, err = openPostgres(opt)
	default:
		return nil, fmt.Errorf("unknown database driver %q", opt.Driver)
	}
	if err != nil {
		return nil, err
	}
	s.now = opt.Now
	if s.now == nil {
		s.now = time.Now
	}
	s.queryTimeout = opt.QueryTimeout
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s.watch = outage.New("the "+opt.Driver+" database", log)
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("connect to %s database: %w", opt.Driver, err)
	}
	return s, nil
}

func openSQLite(opt Options) (*Store, error) {
	if dir := filepath.Dir(opt.DSN); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	// The file holds password hashes: create it readable by its owner only.
	// SQLite gives its -wal and -shm files the same mode.
	if f, err := os.OpenFile(opt.DSN, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
	// WAL lets readers run beside a writer, also across processes. FULL
	// synchronous makes an acknowledged write survive power loss, not only a
	// crash; writes are rare here, so the extra fsync is cheap. IMMEDIATE
	// transactions take the write lock at BEGIN, so two writers never
	// deadlock upgrading read locks (which SQLite reports as "database is
	// locked" at once, without waiting for the busy timeout). A writer
	// waits for another process's lock no longer than a call may last.
	base := "file:" + escapeSQLitePath(opt.DSN) + "?_busy_timeout=" + strconv.FormatInt(opt.QueryTimeout.Milliseconds(), 10) +
		"&_journal_mode=WAL&_synchronous=FULL&_foreign_keys=1"
	write, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	// Create the file and switch it to WAL once, through the writer, before
	// readers open it: a query_only connection cannot change the journal mode.
	if _, err := write.Exec("SELECT 1"); err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite database %s: %w", opt.DSN, err)
	}
	read, err := sql.Open("sqlite", base+"&_query_only=1")
	if err != nil {
		write.Close()
		return nil, err
	}
	n := opt.MaxOpenConns
	if n <= 0 {
		n = max(4, 2*runtime.GOMAXPROCS(0))
	}
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	read.SetConnMaxIdleTime(0)
	return &Store{read: read, write: write, dialect: sqliteDialect, path: opt.DSN}, nil
}

// escapeSQLitePath makes a file path safe inside a SQLite URI filename.
func escapeSQLitePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(p)
}

func openPostgres(opt Options) (*Store, error) {
	cfg, err := pgx.ParseConfig(opt.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres dsn: %w", err)
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > opt.QueryTimeout {
		cfg.ConnectTimeout = opt.QueryTimeout // a server that accepts and then says nothing
	}
	db := stdlib.OpenDB(*cfg)
	n := opt.MaxOpenConns
	if n <= 0 {
		n = 16
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	return &Store{read: db, write: db, dialect: postgresDialect, pgConfig: cfg}, nil
}

// Driver names the database in use ("sqlite" or "postgres").
func (s *Store) Driver() string { return s.dialect.name }

// Ping reports whether the database answers a query.
func (s *Store) Ping(ctx context.Context) (err error) {
	ctx, end := s.call(ctx, &err, reading)
	defer end()
	var one int
	if err := s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return err
	}
	if s.full.Load() {
		return fmt.Errorf("%w: %w: the last write was refused for want of space", models.ErrUnavailable, models.ErrStorageFull)
	}
	return nil
}

// Close releases every connection. A request still running at shutdown may
// use the store after Close: it gets an error.
func (s *Store) Close() error {
	err := s.read.Close()
	if s.write != s.read {
		err = errors.Join(err, s.write.Close())
	}
	return err
}

// RedactDSN hides the password in a PostgreSQL DSN, for logs and `userhub config`.
func RedactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
		}
		return u.String()
	}
	// key=value form: password=secret
	fields := strings.Fields(dsn)
	for i, f := range fields {
		if strings.HasPrefix(strings.ToLower(f), "password=") {
			fields[i] = "password=REDACTED"
		}
	}
	return strings.Join(fields, " ")
}

// inTx runs fn in a write transaction and commits it when fn returns nil,
// with the audit entries pending in ctx (models.WithAudit). Under a
// deadline, the dialect's guard is armed first.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.auditedTx(ctx, nil, fn)
}

// auditedTx is inTx for a change to one user (made, removed, its
// sessions ended): fn sets *target to it, and the audit entries naming no
// target get it.
func (s *Store) auditedTx(ctx context.Context, target *models.User, fn func(tx *sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if deadline, ok := ctx.Deadline(); ok && s.dialect.guard != "" {
		if _, err := tx.ExecContext(ctx, s.dialect.guard, deadline.Add(-guardMargin).UTC().Format(time.RFC3339Nano)); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := s.writeAudit(ctx, tx, target); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := ctx.Err(); err != nil {
		_ = tx.Rollback() // too late to commit: certainly not made
		return err
	}
	err = tx.Commit()
	if err != nil && ctx.Err() != nil {
		// The deadline passed while the COMMIT was under way: the
		// database may have made it (a server frozen while flushing the
		// commit completes it when it wakes). Nobody can tell now.
		return fmt.Errorf("%w: %w: %v", models.ErrUnavailable, models.ErrWriteUncertain, err)
	}
	return err
}

// execOne runs a conditional statement in tx and reports whether it
// changed exactly one row: the one request of several at once that won
// (a code used, an id taken).
func execOne(ctx context.Context, tx *sql.Tx, query string, args ...any) (bool, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// PoolStats are the connection pools' statistics, by pool: "read" and
// "write" for SQLite (one writing connection, several reading ones), "main"
// for PostgreSQL.
func (s *Store) PoolStats() map[string]sql.DBStats {
	if s.write == s.read {
		return map[string]sql.DBStats{"main": s.read.Stats()}
	}
	return map[string]sql.DBStats{"read": s.read.Stats(), "write": s.write.Stats()}
}
