package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"userhub/models"
)

// A database that cannot serve (down, shutting down, out of connections,
// read-only, out of space, or slower than database.query_timeout) is not
// the client's fault: its errors become models.ErrUnavailable (503 with
// Retry-After), and the outage is logged once, when it begins, and once
// when it ends. The rest (a name taken, the last admin) stay what they are.

// kind says whether a call writes, which is what tells a full disk that
// space came back.
type kind bool

const (
	reading kind = false
	writing kind = true
)

// call bounds a store call by the query timeout. It returns the context to
// run the call under and the function that ends the call (deferred): it
// classifies *err and follows the database through outages.
func (s *Store) call(ctx context.Context, err *error, k kind) (context.Context, func()) {
	callCtx, cancel := context.WithTimeout(ctx, s.queryTimeout)
	return callCtx, func() {
		cancel()
		*err = s.classify(ctx, callCtx, *err)
		switch {
		case errors.Is(*err, models.ErrStorageFull):
			s.full.Store(true)
		case *err == nil && k == writing:
			s.full.Store(false)
		case *err == nil && s.full.Load():
			return // reads answer while the storage is full: the outage lasts until a write works
		}
		s.watch.Observe(*err)
	}
}

// classify maps an error of a call made under callCtx (derived from the
// request's ctx).
func (s *Store) classify(ctx, callCtx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, models.ErrWriteUncertain):
		return err
	case ctx.Err() != nil:
		return ctx.Err() // the client went away, or ran out of its own time
	case errors.Is(callCtx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%w: the database did not answer within %v (database.query_timeout): %v", models.ErrUnavailable, s.queryTimeout, err)
	case s.dialect.full(err):
		return fmt.Errorf("%w: %w: %v", models.ErrUnavailable, models.ErrStorageFull, err)
	case s.dialect.unavailable(err):
		return fmt.Errorf("%w: database: %v", models.ErrUnavailable, err)
	}
	return err
}

// sqliteCode is the primary result code of a SQLite error, 0 for others.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return 0
	}
	return e.Code() & 0xff
}

// pgCode is the SQLSTATE of a PostgreSQL error, "" for others.
func pgCode(err error) string {
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return ""
	}
	return e.Code
}

func sqliteUnavailable(err error) bool {
	switch sqliteCode(err) {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_READONLY,
		sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL:
		return true
	}
	return false
}

func sqliteFull(err error) bool { return sqliteCode(err) == sqlite3.SQLITE_FULL }

// postgresUnavailable: the server said it cannot serve now (SQLSTATE
// classes 08 connection, 53 resources, 58 system; shutting down, read-only,
// cancelled), or it could not be reached or the connection broke.
func postgresUnavailable(err error) bool {
	if code := pgCode(err); code != "" {
		switch {
		case code[:2] == "08", code[:2] == "53", code[:2] == "58",
			code == "57P01", code == "57P02", code == "57P03", code == "57014", code == "25006":
			return true
		}
		return false
	}
	var connect *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connect) || errors.As(err, &netErr) || pgconn.Timeout(err) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func postgresFull(err error) bool { return pgCode(err) == "53100" }

// guardMargin is how long before the client's deadline the database stops
// committing a write: the answer needs time to come back.
const guardMargin = 250 * time.Millisecond

// postgresGuard is run first in every write transaction under a deadline:
// a deferred trigger (migration 0004) refuses, with SQLSTATE 57014, to
// commit the transaction past it. A server frozen while a COMMIT waits in
// its socket would otherwise commit it when it wakes, after the client was
// told 503. (SQLite runs in the process: a call past its deadline is
// interrupted, and never commits later.)
const postgresGuard = "SELECT set_config('userhub.deadline', $1, true)"
