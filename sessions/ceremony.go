package sessions

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/securecookie"

	"userhub/middleware"
	"userhub/models"
)

// Ceremonies keeps the state of a WebAuthn ceremony (its challenge)
// between its two requests, where every instance finds it: in a
// short-lived cookie, signed and encrypted with keys derived from the
// session secret, so that no server keeps anything for a ceremony begun
// and never finished. Each is used once: its id is recorded among the
// revocations (the database, shared by the instances) when it is taken.
type Ceremonies struct {
	codec       *securecookie.SecureCookie
	revocations models.Revocations
	now         func() time.Time
	spec        ceremonySpec
}

// ceremonySpec is what sets one kind of ceremonies apart: its cookie,
// keys, lifetime and revocation prefix.
type ceremonySpec struct {
	cookie   string
	keyInfo  string // the HKDF info of its keys, followed by " authentication" / " encryption"
	prefix   string // of its ids among the revocations
	lifetime time.Duration
	// sameSite: Strict for passkeys (both requests come from our pages);
	// Lax for single sign-on, whose second request is the provider's
	// redirect, a navigation from another site.
	sameSite http.SameSite
}

var (
	webauthnSpec = ceremonySpec{cookie: ceremonyCookie, keyInfo: "userhub webauthn ceremony", prefix: "webauthn:",
		lifetime: CeremonyLifetime, sameSite: http.SameSiteStrictMode}
	oidcSpec = ceremonySpec{cookie: "userhub_oidc", keyInfo: "userhub oidc flow", prefix: "oidc:",
		lifetime: OIDCFlowLifetime, sameSite: http.SameSiteLaxMode}
)

// ErrNoCeremony: the request carries no ceremony of the kind asked for,
// or one that has expired, been used, or belongs to someone else.
var ErrNoCeremony = errors.New("no passkey ceremony under way: start again")

const (
	ceremonyCookie = "userhub_webauthn"
	// CeremonyLifetime is how long a ceremony may take.
	CeremonyLifetime = 5 * time.Minute
	// OIDCFlowLifetime is how long a sign-in at the provider may take
	// (typing a password, a second factor there).
	OIDCFlowLifetime = 10 * time.Minute
)

// NewCeremonies returns the ceremonies kept with keys from secret, used
// once according to revocations.
func NewCeremonies(secret []byte, revocations models.Revocations) (*Ceremonies, error) {
	return newCeremonies(secret, revocations, webauthnSpec)
}

// NewOIDCFlows returns the same for the single sign-on flows (state,
// nonce and PKCE verifier between the redirect to the provider and its
// answer), in a cookie of their own, with keys of their own, that the
// provider's redirect back brings along (SameSite=Lax).
func NewOIDCFlows(secret []byte, revocations models.Revocations) (*Ceremonies, error) {
	return newCeremonies(secret, revocations, oidcSpec)
}

func newCeremonies(secret []byte, revocations models.Revocations, spec ceremonySpec) (*Ceremonies, error) {
	hashKey, err := hkdf.Key(sha256.New, secret, nil, spec.keyInfo+" authentication", 32)
	if err != nil {
		return nil, err
	}
	blockKey, err := hkdf.Key(sha256.New, secret, nil, spec.keyInfo+" encryption", 32)
	if err != nil {
		return nil, err
	}
	codec := securecookie.New(hashKey, blockKey).MaxAge(int(spec.lifetime.Seconds())).SetSerializer(securecookie.JSONEncoder{})
	return &Ceremonies{codec: codec, revocations: revocations, now: time.Now, spec: spec}, nil
}

// ceremony is what the cookie holds.
type ceremony struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"` // "register", "login"
	UserID int64  `json:"uid"`  // 0 for a login
	State  []byte `json:"state"`
}

func (cs *Ceremonies) cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: cs.spec.cookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: middleware.IsHTTPS(r), SameSite: cs.spec.sameSite}
}

// Put keeps state for a ceremony of kind, for userID (0: anyone), in the
// answer's cookie.
func (cs *Ceremonies) Put(c *gin.Context, kind string, userID int64, state []byte) error {
	value, err := cs.codec.Encode(cs.spec.cookie, ceremony{ID: rand.Text(), Kind: kind, UserID: userID, State: state})
	if err != nil {
		return err
	}
	http.SetCookie(c.Writer, cs.cookie(c.Request, value, int(cs.spec.lifetime.Seconds())))
	return nil
}

// Take returns the state of the request's ceremony of kind for userID,
// and makes it unusable: the cookie is deleted and its id revoked.
func (cs *Ceremonies) Take(c *gin.Context, kind string, userID int64) ([]byte, error) {
	http.SetCookie(c.Writer, cs.cookie(c.Request, "", -1))
	got, err := c.Request.Cookie(cs.spec.cookie)
	if err != nil {
		return nil, ErrNoCeremony
	}
	var cer ceremony
	if err := cs.codec.Decode(cs.spec.cookie, got.Value, &cer); err != nil || cer.Kind != kind || cer.UserID != userID || cer.ID == "" {
		return nil, ErrNoCeremony
	}
	// Taken by the one request whose revocation of its id comes first,
	// in the database: two at once, on any instances, get one answer.
	first, err := cs.revocations.RevokeSession(c.Request.Context(), cs.spec.prefix+cer.ID, cs.now().Add(cs.spec.lifetime+models.MaxClockSkew))
	if err != nil {
		return nil, err
	}
	if !first {
		return nil, ErrNoCeremony
	}
	return cer.State, nil
}
