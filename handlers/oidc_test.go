package handlers_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"userhub/config"
	"userhub/e2e/oidcprovider"
	"userhub/models"
)

// ssoWorld is userhub (over HTTP, on loopback) and a real OpenID Connect
// provider (zitadel/oidc, e2e/oidcprovider) on another loopback port, with
// kim (admin) and lee (member) holding passwords.
type ssoWorld struct {
	app      app
	base     string // userhub's http://127.0.0.1:port
	provider *oidcprovider.Provider
}

// newSSOWorld starts both; adjust changes userhub's settings. With
// providerDown, the issuer's port refuses connections.
func newSSOWorld(t *testing.T, providerDown bool, adjust ...func(*config.Config)) ssoWorld {
	t.Helper()
	uh, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := ssoWorld{base: "http://" + uh.Addr().String()}
	// The provider is "localhost" and userhub 127.0.0.1: two sites, as in
	// real life (the callback is a cross-site navigation).
	issuer := "http://localhost:" + portOf(pl.Addr()) + "/"
	redirect := w.base + "/login/oidc/callback"
	if providerDown {
		pl.Close()
	} else {
		w.provider, err = oidcprovider.Start(oidcprovider.Options{Listener: pl, Issuer: issuer,
			RedirectURIs: []string{redirect}, PostLogoutRedirectURIs: []string{w.base + "/login"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.provider.Close() })
	}
	w.app = newApp(t, append([]func(*config.Config){func(c *config.Config) {
		c.OIDC.Issuer, c.OIDC.Name = issuer, "Test ID"
		c.OIDC.ClientID, c.OIDC.ClientSecret = oidcprovider.ClientID, oidcprovider.ClientSecret
		c.OIDC.RedirectURL = redirect
		c.OIDC.AdminGroup = oidcprovider.AdminGroup
		c.OIDC.CreateUsers = true
	}}, adjust...)...)
	if err := w.app.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	users("kim", "lee")(t, w.app)
	srv := httptest.NewUnstartedServer(w.app.handler)
	srv.Listener.Close()
	srv.Listener = uh
	srv.Start()
	t.Cleanup(srv.Close)
	return w
}

func portOf(a net.Addr) string { return strconv.Itoa(a.(*net.TCPAddr).Port) }

// browser is an HTTP client with cookies, as a browser would be.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

// fetch fetches u (following redirects) and returns the last answer's
// status, its URL and body.
func fetch(t *testing.T, c *http.Client, u string) (int, *url.URL, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Request.URL, string(body)
}

// signInAtProvider starts a sign-in in c, signs in at the provider as u,
// and returns the provider's answer: the callback URL, not yet visited.
func (w ssoWorld) signInAtProvider(t *testing.T, c *http.Client, start string, u oidcprovider.User) *url.URL {
	t.Helper()
	status, at, body := fetch(t, c, start)
	if status != 200 || !strings.Contains(body, `id="provider-submit"`) {
		t.Fatalf("%s: %d at %s, want the provider's sign-in page: %.300s", start, status, at, body)
	}
	return w.submitAtProvider(t, c, at, u)
}

func (w ssoWorld) submitAtProvider(t *testing.T, c *http.Client, at *url.URL, u oidcprovider.User) *url.URL {
	t.Helper()
	noFollow := *c
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	form := url.Values{"id": {at.Query().Get("authRequestID")}, "username": {u.Username}, "password": {u.Password}}
	resp, err := noFollow.PostForm(at.ResolveReference(&url.URL{Path: "/login/username"}).String(), form)
	for {
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, lerr := resp.Location()
		if lerr != nil {
			t.Fatalf("the provider answered %d without a redirect", resp.StatusCode)
		}
		if loc.Path == "/login/oidc/callback" {
			return loc
		}
		resp, err = noFollow.Get(loc.String())
	}
}

// loggedInAs returns the name on the user list for c, "" when c is not
// logged in.
func (w ssoWorld) loggedInAs(t *testing.T, c *http.Client) string {
	t.Helper()
	status, at, body := fetch(t, c, w.base+"/api/v1/me")
	if status != 200 || at.Path != "/api/v1/me" {
		return ""
	}
	_, name, _ := strings.Cut(body, `"name":"`)
	name, _, _ = strings.Cut(name, `"`)
	return name
}

func (w ssoWorld) role(t *testing.T, name string) models.Role {
	t.Helper()
	u, err := w.app.db.UserByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u.Role
}

// TestOIDCLoginThroughProvider: the button leads to the provider; signing
// in there lands on the user list, logged in under the provider's name;
// the admin group makes an admin, another user a member; a second sign-in
// finds the same account. On each session store.
func TestOIDCLoginThroughProvider(t *testing.T) {
	onEachSessionStore(t, testOIDCLogin)
}

func testOIDCLogin(t *testing.T, sessions func(*config.Config)) {
	w := newSSOWorld(t, false, sessions)
	_, _, page := fetch(t, browser(t), w.base+"/login")
	if !strings.Contains(page, `id="oidc-login"`) || !strings.Contains(page, "Sign in with Test ID") || !strings.Contains(page, `id="login-form"`) {
		t.Fatalf("the login page has no provider button or no password form: %.2000s", page)
	}
	for _, tt := range []struct {
		user oidcprovider.User
		role models.Role
	}{{oidcprovider.Alice, models.RoleAdmin}, {oidcprovider.Bob, models.RoleMember}, {oidcprovider.Alice, models.RoleAdmin}} {
		c := browser(t)
		cb := w.signInAtProvider(t, c, w.base+"/login/oidc", tt.user)
		status, at, body := fetch(t, c, cb.String())
		if status != 200 || at.Path != "/" || !strings.Contains(body, tt.user.Username) {
			t.Fatalf("%s: the callback ended at %d %s, want the user list: %.500s", tt.user.Username, status, at, body)
		}
		if got := w.loggedInAs(t, c); got != tt.user.Username {
			t.Errorf("logged in as %q, want %q", got, tt.user.Username)
		}
		if got := w.role(t, tt.user.Username); got != tt.role {
			t.Errorf("%s is %s, want %s", tt.user.Username, got, tt.role)
		}
	}
	if n, err := w.app.db.CountUsers(context.Background(), models.Filter{}); err != nil || n != 4 {
		t.Errorf("%d users (%v), want 4: kim, lee, alice, bob", n, err)
	}
}

// TestOIDCRefusals: a forged state, a replayed answer, a reused code and
// a token with another nonce are each refused with their own page, and
// none logs anyone in.
func TestOIDCRefusals(t *testing.T) {
	w := newSSOWorld(t, false)
	refused := func(t *testing.T, c *http.Client, u string, status int, text string) {
		t.Helper()
		got, at, body := fetch(t, c, u)
		if got != status || at.Path != "/login/oidc/callback" || !strings.Contains(body, text) {
			t.Errorf("%s: %d at %s, want %d with %q: %.1500s", u, got, at, status, text, body)
		}
		if name := w.loggedInAs(t, c); name != "" {
			t.Errorf("logged in as %s after a refused sign-in", name)
		}
	}
	t.Run("ForgedState", func(t *testing.T) {
		c := browser(t)
		cb := w.signInAtProvider(t, c, w.base+"/login/oidc", oidcprovider.Alice)
		q := cb.Query()
		q.Set("state", "forged-"+q.Get("state"))
		cb.RawQuery = q.Encode()
		refused(t, c, cb.String(), 400, "does not belong to a sign-in started in this browser")
	})
	t.Run("NoFlowInThisBrowser", func(t *testing.T) {
		cb := w.signInAtProvider(t, browser(t), w.base+"/login/oidc", oidcprovider.Alice)
		refused(t, browser(t), cb.String(), 400, "does not belong to a sign-in started in this browser")
	})
	t.Run("ReplayedAnswer", func(t *testing.T) {
		c := browser(t)
		cb := w.signInAtProvider(t, c, w.base+"/login/oidc", oidcprovider.Bob)
		base, _ := url.Parse(w.base)
		flowCookies := c.Jar.Cookies(base)
		if _, _, _ = fetch(t, c, cb.String()); w.loggedInAs(t, c) != "bob" {
			t.Fatal("the first use of the answer did not log bob in")
		}
		// Another browser with the same flow cookie and the same answer.
		other := browser(t)
		other.Jar.SetCookies(base, flowCookies)
		refused(t, other, cb.String(), 400, "was used already")
	})
	t.Run("ReusedCode", func(t *testing.T) {
		c := browser(t)
		cb := w.signInAtProvider(t, c, w.base+"/login/oidc", oidcprovider.Bob)
		if _, _, _ = fetch(t, c, cb.String()); w.loggedInAs(t, c) != "bob" {
			t.Fatal("the first use of the code did not log bob in")
		}
		// A fresh flow in another browser, answered with the used code.
		other := browser(t)
		noFollow := *other
		noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := noFollow.Get(w.base + "/login/oidc")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		toProvider, _ := resp.Location()
		q := url.Values{"code": {cb.Query().Get("code")}, "state": {toProvider.Query().Get("state")}}
		refused(t, other, w.base+"/login/oidc/callback?"+q.Encode(), 400, "refused the sign-in code")
	})
	t.Run("WrongNonce", func(t *testing.T) {
		c := browser(t)
		cb := w.signInAtProvider(t, c, w.base+"/login/oidc", oidcprovider.Mallory)
		refused(t, c, cb.String(), 400, "was not made for this sign-in")
	})
	t.Run("ProviderError", func(t *testing.T) {
		c := browser(t)
		noFollow := *c
		noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := noFollow.Get(w.base + "/login/oidc")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		toProvider, _ := resp.Location()
		q := url.Values{"error": {"access_denied"}, "state": {toProvider.Query().Get("state")}}
		refused(t, c, w.base+"/login/oidc/callback?"+q.Encode(), 403, "did not sign you in")
	})
	t.Run("Garbage", func(t *testing.T) {
		refused(t, browser(t), w.base+"/login/oidc/callback?state=%ff%00&code="+strings.Repeat("x", 5000), 400, "Start again")
	})
	if n, err := w.app.db.CountUsers(context.Background(), models.Filter{}); err != nil || n != 3 {
		t.Errorf("%d users (%v), want 3: kim, lee, and bob from his own sign-ins", n, err)
	}
}

// TestOIDCNotLinked: without create_users, a person with no linked
// account is told to ask an administrator, and is not logged in.
func TestOIDCNotLinked(t *testing.T) {
	w := newSSOWorld(t, false, func(c *config.Config) { c.OIDC.CreateUsers = false })
	c := browser(t)
	cb := w.signInAtProvider(t, c, w.base+"/login/oidc", oidcprovider.Alice)
	status, _, body := fetch(t, c, cb.String())
	if status != 403 || !strings.Contains(body, "Ask an administrator") {
		t.Errorf("unlinked: %d %.1500s", status, body)
	}
	if w.loggedInAs(t, c) != "" {
		t.Error("logged in")
	}
}

// TestOIDCLinkAndUnlink: lee links her account from /account/security by
// signing in at the provider as bob; bob's sign-ins are then lee's; the
// link goes while lee has a password; an account made by the provider
// cannot lose its only way in.
func TestOIDCLinkAndUnlink(t *testing.T) {
	w := newSSOWorld(t, false)
	lee := browser(t)
	if resp, err := lee.PostForm(w.base+"/login", url.Values{"name": {"lee"}, "password": {testPassword}}); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	if w.loggedInAs(t, lee) != "lee" {
		t.Fatal("lee's password login failed")
	}
	_, _, page := fetch(t, lee, w.base+"/account/security")
	if !strings.Contains(page, `id="oidc-link"`) || !strings.Contains(page, "Link with Test ID") {
		t.Fatalf("no link button: %.3000s", page)
	}
	// Linking starts only from this site's page (the browser says so),
	// never from a link on another site.
	for _, site := range []string{"", "cross-site", "same-site"} {
		req, _ := http.NewRequest("GET", w.base+"/account/security/oidc/link", nil)
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
		}
		resp, err := lee.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || resp.Request.URL.Path != "/account/security/oidc/link" || !strings.Contains(string(body), "Start from your security page") {
			t.Fatalf("a link begun with Sec-Fetch-Site %q: %d at %s %.500s", site, resp.StatusCode, resp.Request.URL, body)
		}
	}
	noFollow := *lee
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, _ := http.NewRequest("GET", w.base+"/account/security/oidc/link", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	to, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusSeeOther || to.Query().Get("prompt") != "login" {
		t.Fatalf("the link's way to the provider: %d %s, want a 303 asking for a fresh login (prompt=login)", resp.StatusCode, to)
	}
	_, atProvider, _ := fetch(t, lee, to.String())
	cb := w.submitAtProvider(t, lee, atProvider, oidcprovider.Bob)
	status, at, body := fetch(t, lee, cb.String())
	if status != 200 || at.Path != "/account/security" || !strings.Contains(body, "Your account is linked") || !strings.Contains(body, oidcprovider.Bob.ID) {
		t.Fatalf("after linking: %d %s %.3000s", status, at, body)
	}
	// bob at the provider is lee here now.
	c := browser(t)
	fetch(t, c, w.signInAtProvider(t, c, w.base+"/login/oidc", oidcprovider.Bob).String())
	if got := w.loggedInAs(t, c); got != "lee" {
		t.Fatalf("bob's sign-in logged in %q, want lee", got)
	}
	if w.role(t, "lee") != models.RoleMember {
		t.Error("lee's role changed")
	}
	// alice, made by the provider, has no other way in.
	alice := browser(t)
	fetch(t, alice, w.signInAtProvider(t, alice, w.base+"/login/oidc", oidcprovider.Alice).String())
	resp, err = alice.PostForm(w.base+"/account/security/oidc/unlink", url.Values{"issuer": {w.provider.Issuer}, "subject": {oidcprovider.Alice.ID}})
	if err != nil {
		t.Fatal(err)
	}
	body2, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 409 || !strings.Contains(string(body2), "Add a passkey first, or ask an administrator to set a password") {
		t.Errorf("alice unlinking her only way in: %d %.1500s", resp.StatusCode, body2)
	}
	resp, err = lee.PostForm(w.base+"/account/security/oidc/unlink", url.Values{"issuer": {w.provider.Issuer}, "subject": {oidcprovider.Bob.ID}})
	if err != nil {
		t.Fatal(err)
	}
	body2, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body2), "The link is removed") {
		t.Errorf("lee unlinking: %d %.1500s", resp.StatusCode, body2)
	}
}

