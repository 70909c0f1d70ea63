// Package accounts holds the rules of userhub's accounts, in one Service:
// creating users, renaming them, setting their role and password, deleting
// them, logging in (throttle, lookup, verify, rehash), and who may do
// which (Authorize, one table). Handlers, the setup page and the CLI call
// it; nothing else hashes passwords, checks the password policy or
// normalizes a new name.
//
// It knows nothing of HTTP: callers pass the acting auth.Principal and
// the client's address, and get models types and models errors back.
package accounts

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"userhub/auth"
	"userhub/config"
	"userhub/models"
)

// Service applies the account rules over a store.
type Service struct {
	store    models.UserStore
	tokens   models.TokenStore
	factors  models.SecondFactorStore
	passkeys models.PasskeyStore
	links    models.OIDCLinkStore
	oidc     OIDCOptions
	// audit records what is done (nil: nothing is).
	audit models.AuditStore
	// webauthn is the passkeys' relying party; nil (webauthnErr says why)
	// when it is not configured.
	webauthn    *webauthn.WebAuthn
	webauthnErr error
	sealKey     []byte
	now         func() time.Time
	// require2FAForAdmins: auth.require_2fa_for_admins.
	require2FAForAdmins bool
	hasher              *Hasher
	policy              PasswordPolicy
	throttle            *loginThrottle
	logins              LoginObserver
	log                 *slog.Logger
}

// Options are what a Service is built from.
type Options struct {
	Store models.UserStore
	// Tokens keeps the personal access tokens (nil: none can be made).
	Tokens models.TokenStore
	// SecondFactors keeps the second factors (nil: nobody has one).
	SecondFactors models.SecondFactorStore
	// Passkeys keeps the passkeys (nil: none can be registered).
	Passkeys models.PasskeyStore
	// OIDCLinks keeps the links to an OpenID Connect provider's subjects
	// (nil: single sign-on is off); OIDC are its rules.
	OIDCLinks models.OIDCLinkStore
	OIDC      OIDCOptions
	// Audit keeps the audit log. The entries of changes are written by
	// the stores making them, in their transactions; Audit writes the
	// others (a failed login, a logout) and reads the log. Nil: those are
	// not recorded and the log cannot be read.
	Audit models.AuditStore
	// RPID and RPOrigins are the passkeys' relying party (config's
	// RelyingParty); without RPID, passkeys are off.
	RPID      string
	RPOrigins []string
	// SealKey (SealKey of the session secret) seals the authenticator
	// secrets; without it none can be made or checked.
	SealKey []byte
	// Now is the clock of the authenticator codes (time.Now when nil).
	Now func() time.Time
	// Counter keeps the login-throttling counts (the database, or Redis).
	Counter models.Counter
	Hasher  *Hasher
	// Auth gives the password minimum and the login limits.
	Auth config.Auth
	// Logins is told how each login ended (nil: nobody).
	Logins LoginObserver
	Log    *slog.Logger
}

