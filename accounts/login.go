package accounts

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"

	"userhub/models"
)

// maxLoggedName bounds what a failed login writes to the log: the name is
// whatever the client sent.
const maxLoggedName = 64

// Authenticate checks a name and password, within the login throttle,
// and returns the user. A wrong name and a wrong password fail alike
// (models.ErrBadCredentials) and take the same time (a user that does not
// exist is checked against a dummy hash); the log says which, for the
// operator, with the client's address, never the password. The right
// password of a suspended user gets models.ErrSuspended: telling them so
// reveals nothing to someone who knows the password. A hash made with
// older parameters is redone while the password is at hand, and the
// login's time is recorded. The outcome goes to Options.Logins.
func (s *Service) Authenticate(ctx context.Context, name, password, clientIP string) (user models.User, err error) {
	defer func() { s.logins.Login(outcomeOf(err)) }()
	user, rehash, err := s.verify(ctx, name, password, clientIP, nil)
	if err != nil {
		return models.User{}, err
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
	// Looked at last, on the user as the rehash left them: a suspension
	// made while the password was checked counts.
	if user.Suspended {
		s.log.Warn("login refused: the account is suspended", "user", user.Name, "ip", clientIP)
		return models.User{}, models.ErrSuspended
	}
	at := time.Now().UTC().Truncate(time.Microsecond)
	if err := s.store.RecordLogin(ctx, user.ID, at); err != nil {
		return models.User{}, err
	}
	user.LastLoginAt = at
	s.log.Info("login", "user", user.Name, "ip", clientIP)
	return user, nil
}

// verify checks name's password within the login throttle, and reports
// whether its hash should be redone. The user is looked up by name unless
// known (a logged-in user confirming their password). The throttle is
// asked before anything else, and once more while the attempt holds its
// hashing slot (see loginThrottle); only a wrong password is counted.
// The slot is held until verify returns.
func (s *Service) verify(ctx context.Context, name, password, clientIP string, known *models.User) (user models.User, rehash bool, err error) {
	logName := truncate(name, maxLoggedName)
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
		if err := s.throttle.Failed(ctx, name, clientIP); err != nil {
			return models.User{}, false, err
		}
		return models.User{}, false, models.ErrBadCredentials
	}
	if err := s.throttle.Succeeded(ctx, name, clientIP); err != nil {
		return models.User{}, false, err
	}
	return user, rehash, nil
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
