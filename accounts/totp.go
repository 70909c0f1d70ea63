package accounts

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"image/png"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"userhub/auth"
	"userhub/models"
)

// Second factors: an authenticator app's codes (TOTP, RFC 6238: SHA-1, six
// digits, 30-second steps, what every app reads from a QR code) and ten
// single-use recovery codes for when the phone is lost.
//
// The secret is stored sealed (AES-256-GCM, a key derived from the session
// secret, the user's id bound in): a copy of the database alone does not
// give the codes. A code is accepted for its step and the steps either side
// (clocks drift), once: the last step used is stored, and no code of that
// step or an earlier one is accepted again. Recovery codes are 80 random
// bits, so a SHA-256 hash (with the user's id) is enough to keep them.

const (
	totpIssuer = "userhub"
	totpPeriod = 30 // seconds
	totpDigits = otp.DigitsSix
	totpSkew   = 1 // steps either side of now
	// RecoveryCodeCount is how many recovery codes an enrolment gives.
	RecoveryCodeCount = 10
	// recoveryCodeBytes: 10 bytes, 80 bits, 16 base32 characters.
	recoveryCodeBytes = 10
)

// SealKey derives the key that seals the second factors' secrets from the
// session secret.
func SealKey(sessionSecret []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, sessionSecret, nil, "userhub totp secrets v1", 32)
}

func (s *Service) aead() (cipher.AEAD, error) {
	if len(s.sealKey) != 32 {
		return nil, errors.New("accounts: no key to seal second factors with")
	}
	block, err := aes.NewCipher(s.sealKey)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

func sealedFor(userID int64) []byte { return []byte("totp:" + strconv.FormatInt(userID, 10)) }

func (s *Service) seal(userID int64, secret string) ([]byte, error) {
	a, err := s.aead()
	if err != nil {
		return nil, err
	}
	return a.Seal(nil, nil, []byte(secret), sealedFor(userID)), nil
}

func (s *Service) unseal(t models.TOTP) (string, error) {
	a, err := s.aead()
	if err != nil {
		return "", err
	}
	plain, err := a.Open(nil, nil, t.Sealed, sealedFor(t.UserID))
	if err != nil {
		return "", fmt.Errorf("user %d's authenticator secret does not open (was the session secret changed? `userhub user reset-2fa` lets them enrol again): %w", t.UserID, err)
	}
	return string(plain), nil
}

// TOTPEnrolment is a new secret, for the person to put in their app.
type TOTPEnrolment struct {
	Secret string // base32, for typing in
	URL    string // otpauth://, what the QR code holds
	QRPNG  []byte // the QR code, a PNG image
}

// mayChangeFactors refuses what is not a person logged in with a session:
// a token must not add or remove its user's second factors.
func mayChangeFactors(p auth.Principal) error {
	switch {
	case !p.LoggedIn():
		return models.ErrNotAuthenticated
	case p.Method == auth.MethodToken:
		return &models.ForbiddenError{Reason: "second factors are changed by a person logged in with a session, not with a token"}
	}
	return nil
}

// BeginTOTP makes a new authenticator secret for p's account; it counts
// once confirmed (ConfirmTOTP). Asked again before that, it makes another.
func (s *Service) BeginTOTP(ctx context.Context, p auth.Principal) (TOTPEnrolment, error) {
	if err := mayChangeFactors(p); err != nil {
		return TOTPEnrolment{}, err
	}
	e, err := enrolment(p.User.Name, randomBytes(20))
	if err != nil {
		return TOTPEnrolment{}, err
	}
	sealed, err := s.seal(p.User.ID, e.Secret)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	if err := s.factors.SetTOTP(ctx, p.User.ID, sealed); err != nil {
		return TOTPEnrolment{}, err
	}
	return e, nil
}

// enrolment is the secret raw of name's account, as an app takes it.
func enrolment(name string, raw []byte) (TOTPEnrolment, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: name, Period: totpPeriod,
		Digits: totpDigits, Algorithm: otp.AlgorithmSHA1, Secret: raw})
	if err != nil {
		return TOTPEnrolment{}, err
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return TOTPEnrolment{}, err
	}
	return TOTPEnrolment{Secret: key.Secret(), URL: key.URL(), QRPNG: buf.Bytes()}, nil
}

