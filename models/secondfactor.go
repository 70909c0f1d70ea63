package models

import (
	"context"
	"errors"
	"time"
)

// TOTP is a user's authenticator-app secret (RFC 6238) as stored: sealed
// (encrypted by the accounts service; the store never reads it), and
// whether the user has confirmed it with a code. Only a confirmed secret
// is a second factor.
type TOTP struct {
	UserID    int64
	Sealed    []byte
	Confirmed bool
	// LastStep is the last time step (unix seconds / 30) whose code was
	// accepted: a code of that step or an earlier one is not accepted again.
	LastStep  int64
	CreatedAt time.Time
}

// The second factors' errors.
var (
	// ErrNoTOTP: the user has no authenticator secret (or none confirmed
	// where one must be).
	ErrNoTOTP = errors.New("no authenticator app is set up for this account")
	// ErrTOTPEnabled: the user has a confirmed authenticator secret
	// already; remove it first.
	ErrTOTPEnabled = errors.New("an authenticator app is set up already: remove it first")
	// ErrSecondFactorRequired: the password is right, but the account has
	// a second factor and the login did not give it.
	ErrSecondFactorRequired = errors.New("this account has a second factor: send the code of its authenticator app (\"totp\") or a recovery code (\"recovery_code\")")
	// ErrBadSecondFactor: the code given is not the current one (or was
	// used already), or not an unused recovery code.
	ErrBadSecondFactor = errors.New("wrong, expired or already used code")
	// ErrEnrolmentRequired: an administrator must enrol a second factor
	// before doing anything else (auth.require_2fa_for_admins).
	ErrEnrolmentRequired = errors.New("administrators must set up a second factor first: see /account/security")
)

// SecondFactorStore keeps the users' second factors: an authenticator
// secret and its recovery codes (only their hashes).
type SecondFactorStore interface {
	// SetTOTP stores a new, unconfirmed secret for the user, replacing an
	// unconfirmed one. ErrTOTPEnabled when a confirmed one exists,
	// ErrNotFound when the user does not.
	SetTOTP(ctx context.Context, userID int64, sealed []byte) error
	// TOTP returns the user's secret; ErrNoTOTP when there is none.
	TOTP(ctx context.Context, userID int64) (TOTP, error)
	// ConfirmTOTP marks the user's unconfirmed secret confirmed, records
	// step as used and replaces the recovery codes with these hashes.
	// ErrNoTOTP when there is no unconfirmed secret.
	ConfirmTOTP(ctx context.Context, userID, step int64, recoveryHashes [][]byte) error
	// UseTOTPStep records step as the last used one if it is later than
	// the last used; false when it is not (the code was used already).
	UseTOTPStep(ctx context.Context, userID, step int64) (bool, error)
	// UseRecoveryCode removes the user's recovery code with this hash;
	// false when there is none (wrong, or used already).
	UseRecoveryCode(ctx context.Context, userID int64, hash []byte) (bool, error)
	// RecoveryCodesLeft counts the user's unused recovery codes.
	RecoveryCodesLeft(ctx context.Context, userID int64) (int, error)
	// DeleteTOTP removes the user's secret and recovery codes; ErrNoTOTP
	// when there was no secret.
	DeleteTOTP(ctx context.Context, userID int64) error
}

// Passkey is a WebAuthn credential of a user's, as stored: Data is the
// credential as the WebAuthn library keeps it (its public key, sign
// count, flags), which the store does not read.
type Passkey struct {
	ID         []byte // the credential id, as the authenticator chose it
	UserID     int64
	Name       string
	Data       []byte
	CreatedAt  time.Time
	LastUsedAt time.Time // zero: never used
}

// MaxPasskeyName is the longest name of a passkey, in characters.
const MaxPasskeyName = 64

// ErrNoPasskey: no passkey has this id (for this user).
var ErrNoPasskey = errors.New("no such passkey")

// PasskeyStore keeps the users' passkeys.
type PasskeyStore interface {
	// AddPasskey stores k (CreatedAt is set) and returns it. ErrNotFound
	// when its user does not exist.
	AddPasskey(ctx context.Context, k Passkey) (Passkey, error)
	// Passkeys lists a user's passkeys, oldest first.
	Passkeys(ctx context.Context, userID int64) ([]Passkey, error)
	// Passkey returns the passkey with this credential id; ErrNoPasskey
	// when there is none.
	Passkey(ctx context.Context, id []byte) (Passkey, error)
	// PasskeyUsed records a use of passkey id at at, with its data as
	// the use left it (the authenticator's sign count).
	PasskeyUsed(ctx context.Context, id, data []byte, at time.Time) error
	// DeletePasskey removes the user's passkey id; ErrNoPasskey when the
	// user has none with this id.
	DeletePasskey(ctx context.Context, userID int64, id []byte) error
}