// New returns a Service.
func New(o Options) *Service {
	logins := o.Logins
	if logins == nil {
		logins = noLogins{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	wa, waErr := newWebAuthn(o.RPID, o.RPOrigins)
	return &Service{
		logins:              logins,
		passkeys:            o.Passkeys,
		links:               o.OIDCLinks,
		oidc:                o.OIDC,
		audit:               o.Audit,
		webauthn:            wa,
		webauthnErr:         waErr,
		store:               o.Store,
		tokens:              o.Tokens,
		factors:             o.SecondFactors,
		sealKey:             o.SealKey,
		now:                 o.Now,
		require2FAForAdmins: o.Auth.Require2FAForAdmins,
		hasher:              o.Hasher,
		policy:              PasswordPolicy{MinLength: o.Auth.PasswordMinLength},
		throttle: &loginThrottle{
			Counter: o.Counter,
			PerName: o.Auth.LoginLimitPerName,
			PerIP:   o.Auth.LoginLimitPerIP,
			Window:  o.Auth.LoginWindow,
		},
		log: o.Log,
	}
}

// MinPasswordLength is the shortest password allowed, in characters, for
// forms to say so.
func (s *Service) MinPasswordLength() int { return s.policy.Min() }

// NewAccount is what a new account is made of. Without a Password, the
// user cannot log in until one is set.
type NewAccount struct {
	Name     string
	Role     models.Role // member when empty
	Password *string
}

// Check reports every problem with n at once (name, role, password), or
// nil. Create checks too; Check lets a caller learn of a bad name before
// it asks for a password.
func (s *Service) Check(n NewAccount) error {
	_, err := s.check(n)
	return err
}

func (s *Service) check(n NewAccount) (models.NewUser, error) {
	var verr models.ValidationError
	user, err := models.NewUser{Name: n.Name, Role: n.Role}.Normalize()
	if err := verr.Collect(err); err != nil {
		return user, err
	}
	if n.Password != nil {
		if err := verr.Collect(s.policy.Check("password", *n.Password, n.Name)); err != nil {
			return user, err
		}
	}
	return user, verr.Err()
}

// Create makes an account, for actor: its input is checked whole before
// the password is hashed, so a bad name costs no hash.
func (s *Service) Create(ctx context.Context, actor auth.Principal, n NewAccount) (models.User, error) {
	if err := Authorize(actor, CreateUser, 0); err != nil {
		return models.User{}, err
	}
	user, err := s.check(n)
	if err != nil {
		return models.User{}, err
	}
	u, err := s.insert(audited(ctx, actor, models.AuditUserCreated, models.User{}, map[string]string{"role": string(user.Role)}), user, n.Password)
	if err != nil {
		return u, err
	}
	s.log.Info("user created", "user", u.Name, "id", u.ID, "role", u.Role, "by", actorName(actor), "by_id", actorID(actor))
	return u, nil
}

// Setup makes the first administrator, while no user exists
// (models.ErrSetupDone after). The password is typed twice: a mismatch is
// reported on password_confirm, with every other problem.
func (s *Service) Setup(ctx context.Context, name, password, confirm, clientIP string) (models.User, error) {
	user, err := s.check(NewAccount{Name: name, Role: models.RoleAdmin, Password: &password})
	var verr models.ValidationError
	if err := verr.Collect(err); err != nil {
		return models.User{}, err
	}
	if password != confirm && !verr.Has("password") {
		verr.Add("password_confirm", "password_mismatch", "the two passwords differ")
	}
	if err := verr.Err(); err != nil {
		return models.User{}, err
	}
	user.First = true
	u, err := s.insert(models.WithAudit(ctx, models.AuditEntry{Action: models.AuditSetup, ClientIP: clientIP}), user, &password)
	if err != nil {
		return u, err
	}
	s.log.Info("first administrator created", "user", u.Name, "ip", clientIP)
	return u, nil
}

// insert stores user, checked already, with password hashed (none if nil).
func (s *Service) insert(ctx context.Context, user models.NewUser, password *string) (models.User, error) {
	if password != nil {
		hash, err := s.hasher.Hash(ctx, *password)
		if err != nil {
			return models.User{}, err
		}
		user.PasswordHash = hash
	}
	return s.store.CreateUser(ctx, user)
}

// Change lists what to change on an account; nil fields stay as they are.
type Change struct {
	Name      *string
	Role      *models.Role
	Password  *string // ends the user's sessions
	Suspended *bool   // true ends the user's sessions and refuses their logins
	// Check, if set, must accept the account as stored for the change to
	// be made (an HTTP If-Match); see models.UserChange.
	Check models.Precondition
}

// Update applies c to the account with id, for actor: admins change
// anyone (but not their own password, see ChangeOwnPassword); members
// rename themselves. A role the actor already has, set on themselves, is
// no change.
func (s *Service) Update(ctx context.Context, actor auth.Principal, id int64, c Change) (models.User, error) {
	if c.Role != nil && id == actor.User.ID && *c.Role == actor.User.Role {
		c.Role = nil
	}
	for _, need := range []struct {
		action Action
		asked  bool
	}{{EditUser, true}, {SetRole, c.Role != nil}, {SetPassword, c.Password != nil}, {SuspendUser, c.Suspended != nil}} {
		if need.asked {
			if err := Authorize(actor, need.action, id); err != nil {
				return models.User{}, err
			}
		}
	}
	if c.Suspended != nil && *c.Suspended && id == actor.User.ID {
		return models.User{}, models.ErrSuspendSelf
	}
	target, err := s.store.User(ctx, id)
	if err != nil {
		return models.User{}, err
	}
	if c.Suspended != nil && *c.Suspended == target.Suspended {
		c.Suspended = nil // no change: the sessions stay
	}
	var verr models.ValidationError
	change, err := models.UserChange{Name: c.Name, Role: c.Role, Suspended: c.Suspended, Check: c.Check}.Normalize()
	if err := verr.Collect(err); err != nil {
		return models.User{}, err
	}
	name := target.Name
	if change.Name != nil {
		name = *change.Name
	}
	if c.Password != nil {
		if err := verr.Collect(s.policy.Check("password", *c.Password, name)); err != nil {
			return models.User{}, err
		}
	}
	if err := verr.Err(); err != nil {
		return models.User{}, err
	}
	if change.Name == nil && change.Role == nil && c.Password == nil && change.Suspended == nil {
		if c.Check != nil {
			return target, c.Check(target)
		}
		return target, nil
	}
	if c.Password != nil {
		hash, err := s.hasher.Hash(ctx, *c.Password)
		if err != nil {
			return models.User{}, err
		}
		change.PasswordHash = &hash
	}
	change.Audit = func(before models.User) []models.AuditEntry { return changeEntries(actor, before, change) }
	u, err := s.store.UpdateUser(ctx, id, change)
	if err != nil {
		return models.User{}, err
	}
	s.log.Info("user changed", "user", u.Name, "id", u.ID, "by", actorName(actor), "by_id", actorID(actor),
		"name_changed", change.Name != nil, "role", u.Role, "password_set", change.PasswordHash != nil, "suspended", u.Suspended)
	return u, nil
}

// SetPassword sets the password of the account with id, for actor (an
// administrator, or the operator), and ends its sessions.
func (s *Service) SetPassword(ctx context.Context, actor auth.Principal, id int64, password string) (models.User, error) {
	return s.Update(ctx, actor, id, Change{Password: &password})
}

// ChangeOwnPassword sets actor's password. It needs the current one (a
// session left open on a shared computer must not be enough to take the
// account over), and counts a wrong one as a failed login. The user's
// sessions end; the caller gives the one it was done in a new session.
func (s *Service) ChangeOwnPassword(ctx context.Context, actor auth.Principal, current, next, clientIP string) (models.User, error) {
	if !actor.LoggedIn() {
		return models.User{}, models.ErrNotAuthenticated
	}
	me := actor.User
	if _, _, err := s.verify(ctx, me.Name, current, clientIP, &me); err != nil {
		if errors.Is(err, models.ErrBadCredentials) {
			err = models.Invalid("current_password", "wrong_password", "the current password is wrong")
		}
		return models.User{}, err
	}
	if err := s.throttle.Succeeded(ctx, me.Name, clientIP); err != nil {
		return models.User{}, err
	}
	if err := s.policy.Check("new_password", next, me.Name); err != nil {
		return models.User{}, err
	}
	hash, err := s.hasher.Hash(ctx, next)
	if err != nil {
		return models.User{}, err
	}
	u, err := s.store.UpdateUser(audited(ctx, actor, models.AuditPasswordChanged, me, nil), me.ID, models.UserChange{PasswordHash: &hash})
	if err != nil {
		return models.User{}, err
	}
	s.log.Info("password changed", "user", me.Name, "ip", clientIP)
	return u, nil
}

// Delete removes the account with id, for actor; check, if not nil, must
// accept the account as stored (see models.UserChange).
func (s *Service) Delete(ctx context.Context, actor auth.Principal, id int64, check models.Precondition) error {
	if err := Authorize(actor, DeleteUser, id); err != nil {
		return err
	}
	if err := s.store.DeleteUser(audited(ctx, actor, models.AuditUserDeleted, models.User{}, nil), id, check); err != nil {
		return err
	}
	s.log.Info("user deleted", "id", id, "by", actorName(actor), "by_id", actorID(actor))
	return nil
}

// EndSessions ends every session of the account with id ("log out
// everywhere"), for actor.
func (s *Service) EndSessions(ctx context.Context, actor auth.Principal, id int64) (models.User, error) {
	if err := Authorize(actor, EndSessions, id); err != nil {
		return models.User{}, err
	}
	u, err := s.store.EndSessions(audited(ctx, actor, models.AuditSessionsEnded, models.User{}, nil), id)
	if err != nil {
		return u, err
	}
	s.log.Info("sessions ended", "user", u.Name, "id", u.ID, "by", actorName(actor), "by_id", actorID(actor))
	return u, nil
}

// changeEntries are the audit entries of change to target (as stored
// before it): one per kind of change, so that each can be looked for.
func changeEntries(actor auth.Principal, target models.User, change models.UserChange) []models.AuditEntry {
	now := models.User{ID: target.ID, Name: target.Name}
	if change.Name != nil {
		now.Name = *change.Name
	}
	var entries []models.AuditEntry
	if change.Name != nil && *change.Name != target.Name {
		entries = append(entries, auditEntry(actor, models.AuditUserRenamed, now, map[string]string{"from": target.Name, "to": *change.Name}))
	}
	if change.Role != nil && *change.Role != target.Role {
		entries = append(entries, auditEntry(actor, models.AuditUserRoleChanged, now, map[string]string{"from": string(target.Role), "to": string(*change.Role)}))
	}
	if change.PasswordHash != nil {
		entries = append(entries, auditEntry(actor, models.AuditUserPasswordSet, now, nil))
	}
	if change.Suspended != nil && *change.Suspended != target.Suspended {
		action := models.AuditUserUnsuspended
		if *change.Suspended {
			action = models.AuditUserSuspended
		}
		entries = append(entries, auditEntry(actor, action, now, nil))
	}
	return entries
}

// actorName names who did something, for the log.
// actorID is the acting user's id, logged beside their name (a name can
// look like another's; an id cannot): "-" for the operator.
func actorID(p auth.Principal) any {
	if p.Method == auth.MethodOperator {
		return "-"
	}
	return p.User.ID
}

func actorName(p auth.Principal) string {
	if p.Method == auth.MethodOperator {
		return "(operator)"
	}
	return p.User.Name
}