// TestOIDCPasswordLoginOff: oidc.disable_password_login hides the form
// and refuses the right password, on the page and the API.
func TestOIDCPasswordLoginOff(t *testing.T) {
	w := newSSOWorld(t, false, func(c *config.Config) { c.OIDC.DisablePasswordLogin = true })
	c := browser(t)
	_, _, page := fetch(t, c, w.base+"/login")
	if strings.Contains(page, `id="login-form"`) || strings.Contains(page, `name="password"`) || !strings.Contains(page, `id="oidc-login"`) {
		t.Errorf("the login page still offers a password: %.3000s", page)
	}
	resp, err := c.PostForm(w.base+"/login", url.Values{"name": {"kim"}, "password": {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "Passwords are turned off") {
		t.Errorf("POST /login: %d %.1500s", resp.StatusCode, body)
	}
	resp, err = c.Post(w.base+"/api/v1/login", "application/json", strings.NewReader(`{"name":"kim","password":"`+testPassword+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "password_login_off") {
		t.Errorf("POST /api/v1/login: %d %s", resp.StatusCode, body)
	}
	if w.loggedInAs(t, c) != "" {
		t.Error("logged in with a password")
	}
}

// TestOIDCProviderDown: with the provider not answering, /login renders,
// the button answers a page saying the provider does not answer, and the
// password still logs in.
func TestOIDCProviderDown(t *testing.T) {
	w := newSSOWorld(t, true)
	c := browser(t)
	status, _, page := fetch(t, c, w.base+"/login")
	if status != 200 || !strings.Contains(page, `id="oidc-login"`) {
		t.Fatalf("/login: %d %.1000s", status, page)
	}
	status, _, page = fetch(t, c, w.base+"/login/oidc")
	if status != 503 || !strings.Contains(page, "The sign-in provider does not answer") {
		t.Errorf("the button: %d %.1500s", status, page)
	}
	resp, err := c.PostForm(w.base+"/login", url.Values{"name": {"kim"}, "password": {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if w.loggedInAs(t, c) != "kim" {
		t.Error("the password login failed while the provider is down")
	}
}

// TestOIDCLogoutAtProvider: after logging out, the login page offers the
// provider's logout (RP-initiated, with our client id), which the provider
// accepts and which sends the browser back to our login page.
func TestOIDCLogoutAtProvider(t *testing.T) {
	w := newSSOWorld(t, false)
	c := browser(t)
	fetch(t, c, w.signInAtProvider(t, c, w.base+"/login/oidc", oidcprovider.Bob).String())
	resp, err := c.PostForm(w.base+"/logout", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if w.loggedInAs(t, c) != "" || !strings.Contains(string(body), "Also sign out of Test ID") {
		t.Fatalf("after logout: %s %.2000s", resp.Request.URL, body)
	}
	_, href, _ := strings.Cut(string(body), `id="oidc-logout"><a href="`)
	href, _, _ = strings.Cut(href, `"`)
	href = strings.ReplaceAll(href, "&amp;", "&")
	end, err := url.Parse(href)
	if err != nil || !strings.HasPrefix(href, w.provider.Issuer) || end.Query().Get("client_id") != oidcprovider.ClientID ||
		end.Query().Get("post_logout_redirect_uri") != w.base+"/login" {
		t.Fatalf("the provider's logout link: %q", href)
	}
	status, at, page := fetch(t, c, href)
	if status != 200 || at.String() != w.base+"/login" || !strings.Contains(page, `id="oidc-login"`) {
		t.Errorf("after the provider's logout: %d at %s", status, at)
	}
	// Without a logout, no such link.
	_, _, page = fetch(t, browser(t), w.base+"/login")
	if strings.Contains(page, "oidc-logout") {
		t.Error("the provider's logout offered on a plain visit")
	}
}

// TestOIDCKeyRotation: the ID token's signature is checked with the
// provider's published keys: a rotation (a new key, announced in its
// JWKS) is followed, and a token signed with a key the provider does not
// publish is refused.
func TestOIDCKeyRotation(t *testing.T) {
	w := newSSOWorld(t, false)
	login := func(u oidcprovider.User) (*http.Client, int, string) {
		t.Helper()
		c := browser(t)
		status, _, body := fetch(t, c, w.signInAtProvider(t, c, w.base+"/login/oidc", u).String())
		return c, status, body
	}
	if c, status, _ := login(oidcprovider.Alice); status != 200 || w.loggedInAs(t, c) != "alice" {
		t.Fatalf("before the rotation: %d", status)
	}
	if err := w.provider.RotateKeys(); err != nil {
		t.Fatal(err)
	}
	if c, status, body := login(oidcprovider.Bob); status != 200 || w.loggedInAs(t, c) != "bob" {
		t.Fatalf("after the rotation: %d %.1000s", status, body)
	}
	if err := w.provider.SignWithUnpublishedKey(true); err != nil {
		t.Fatal(err)
	}
	c, status, body := login(oidcprovider.Alice)
	if status != 400 || !strings.Contains(body, "did not pass its checks") || w.loggedInAs(t, c) != "" {
		t.Errorf("a token signed with an unpublished key: %d %.1000s", status, body)
	}
	if err := w.provider.SignWithUnpublishedKey(false); err != nil {
		t.Fatal(err)
	}
	if c, status, _ := login(oidcprovider.Alice); status != 200 || w.loggedInAs(t, c) != "alice" {
		t.Errorf("back to the published key: %d", status)
	}
}

// TestOIDCNext: the page asked for before the sign-in is where it ends;
// another site is not.
func TestOIDCNext(t *testing.T) {
	w := newSSOWorld(t, false)
	for next, want := range map[string]string{"/account/security": "/account/security", "//evil.example/x": "/", "https://evil.example/": "/"} {
		c := browser(t)
		_, _, page := fetch(t, c, w.base+"/login?next="+url.QueryEscape(next))
		_, href, _ := strings.Cut(page, `id="oidc-login" href="`)
		href, _, _ = strings.Cut(href, `"`)
		cb := w.signInAtProvider(t, c, w.base+strings.ReplaceAll(href, "&amp;", "&"), oidcprovider.Bob)
		if status, at, _ := fetch(t, c, cb.String()); status != 200 || at.Host != strings.TrimPrefix(w.base, "http://") || at.Path != want {
			t.Errorf("next=%s: ended at %d %s, want %s", next, status, at, want)
		}
	}
}
