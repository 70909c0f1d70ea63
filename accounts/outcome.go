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
)

// LoginOutcomes lists every outcome, so that a counter can show each at 0.
var LoginOutcomes = []LoginOutcome{LoginOK, LoginBadCredentials, LoginThrottled, LoginSuspended, LoginSecondFactorPending, LoginError}

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
	}
	return LoginError
}

// noLogins observes nothing: the default.
type noLogins struct{}

func (noLogins) Login(LoginOutcome) {}
