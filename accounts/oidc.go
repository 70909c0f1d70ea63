package accounts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"userhub/auth"
	"userhub/config"
	"userhub/models"
)

// Single sign-on: a login through an OpenID Connect provider is one more
// way to make a principal. The provider's issuer and subject name the
// person; an account is found by its link to them (models.OIDCLink),
// never by a name or an e-mail address, which the provider's users may
// choose or change.

var (
	// ErrLastWayIn: the link is the account's only way in (no password
	// that logs in, no passkey, no other link); removing it would lock
	// the account out.
	ErrLastWayIn = errors.New("this is the account's only way in: add a passkey first, or ask an administrator to set a password")
	// ErrPasswordLoginOff: oidc.disable_password_login; only the
	// provider lets people in.
	ErrPasswordLoginOff = errors.New("password login is turned off here: sign in with the provider")
	// ErrOIDCOff: single sign-on is not configured.
	ErrOIDCOff = errors.New("single sign-on is not configured on this server")
)

// OIDCOptions are the account rules of single sign-on (config oidc).
type OIDCOptions struct {
	// CreateUsers: a subject linked to no account gets one at its first
	// login; otherwise models.ErrNoOIDCLink.
	CreateUsers bool
	// AdminGroup: when set, members of this group are administrators
	// and everyone else a member, at each login.
	AdminGroup string
	// PasswordLoginOff: passwords log nobody in (ErrPasswordLoginOff).
	PasswordLoginOff bool
}

// maxNameTries bounds the search for a free name for a new account.
const maxNameTries = 100

// LogInWithOIDC logs in the person the provider vouched for: the account
// linked to id's issuer and subject, or a new one (OIDCOptions.CreateUsers).
// The provider's login is trusted as a whole: an account's own second
// factor is not asked for (the provider has its own), and it counts as one
// for auth.require_2fa_for_admins. With an admin group, the role follows the
// groups claim (the last administrator stays one). The outcome goes to
// Options.Logins.
func (s *Service) LogInWithOIDC(ctx context.Context, id models.OIDCIdentity, clientIP string) (l Login, err error) {
	defer func() {
		switch {
		case errors.Is(err, models.ErrNoOIDCLink):
			s.logins.Login(LoginNotLinked)
		default:
			s.logins.Login(outcomeOf(err))
		}
	}()
	if s.links == nil {
		return Login{}, ErrOIDCOff
	}
	if id.Issuer == "" || id.Subject == "" || len(id.Issuer) > models.MaxOIDCIdentifier || len(id.Subject) > models.MaxOIDCIdentifier {
		return Login{}, models.ErrNoOIDCLink
	}
	var user models.User
	link, err := s.links.OIDCLinkBySubject(ctx, id.Issuer, id.Subject)
	switch {
	case err == nil:
		if user, err = s.store.User(ctx, link.UserID); err != nil {
			return Login{}, err
		}
	case errors.Is(err, models.ErrNoOIDCLink) && s.oidc.CreateUsers:
		if user, err = s.createFromOIDC(ctx, id, clientIP); err != nil {
			return Login{}, err
		}
	case errors.Is(err, models.ErrNoOIDCLink):
		s.log.Warn("single sign-on refused: no account is linked to this subject (oidc.create_users is off)",
			"issuer", id.Issuer, "subject", id.Subject, "name", truncate(id.Name, maxLoggedName), "ip", clientIP)
		s.recordFailedLogin(ctx, models.User{Name: auditName(id.Name)}, clientIP, "single sign-on: no account is linked to this subject")
		return Login{}, err
	default:
		return Login{}, err
	}
	if user.Suspended {
		s.log.Warn("login refused: the account is suspended", "user", user.Name, "ip", clientIP, "method", "oidc")
		s.recordFailedLogin(ctx, user, clientIP, "the account is suspended")
		return Login{}, models.ErrSuspended
	}
	if user, err = s.followGroups(ctx, user, id); err != nil {
		return Login{}, err
	}
	return s.completed(ctx, user, "oidc", true, clientIP)
}

