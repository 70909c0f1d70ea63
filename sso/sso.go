// Package sso is userhub's side of single sign-on through an OpenID
// Connect provider: discovery (at start-up, retried in the background
// until the provider answers), the authorization code flow with PKCE, and
// the ID token's checks (signature through the provider's keys, issuer,
// audience, expiry, nonce), giving an Identity: the provider's issuer and
// subject, a name and groups.
//
// It knows nothing of accounts, sessions or HTTP handlers: the handlers
// keep the flow's state (state, nonce, verifier) between the two requests,
// and the accounts service decides who an Identity is.
package sso

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"userhub/config"
	"userhub/models"
)

// Errors of a sign-in, each answered with its own page.
var (
	// ErrUnavailable: the provider does not answer (discovery has not
	// succeeded yet, or a request to it failed).
	ErrUnavailable = errors.New("the sign-in provider does not answer; try again later, or log in with a password")
	// ErrBadState: the answer's state is not the one this browser's
	// sign-in was started with (forged, from another browser, used, or
	// too old).
	ErrBadState = errors.New("this sign-in answer does not belong to a sign-in started here, or was used already; start again")
	// ErrCodeRefused: the provider refused the authorization code (used
	// already, expired, or not issued to us).
	ErrCodeRefused = errors.New("the provider refused the sign-in code (used already or expired); start again")
	// ErrBadToken: the ID token failed a check (signature, issuer,
	// audience, expiry) or lacks a subject.
	ErrBadToken = errors.New("the provider's ID token is not valid")
	// ErrBadNonce: the ID token was not made for this sign-in (its nonce
	// differs): a replayed or injected token.
	ErrBadNonce = errors.New("the provider's ID token was not issued for this sign-in")
	// ErrDenied: the provider answered with an error (the person
	// cancelled, or is not allowed to use userhub).
	ErrDenied = errors.New("the provider did not sign you in")
)

// Identity is who the provider says signed in: Name is the claim
// oidc.name_claim, Groups the claim oidc.groups_claim.
type Identity = models.OIDCIdentity

// Client signs people in through the configured provider.
type Client struct {
	cfg    config.OIDC
	secret string
	http   *http.Client
	log    *slog.Logger

	mu       sync.RWMutex
	provider *oidc.Provider // nil until discovery succeeds
	verifier *oidc.IDTokenVerifier
	endSess  string
	// discovering holds a token while a discovery runs (the background
	// loop's, or a button's): one at a time.
	discovering chan struct{}
}

// requestTimeout bounds each request to the provider.
const requestTimeout = 10 * time.Second

// New returns a Client for cfg with the client secret (read from
// cfg.ClientSecretFile by the caller when set). Nothing is fetched until
// Start or the first sign-in.
func New(cfg config.OIDC, clientSecret string, log *slog.Logger) *Client {
	return &Client{cfg: cfg, secret: clientSecret, log: log, http: &http.Client{Timeout: requestTimeout}, discovering: make(chan struct{}, 1)}
}

// Name is the provider's name for the button.
func (c *Client) Name() string { return c.cfg.Name }

// Start discovers the provider in the background, retrying (1s, doubling
// up to a minute) until it answers or ctx ends. It never blocks and never
// fails: until discovery succeeds, a sign-in answers ErrUnavailable
// (after one more try of its own).
func (c *Client) Start(ctx context.Context) {
	go func() {
		wait := time.Second
		for {
			if err := c.discover(ctx, true); err == nil {
				return
			} else if ctx.Err() != nil {
				return
			} else {
				c.log.Warn("single sign-on: the provider does not answer; retrying", "issuer", c.cfg.Issuer, "error", err, "retry_in", wait)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, time.Minute)
		}
	}()
}

// Discover fetches the provider's discovery document now (bounded by ctx
// and a request timeout), for `userhub doctor`.
func (c *Client) Discover(ctx context.Context) error { return c.discover(ctx, true) }

// errDiscovering: another discovery is under way (the background loop's,
// or another button's) and did not end in time.
var errDiscovering = errors.New("another discovery of the provider is under way")

// queueWait bounds how long a sign-in waits for another discovery to end:
// clicks on the button while the provider hangs do not queue up.
const queueWait = 2 * time.Second

