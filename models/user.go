package models

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
)

// Role is what a user may do: admins manage every user, members read the
// list and edit themselves.
type Role string

// The roles a user can have.
const (
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleMember }

// MaxNameLength is the longest name, in characters (not bytes), so that
// Korean names get the same room as Latin ones.
const MaxNameLength = 64

// User is one account. PasswordHash is empty for a user created without a
// password, who cannot log in until one is set. SessionVersion changes
// whenever all of the user's sessions must end (password change, "log out
// everywhere", suspension); sessions carry the version they were issued
// under. A Suspended user cannot log in until an administrator restores
// them. LastLoginAt is zero until the first login.
type User struct {
	ID             int64
	Name           string
	Role           Role
	PasswordHash   string
	SessionVersion int64
	Suspended      bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
	LastLoginAt    time.Time
}

// IsAdmin reports whether u may manage other users.
func (u User) IsAdmin() bool { return u.Role == RoleAdmin }

// HasPassword reports whether u has a password (can log in with one).
func (u User) HasPassword() bool { return u.PasswordHash != "" }

// NewUser is the input for creating a user.
type NewUser struct {
	Name         string
	Role         Role
	PasswordHash string
	// First asks for the first user of all: it is stored only while no
	// user exists, atomically (two first-run forms submitted at once make
	// one user), and ErrSetupDone is the answer once one does.
	First bool
}

// Normalize validates n and returns it in canonical form (name trimmed and
// NFC-normalized, role defaulted to member).
func (n NewUser) Normalize() (NewUser, error) {
	var verr ValidationError
	n.Name = normalizeName(n.Name, &verr)
	if n.Role == "" {
		n.Role = RoleMember
	}
	if !n.Role.Valid() {
		verr.Add("role", "invalid_role", fmt.Sprintf("role must be %q or %q", RoleAdmin, RoleMember))
	}
	return n, verr.Err()
}

// UserChange lists the fields to change on a user; nil fields stay as they
// are. Setting PasswordHash also ends every session of the user, unless
// KeepSessions says it is the same password hashed anew (new parameters);
// suspending the user ends them too.
type UserChange struct {
	Name         *string
	Role         *Role
	PasswordHash *string
	KeepSessions bool
	Suspended    *bool
	// Check, if set, is called with the user as stored, in the change's
	// own transaction (the row locked): an error from it cancels the
	// change (ErrPreconditionFailed for a lost update).
	Check Precondition
	// Audit, if set, describes the change to the user as stored before it,
	// read in the change's transaction (the row locked): its entries are
	// written with the change. (An entry built from an earlier read could
	// miss a change another writer made meanwhile.)
	Audit func(before User) []AuditEntry
}

// Precondition checks a user as stored before a change to it is made.
type Precondition func(User) error

// Normalize validates c and returns it in canonical form.
func (c UserChange) Normalize() (UserChange, error) {
	var verr ValidationError
	if c.Name != nil {
		name := normalizeName(*c.Name, &verr)
		c.Name = &name
	}
	if c.Role != nil && !c.Role.Valid() {
		verr.Add("role", "invalid_role", fmt.Sprintf("role must be %q or %q", RoleAdmin, RoleMember))
	}
	return c, verr.Err()
}

// normalizeName checks a new name and returns it in canonical form, with
// any problem recorded in verr. A name is one or more parts separated by
// single spaces (RFC 8265 3.5), each enforced with the PRECIS
// UsernameCasePreserved profile (RFC 8265 3.3): width-mapped (ｋｉｍ is
// kim), NFC, letters, digits and ASCII punctuation only, so invisible and
// blank characters (U+034F, variation selectors, the Hangul fillers, the
// Braille blank), symbols and control characters are refused. A name may
// not mix Latin, Cyrillic and Greek letters (kіm with a Cyrillic і), and
// NameKey maps the Cyrillic and Greek letters that look Latin, so a name
// written wholly in one of them is taken as the Latin name it looks like.
func normalizeName(name string, verr *ValidationError) string {
	if !utf8.ValidString(name) {
		verr.Add("name", "invalid_characters", "name must be valid UTF-8 text")
		return name
	}
	name = norm.NFC.String(strings.TrimSpace(name))
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		verr.Add("name", "required", "name is required")
		return name
	case n > MaxNameLength:
		verr.Add("name", "too_long", fmt.Sprintf("name must be at most %d characters (got %d)", MaxNameLength, n))
		return name
	}
	parts := strings.Fields(name)
	for i, part := range parts {
		enforced, err := precis.UsernameCasePreserved.String(part)
		if err != nil || strings.IndexFunc(part, unicode.IsSpace) >= 0 {
			verr.Add("name", "invalid_characters", "name must be letters, digits and ASCII punctuation, in words separated by spaces, without invisible characters or symbols")
			return name
		}
		parts[i] = enforced
	}
	if strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) && r != ' ' }) {
		verr.Add("name", "invalid_characters", "name must not contain control or invisible characters")
		return name
	}
	name = strings.Join(parts, " ")
	if mixedScripts(name) {
		verr.Add("name", "mixed_scripts", "name must not mix Latin, Cyrillic and Greek letters")
	}
	return name
}

