package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"userhub/models"

	"golang.org/x/text/unicode/norm"
)

const userColumns = "id, name, role, password_hash, session_version, suspended, created_at, updated_at, last_login_at"

// rowScanner is what *sql.Row and *sql.Rows have in common.
type rowScanner interface{ Scan(dest ...any) error }

func scanUser(r rowScanner) (models.User, error) {
	var u models.User
	var created, updated int64
	var lastLogin sql.NullInt64
	err := r.Scan(&u.ID, &u.Name, &u.Role, &u.PasswordHash, &u.SessionVersion, &u.Suspended, &created, &updated, &lastLogin)
	if errors.Is(err, sql.ErrNoRows) {
		return u, models.ErrNotFound
	}
	u.CreatedAt = time.UnixMicro(created).UTC()
	u.UpdatedAt = time.UnixMicro(updated).UTC()
	if lastLogin.Valid {
		u.LastLoginAt = time.UnixMicro(lastLogin.Int64).UTC()
	}
	return u, err
}

// prefixEnd follows every name key that starts with a given prefix, in
// byte order: the largest code point, which no name holds (normalizeName
// refuses what is not printable).
const prefixEnd = "\U0010FFFF"

// now is the time stored for created_at/updated_at, at the stores' precision.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// CreateUser implements models.UserStore. For the first user, the admin
// lock (a write lock for SQLite) makes "no user yet" and the insert one
// step.
func (s *Store) CreateUser(ctx context.Context, n models.NewUser) (u models.User, err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	if n, err = n.Normalize(); err != nil {
		return models.User{}, err
	}
	err = s.auditedTx(ctx, &u, func(tx *sql.Tx) error {
		if n.First {
			if err := s.lockAdmins(ctx, tx); err != nil {
				return err
			}
			var exists bool
			if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM users)").Scan(&exists); err != nil {
				return err
			}
			if exists {
				return models.ErrSetupDone
			}
		}
		u, err = scanUser(tx.QueryRowContext(ctx,
			`INSERT INTO users (name, name_key, role, password_hash, created_at, updated_at)
			 VALUES ($1, $2, $3, $4, $5, $5) RETURNING `+userColumns,
			n.Name, models.NameKey(n.Name), n.Role, n.PasswordHash, now().UnixMicro()))
		return err
	})
	if s.dialect.isUniqueViolation(err) {
		return models.User{}, models.ErrNameTaken
	}
	return u, err
}

// User implements models.UserStore.
func (s *Store) User(ctx context.Context, id int64) (u models.User, err error) {
	ctx, end := s.call(ctx, &err, reading)
	defer end()
	return scanUser(s.read.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = $1", id))
}

// UserByName implements models.UserStore: by the name's key, and, where
// the earlier versions' key differs, by that too, for a user the
// migration name_keys left under it (its new key was another user's). Of
// two, the one whose name is the name asked for wins.
func (s *Store) UserByName(ctx context.Context, name string) (u models.User, err error) {
	ctx, end := s.call(ctx, &err, reading)
	defer end()
	const query = "SELECT " + userColumns + " FROM users WHERE name_key = $1"
	key, legacy := models.NameKey(name), models.LegacyNameKey(name)
	u, err = scanUser(s.read.QueryRowContext(ctx, query, key))
	if key == legacy || (err != nil && !errors.Is(err, models.ErrNotFound)) {
		return u, err
	}
	old, oldErr := scanUser(s.read.QueryRowContext(ctx, query, legacy))
	switch {
	case oldErr != nil && !errors.Is(oldErr, models.ErrNotFound):
		return old, oldErr
	case oldErr == nil && (err != nil || old.Name == norm.NFC.String(strings.TrimSpace(name))):
		return old, nil
	}
	return u, err
}

// ListUsers implements models.UserStore with a keyset, on id or on the
// name key: each page starts where the last one ended (or, read backward,
// ends where the next one starts), so deep pages cost what the first does.
// A prefix is a range of name keys in byte order, and a role filter the
// first column of an index, which both databases serve.
func (s *Store) ListUsers(ctx context.Context, q models.ListQuery) (p models.Page, err error) {
	ctx, end := s.call(ctx, &err, reading)
	defer end()
	where, args := s.filter(q.Filter)
	key, after := "id", any(q.After)
	if q.ByName() {
		key, after = s.dialect.bytewise("name_key"), q.AfterName
	}
	ascending := q.Order != models.OrderNewest || q.ByName()
	if q.Backward {
		ascending = !ascending
	}
	if q.FromCursor() {
		op := "<"
		if ascending {
			op = ">"
		}
		args = append(args, after)
		where = append(where, key+" "+op+" "+placeholder(len(args)))
	}
	query := "SELECT " + userColumns + " FROM users"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY " + key
	if !ascending {
		query += " DESC"
	}
	// One row more than asked tells whether another page follows.
	args = append(args, q.Limit+1)
	query += " LIMIT " + placeholder(len(args))
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return models.Page{}, err
	}
	defer rows.Close()
	users := make([]models.User, 0, q.Limit+1)
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return models.Page{}, err
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return models.Page{}, err
	}
	more := len(users) > q.Limit
	if more {
		users = users[:q.Limit]
	}
	if q.Backward {
		slices.Reverse(users) // read from the cursor back: put in list order
	}
	return models.NewPage(users, more), nil
}

