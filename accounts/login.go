package accounts

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"userhub/auth"
	"userhub/models"
)

// maxLoggedName bounds what a failed login writes to the log: the name is
// whatever the client sent.
const maxLoggedName = 64

// Login is how far a login has come.
type Login struct {
	User models.User
	// SecondFactorPending: the password is right and the account has a
	// second factor, which the attempt did not give: the login goes on
	// with it (CompleteLogin), and is nothing until then.
	SecondFactorPending bool
	// MustEnrol: an administrator without a second factor where
	// auth.require_2fa_for_admins asks for one; they may do nothing but
	// enrol one.
	MustEnrol bool
}

// LogIn checks a name and password, within the login throttle, and the
// second factor f when the account has one (without f, the login is
// SecondFactorPending). A wrong name and a wrong password fail alike
// (models.ErrBadCredentials) and take the same time (a user that does not
// exist is checked against a dummy hash); the log says which, for the
// operator, with the client's address, never the password. The right
// password of a suspended user gets models.ErrSuspended: telling them so
// reveals nothing to someone who knows the password. A hash made with
// older parameters is redone while the password is at hand. A wrong
// second factor is models.ErrBadSecondFactor, and counts toward the
// throttle as a wrong password does; the name's failures are cleared only
// when the whole login succeeds. The outcome goes to Options.Logins.
func (s *Service) LogIn(ctx context.Context, name, password string, f SecondFactor, clientIP string) (l Login, err error) {
	defer func() {
		if err == nil && l.SecondFactorPending {
			s.logins.Login(LoginSecondFactorPending)
		} else {
			s.logins.Login(outcomeOf(err))
		}
	}()
	if s.oidc.PasswordLoginOff {
		s.log.Warn("login refused: password login is off (oidc.disable_password_login)", "name", truncate(name, maxLoggedName), "ip", clientIP)
		s.recordFailedLogin(ctx, models.User{Name: auditName(name)}, clientIP, "password login is off (oidc.disable_password_login)")
		return Login{}, ErrPasswordLoginOff
	}
	user, rehash, err := s.verify(ctx, name, password, clientIP, nil)
	if err != nil {
		return Login{}, err
	}
	if rehash {
		// The sessions stay: it is the same password. A failure costs
		// nothing but the old parameters for one more login.
		if hash, err := s.hasher.Hash(ctx, password); err == nil {
			if updated, err := s.store.UpdateUser(ctx, user.ID, models.UserChange{PasswordHash: &hash, KeepSessions: true}); err == nil {
				user = updated
			}
		}
	}
	// Looked at after the rehash, on the user as it left them: a
	// suspension made while the password was checked counts.
	if user.Suspended {
		s.log.Warn("login refused: the account is suspended", "user", user.Name, "ip", clientIP)
		s.recordFailedLogin(ctx, user, clientIP, "the account is suspended")
		return Login{}, models.ErrSuspended
	}
	has, err := s.hasSecondFactor(ctx, user.ID)
	if err != nil {
		return Login{}, err
	}
	switch {
	case has && !f.Given():
		s.log.Info("password accepted; second factor awaited", "user", user.Name, "ip", clientIP)
		return Login{User: user, SecondFactorPending: true}, nil
	case has:
		if err := s.checkSecondFactor(ctx, user, f, clientIP); err != nil {
			return Login{}, err
		}
	default:
		if err := s.throttle.Succeeded(ctx, name, clientIP); err != nil {
			return Login{}, err
		}
	}
	method := "password"
	if has {
		method = "password+" + f.kind()
	}
	return s.completed(ctx, user, method, has, clientIP)
}

// CompleteLogin checks the second factor of p, a login whose password was
// right (SecondFactorPending), within the login throttle.
func (s *Service) CompleteLogin(ctx context.Context, p auth.Principal, f SecondFactor, clientIP string) (Login, error) {
	if !p.SecondFactorPending || p.User.ID == 0 {
		return Login{}, models.ErrNotAuthenticated
	}
	if !f.Given() {
		return Login{}, models.ErrSecondFactorRequired
	}
	if err := s.checkSecondFactor(ctx, p.User, f, clientIP); err != nil {
		return Login{}, err
	}
	return s.completed(ctx, p.User, "password+"+f.kind(), true, clientIP)
}

// completed records a login that has succeeded (method says how: for the
// audit log), and says whether the user must enrol a second factor before
// anything else.
func (s *Service) completed(ctx context.Context, user models.User, method string, hasSecondFactor bool, clientIP string) (Login, error) {
	at := time.Now().UTC().Truncate(time.Microsecond)
	entry := models.AuditEntry{Action: models.AuditLogin, ActorID: user.ID, ActorName: user.Name, TargetID: user.ID, TargetName: user.Name,
		ClientIP: clientIP, Details: map[string]string{"method": method}}
	if err := s.store.RecordLogin(models.WithAudit(ctx, entry), user.ID, at); err != nil {
		return Login{}, err
	}
	user.LastLoginAt = at
	s.log.Info("login", "user", user.Name, "ip", clientIP, "second_factor", hasSecondFactor)
	return Login{User: user, MustEnrol: s.require2FAForAdmins && user.IsAdmin() && !hasSecondFactor}, nil
}

