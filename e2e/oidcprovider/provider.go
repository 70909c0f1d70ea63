// Package oidcprovider is a real OpenID Connect provider for userhub's
// tests: zitadel/oidc's op package (an OpenID-certified provider library)
// over its example's in-memory storage, with a client for userhub, a few
// users with a groups claim, and a plain sign-in page for a browser (or a
// test's HTTP client) to fill in. It serves on a listener the test gives
// it (on loopback) and never reaches anything else.
//
// It is for tests only: plain-text passwords, keys made at start, and one
// user, mallory, whose ID tokens carry a nonce other than the one her
// sign-in asked for (a replayed or injected token), which userhub must
// refuse.
package oidcprovider

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// User is a person the provider knows.
type User struct {
	ID, Username, Password string
	Groups                 []string
}

// The users every provider has: alice is in the admins group, bob is not,
// and mallory's tokens have a wrong nonce.
var (
	Alice   = User{ID: "sub-alice", Username: "alice", Password: "alice-provider-pw", Groups: []string{"admins", "staff"}}
	Bob     = User{ID: "sub-bob", Username: "bob", Password: "bob-provider-pw", Groups: []string{"staff"}}
	Mallory = User{ID: "sub-mallory", Username: "mallory", Password: "mallory-provider-pw", Groups: []string{"staff"}}
)

// AdminGroup is the group whose members userhub should make admins.
const AdminGroup = "admins"

// Client credentials of userhub at this provider.
const (
	ClientID     = "userhub"
	ClientSecret = "userhub-test-secret"
)

// Options configure a Provider.
type Options struct {
	// Listener is where it serves (127.0.0.1:port).
	Listener net.Listener
	// Issuer is its issuer URL, e.g. http://localhost:port/ (a host other
	// than userhub's makes its redirect back a cross-site navigation, as
	// in real life).
	Issuer string
	// RedirectURIs are userhub's callbacks; PostLogoutRedirectURIs where
	// its end-session endpoint may send the browser back to.
	RedirectURIs, PostLogoutRedirectURIs []string
	// Users default to Alice, Bob and Mallory.
	Users []User
}

// Provider is a running provider.
type Provider struct {
	Issuer string
	server *http.Server
	done   chan struct{}
	store  *store
}

// Start serves a provider on o.Listener until Close.
func Start(o Options) (*Provider, error) {
	if o.Users == nil {
		o.Users = []User{Alice, Bob, Mallory}
	}
	users := userStore{}
	for _, u := range o.Users {
		users[u.ID] = u
	}
	web := storage.WebClient(ClientID, ClientSecret, o.RedirectURIs...)
	st := &store{Storage: storage.NewStorageWithClients(users, map[string]*storage.Client{ClientID: web}),
		users: users, client: &client{Client: web, postLogout: o.PostLogoutRedirectURIs}}
	if err := st.keys.rotate(); err != nil {
		return nil, err
	}
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	quiet := slog.New(slog.DiscardHandler)
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:                key,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		DefaultLogoutRedirectURI: "/logged-out",
		SupportedUILocales:       []language.Tag{language.English},
	}, st, op.StaticIssuer(o.Issuer), op.WithAllowInsecure(), op.WithLogger(quiet))
	if err != nil {
		return nil, err
	}
	interceptor := op.NewIssuerInterceptor(provider.IssuerFromRequest)
	callback := op.AuthCallbackURL(provider)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/username", func(w http.ResponseWriter, r *http.Request) {
		signInPage(w, r.FormValue("authRequestID"), "")
	})
	mux.HandleFunc("POST /login/username", interceptor.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.FormValue("id")
		if err := st.CheckUsernamePassword(r.FormValue("username"), r.FormValue("password"), id); err != nil {
			signInPage(w, id, "Wrong user name or password.")
			return
		}
		http.Redirect(w, r, callback(r.Context(), id), http.StatusFound)
	}))
	mux.HandleFunc("GET /logged-out", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("signed out of the test provider"))
	})
	mux.Handle("/", provider)
	p := &Provider{Issuer: o.Issuer, done: make(chan struct{}), store: st,
		server: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		defer close(p.done)
		p.server.Serve(o.Listener)
	}()
	return p, nil
}

// RotateKeys signs from now on with a new key, published beside the old
// one, as providers rotate their keys.
func (p *Provider) RotateKeys() error { return p.store.keys.rotate() }

// SignWithUnpublishedKey makes the provider sign tokens with a key it does
// not publish (a forged signature), until called with false.
func (p *Provider) SignWithUnpublishedKey(on bool) error { return p.store.keys.forge(on) }

