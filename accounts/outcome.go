package accounts

import (
	"errors"

	"userhub/models"
)

// LoginOutcome is how a login attempt ended, for metrics.
type LoginOutcome string

// The outcomes of a login. LoginSecondFactorPending is a right password
// whose login still waits for its second factor.
const (
	LoginOK                  LoginOutcome = "ok"
	LoginBadCredentials      LoginOutcome = "bad_credentials"
	LoginThrottled           LoginOutcome = "throttled"
	LoginSuspended           LoginOutcome = "suspended"
	LoginSecondFactorPending LoginOutcome = "second_factor_pending"
	LoginError               LoginOutcome = "error" // the database, or no hashing slot in time: 503
	// LoginPasswordOff: a password sent where oidc.disable_password_login
	// turned passwords off.
	LoginPasswordOff LoginOutcome = "password_login_off"
	// LoginNotLinked: a provider's sign-in for a subject linked to no
	// account, where none may be created.
	LoginNotLinked LoginOutcome = "sso_not_linked"
	// LoginSSORefused: a provider's answer that failed its checks (state,
	// code, ID token, nonce).
	LoginSSORefused LoginOutcome = "sso_refused"
)

// LoginOutcomes lists every outcome, so that a counter can show each at 0.
var LoginOutcomes = []LoginOutcome{LoginOK, LoginBadCredentials, LoginThrottled, LoginSuspended, LoginSecondFactorPending, LoginError,
	LoginPasswordOff, LoginNotLinked, LoginSSORefused}

// LoginObserver is told how each login ended (Options.Logins). Metrics
// implement it; accounts knows nothing of them.
type LoginObserver interface {
	Login(LoginOutcome)
}

// outcomeOf classifies what Authenticate returns.
func outcomeOf(err error) LoginOutcome {
	var throttled *models.ThrottledError
	switch {
	case err == nil:
		return LoginOK
	case errors.Is(err, models.ErrBadCredentials):
		return LoginBadCredentials
	case errors.As(err, &throttled):
		return LoginThrottled
	case errors.Is(err, models.ErrSuspended):
		return LoginSuspended
	case errors.Is(err, ErrPasswordLoginOff):
		return LoginPasswordOff
	}
	return LoginError
}

// noLogins observes nothing: the default.
type noLogins struct{}

func (noLogins) Login(LoginOutcome) {}