// mixedScripts reports whether name has letters of more than one of the
// Latin, Cyrillic and Greek scripts, whose letters look alike.
func mixedScripts(name string) bool {
	var latin, cyrillic, greek bool
	for _, r := range name {
		switch {
		case unicode.Is(unicode.Latin, r):
			latin = true
		case unicode.Is(unicode.Cyrillic, r):
			cyrillic = true
		case unicode.Is(unicode.Greek, r):
			greek = true
		}
	}
	return (latin && cyrillic) || (latin && greek) || (cyrillic && greek)
}

// NameKey is the form in which names are compared for uniqueness and
// looked up at login. Each space-separated part is put through the PRECIS
// UsernameCaseMapped profile (width-mapped, lower-cased, NFC), case-folded
// (STRASSE and straße are one name), and the Cyrillic and Greek letters
// that look like Latin ones are mapped to them (a small UTS #39 skeleton:
// кім and kim are one name). For a name the profile refuses, which no new
// name can be, it is LegacyNameKey, so such names as stored before are
// still found. For names of Latin letters, Hangul and most others it is
// what LegacyNameKey was; the migration "name_keys" rewrote the others.
func NameKey(name string) string {
	parts := strings.Fields(norm.NFC.String(name))
	if len(parts) == 0 {
		return LegacyNameKey(name)
	}
	for i, part := range parts {
		mapped, err := precis.UsernameCaseMapped.String(part)
		if err != nil {
			return LegacyNameKey(name)
		}
		parts[i] = norm.NFC.String(cases.Fold().String(mapped))
	}
	return strings.Map(skeleton, strings.Join(parts, " "))
}

// LegacyNameKey is the name key of earlier versions: case-folded and
// NFC-normalized. A store looks a name up under it too, for a user whose
// key the migration could not rewrite (another user already had it).
func LegacyNameKey(name string) string {
	return norm.NFC.String(cases.Fold().String(norm.NFC.String(strings.TrimSpace(name))))
}

// skeleton maps the case-folded Cyrillic and Greek letters that look like
// Latin ones (UTS #39 confusables) to those.
func skeleton(r rune) rune {
	if m, ok := confusables[r]; ok {
		return m
	}
	return r
}

var confusables = map[rune]rune{
	// Cyrillic
	'а': 'a', 'в': 'b', 'с': 'c', 'ԁ': 'd', 'е': 'e', 'ё': 'ë', 'һ': 'h', 'і': 'i', 'ї': 'ï', 'ј': 'j', 'к': 'k',
	'ӏ': 'l', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'ԛ': 'q', 'г': 'r', 'ѕ': 's', 'т': 't', 'џ': 'u',
	'ѵ': 'v', 'ԝ': 'w', 'х': 'x', 'у': 'y', 'ү': 'y', 'ӡ': 'z', 'ɡ': 'g', 'ӧ': 'ö', 'ӓ': 'ä',
	// Greek
	'α': 'a', 'β': 'b', 'ε': 'e', 'η': 'n', 'ι': 'i', 'κ': 'k', 'μ': 'u', 'ν': 'v', 'ο': 'o', 'ρ': 'p',
	'τ': 't', 'υ': 'u', 'χ': 'x', 'γ': 'y', 'ω': 'w', 'ϲ': 'c', 'ζ': 'z',
}

// Order is the order a list of users comes in.
type Order string

// The orders of a list of users. Creation order is id order: ids grow.
const (
	OrderOldest Order = "oldest" // by id, first created first: the API's default
	OrderNewest Order = "newest" // by id, last created first
	OrderName   Order = "name"   // by NameKey, in byte order
)

// Valid reports whether o is one of the defined orders.
func (o Order) Valid() bool { return o == OrderOldest || o == OrderNewest || o == OrderName }

// Filter selects users: of one role ("" for all), and whose name starts
// with Prefix ("" for all), ignoring case as names compare.
type Filter struct {
	Role   Role
	Prefix string
}

// CountLimit bounds a count of a prefix search (which reads the index
// entries it counts): a count above CountLimit means "more than
// CountLimit". Counts without a prefix are exact.
const CountLimit = 1000

// ListQuery selects one page of users. The cursor is the previous page's
// edge: the page starts after the user with id After (in id order) or name
// key AfterName (in name order), or, Backward, ends before it; no cursor
// is the first page. A Prefix search always comes in name order.
type ListQuery struct {
	Filter
	Order     Order // OrderOldest when empty
	After     int64
	AfterName string
	Backward  bool
	Limit     int
}

// FromCursor reports whether the page starts at a cursor (not at the
// list's start).
func (q ListQuery) FromCursor() bool { return q.After != 0 || q.AfterName != "" }

// ByName reports whether the page comes in name order (and its cursor is
// a name key).
func (q ListQuery) ByName() bool { return q.Prefix != "" || q.Order == OrderName }

// Page is one page of users, in list order. Its users cannot be changed
// once it is made (they are reached through methods that hand out copies),
// so one Page can be given to many callers and kept: the read cache does.
type Page struct {
	users []User
	// More reports whether another page follows in the direction the page
	// was read: after it, or (ListQuery.Backward) before it.
	More bool
}