// Close stops the provider: its port refuses connections after, and a
// browser's connections still open are cut after a second.
func (p *Provider) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := p.server.Shutdown(ctx); err != nil {
		p.server.Close()
	}
	<-p.done
	return nil
}

var page = template.Must(template.New("").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test provider: sign in</title></head>
<body><h1>Sign in to the test provider</h1>
{{with .Error}}<p id="provider-error">{{.}}</p>{{end}}
<form method="post" action="/login/username">
<input type="hidden" name="id" value="{{.ID}}">
<label for="username">User name</label> <input id="username" name="username" autocomplete="username">
<label for="password">Password</label> <input id="password" name="password" type="password">
<button type="submit" id="provider-submit">Sign in</button>
</form></body></html>`))

func signInPage(w http.ResponseWriter, id, errText string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	page.Execute(w, struct{ ID, Error string }{id, errText})
}

// userStore is the example storage's user store over our users.
type userStore map[string]User

func (u userStore) GetUserByID(id string) *storage.User {
	if x, ok := u[id]; ok {
		return toStorage(x)
	}
	return nil
}

func (u userStore) GetUserByUsername(name string) *storage.User {
	for _, x := range u {
		if x.Username == name {
			return toStorage(x)
		}
	}
	return nil
}

func (userStore) ExampleClientID() string { return storage.ServiceUserID }

func toStorage(u User) *storage.User {
	return &storage.User{ID: u.ID, Username: u.Username, Password: u.Password, FirstName: u.Username,
		Email: u.Username + "@provider.test", EmailVerified: true, PreferredLanguage: language.English}
}

// store is the example's storage with a groups claim (in the ID token
// and at userinfo), our client, mallory's wrong nonce, and keys that
// rotate.
type store struct {
	*storage.Storage
	users  userStore
	client *client
	keys   keys
}

// keys are the provider's signing keys: the newest signs, all are
// published; rogue, when set, signs and is not published.
type keys struct {
	mu        sync.Mutex
	published []*rsaKey
	rogue     *rsaKey
}

func newKey() (*rsaKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return &rsaKey{id: rand.Text(), key: k}, nil
}

func (k *keys) rotate() error {
	key, err := newKey()
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.published = append(k.published, key)
	return nil
}

func (k *keys) forge(on bool) error {
	var key *rsaKey
	if on {
		var err error
		if key, err = newKey(); err != nil {
			return err
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.rogue = key
	return nil
}

func (s *store) SigningKey(ctx context.Context) (op.SigningKey, error) {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	if s.keys.rogue != nil {
		return s.keys.rogue, nil
	}
	return s.keys.published[len(s.keys.published)-1], nil
}

func (s *store) KeySet(ctx context.Context) ([]op.Key, error) {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	out := make([]op.Key, 0, len(s.keys.published))
	for _, k := range s.keys.published {
		out = append(out, publicKey{k})
	}
	return out, nil
}

// rsaKey is an RS256 signing key (op.SigningKey); publicKey its public
// half (op.Key).
type rsaKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *rsaKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *rsaKey) Key() any                                    { return k.key }
func (k *rsaKey) ID() string                                  { return k.id }

type publicKey struct{ k *rsaKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return &p.k.key.PublicKey }

func (s *store) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	if id != ClientID {
		return nil, errors.New("no such client")
	}
	return s.client, nil
}

func (s *store) groups(info *oidc.UserInfo, userID string) {
	if u, ok := s.users[userID]; ok {
		info.AppendClaims("groups", slices.Clone(u.Groups))
	}
}

func (s *store) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	s.groups(info, req.GetSubject())
	return nil
}

func (s *store) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	s.groups(info, info.Subject)
	return nil
}

func (s *store) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	req, err := s.Storage.AuthRequestByCode(ctx, code)
	if err != nil {
		return nil, err
	}
	if r, ok := req.(*storage.AuthRequest); ok && r.UserID == Mallory.ID {
		r.Nonce = "not-the-nonce-asked-for"
	}
	return req, nil
}

// client is the example's web client (code flow, secret) that may also
// ask for the groups scope and be sent back after logout.
type client struct {
	*storage.Client
	postLogout []string
}

func (c *client) PostLogoutRedirectURIs() []string { return c.postLogout }

func (c *client) IsScopeAllowed(scope string) bool {
	return scope == "groups" || c.Client.IsScopeAllowed(scope)
}
