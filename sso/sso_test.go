package sso

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"userhub/config"
	"userhub/e2e/oidcprovider"
)

// syncBuffer is a log that tests read while the client writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func settings(issuer string) config.OIDC {
	c := config.Default().OIDC
	c.Issuer, c.ClientID, c.RedirectURL = issuer, oidcprovider.ClientID, "http://127.0.0.1:1/login/oidc/callback"
	return c
}

// TestDiscoveryRetries: a provider that does not answer at start-up makes
// AuthURL say so (ErrUnavailable), never blocks Start, and is found by
// the background retries once it answers; stopped again, AuthURL says so
// again.
func TestDiscoveryRetries(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody answers there yet
	issuer := "http://" + addr + "/"
	logged := &syncBuffer{}
	c := New(settings(issuer), oidcprovider.ClientSecret, slog.New(slog.NewTextHandler(logged, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.Start(ctx)
	// The background discovery has failed once, and will retry.
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logged.String(), "retrying"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no failed discovery logged: %s", logged.String())
		}
	}
	if _, err := c.AuthURL(ctx, NewFlow(), false); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("AuthURL with the provider down: %v, want ErrUnavailable", err)
	}
	if c.LogoutURL("http://127.0.0.1:1/login") != "" {
		t.Error("a logout URL before discovery")
	}
	if ln, err = net.Listen("tcp", addr); err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	p, err := oidcprovider.Start(oidcprovider.Options{Listener: ln, Issuer: issuer, RedirectURIs: []string{"http://127.0.0.1:1/login/oidc/callback"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// The background loop retries after 1 s, 2 s, 4 s...: wait for it
	// (bounded), without asking AuthURL, which would discover by itself.
	for deadline := time.Now().Add(30 * time.Second); c.ready() == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the background discovery did not find the provider within 30 s")
		}
	}
	to, err := c.AuthURL(ctx, Flow{State: "s", Nonce: "n", Verifier: "v-0123456789012345678901234567890123456789"}, false)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(to)
	q := u.Query()
	if q.Get("state") != "s" || q.Get("nonce") != "n" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" ||
		q.Get("client_id") != oidcprovider.ClientID || q.Get("scope") != "openid profile email" {
		t.Errorf("the authorization URL: %s", to)
	}
	logout, _ := url.Parse(c.LogoutURL("http://127.0.0.1:1/login"))
	if logout == nil || logout.Query().Get("post_logout_redirect_uri") != "http://127.0.0.1:1/login" || logout.Query().Get("client_id") != oidcprovider.ClientID {
		t.Errorf("the logout URL: %v", logout)
	}
	// Stopped after discovery: AuthURL says so, rather than send the
	// browser to a provider that does not answer.
	p.Close()
	if _, err := c.AuthURL(ctx, NewFlow(), false); !errors.Is(err, ErrUnavailable) {
		t.Errorf("AuthURL with the provider stopped: %v, want ErrUnavailable", err)
	}
}

// TestFinishChecksStateFirst: an answer is refused on its state before
// anything is asked of the provider (which is not even there).
func TestFinishChecksStateFirst(t *testing.T) {
	c := New(settings("http://127.0.0.1:1/"), "x", slog.New(slog.DiscardHandler))
	f := Flow{State: "right", Nonce: "n", Verifier: "v"}
	for _, q := range []url.Values{
		{"state": {"wrong"}, "code": {"c"}},
		{"code": {"c"}},
		{"state": {""}},
	} {
		if _, err := c.Finish(context.Background(), f, q); !errors.Is(err, ErrBadState) {
			t.Errorf("%v: %v, want ErrBadState", q, err)
		}
	}
	if _, err := c.Finish(context.Background(), Flow{}, url.Values{"state": {""}}); !errors.Is(err, ErrBadState) {
		t.Errorf("an empty flow: %v", err)
	}
	if _, err := c.Finish(context.Background(), f, url.Values{"state": {"right"}, "error": {"access_denied"}}); !errors.Is(err, ErrDenied) {
		t.Errorf("the provider's error: %v", err)
	}
	if _, err := c.Finish(context.Background(), f, url.Values{"state": {"right"}}); !errors.Is(err, ErrCodeRefused) {
		t.Errorf("no code: %v", err)
	}
}

func TestGroupsClaim(t *testing.T) {
	for _, tt := range []struct {
		in   any
		want []string
		ok   bool
	}{
		{[]any{"a", "b", 3}, []string{"a", "b"}, true},
		{[]any{}, []string{}, true},
		{"solo", []string{"solo"}, true},
		{nil, nil, false},
		{map[string]any{"a": 1}, nil, false},
	} {
		got, ok := groups(tt.in)
		if ok != tt.ok || len(got) != len(tt.want) {
			t.Errorf("groups(%v) = %v, %v", tt.in, got, ok)
		}
	}
}