// ConfirmTOTP turns p's new secret on with a current code from the app,
// and returns the recovery codes, shown this once.
func (s *Service) ConfirmTOTP(ctx context.Context, p auth.Principal, code string) ([]string, error) {
	if err := mayChangeFactors(p); err != nil {
		return nil, err
	}
	t, err := s.factors.TOTP(ctx, p.User.ID)
	if errors.Is(err, models.ErrNoTOTP) {
		return nil, models.Invalid("code", "no_totp", "start with POST /api/v1/me/totp")
	}
	if err != nil {
		return nil, err
	}
	if t.Confirmed {
		return nil, models.ErrTOTPEnabled
	}
	secret, err := s.unseal(t)
	if err != nil {
		return nil, err
	}
	step, ok := s.matchStep(secret, code, 0)
	if !ok {
		return nil, models.Invalid("code", "wrong_code", "this is not the app's current code: check the phone's clock, and type the code shown now")
	}
	codes, hashes := newRecoveryCodes(p.User.ID)
	if err := s.factors.ConfirmTOTP(audited(ctx, p, models.AuditTOTPEnabled, p.User, nil), p.User.ID, step, hashes); err != nil {
		return nil, err
	}
	s.log.Info("second factor enrolled", "user", p.User.Name, "factor", "totp")
	return codes, nil
}

// DisableTOTP removes p's authenticator app and recovery codes. It needs
// the password and a code (the app's, or a recovery code): an open session
// alone must not be enough to weaken the account. A wrong password counts
// as a failed login.
func (s *Service) DisableTOTP(ctx context.Context, p auth.Principal, password, code, clientIP string) error {
	if err := mayChangeFactors(p); err != nil {
		return err
	}
	me := p.User
	if _, _, err := s.verify(ctx, me.Name, password, clientIP, &me); err != nil {
		if errors.Is(err, models.ErrBadCredentials) {
			err = models.Invalid("password", "wrong_password", "the password is wrong")
		}
		return err
	}
	if err := s.checkSecondFactor(ctx, me, SecondFactor{Code: code}, clientIP); err != nil {
		if errors.Is(err, models.ErrBadSecondFactor) {
			err = models.Invalid("code", "wrong_code", err.Error())
		}
		return err
	}
	if err := s.factors.DeleteTOTP(audited(ctx, p, models.AuditTOTPDisabled, me, nil), me.ID); err != nil {
		return err
	}
	s.log.Info("second factor removed", "user", me.Name, "factor", "totp", "ip", clientIP)
	return nil
}

// ResetSecondFactors removes the second factors and passkeys of the
// account with id, for the operator (a person who lost their phone, with
// its passkeys, and their recovery codes), and ends its sessions.
func (s *Service) ResetSecondFactors(ctx context.Context, actor auth.Principal, id int64) (models.User, error) {
	if actor.Method != auth.MethodOperator {
		return models.User{}, &models.ForbiddenError{Reason: "only the operator resets second factors (userhub user reset-2fa)"}
	}
	details := map[string]string{"totp": "removed", "passkeys": "0"}
	if err := s.factors.DeleteTOTP(ctx, id); errors.Is(err, models.ErrNoTOTP) {
		details["totp"] = "none"
	} else if err != nil {
		return models.User{}, err
	}
	if s.passkeys != nil {
		keys, err := s.passkeys.Passkeys(ctx, id)
		if err != nil {
			return models.User{}, err
		}
		for _, k := range keys {
			if err := s.passkeys.DeletePasskey(ctx, id, k.ID); err != nil && !errors.Is(err, models.ErrNoPasskey) {
				return models.User{}, err
			}
		}
		details["passkeys"] = strconv.Itoa(len(keys))
	}
	// Recorded with the last step, which ends the sessions: a reset that
	// failed before it is not recorded, and is done again.
	u, err := s.store.EndSessions(audited(ctx, actor, models.AuditSecondFactorsReset, models.User{}, details), id)
	if err != nil {
		return models.User{}, err
	}
	s.log.Info("second factors reset", "user", u.Name, "by", actorName(actor))
	return u, nil
}

// SecurityState is what /account/security shows of an account.
type SecurityState struct {
	TOTP              bool // confirmed
	RecoveryCodesLeft int
	// Pending is a secret made and not confirmed yet, shown again until it is.
	Pending *TOTPEnrolment
}

// Security returns p's second factors.
func (s *Service) Security(ctx context.Context, p auth.Principal) (SecurityState, error) {
	var st SecurityState
	t, err := s.factors.TOTP(ctx, p.User.ID)
	if errors.Is(err, models.ErrNoTOTP) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	st.TOTP = t.Confirmed
	if st.TOTP {
		st.RecoveryCodesLeft, err = s.factors.RecoveryCodesLeft(ctx, p.User.ID)
		return st, err
	}
	secret, err := s.unseal(t)
	if err != nil {
		return st, err
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		return st, err
	}
	e, err := enrolment(p.User.Name, raw)
	st.Pending = &e
	return st, err
}