// Authenticate logs in with a name and password alone: for an account
// with a second factor it is models.ErrSecondFactorRequired.
func (s *Service) Authenticate(ctx context.Context, name, password, clientIP string) (models.User, error) {
	l, err := s.LogIn(ctx, name, password, SecondFactor{}, clientIP)
	if err == nil && l.SecondFactorPending {
		return models.User{}, models.ErrSecondFactorRequired
	}
	return l.User, err
}

// verify checks name's password within the login throttle, and reports
// whether its hash should be redone. The user is looked up by name unless
// known (a logged-in user confirming their password). The throttle is
// asked before anything else, and once more while the attempt holds its
// hashing slot (see loginThrottle); only a wrong password is counted, and
// the caller clears the name's failures once its whole check succeeds.
// The slot is held until verify returns.
func (s *Service) verify(ctx context.Context, name, password, clientIP string, known *models.User) (user models.User, rehash bool, err error) {
	logName := truncate(name, maxLoggedName)
	// A failure is recorded in the audit log once verify has returned its
	// hashing slot (deferred first, run last): others' logins do not wait
	// for the write.
	var failure struct {
		target models.User
		reason string
	}
	defer func() {
		if failure.reason != "" {
			s.recordFailedLogin(ctx, failure.target, clientIP, failure.reason)
		}
	}()
	checkThrottle := func() error {
		err := s.throttle.Check(ctx, name, clientIP)
		var throttled *models.ThrottledError
		if errors.As(err, &throttled) {
			s.log.Warn("login refused: too many failures", "name", logName, "ip", clientIP, "retry_after", throttled.RetryAfter.Round(time.Second))
		}
		return err
	}
	if err := checkThrottle(); err != nil {
		return models.User{}, false, err
	}
	// A password no account can have (longer than the policy allows) is
	// a wrong one, answered at once: it is neither normalised nor hashed,
	// so a megabyte costs nothing, but it is counted like any failure.
	if overlong(password) {
		s.log.Warn("login failed", "name", logName, "ip", clientIP, "reason", "password too long")
		failure.target, failure.reason = models.User{Name: auditName(name)}, "password too long"
		if err := s.throttle.Failed(ctx, name, clientIP); err != nil {
			return models.User{}, false, err
		}
		return models.User{}, false, models.ErrBadCredentials
	}
	// A name that could not be a user's (not text, too long, control
	// characters) is not looked up, but checked like any unknown name.
	if known != nil {
		user = *known
	} else if _, invalid := (models.NewUser{Name: name}).Normalize(); invalid == nil {
		if user, err = s.store.UserByName(ctx, name); err != nil && !errors.Is(err, models.ErrNotFound) {
			return models.User{}, false, err
		}
	}
	// In a hashing slot from the throttle's second look to the count of a
	// failure: see loginThrottle. Every attempt takes a slot, a known
	// name or not, so both take the same time.
	if err := s.hasher.Acquire(ctx); err != nil {
		return models.User{}, false, err
	}
	defer s.hasher.Release()
	if err := checkThrottle(); err != nil {
		return models.User{}, false, err
	}
	ok, rehash, err := s.hasher.Verify(password, user.PasswordHash)
	if err != nil {
		return models.User{}, false, err
	}
	if !ok {
		reason := "wrong password"
		switch {
		case user.ID == 0:
			reason = "no such user"
		case user.PasswordHash == "":
			reason = "the user has no password"
		}
		s.log.Warn("login failed", "name", logName, "ip", clientIP, "reason", reason)
		failure.target, failure.reason = user, reason
		if user.ID == 0 {
			failure.target.Name = auditName(name)
		}
		if known != nil {
			failure.reason = "wrong password, confirming a change"
		}
		if err := s.throttle.Failed(ctx, name, clientIP); err != nil {
			return models.User{}, false, err
		}
		return models.User{}, false, models.ErrBadCredentials
	}
	return user, rehash, nil
}

// auditName is a name someone typed, as the audit log keeps it: valid
// UTF-8 (PostgreSQL refuses anything else), without control or
// direction-changing characters (which would disguise it on the page),
// cut to maxLoggedName characters.
func auditName(typed string) string {
	clean := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(typed, "\uFFFD"))
	return truncate(clean, maxLoggedName)
}

// recordFailedLogin records a failed login into target (an account, or
// only the name typed), for the audit log.
func (s *Service) recordFailedLogin(ctx context.Context, target models.User, clientIP, reason string) {
	s.record(ctx, models.AuditEntry{Action: models.AuditLoginFailed, TargetID: target.ID, TargetName: target.Name,
		ClientIP: clientIP, Details: map[string]string{"reason": reason}})
}

// overlong reports whether password is longer than MaxPasswordLength
// characters, looking at no more of it than that takes.
func overlong(password string) bool {
	if len(password) <= MaxPasswordLength {
		return false
	}
	if len(password) > utf8.UTFMax*MaxPasswordLength {
		return true
	}
	return utf8.RuneCountInString(password) > MaxPasswordLength
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
