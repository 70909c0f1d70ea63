package models

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors returned by a UserStore and by the domain rules. Handlers
// map them to status codes in one place; they never compare error strings.
var (
	// ErrNotFound: no user has the given id or name.
	ErrNotFound = errors.New("no such user")
	// ErrNameTaken: another user already has this name (compared case-insensitively).
	ErrNameTaken = errors.New("another user already has this name (names ignore case): choose another")
	// ErrPreconditionFailed: the user is no longer as the client last read
	// it (an HTTP If-Match that does not match): the change was not made.
	ErrPreconditionFailed = errors.New("the user has changed since you read it: read it again, then retry the change")
	// ErrLastAdmin: the change would leave the system without an administrator.
	ErrLastAdmin = errors.New("this is the only administrator who can log in: make another user an administrator first")
	// ErrSuspended: the name and password are right, but an administrator
	// has suspended the account.
	ErrSuspended = errors.New("this account is suspended: ask an administrator to restore it")
	// ErrSuspendSelf: an administrator tried to suspend their own account.
	ErrSuspendSelf = errors.New("you cannot suspend your own account: another administrator can")
	// ErrSetupDone: the first administrator exists already.
	ErrSetupDone = errors.New("the first administrator exists already")
	// ErrNotAuthenticated: the request needs a logged-in user and has none.
	ErrNotAuthenticated = errors.New("log in first")
	// ErrUnavailable: a service userhub needs (the database, Redis) does not
	// answer; the client may try again shortly.
	ErrUnavailable = errors.New("a service userhub needs does not answer")
	// ErrWriteUncertain: the database did not confirm a commit in time, so
	// the write may or may not have been made (nobody can tell while the
	// database does not answer). It comes wrapped with ErrUnavailable.
	ErrWriteUncertain = errors.New("the database did not confirm the write in time: it may have been made")
	// ErrStorageFull: the database has no room left for a write. It comes
	// wrapped with ErrUnavailable, and the store's Ping answers it until a
	// write works again.
	ErrStorageFull = errors.New("the database's storage is full")
	// ErrBadToken: a bearer token that is not one, or no longer works
	// (revoked, expired, its user's password changed, its user deleted,
	// suspended or no longer an administrator for an admin token).
	ErrBadToken = errors.New("the token is invalid, expired or revoked")
	// ErrBadCredentials: no user has this name and password. Which of the
	// two was wrong is not said, to anyone.
	ErrBadCredentials = errors.New("wrong name or password")
)

// ThrottledError refuses a login attempt after too many failures; the
// client may try again after RetryAfter.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed logins; try again in %v", e.RetryAfter.Round(time.Second))
}

// RateLimitedError refuses a request over the API's rate limit; the
// client may try again after RetryAfter.
type RateLimitedError struct {
	Limit      int
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("more than %d requests a minute; try again in %v", e.Limit, e.RetryAfter.Round(time.Second))
}

// ForbiddenError: the user is logged in but may not do this, and why.
type ForbiddenError struct {
	Reason string
	// Scope, when set, is the token scope the request lacks: the user may
	// do this, but not with this token.
	Scope Scope
}

// ErrNeedsScope refuses a token without scope s.
func ErrNeedsScope(s Scope) *ForbiddenError {
	return &ForbiddenError{Reason: fmt.Sprintf("this token lacks the %q scope", s), Scope: s}
}

func (e *ForbiddenError) Error() string { return e.Reason }

// FieldError says what is wrong with one input field. Code is a stable,
// machine-readable word ("required", "too_long", ...) that the UI translates;
// Message is the English sentence the API returns.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ValidationError lists every invalid field of one input at once, so a client
// can fix them all in one round trip.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Add records a problem with a field.
func (e *ValidationError) Add(field, code, message string) {
	e.Fields = append(e.Fields, FieldError{Field: field, Code: code, Message: message})
}

// AddRequired records that a required field is missing.
func (e *ValidationError) AddRequired(field string) {
	e.Add(field, "required", field+" is required")
}

// Collect adds the problems of err, if it is a *ValidationError, to e.
// Any other error is returned: the check could not be made.
func (e *ValidationError) Collect(err error) error {
	var verr *ValidationError
	if errors.As(err, &verr) {
		e.Fields = append(e.Fields, verr.Fields...)
		return nil
	}
	return err
}

// Has reports whether e holds a problem with field.
func (e *ValidationError) Has(field string) bool {
	for _, f := range e.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// Err returns e as an error when it holds problems, and nil otherwise, so
// that checks can collect problems and return them in one line.
func (e *ValidationError) Err() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// Invalid is the error of one invalid field.
func Invalid(field, code, message string) error {
	return &ValidationError{Fields: []FieldError{{Field: field, Code: code, Message: message}}}
}