// oidcActor is who acts in the audit log when the provider's answer
// makes a change (an account created, a role from the groups claim).
const oidcActor = "(single sign-on)"

// CountSSOFailure counts a sign-in answer that belongs to no flow of the
// browser's among the logins, without recording it.
func (s *Service) CountSSOFailure() { s.logins.Login(LoginSSORefused) }

// RecordSSOFailure counts a sign-in whose provider's answer was refused
// (a forged state, a used code, a bad ID token or nonce: why) among the
// logins, and records it in the audit log.
func (s *Service) RecordSSOFailure(ctx context.Context, why error, clientIP string) {
	s.logins.Login(LoginSSORefused)
	s.recordFailedLogin(ctx, models.User{}, clientIP, "single sign-on: "+why.Error())
}

// roleFor is the role the groups claim gives, and whether it gives one:
// with an admin group, an administrator is in it, and a token without a
// groups claim is in no group (Dex leaves out an empty one; Entra ID one
// with too many groups): someone the provider no longer says is an
// administrator is not one here.
func (s *Service) roleFor(id models.OIDCIdentity) (models.Role, bool) {
	if s.oidc.AdminGroup == "" {
		return "", false
	}
	if slices.Contains(id.Groups, s.oidc.AdminGroup) {
		return models.RoleAdmin, true
	}
	return models.RoleMember, true
}

// followGroups gives user the role their groups claim says, keeping the
// last administrator one.
func (s *Service) followGroups(ctx context.Context, user models.User, id models.OIDCIdentity) (models.User, error) {
	if s.oidc.AdminGroup != "" && !id.HasGroups {
		s.log.Warn("single sign-on: the ID token and userinfo have no groups claim: in no group, a member (check oidc.groups_claim and the scopes)",
			"user", user.Name)
	}
	role, ok := s.roleFor(id)
	if !ok || role == user.Role {
		return user, nil
	}
	change := models.UserChange{Role: &role, KeepSessions: true}
	change.Audit = func(before models.User) []models.AuditEntry {
		if before.Role == role {
			return nil
		}
		return []models.AuditEntry{{Action: models.AuditUserRoleChanged, ActorName: oidcActor, TargetID: before.ID, TargetName: before.Name,
			Details: map[string]string{"from": string(before.Role), "to": string(role), "by": "groups claim"}}}
	}
	updated, err := s.store.UpdateUser(ctx, user.ID, change)
	if errors.Is(err, models.ErrLastAdmin) {
		s.log.Warn("single sign-on: the provider's groups make the last administrator a member; they stay an administrator", "user", user.Name)
		return user, nil
	}
	if err != nil {
		return models.User{}, err
	}
	s.log.Info("role set from the provider's groups", "user", updated.Name, "id", updated.ID, "role", updated.Role)
	return updated, nil
}