// NewPage makes a page of users; the page owns the slice from then on.
func NewPage(users []User, more bool) Page { return Page{users: users, More: more} }

// Len is the number of users on the page.
func (p Page) Len() int { return len(p.users) }

// All yields the page's users in order, with their index.
func (p Page) All() iter.Seq2[int, User] { return slices.All(p.users) }

// Users returns a copy of the page's users, for a caller that needs a
// slice (a template).
func (p Page) Users() []User { return slices.Clone(p.users) }

// First is the page's first user (where the previous page ends before);
// the zero User for an empty page.
func (p Page) First() User {
	if len(p.users) == 0 {
		return User{}
	}
	return p.users[0]
}

// Last is the page's last user (where the next page starts after); the
// zero User for an empty page.
func (p Page) Last() User {
	if len(p.users) == 0 {
		return User{}
	}
	return p.users[len(p.users)-1]
}

// UserStore keeps users. Implementations must make the "last admin" rule and
// name uniqueness hold under concurrent writers, including writers in other
// processes.
type UserStore interface {
	// CreateUser stores a new user. ErrNameTaken if the name is in use;
	// ErrSetupDone for a First user when one exists.
	CreateUser(ctx context.Context, n NewUser) (User, error)
	// User returns the user with id, or ErrNotFound.
	User(ctx context.Context, id int64) (User, error)
	// UserByName finds a user by name, case-insensitively, or ErrNotFound.
	UserByName(ctx context.Context, name string) (User, error)
	// ListUsers returns one page of users.
	ListUsers(ctx context.Context, q ListQuery) (Page, error)
	// CountUsers returns how many users f selects (see CountLimit).
	CountUsers(ctx context.Context, f Filter) (int, error)
	// UpdateUser applies c. ErrNotFound, ErrNameTaken, or ErrLastAdmin when
	// the change would demote or suspend the only admin who can log in.
	UpdateUser(ctx context.Context, id int64, c UserChange) (User, error)
	// RecordLogin sets the user's LastLoginAt to at (nothing else changes).
	RecordLogin(ctx context.Context, id int64, at time.Time) error
	// DeleteUser removes a user. ErrNotFound, or ErrLastAdmin for the only
	// admin; check, if not nil, as in UserChange.
	DeleteUser(ctx context.Context, id int64, check Precondition) error
	// EndSessions ends every session of the user ("log out everywhere") by
	// moving its session version on, and returns the user as it now is.
	EndSessions(ctx context.Context, id int64) (User, error)
	// Ping reports whether the store answers.
	Ping(ctx context.Context) error
}

// Revocations remembers sessions ended before their time (a logout), so
// that a copy of the session's cookie no longer authenticates. Entries are
// kept until the session would have expired anyway.
type Revocations interface {
	// RevokeSession revokes sid until until, and says whether this call
	// was the first to (a single-use id is taken exactly once, however
	// many instances try at once).
	RevokeSession(ctx context.Context, sid string, until time.Time) (first bool, err error)
	SessionRevoked(ctx context.Context, sid string) (bool, error)
}

// MaxClockSkew is how far in the future a time userhub recorded may lie
// (the clocks of several machines differ a little) before it is taken as
// the mark of a clock that was wrong: such a window is closed, such a
// session has ended, instead of lasting until the wrong clock's time.
const MaxClockSkew = time.Minute

// Counter counts events (failed logins) per key, in windows that start
// with the first event and last a given duration. Every process and
// instance using the same store sees the same counts. A window that would
// close later than its length plus MaxClockSkew from now was opened by a
// clock that ran ahead: it counts as closed.
type Counter interface {
	// Count returns the events in key's open window and how long until
	// it closes (0 and 0 when none is open).
	Count(ctx context.Context, key string, window time.Duration) (n int, left time.Duration, err error)
	// Add records n events, opening a window of length window if none is
	// open, and returns the new count and how long until the window closes.
	Add(ctx context.Context, key string, n int, window time.Duration) (count int, left time.Duration, err error)
	// Reset forgets key's events.
	Reset(ctx context.Context, key string) error
}

// SessionEntry is a session as its user sees it in their list of sessions.
type SessionEntry struct {
	SID       string // the session's id (never shown: see handlers)
	UserID    int64
	Version   int64 // the user's session version when it started
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
	IP        string
	UserAgent string
}

// SessionList keeps the list of each user's sessions, for them to see and
// end. Ending one is a revocation (Revocations); the list only shows.
type SessionList interface {
	// ListSession adds a session that just started.
	ListSession(ctx context.Context, e SessionEntry) error
	// SessionSeen records that session sid was used at at.
	SessionSeen(ctx context.Context, sid string, at time.Time) error
	// ListedSessions returns user's sessions of session version version
	// that have not expired at now, newest first.
	ListedSessions(ctx context.Context, user, version int64, now time.Time) ([]SessionEntry, error)
	// UnlistSession removes session sid from its user's list.
	UnlistSession(ctx context.Context, sid string) error
}