// discover fetches the provider's discovery document, unless done. With
// wait false it waits at most queueWait for another discovery to end.
func (c *Client) discover(ctx context.Context, wait bool) error {
	var timeout <-chan time.Time
	if !wait {
		timer := time.NewTimer(queueWait)
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case c.discovering <- struct{}{}:
	case <-timeout:
		return errDiscovering
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.discovering }()
	if c.ready() != nil {
		return nil
	}
	dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, c.http), requestTimeout)
	defer cancel()
	p, err := oidc.NewProvider(dctx, c.cfg.Issuer)
	if err != nil {
		return err
	}
	var extra struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_ = p.Claims(&extra) // the document parsed already; a missing field is ""
	// The key set is fetched with our client, and fetched again when a
	// token names a key it does not know (the provider rotated its keys).
	v := p.VerifierContext(oidc.ClientContext(context.Background(), c.http), &oidc.Config{ClientID: c.cfg.ClientID})
	c.mu.Lock()
	c.provider, c.verifier, c.endSess = p, v, extra.EndSession
	c.mu.Unlock()
	c.log.Info("single sign-on: provider discovered", "issuer", c.cfg.Issuer)
	return nil
}

func (c *Client) ready() *oidc.Provider {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.provider
}

// provider returns the discovered provider, trying discovery once more
// (bounded by ctx and requestTimeout) when it has not succeeded yet.
func (c *Client) discovered(ctx context.Context) (*oidc.Provider, error) {
	if p := c.ready(); p != nil {
		return p, nil
	}
	if err := c.discover(ctx, false); err != nil {
		c.log.Warn("single sign-on: the provider does not answer", "issuer", c.cfg.Issuer, "error", err)
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return c.ready(), nil
}

// probeTimeout bounds the check that the provider answers.
const probeTimeout = 5 * time.Second

// probe checks that the provider answers: its discovery document, 200.
func (c *Client) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.cfg.Issuer, "/")+"/.well-known/openid-configuration", nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("discovery document: %s", resp.Status)
	}
	return nil
}

func (c *Client) oauth2(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: c.cfg.ClientID, ClientSecret: c.secret, Endpoint: p.Endpoint(),
		RedirectURL: c.cfg.RedirectURL, Scopes: c.cfg.Scopes}
}

// Flow is what a sign-in keeps between its redirect to the provider and
// the provider's answer: all three random, made by NewFlow.
type Flow struct {
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
}

// NewFlow returns a fresh Flow.
func NewFlow() Flow {
	return Flow{State: oauth2.GenerateVerifier(), Nonce: oauth2.GenerateVerifier(), Verifier: oauth2.GenerateVerifier()}
}

// AuthURL is where to send the browser to sign in for f. The provider is
// asked first whether it answers (its discovery document, within
// probeTimeout): a provider that stopped after it was discovered gets the
// browser our page saying so, not the browser's own connection error.
// With relogin, the provider is asked to have the person sign in again
// (prompt=login), not to vouch for whoever its browser session is: a
// link must be made by the person who is there.
func (c *Client) AuthURL(ctx context.Context, f Flow, relogin bool) (string, error) {
	p, err := c.discovered(ctx)
	if err != nil {
		return "", err
	}
	if err := c.probe(ctx); err != nil {
		return "", c.unavailable(err)
	}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)}
	if relogin {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "login"))
	}
	return c.oauth2(p).AuthCodeURL(f.State, opts...), nil
}