// createFromOIDC makes an account for id, named after its name claim
// (made valid and unique: "kim", "kim-2", ...), and links it.
func (s *Service) createFromOIDC(ctx context.Context, id models.OIDCIdentity, clientIP string) (models.User, error) {
	role, ok := s.roleFor(id)
	if !ok {
		role = models.RoleMember
	}
	base := oidcBaseName(id.Name)
	for i := 1; i <= maxNameTries; i++ {
		name := base
		if i > 1 {
			suffix := fmt.Sprintf("-%d", i)
			name = cut(base, models.MaxNameLength-len(suffix)) + suffix
		}
		n, err := models.NewUser{Name: name, Role: role}.Normalize()
		if err != nil {
			return models.User{}, err
		}
		user, err := s.store.CreateUser(models.WithAudit(ctx, models.AuditEntry{Action: models.AuditUserCreated, ActorName: oidcActor,
			Details: map[string]string{"role": string(n.Role), "issuer": id.Issuer}}), n)
		if errors.Is(err, models.ErrNameTaken) {
			continue
		}
		if err != nil {
			return models.User{}, err
		}
		if _, err := s.links.LinkOIDC(ctx, models.OIDCLink{UserID: user.ID, Issuer: id.Issuer, Subject: id.Subject}); err != nil {
			// Another login of the same person linked an account first:
			// this one goes, theirs is used.
			if derr := s.store.DeleteUser(models.WithAudit(ctx, models.AuditEntry{Action: models.AuditUserDeleted, ActorName: oidcActor,
				Details: map[string]string{"why": "another sign-in of the same person linked an account first"}}), user.ID, nil); derr != nil {
				s.log.Error("single sign-on: an account made for a sign-in that lost the race is left unlinked", "user", user.Name, "id", user.ID, "error", derr)
			}
			if errors.Is(err, models.ErrOIDCLinkTaken) {
				link, err := s.links.OIDCLinkBySubject(ctx, id.Issuer, id.Subject)
				if err != nil {
					return models.User{}, err
				}
				return s.store.User(ctx, link.UserID)
			}
			return models.User{}, err
		}
		s.log.Info("user created at their first single sign-on", "user", user.Name, "id", user.ID, "role", user.Role,
			"issuer", id.Issuer, "subject", id.Subject, "ip", clientIP)
		return user, nil
	}
	return models.User{}, fmt.Errorf("no free name for %q after %d tries: %w", base, maxNameTries, models.ErrNameTaken)
}