// hasSecondFactor reports whether the user has a confirmed second factor.
func (s *Service) hasSecondFactor(ctx context.Context, userID int64) (bool, error) {
	if s.factors == nil {
		return false, nil
	}
	t, err := s.factors.TOTP(ctx, userID)
	if errors.Is(err, models.ErrNoTOTP) {
		return false, nil
	}
	return err == nil && t.Confirmed, err
}

// matchStep returns the step, within the skew of now and later than after,
// whose code is code.
func (s *Service) matchStep(secret, code string, after int64) (int64, bool) {
	code = strings.TrimSpace(code)
	if len(code) != totpDigits.Length() {
		return 0, false
	}
	now := s.now().Unix() / totpPeriod
	for step := now - totpSkew; step <= now+totpSkew; step++ {
		if step <= after {
			continue
		}
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totp.ValidateOpts{
			Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1,
		})
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}

var recoveryEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newRecoveryCodes returns RecoveryCodeCount codes, as shown
// ("ABCD-EFGH-IJKL-MNOP"), and their hashes.
func newRecoveryCodes(userID int64) (codes []string, hashes [][]byte) {
	for range RecoveryCodeCount {
		raw := recoveryEncoding.EncodeToString(randomBytes(recoveryCodeBytes))
		codes = append(codes, raw[0:4]+"-"+raw[4:8]+"-"+raw[8:12]+"-"+raw[12:16])
		hashes = append(hashes, hashRecoveryCode(userID, raw))
	}
	return codes, hashes
}

// normalRecoveryCode is a recovery code as typed, in its stored form:
// without dashes and spaces, upper case.
func normalRecoveryCode(code string) string {
	return strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(code))
}

func hashRecoveryCode(userID int64, normal string) []byte {
	sum := sha256.Sum256([]byte(strconv.FormatInt(userID, 10) + ":" + normal))
	return sum[:]
}

// SecondFactor is what a login gives besides the password: the app's code
// (Code) or a recovery code. The page's single field may hold either:
// Code of six digits is the app's, anything else a recovery code.
type SecondFactor struct {
	Code         string
	RecoveryCode string
}

// kind names the factor f gives, for the audit log.
// It is the code's kind as secondFactorMatches reads it: a recovery code
// may be typed into the authenticator code's field.
func (f SecondFactor) kind() string {
	if f.RecoveryCode != "" || len(strings.TrimSpace(f.Code)) != totpDigits.Length() {
		return "recovery_code"
	}
	return "totp"
}

// Given reports whether f holds anything.
func (f SecondFactor) Given() bool {
	return strings.TrimSpace(f.Code) != "" || strings.TrimSpace(f.RecoveryCode) != ""
}

// checkSecondFactor checks f against user's second factor, within the
// login throttle: the attempt is counted before it is checked (so that a
// burst of guesses in parallel cannot pass a look at the count together),
// and taken back when it was right.
func (s *Service) checkSecondFactor(ctx context.Context, user models.User, f SecondFactor, clientIP string) error {
	undo, err := s.throttle.Attempt(ctx, user.Name, clientIP)
	if err != nil {
		var throttled *models.ThrottledError
		if errors.As(err, &throttled) {
			s.log.Warn("second factor refused: too many failures", "user", user.Name, "ip", clientIP)
		}
		return err
	}
	ok, err := s.secondFactorMatches(ctx, user, f)
	if err != nil {
		return err
	}
	if !ok {
		s.log.Warn("second factor failed", "user", user.Name, "ip", clientIP)
		s.recordFailedLogin(ctx, user, clientIP, "wrong second factor")
		return models.ErrBadSecondFactor
	}
	return undo(ctx)
}

func (s *Service) secondFactorMatches(ctx context.Context, user models.User, f SecondFactor) (bool, error) {
	code, recovery := strings.TrimSpace(f.Code), f.RecoveryCode
	if f.kind() == "recovery_code" && recovery == "" {
		code, recovery = "", code
	}
	if recovery != "" {
		return s.factors.UseRecoveryCode(ctx, user.ID, hashRecoveryCode(user.ID, normalRecoveryCode(recovery)))
	}
	t, err := s.factors.TOTP(ctx, user.ID)
	if errors.Is(err, models.ErrNoTOTP) {
		return false, nil
	}
	if err != nil || !t.Confirmed {
		return false, err
	}
	secret, err := s.unseal(t)
	if err != nil {
		return false, err
	}
	step, ok := s.matchStep(secret, code, t.LastStep)
	if !ok {
		return false, nil
	}
	return s.factors.UseTOTPStep(ctx, user.ID, step) // false: another request used it first
}