// filter turns f into WHERE conditions and their arguments ($1, $2...).
func (s *Store) filter(f models.Filter) (where []string, args []any) {
	if f.Role != "" {
		args = append(args, string(f.Role))
		where = append(where, "role = "+placeholder(len(args)))
	}
	if f.Prefix != "" {
		key, low := s.dialect.bytewise("name_key"), models.NameKey(f.Prefix)
		args = append(args, low, low+prefixEnd)
		where = append(where, key+" >= "+placeholder(len(args)-1), key+" < "+placeholder(len(args)))
	}
	return where, args
}

func placeholder(n int) string { return "$" + strconv.Itoa(n) }

// CountUsers implements models.UserStore. The counts of each role are
// kept by triggers (see migration 0004/0006): a total costs a row or two,
// however many users there are. A prefix search counts its index range,
// up to one past models.CountLimit.
func (s *Store) CountUsers(ctx context.Context, f models.Filter) (n int, err error) {
	ctx, end := s.call(ctx, &err, reading)
	defer end()
	if f.Prefix == "" {
		query, args := "SELECT COALESCE(sum(n), 0) FROM user_counts", []any{}
		if f.Role != "" {
			query, args = query+" WHERE role = $1", append(args, string(f.Role))
		}
		err = s.read.QueryRowContext(ctx, query, args...).Scan(&n)
		return n, err
	}
	where, args := s.filter(f)
	args = append(args, models.CountLimit+1)
	err = s.read.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM users WHERE "+strings.Join(where, " AND ")+
		" LIMIT "+placeholder(len(args))+") AS matching", args...).Scan(&n)
	return n, err
}

// UpdateUser implements models.UserStore. The UPDATE names only the changed
// columns, so two concurrent changes to different fields both take effect.
func (s *Store) UpdateUser(ctx context.Context, id int64, c models.UserChange) (u models.User, err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	if c, err = c.Normalize(); err != nil {
		return models.User{}, err
	}
	var name, nameKey, role, hash, suspended any // nil keeps the column as it is
	if c.Name != nil {
		name, nameKey = *c.Name, models.NameKey(*c.Name)
	}
	if c.Role != nil {
		role = string(*c.Role)
	}
	bump := 0
	if c.PasswordHash != nil {
		hash = *c.PasswordHash
		if !c.KeepSessions {
			bump = 1
		}
	}
	if c.Suspended != nil {
		suspended = *c.Suspended
		if *c.Suspended {
			bump = 1 // a suspension ends the user's sessions at once
		}
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var before models.User
		if c.Check != nil || c.Audit != nil {
			var err error
			if before, err = s.lockedUser(ctx, tx, id); err != nil {
				return err
			}
		}
		if c.Check != nil {
			if err := c.Check(before); err != nil {
				return err
			}
		}
		if (c.Role != nil && *c.Role != models.RoleAdmin) || (c.Suspended != nil && *c.Suspended) {
			if err := s.checkOtherAdmin(ctx, tx, id); err != nil {
				return err
			}
		}
		u, err = scanUser(tx.QueryRowContext(ctx,
			`UPDATE users SET name = COALESCE($1, name), name_key = COALESCE($2, name_key),
			 role = COALESCE($3, role), password_hash = COALESCE($4, password_hash),
			 suspended = COALESCE($5, suspended),
			 session_version = session_version + $6, updated_at = $7
			 WHERE id = $8 RETURNING `+userColumns,
			name, nameKey, role, hash, suspended, bump, now().UnixMicro(), id))
		if err != nil || c.Audit == nil {
			return err
		}
		for _, e := range c.Audit(before) {
			if err := insertAudit(ctx, tx, e.From(ctx)); err != nil {
				return err
			}
		}
		return nil
	})
	if s.dialect.isUniqueViolation(err) {
		return models.User{}, models.ErrNameTaken
	}
	return u, err
}

