package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Scope is what a personal access token may do through the API.
type Scope string

// The scopes. A token needs read (or write) for GET, write for a change,
// and admin, besides, for what only administrators may do; only an
// administrator's token can have admin.
const (
	ScopeRead  Scope = "read"
	ScopeWrite Scope = "write"
	ScopeAdmin Scope = "admin"
)

// Scopes lists every scope, in the order they are shown.
var Scopes = []Scope{ScopeRead, ScopeWrite, ScopeAdmin}

// Token is a personal access token as stored: never its secret, only the
// secret's SHA-256 hash and the first characters, to recognise it by.
type Token struct {
	ID     int64
	UserID int64
	Name   string
	Prefix string // "uh_" and the secret's first characters
	Hash   []byte // SHA-256 of the whole token
	Scopes []Scope
	// UserVersion is the user's session version when the token was made: a
	// password change, a suspension or "log out everywhere" moves it on,
	// and the token stops working with the user's sessions.
	UserVersion int64
	CreatedAt   time.Time
	ExpiresAt   time.Time // zero: never
	LastUsedAt  time.Time // zero: never used
}

// JoinScopes writes scopes as one string, sep between them ("read,write").
func JoinScopes(scopes []Scope, sep string) string {
	parts := make([]string, len(scopes))
	for i, s := range scopes {
		parts[i] = string(s)
	}
	return strings.Join(parts, sep)
}

// Has reports whether t was given scope s.
func (t Token) Has(s Scope) bool { return slices.Contains(t.Scopes, s) }

// Expired reports whether t has expired at now.
func (t Token) Expired(now time.Time) bool { return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) }

// Limits of a token's name and lifetime.
const (
	MaxTokenName     = 64
	MaxTokenLifetime = 366 * 24 * time.Hour
	MinTokenLifetime = time.Hour
)

// ErrNoToken: no token has this id (for this user).
var ErrNoToken = errors.New("no such token")

// NormalizeToken checks a new token's name and scopes (in canonical order,
// without repeats) and returns them.
func NormalizeToken(name string, scopes []Scope) (string, []Scope, error) {
	var verr ValidationError
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		verr.Add("name", "required", "name the token (what uses it), e.g. \"backup script\"")
	case !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		verr.Add("name", "invalid", "the name must be text without control characters")
	case utf8.RuneCountInString(name) > MaxTokenName:
		verr.Add("name", "too_long", fmt.Sprintf("the name must be at most %d characters", MaxTokenName))
	}
	var canonical []Scope
	for _, s := range Scopes {
		if slices.Contains(scopes, s) {
			canonical = append(canonical, s)
		}
	}
	for _, s := range scopes {
		if !slices.Contains(Scopes, s) {
			verr.Add("scopes", "invalid_scope", fmt.Sprintf("unknown scope %q: use read, write or admin", s))
			break
		}
	}
	if len(scopes) == 0 {
		verr.Add("scopes", "required", "give the token at least one scope: read, write or admin")
	}
	return name, canonical, verr.Err()
}

// TokenStore keeps personal access tokens.
type TokenStore interface {
	// CreateToken stores t (its ID and CreatedAt are set) and returns it.
	// ErrNotFound when its user does not exist.
	CreateToken(ctx context.Context, t Token) (Token, error)
	// TokenByHash returns the token with this hash and its user, in one
	// read; ErrNoToken when there is none.
	TokenByHash(ctx context.Context, hash []byte) (Token, User, error)
	// Tokens lists a user's tokens (user 0: everyone's), newest first.
	Tokens(ctx context.Context, userID int64) ([]Token, error)
	// DeleteToken removes token id; with userID not 0, only if it is that
	// user's. ErrNoToken otherwise.
	DeleteToken(ctx context.Context, id, userID int64) error
	// TokenUsed records that token id was used at at.
	TokenUsed(ctx context.Context, id int64, at time.Time) error
}

// StoredAnswer is the first answer to a request sent with an
// Idempotency-Key, kept to answer its retries.
type StoredAnswer struct {
	Request  []byte // SHA-256 of the request: a retry must match it
	Status   int    // 0 while the first request runs
	Location string
	Body     []byte
}

// IdempotencyStore keeps answers by idempotency key, for every instance.
type IdempotencyStore interface {
	// ClaimIdempotencyKey claims key for a request (its hash), unless an
	// answer younger than ttl, or a claim of a request still running (younger
	// than lease), holds it: then it returns that answer (Status 0 while the
	// request runs) and claimed false. A running claim older than lease is
	// one whose process died: the key is claimed anew.
	ClaimIdempotencyKey(ctx context.Context, scope, key string, request []byte, ttl, lease time.Duration) (held StoredAnswer, claimed bool, err error)
	// SaveIdempotentAnswer records the answer of the request that claimed key.
	SaveIdempotentAnswer(ctx context.Context, scope, key string, a StoredAnswer) error
	// ReleaseIdempotencyKey forgets key (its request failed on our side:
	// a retry should run again).
	ReleaseIdempotencyKey(ctx context.Context, scope, key string) error
}
