package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"userhub/auth"
	"userhub/models"
)

// Personal access tokens: "uh_" and 43 base62 characters (256 random
// bits), a format secret scanners can recognise. Only their SHA-256 hash
// is stored: a token is random enough that a fast hash cannot be reversed,
// and a request finds its token by that hash, in one indexed read.

const (
	tokenPrefix = "uh_"
	// tokenChars is the length of the random part: 62^43 > 2^256.
	tokenChars = 43
	// shownChars of the token are kept in clear, to recognise it by.
	shownChars = len(tokenPrefix) + 6
	// usedEvery: a token's last use is recorded at most this often.
	usedEvery = time.Minute
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newTokenSecret returns a new random token.
func newTokenSecret() string {
	n := new(big.Int).SetBytes(randomBytes(32))
	var b strings.Builder
	b.WriteString(tokenPrefix)
	base := big.NewInt(62)
	digit := new(big.Int)
	for range tokenChars {
		n.DivMod(n, base, digit)
		b.WriteByte(base62[digit.Int64()])
	}
	return b.String()
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	return b
}

// wellFormed reports whether s looks like a token at all, so that junk
// costs no database read.
func wellFormed(s string) bool {
	rest, ok := strings.CutPrefix(s, tokenPrefix)
	if !ok || len(rest) != tokenChars {
		return false
	}
	for _, c := range []byte(rest) {
		if strings.IndexByte(base62, c) < 0 {
			return false
		}
	}
	return true
}

func hashToken(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

// NewToken is what a person asks a token for.
type NewToken struct {
	Name   string
	Scopes []models.Scope
	// ExpiresIn is its lifetime; 0: it never expires.
	ExpiresIn time.Duration
	// User is whose token it is, for the operator (userhub token create);
	// a person's token is always their own.
	User int64
}

// CreatedToken is a new token and its secret, which is shown once: only
// its hash is kept.
type CreatedToken struct {
	models.Token
	Secret string
}

// CreateToken makes a personal access token for actor: a person logged in
// with a session (not with another token: a leaked token must not mint
// more), or the operator for any user. Only an administrator's token may
// have the admin scope.
func (s *Service) CreateToken(ctx context.Context, actor auth.Principal, n NewToken) (CreatedToken, error) {
	var owner models.User
	switch {
	case actor.Method == auth.MethodOperator:
		u, err := s.store.User(ctx, n.User)
		if err != nil {
			return CreatedToken{}, err
		}
		owner = u
	case actor.Method == auth.MethodToken:
		return CreatedToken{}, &models.ForbiddenError{Reason: "tokens are made by a person logged in with a password, not with another token"}
	case actor.LoggedIn():
		owner = actor.User
	default:
		return CreatedToken{}, models.ErrNotAuthenticated
	}
	name, scopes, err := models.NormalizeToken(n.Name, n.Scopes)
	var verr models.ValidationError
	verr.Collect(err)
	if n.ExpiresIn != 0 && (n.ExpiresIn < models.MinTokenLifetime || n.ExpiresIn > models.MaxTokenLifetime) {
		verr.Add("expires_in", "out_of_range", fmt.Sprintf("a token lives between %v and %v (366 days), or never expires", models.MinTokenLifetime, models.MaxTokenLifetime))
	}
	if owner.Role != models.RoleAdmin && slices.Contains(n.Scopes, models.ScopeAdmin) {
		verr.Add("scopes", "admin_scope_for_admins", "only an administrator's token may have the admin scope")
	}
	if err := verr.Err(); err != nil {
		return CreatedToken{}, err
	}
	if s.tokens == nil {
		return CreatedToken{}, errors.New("accounts: no token store")
	}
	secret := newTokenSecret()
	t := models.Token{UserID: owner.ID, Name: name, Prefix: secret[:shownChars], Hash: hashToken(secret),
		Scopes: scopes, UserVersion: owner.SessionVersion}
	if n.ExpiresIn != 0 {
		t.ExpiresAt = time.Now().Add(n.ExpiresIn).UTC().Truncate(time.Second)
	}
	t, err = s.tokens.CreateToken(audited(ctx, actor, models.AuditTokenCreated, owner,
		map[string]string{"token": name, "scopes": models.JoinScopes(scopes, " "), "expires": expiry(t.ExpiresAt)}), t)
	if err != nil {
		return CreatedToken{}, err
	}
	s.log.Info("token created", "user", owner.Name, "token_id", t.ID, "prefix", t.Prefix, "scopes", fmt.Sprint(t.Scopes), "by", actorName(actor), "by_id", actorID(actor))
	return CreatedToken{Token: t, Secret: secret}, nil
}

// expiry says when a token expires, for the audit log.
func expiry(at time.Time) string {
	if at.IsZero() {
		return "never"
	}
	return at.Format(time.RFC3339)
}

// Tokens lists the tokens of user (0: actor's own; the operator's:
// everyone's), newest first.
func (s *Service) Tokens(ctx context.Context, actor auth.Principal, user int64) ([]models.Token, error) {
	if user == 0 && actor.Method == auth.MethodOperator {
		return s.tokens.Tokens(ctx, 0)
	}
	if user == 0 {
		user = actor.User.ID
	}
	if err := Authorize(actor, ManageTokens, user); err != nil {
		return nil, err
	}
	return s.tokens.Tokens(ctx, user)
}

// RevokeToken deletes token id: an administrator's or the operator's any,
// anyone else's only their own. It stops working at once.
func (s *Service) RevokeToken(ctx context.Context, actor auth.Principal, id int64) error {
	owner := actor.User.ID
	if actor.IsAdmin() {
		owner = 0 // any
	} else if err := Authorize(actor, ManageTokens, owner); err != nil {
		return err
	}
	if err := s.tokens.DeleteToken(audited(ctx, actor, models.AuditTokenRevoked, models.User{}, map[string]string{"token_id": strconv.FormatInt(id, 10)}), id, owner); err != nil {
		return err
	}
	s.log.Info("token revoked", "token_id", id, "by", actorName(actor), "by_id", actorID(actor))
	return nil
}

// TokenPrincipal returns the principal a bearer token proves, or
// models.ErrBadToken when it proves nothing: not a token, unknown
// (revoked), expired, made before its user's password changed (or the
// user was suspended or logged out everywhere), or an admin token of a
// user who is no longer an administrator. Its last use is recorded at most
// once a minute.
func (s *Service) TokenPrincipal(ctx context.Context, secret string) (auth.Principal, error) {
	if !wellFormed(secret) || s.tokens == nil {
		return auth.Principal{}, models.ErrBadToken
	}
	t, u, err := s.tokens.TokenByHash(ctx, hashToken(secret))
	if errors.Is(err, models.ErrNoToken) {
		return auth.Principal{}, models.ErrBadToken
	}
	if err != nil {
		return auth.Principal{}, err
	}
	now := time.Now()
	if t.Expired(now) || t.UserVersion != u.SessionVersion || u.Suspended || (t.Has(models.ScopeAdmin) && !u.IsAdmin()) {
		return auth.Principal{}, models.ErrBadToken
	}
	if now.Sub(t.LastUsedAt) >= usedEvery {
		// A lost write here loses only when it was last used.
		if err := s.tokens.TokenUsed(ctx, t.ID, now.UTC().Truncate(time.Second)); err != nil {
			s.log.Debug("token use not recorded", "token_id", t.ID, "error", err)
		} else {
			t.LastUsedAt = now
		}
	}
	return auth.Principal{User: u, Method: auth.MethodToken, Token: t}, nil
}
