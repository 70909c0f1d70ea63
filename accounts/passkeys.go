package accounts

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"userhub/auth"
	"userhub/models"
)

// Passkeys (WebAuthn, with github.com/go-webauthn/webauthn): a person
// registers one or more on the security page, each discoverable (kept on
// the authenticator with the account's handle, so that signing in needs no
// name) and user-verified (a fingerprint, a face or a PIN). Signing in with
// one is a complete login: it is something one has and something one is
// or knows at once, so no second step follows.
//
// A ceremony takes two requests: its state (the challenge) is handed to
// the caller as bytes, kept between them where every instance finds it
// (see sessions.Ceremonies), and given back to finish.

// ErrBadPasskey: a passkey sign-in that did not verify (unknown passkey,
// wrong signature, another origin, an expired ceremony).
var ErrBadPasskey = errors.New("the passkey could not be verified")

// ErrPasskeysOff: the relying party is not configured (webauthn.rp_id).
var ErrPasskeysOff = errors.New("passkeys are not available: webauthn.rp_id and webauthn.origins are not set")

// newWebAuthn returns the relying party of rpID and origins, or nil (and
// the reason) when they do not make one.
func newWebAuthn(rpID string, origins []string) (*webauthn.WebAuthn, error) {
	if rpID == "" {
		return nil, ErrPasskeysOff
	}
	return webauthn.New(&webauthn.Config{RPID: rpID, RPDisplayName: "userhub", RPOrigins: origins})
}

// passkeyUser is a user and their passkeys, as the WebAuthn library asks.
type passkeyUser struct {
	user  models.User
	creds []webauthn.Credential
}

func (u passkeyUser) WebAuthnID() []byte                         { return userHandle(u.user.ID) }
func (u passkeyUser) WebAuthnName() string                       { return u.user.Name }
func (u passkeyUser) WebAuthnDisplayName() string                { return u.user.Name }
func (u passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// userHandle is the account's handle a passkey keeps: the user's id, 8
// bytes. It names no one (ids are not names) and never changes, unlike the
// name.
func userHandle(id int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(id))
}

func userOfHandle(h []byte) (int64, bool) {
	if len(h) != 8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(h)), true
}

func (s *Service) relyingParty() (*webauthn.WebAuthn, error) {
	if s.webauthn == nil {
		return nil, fmt.Errorf("%w (%v)", ErrPasskeysOff, s.webauthnErr)
	}
	return s.webauthn, nil
}

// passkeyUserOf returns user with their passkeys.
func (s *Service) passkeyUserOf(ctx context.Context, user models.User) (passkeyUser, error) {
	keys, err := s.passkeys.Passkeys(ctx, user.ID)
	if err != nil {
		return passkeyUser{}, err
	}
	u := passkeyUser{user: user}
	for _, k := range keys {
		var cred webauthn.Credential
		if err := json.Unmarshal(k.Data, &cred); err != nil {
			return passkeyUser{}, fmt.Errorf("passkey of user %d: %w", user.ID, err)
		}
		u.creds = append(u.creds, cred)
	}
	return u, nil
}

// BeginPasskeyRegistration starts registering a passkey for p's account:
// the options for the browser (navigator.credentials.create), and the
// ceremony's state to keep until FinishPasskeyRegistration.
func (s *Service) BeginPasskeyRegistration(ctx context.Context, p auth.Principal) (options, state []byte, err error) {
	if err := mayChangeFactors(p); err != nil {
		return nil, nil, err
	}
	wa, err := s.relyingParty()
	if err != nil {
		return nil, nil, err
	}
	u, err := s.passkeyUserOf(ctx, p.User)
	if err != nil {
		return nil, nil, err
	}
	var exclude []protocol.CredentialDescriptor
	for _, c := range u.creds {
		exclude = append(exclude, c.Descriptor())
	}
	creation, session, err := wa.BeginRegistration(u,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, UserVerification: protocol.VerificationRequired,
		}),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithExclusions(exclude))
	if err != nil {
		return nil, nil, err
	}
	return marshalCeremony(creation, session)
}

func marshalCeremony(options any, session *webauthn.SessionData) ([]byte, []byte, error) {
	o, err := json.Marshal(options)
	if err != nil {
		return nil, nil, err
	}
	st, err := json.Marshal(session)
	return o, st, err
}

// NormalizePasskeyName checks a passkey's name and returns it trimmed.
func NormalizePasskeyName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", models.Invalid("name", "required", "name the passkey (where it lives), e.g. \"work laptop\"")
	case !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return "", models.Invalid("name", "invalid", "the name must be text without control characters")
	case utf8.RuneCountInString(name) > models.MaxPasskeyName:
		return "", models.Invalid("name", "too_long", fmt.Sprintf("the name must be at most %d characters", models.MaxPasskeyName))
	}
	return name, nil
}