// RecordLogin implements models.UserStore. It is not a change to the
// account: updated_at stays.
func (s *Store) RecordLogin(ctx context.Context, id int64, at time.Time) (err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE users SET last_login_at = $1 WHERE id = $2", at.UnixMicro(), id)
		return err
	})
}

// EndSessions implements models.UserStore.
func (s *Store) EndSessions(ctx context.Context, id int64) (u models.User, err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	err = s.auditedTx(ctx, &u, func(tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx,
			"UPDATE users SET session_version = session_version + 1 WHERE id = $1 RETURNING "+userColumns, id))
		return err
	})
	return u, err
}

// DeleteUser implements models.UserStore.
func (s *Store) DeleteUser(ctx context.Context, id int64, check models.Precondition) (err error) {
	ctx, end := s.call(ctx, &err, writing)
	defer end()
	var gone models.User
	return s.auditedTx(ctx, &gone, func(tx *sql.Tx) error {
		if err := s.precondition(ctx, tx, id, check); err != nil {
			return err
		}
		if err := s.checkOtherAdmin(ctx, tx, id); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, "DELETE FROM users WHERE id = $1 RETURNING id, name", id).Scan(&gone.ID, &gone.Name)
		if errors.Is(err, sql.ErrNoRows) {
			return models.ErrNotFound
		}
		return err
	})
}

// precondition reads user id in tx, locked (see lockedUser), and checks it.
func (s *Store) precondition(ctx context.Context, tx *sql.Tx, id int64, check models.Precondition) error {
	if check == nil {
		return nil
	}
	u, err := s.lockedUser(ctx, tx, id)
	if err != nil {
		return err
	}
	return check(u)
}

// lockedUser reads user id in tx, locking its row until tx ends (SQLite's
// write transactions hold the whole database already).
func (s *Store) lockedUser(ctx context.Context, tx *sql.Tx, id int64) (models.User, error) {
	return scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = $1"+s.dialect.forUpdate, id))
}

// lockAdmins takes the dialect's admin lock for the rest of tx (see dialect).
func (s *Store) lockAdmins(ctx context.Context, tx *sql.Tx) error {
	if s.dialect.lockAdmins == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, s.dialect.lockAdmins)
	return err
}

// checkOtherAdmin returns ErrLastAdmin when user id is the only admin who
// can log in (an admin with neither a password nor a link to the single
// sign-on provider, or suspended, cannot), and nil
// when it is not an admin or another such admin remains. It first takes the dialect's
// admin lock, so that two transactions removing two different admins run
// one after the other and the second sees the first's change.
func (s *Store) checkOtherAdmin(ctx context.Context, tx *sql.Tx, id int64) error {
	if err := s.lockAdmins(ctx, tx); err != nil {
		return err
	}
	var targetIsAdmin, others int
	err := tx.QueryRowContext(ctx,
		`SELECT (SELECT count(*) FROM users WHERE id = $1 AND role = 'admin'),
		        (SELECT count(*) FROM users WHERE id <> $1 AND role = 'admin' AND NOT suspended
		            AND (password_hash <> '' OR EXISTS (SELECT 1 FROM oidc_links WHERE oidc_links.user_id = users.id)))`, id).Scan(&targetIsAdmin, &others)
	if err != nil {
		return err
	}
	if targetIsAdmin == 1 && others == 0 {
		return models.ErrLastAdmin
	}
	return nil
}