// Finish checks the provider's answer (the callback's query) against f,
// exchanges the code (with f's verifier) and checks the ID token.
func (c *Client) Finish(ctx context.Context, f Flow, query url.Values) (Identity, error) {
	if state := query.Get("state"); f.State == "" || subtle.ConstantTimeCompare([]byte(state), []byte(f.State)) != 1 {
		return Identity{}, ErrBadState
	}
	if e := query.Get("error"); e != "" {
		c.log.Info("single sign-on: the provider answered an error", "error", e, "description", query.Get("error_description"))
		return Identity{}, ErrDenied
	}
	code := query.Get("code")
	if code == "" {
		return Identity{}, ErrCodeRefused
	}
	p, err := c.discovered(ctx)
	if err != nil {
		return Identity{}, err
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.http)
	tok, err := c.oauth2(p).Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			c.log.Warn("single sign-on: the provider refused the code", "error", re.ErrorCode, "description", re.ErrorDescription)
			return Identity{}, ErrCodeRefused
		}
		return Identity{}, c.unavailable(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		c.log.Warn("single sign-on: the token answer has no ID token (is openid among oidc.scopes?)")
		return Identity{}, ErrBadToken
	}
	c.mu.RLock()
	verifier := c.verifier
	c.mu.RUnlock()
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		// go-oidc folds a failure to fetch the keys into its message: a
		// provider that stopped answering is asked, not blamed.
		if isNetwork(err) || c.probe(ctx) != nil {
			return Identity{}, c.unavailable(err)
		}
		c.log.Warn("single sign-on: ID token refused", "error", err)
		return Identity{}, ErrBadToken
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		c.log.Warn("single sign-on: ID token refused: its nonce is not this sign-in's", "subject", idt.Subject)
		return Identity{}, ErrBadNonce
	}
	if idt.Subject == "" {
		return Identity{}, ErrBadToken
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return Identity{}, ErrBadToken
	}
	// Many providers put the profile and groups in the ID token; others
	// only at the userinfo endpoint (for the same subject).
	if _, ok := claims[c.cfg.NameClaim]; !ok || c.wantsGroups(claims) {
		if more, err := c.userinfo(ctx, p, tok, idt.Subject); err == nil {
			for k, v := range more {
				if _, ok := claims[k]; !ok {
					claims[k] = v
				}
			}
		} else {
			c.log.Warn("single sign-on: userinfo not read", "error", err)
		}
	}
	// The configured issuer, not the token's spelling of it: go-oidc takes
	// Google's "accounts.google.com" for "https://accounts.google.com", and
	// links (also those `userhub user link` makes) are keyed by oidc.issuer.
	id := Identity{Issuer: c.cfg.Issuer, Subject: idt.Subject}
	id.Name, _ = claims[c.cfg.NameClaim].(string)
	if c.cfg.GroupsClaim != "" {
		id.Groups, id.HasGroups = groups(claims[c.cfg.GroupsClaim])
	}
	return id, nil
}

// wantsGroups: the roles follow a groups claim the ID token lacks.
func (c *Client) wantsGroups(claims map[string]any) bool {
	if c.cfg.AdminGroup == "" {
		return false
	}
	_, ok := claims[c.cfg.GroupsClaim]
	return !ok
}

func (c *Client) userinfo(ctx context.Context, p *oidc.Provider, tok *oauth2.Token, subject string) (map[string]any, error) {
	if p.UserInfoEndpoint() == "" {
		return nil, errors.New("the provider has no userinfo endpoint")
	}
	ui, err := p.UserInfo(oidc.ClientContext(ctx, c.http), oauth2.StaticTokenSource(tok))
	if err != nil {
		return nil, err
	}
	if ui.Subject != subject {
		return nil, errors.New("userinfo is about another subject")
	}
	claims := map[string]any{}
	return claims, ui.Claims(&claims)
}

// groups reads a groups claim: a list of strings (or one string).
func groups(v any) ([]string, bool) {
	switch v := v.(type) {
	case []any:
		out := make([]string, 0, len(v))
		for _, g := range v {
			if s, ok := g.(string); ok {
				out = append(out, s)
			}
		}
		return out, true
	case string:
		return []string{v}, true
	}
	return nil, false
}

func (c *Client) unavailable(err error) error {
	c.log.Warn("single sign-on: the provider does not answer", "issuer", c.cfg.Issuer, "error", err)
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

func isNetwork(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &oe) || errors.Is(err, context.DeadlineExceeded)
}

// LogoutURL is the provider's end-session endpoint, asked to send the
// browser back to after (registered at the provider as a post-logout
// redirect URI); "" when the provider offers none (or is not discovered).
func (c *Client) LogoutURL(after string) string {
	c.mu.RLock()
	end := c.endSess
	c.mu.RUnlock()
	if end == "" {
		return ""
	}
	u, err := url.Parse(end)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("client_id", c.cfg.ClientID)
	q.Set("post_logout_redirect_uri", after)
	u.RawQuery = q.Encode()
	return u.String()
}
