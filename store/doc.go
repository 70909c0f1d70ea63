// Package store is the SQL implementation of models.UserStore, for SQLite (the
// embedded default, through a pure-Go driver so the binary stays static) and
// PostgreSQL (through pgx). Both run the same statements; the few differences
// (placeholders are shared, locking and error codes are not) live in dialect.
//
// Schema changes are versioned SQL files embedded in the binary and applied by
// Migrate, at start-up and by `userhub migrate`.
//
// It also keeps autocert's cache, and the lock its processes take turns
// ordering certificates under (CertCache).
//
// It must not know about HTTP; callers get models types and models errors.
package store