// oidcBaseName makes a valid account name of a name claim: the claim if
// it is one, else its letters, digits and ASCII punctuation, else "user".
func oidcBaseName(claim string) string {
	if n, err := (models.NewUser{Name: claim}).Normalize(); err == nil {
		return n.Name
	}
	var b strings.Builder
	for _, r := range claim {
		if r < utf8.RuneSelf && r > ' ' && r != 0x7f {
			b.WriteRune(r)
		} else if r == ' ' || r >= utf8.RuneSelf {
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-")
	if n, err := (models.NewUser{Name: cut(name, models.MaxNameLength)}).Normalize(); err == nil && name != "" {
		return n.Name
	}
	return "user"
}

// cut returns the first n characters of s.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// OIDCLinks lists p's links to the provider.
func (s *Service) OIDCLinks(ctx context.Context, p auth.Principal) ([]models.OIDCLink, error) {
	if !p.LoggedIn() {
		return nil, models.ErrNotAuthenticated
	}
	if s.links == nil {
		return nil, nil
	}
	return s.links.OIDCLinks(ctx, p.User.ID)
}

// LinkOIDC links p's account to id (a sign-in p just made at the
// provider): models.ErrOIDCLinkTaken when that subject is linked already.
func (s *Service) LinkOIDC(ctx context.Context, p auth.Principal, id models.OIDCIdentity) error {
	if err := mayChangeFactors(p); err != nil {
		return err
	}
	if s.links == nil {
		return ErrOIDCOff
	}
	if id.Issuer == "" || id.Subject == "" || len(id.Issuer) > models.MaxOIDCIdentifier || len(id.Subject) > models.MaxOIDCIdentifier {
		return models.ErrNoOIDCLink
	}
	if _, err := s.links.LinkOIDC(audited(ctx, p, models.AuditOIDCLinked, p.User, map[string]string{"issuer": id.Issuer}), models.OIDCLink{UserID: p.User.ID, Issuer: id.Issuer, Subject: id.Subject}); err != nil {
		return err
	}
	s.log.Info("account linked to the provider", "user", p.User.Name, "id", p.User.ID, "issuer", id.Issuer, "subject", id.Subject)
	return nil
}

// UnlinkOIDC removes p's link to issuer and subject, unless it is the
// account's last way in (ErrLastWayIn): a password that logs in (not
// with oidc.disable_password_login), a passkey, or another link.
func (s *Service) UnlinkOIDC(ctx context.Context, p auth.Principal, issuer, subject string) error {
	if err := mayChangeFactors(p); err != nil {
		return err
	}
	if s.links == nil {
		return ErrOIDCOff
	}
	links, err := s.links.OIDCLinks(ctx, p.User.ID)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(links, func(l models.OIDCLink) bool { return l.Issuer == issuer && l.Subject == subject }) {
		return models.ErrNoOIDCLink
	}
	if len(links) == 1 {
		other := p.User.HasPassword() && !s.oidc.PasswordLoginOff
		if !other && s.passkeys != nil {
			keys, err := s.passkeys.Passkeys(ctx, p.User.ID)
			if err != nil {
				return err
			}
			other = len(keys) > 0
		}
		if !other {
			return ErrLastWayIn
		}
	}
	if err := s.links.UnlinkOIDC(audited(ctx, p, models.AuditOIDCUnlinked, p.User, map[string]string{"issuer": issuer}), p.User.ID, issuer, subject); err != nil {
		return err
	}
	s.log.Info("account unlinked from the provider", "user", p.User.Name, "id", p.User.ID, "issuer", issuer, "subject", subject)
	return nil
}

// OIDCRules returns the account rules of the single sign-on settings c
// (none when single sign-on is off).
func OIDCRules(c config.OIDC) OIDCOptions {
	if !c.Enabled() {
		return OIDCOptions{}
	}
	return OIDCOptions{CreateUsers: c.CreateUsers, AdminGroup: c.AdminGroup, PasswordLoginOff: c.DisablePasswordLogin}
}

// LinkOIDCFor links target's account to subject at issuer, for the
// operator (`userhub user link`): the way to link an account whose owner
// cannot log in to link it themselves (oidc.disable_password_login).
func (s *Service) LinkOIDCFor(ctx context.Context, actor auth.Principal, target models.User, issuer, subject string) error {
	if actor.Method != auth.MethodOperator {
		return &models.ForbiddenError{Reason: "only the operator links another's account (userhub user link)"}
	}
	if s.links == nil {
		return ErrOIDCOff
	}
	if issuer == "" || subject == "" || len(issuer) > models.MaxOIDCIdentifier || len(subject) > models.MaxOIDCIdentifier {
		return models.Invalid("subject", "invalid", "give the subject (the provider's id of the person, its sub claim)")
	}
	if _, err := s.links.LinkOIDC(audited(ctx, actor, models.AuditOIDCLinked, target, map[string]string{"issuer": issuer}),
		models.OIDCLink{UserID: target.ID, Issuer: issuer, Subject: subject}); err != nil {
		return err
	}
	s.log.Info("account linked to the provider", "user", target.Name, "id", target.ID, "issuer", issuer, "subject", subject, "by", actorName(actor))
	return nil
}

// UnlinkOIDCFor removes every link of target's account, for the operator
// (`userhub user unlink`), and says how many there were.
func (s *Service) UnlinkOIDCFor(ctx context.Context, actor auth.Principal, target models.User) (int, error) {
	if actor.Method != auth.MethodOperator {
		return 0, &models.ForbiddenError{Reason: "only the operator unlinks another's account (userhub user unlink)"}
	}
	if s.links == nil {
		return 0, ErrOIDCOff
	}
	links, err := s.links.OIDCLinks(ctx, target.ID)
	if err != nil {
		return 0, err
	}
	for _, l := range links {
		if err := s.links.UnlinkOIDC(audited(ctx, actor, models.AuditOIDCUnlinked, target, map[string]string{"issuer": l.Issuer}), target.ID, l.Issuer, l.Subject); err != nil && !errors.Is(err, models.ErrNoOIDCLink) {
			return 0, err
		}
	}
	s.log.Info("account unlinked from the provider", "user", target.Name, "id", target.ID, "links", len(links), "by", actorName(actor))
	return len(links), nil
}