// FinishPasskeyRegistration checks the browser's answer (credential, the
// JSON of a PublicKeyCredential) against the ceremony's state and keeps
// the new passkey under name.
func (s *Service) FinishPasskeyRegistration(ctx context.Context, p auth.Principal, name string, state, credential []byte) (models.Passkey, error) {
	if err := mayChangeFactors(p); err != nil {
		return models.Passkey{}, err
	}
	name, err := NormalizePasskeyName(name)
	if err != nil {
		return models.Passkey{}, err
	}
	wa, err := s.relyingParty()
	if err != nil {
		return models.Passkey{}, err
	}
	var session webauthn.SessionData
	if err := json.Unmarshal(state, &session); err != nil {
		return models.Passkey{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBody(bytes.NewReader(credential))
	if err != nil {
		return models.Passkey{}, models.Invalid("credential", "invalid_credential", "the browser's answer is not a passkey: "+err.Error())
	}
	u, err := s.passkeyUserOf(ctx, p.User)
	if err != nil {
		return models.Passkey{}, err
	}
	cred, err := wa.CreateCredential(u, session, parsed)
	if err != nil {
		s.log.Warn("passkey registration refused", "user", p.User.Name, "error", err)
		return models.Passkey{}, models.Invalid("credential", "invalid_credential", "the passkey could not be verified: "+err.Error())
	}
	data, err := json.Marshal(cred)
	if err != nil {
		return models.Passkey{}, err
	}
	k, err := s.passkeys.AddPasskey(audited(ctx, p, models.AuditPasskeyAdded, p.User, map[string]string{"passkey": name}), models.Passkey{ID: cred.ID, UserID: p.User.ID, Name: name, Data: data})
	if err != nil {
		return models.Passkey{}, err
	}
	s.log.Info("passkey registered", "user", p.User.Name, "passkey", name)
	return k, nil
}

// BeginPasskeyLogin starts a passkey sign-in, for anyone: the options for
// the browser (navigator.credentials.get, any of this site's passkeys),
// and the ceremony's state to keep until FinishPasskeyLogin.
func (s *Service) BeginPasskeyLogin() (options, state []byte, err error) {
	wa, err := s.relyingParty()
	if err != nil {
		return nil, nil, err
	}
	assertion, session, err := wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, nil, err
	}
	return marshalCeremony(assertion, session)
}

// FinishPasskeyLogin checks the browser's answer against the ceremony's
// state: the passkey it names must be stored, be the account's its handle
// names, and sign this ceremony's challenge. It is a complete login.
func (s *Service) FinishPasskeyLogin(ctx context.Context, state, credential []byte, clientIP string) (Login, error) {
	wa, err := s.relyingParty()
	if err != nil {
		return Login{}, err
	}
	var session webauthn.SessionData
	if err := json.Unmarshal(state, &session); err != nil {
		return Login{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(bytes.NewReader(credential))
	if err != nil {
		return Login{}, ErrBadPasskey
	}
	var found models.User
	var storeErr error
	lookup := func(rawID, handle []byte) (webauthn.User, error) {
		id, ok := userOfHandle(handle)
		if !ok {
			return nil, ErrBadPasskey
		}
		k, err := s.passkeys.Passkey(ctx, rawID)
		if err != nil || k.UserID != id {
			if err != nil && !errors.Is(err, models.ErrNoPasskey) {
				storeErr = err
			}
			return nil, ErrBadPasskey
		}
		user, err := s.store.User(ctx, id)
		if err != nil {
			if !errors.Is(err, models.ErrNotFound) {
				storeErr = err
			}
			return nil, ErrBadPasskey
		}
		found = user
		return s.passkeyUserOf(ctx, user)
	}
	_, cred, err := wa.ValidatePasskeyLogin(lookup, session, parsed)
	if storeErr != nil {
		return Login{}, storeErr
	}
	if err != nil {
		s.log.Warn("passkey sign-in refused", "ip", clientIP, "error", err)
		s.recordFailedLogin(ctx, found, clientIP, "passkey refused")
		return Login{}, ErrBadPasskey
	}
	if cred.Authenticator.CloneWarning {
		s.log.Warn("passkey sign-in refused: its signature counter went back (a cloned authenticator?)", "user", found.Name, "ip", clientIP)
		s.recordFailedLogin(ctx, found, clientIP, "passkey refused: its signature counter went back (a cloned authenticator?)")
		return Login{}, ErrBadPasskey
	}
	if found.Suspended {
		s.log.Warn("login refused: the account is suspended", "user", found.Name, "ip", clientIP)
		s.recordFailedLogin(ctx, found, clientIP, "the account is suspended")
		return Login{}, models.ErrSuspended
	}
	data, err := json.Marshal(cred)
	if err != nil {
		return Login{}, err
	}
	if err := s.passkeys.PasskeyUsed(ctx, cred.ID, data, s.now().UTC().Truncate(time.Microsecond)); err != nil {
		return Login{}, err
	}
	return s.completed(ctx, found, "passkey", true, clientIP)
}

// Passkeys lists p's passkeys.
func (s *Service) Passkeys(ctx context.Context, p auth.Principal) ([]models.Passkey, error) {
	if !p.LoggedIn() {
		return nil, models.ErrNotAuthenticated
	}
	if s.passkeys == nil {
		return nil, nil
	}
	return s.passkeys.Passkeys(ctx, p.User.ID)
}

// RemovePasskey removes p's passkey id. It does not ask for the password:
// removing a way in leaves the others as strong as they were.
func (s *Service) RemovePasskey(ctx context.Context, p auth.Principal, id []byte) error {
	if err := mayChangeFactors(p); err != nil {
		return err
	}
	if err := s.passkeys.DeletePasskey(audited(ctx, p, models.AuditPasskeyRemoved, p.User, nil), p.User.ID, id); err != nil {
		return err
	}
	s.log.Info("passkey removed", "user", p.User.Name)
	return nil
}
