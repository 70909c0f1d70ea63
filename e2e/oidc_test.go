package e2e

import (
	"crypto/rand"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"userhub/e2e/oidcprovider"
)

// Single sign-on against a real OpenID Connect provider (zitadel/oidc's
// op package, e2e/oidcprovider) on a loopback port, with the built binary,
// in headless Chromium. The provider's issuer is http://localhost:PORT/
// and userhub is http://127.0.0.1:PORT: two sites, so the provider's
// redirect back is a cross-site navigation, as in real life.

// ssoSetup is a provider and the settings that point userhub at it.
type ssoSetup struct {
	provider *oidcprovider.Provider // nil while it is down
	listen   string                 // the provider's 127.0.0.1:port
	issuer   string
	addr     string // userhub's 127.0.0.1:port
	env      []string
}

// newSSO makes the settings, and starts the provider unless down.
func newSSO(t *testing.T, down bool, env ...string) *ssoSetup {
	t.Helper()
	s := &ssoSetup{listen: freeAddr(t), addr: freeAddr(t)}
	_, port, _ := net.SplitHostPort(s.listen)
	s.issuer = "http://localhost:" + port + "/"
	secretFile := filepath.Join(t.TempDir(), "client-secret")
	if err := os.WriteFile(secretFile, []byte(oidcprovider.ClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.env = append([]string{
		"USERHUB_SERVER_ADDR=" + s.addr,
		"USERHUB_OIDC_ISSUER=" + s.issuer,
		"USERHUB_OIDC_NAME=Test ID",
		"USERHUB_OIDC_CLIENT_ID=" + oidcprovider.ClientID,
		"USERHUB_OIDC_CLIENT_SECRET_FILE=" + secretFile,
		"USERHUB_OIDC_REDIRECT_URL=http://" + s.addr + "/login/oidc/callback",
		"USERHUB_OIDC_ADMIN_GROUP=" + oidcprovider.AdminGroup,
		"USERHUB_OIDC_CREATE_USERS=true",
	}, env...)
	if !down {
		s.start(t)
	}
	return s
}

// start runs the provider on its port.
func (s *ssoSetup) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", s.listen)
	if err != nil {
		t.Fatal(err)
	}
	p, err := oidcprovider.Start(oidcprovider.Options{Listener: ln, Issuer: s.issuer,
		RedirectURIs:           []string{"http://" + s.addr + "/login/oidc/callback"},
		PostLogoutRedirectURIs: []string{"http://" + s.addr + "/login"}})
	if err != nil {
		t.Fatal(err)
	}
	s.provider = p
	t.Cleanup(func() { p.Close() })
}

// signInAtProvider types u's name and password into the provider's page
// the browser is on, and signs in.
func (b *browser) signInAtProvider(u oidcprovider.User) {
	b.t.Helper()
	b.do("sign in at the provider as "+u.Username,
		chromedp.WaitVisible(chromedp.ID("provider-submit")),
		chromedp.SendKeys(chromedp.ID("username"), u.Username),
		chromedp.SendKeys(chromedp.ID("password"), u.Password),
		chromedp.Click(chromedp.ID("provider-submit")),
	)
}

// toProvider clicks the login page's "Sign in with Test ID".
func (b *browser) toProvider(base string) {
	b.t.Helper()
	b.do("click Sign in with Test ID",
		chromedp.Navigate(base+"/login"),
		waitText("#oidc-login", "Sign in with Test ID"),
		chromedp.Click(chromedp.ID("oidc-login")),
		chromedp.WaitVisible(chromedp.ID("provider-submit")),
	)
}

// answerFor signs u in at the provider for the sign-in the browser has
// started (it is on the provider's page), from the test rather than the
// browser, and returns the provider's answer: userhub's callback URL with
// its code and state, not yet visited.
func (b *browser) answerFor(u oidcprovider.User) *url.URL {
	b.t.Helper()
	at, err := url.Parse(run(b, "the provider's page", chromedp.Location()))
	if err != nil {
		b.t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := url.Values{"id": {at.Query().Get("authRequestID")}, "username": {u.Username}, "password": {u.Password}}
	resp, err := c.PostForm(at.ResolveReference(&url.URL{Path: "/login/username"}).String(), form)
	for range 10 {
		if err != nil {
			b.t.Fatal(err)
		}
		resp.Body.Close()
		loc, lerr := resp.Location()
		if lerr != nil {
			b.t.Fatalf("the provider answered %s without a redirect", resp.Status)
		}
		if loc.Path == "/login/oidc/callback" {
			return loc
		}
		resp, err = c.Get(loc.String())
	}
	b.t.Fatal("the provider never sent back to userhub")
	return nil
}

// notLoggedIn checks that the browser holds no login: the home page sends
// it to /login.
func (b *browser) notLoggedIn(base string) {
	b.t.Helper()
	b.do("the home page asks to log in", chromedp.Navigate(base+"/"), waitURL("/login"), chromedp.WaitVisible(chromedp.ID("oidc-login")))
}

// roleOf asks the API, as kim, for the role of name.
func roleOf(t *testing.T, base string, kim *http.Client, name string) string {
	t.Helper()
	resp, body := doWith(t, kim, "GET", base+"/api/v1/users?limit=100", "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("list users: %s %s", resp.Status, body)
	}
	var list struct {
		Users []struct{ Name, Role string } `json:"users"`
	}
	if err := jsonUnmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	for _, u := range list.Users {
		if u.Name == name {
			return u.Role
		}
	}
	t.Fatalf("no user %s in %s", name, body)
	return ""
}

// TestBrowserOIDCLogin: Chromium clicks "Sign in with Test ID", signs in
// on the provider's page, and lands on the user list greeted by the
// provider's name; alice (in the admin group) is an administrator with the
// admin controls, bob a member without them.
func TestBrowserOIDCLogin(t *testing.T) {
	chromium(t)
	s := newSSO(t, false)
	p := start(t, s.env...)
	kim := p.setup(t)
	for _, tt := range []struct {
		user     oidcprovider.User
		role     string
		controls int
	}{{oidcprovider.Alice, "admin", 1}, {oidcprovider.Bob, "member", 0}} {
		b := newBrowser(t)
		b.toProvider(p.base)
		b.signInAtProvider(tt.user)
		b.do(tt.user.Username+" lands on the user list",
			waitURL("/"), waitText("#home-greeting", "Hello, "+tt.user.Username),
			chromedp.WaitVisible(chromedp.CSS(`tr[data-name="kim"]`)))
		if n := run(b, "admin controls", chromedp.Evaluate[int](`document.querySelectorAll('#add-user').length`)); n != tt.controls {
			t.Errorf("%s sees %d add-user buttons, want %d", tt.user.Username, n, tt.controls)
		}
		if got := roleOf(t, p.base, kim, tt.user.Username); got != tt.role {
			t.Errorf("%s is %s, want %s", tt.user.Username, got, tt.role)
		}
	}
}

// TestBrowserOIDCRefusals: a forged state, a replayed answer, a reused
// authorization code and an ID token with another nonce each end on a page
// that says so, and none logs anyone in.
func TestBrowserOIDCRefusals(t *testing.T) {
	chromium(t)
	s := newSSO(t, false)
	p := start(t, s.env...)
	p.setup(t)
	refused := func(b *browser, what, title, body string) {
		b.t.Helper()
		b.do(what+": the refusal page", waitURL("/login/oidc/callback"), waitText("h1", title), waitText("#error-body", body))
		b.notLoggedIn(p.base)
	}

	t.Run("ForgedState", func(t *testing.T) {
		b := newBrowser(t)
		b.toProvider(p.base)
		answer := b.answerFor(oidcprovider.Alice)
		q := answer.Query()
		q.Set("state", "forged")
		forged := *answer
		forged.RawQuery = q.Encode()
		b.do("visit the answer with a forged state", chromedp.Navigate(forged.String()))
		refused(b, "forged state", "Sign-in not accepted", "does not belong to a sign-in started in this browser")
		// The sign-in it forged is spent: its true answer is refused too.
		b.do("visit the true answer after", chromedp.Navigate(answer.String()))
		refused(b, "the true answer after a forgery", "Sign-in not accepted", "or was used already")
	})

	t.Run("ReplayedAnswer", func(t *testing.T) {
		b := newBrowser(t)
		b.toProvider(p.base)
		answer := b.answerFor(oidcprovider.Bob)
		b.do("the answer logs bob in", chromedp.Navigate(answer.String()), waitURL("/"), waitText("#home-greeting", "Hello, bob"))
		b.do("log out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), waitURL("/login"))
		b.do("replay the answer", chromedp.Navigate(answer.String()))
		refused(b, "replayed answer", "Sign-in not accepted", "or was used already")
	})

	t.Run("ReusedCode", func(t *testing.T) {
		b := newBrowser(t)
		b.toProvider(p.base)
		used := b.answerFor(oidcprovider.Bob)
		b.do("the code logs bob in", chromedp.Navigate(used.String()), waitURL("/"), waitText("#home-greeting", "Hello, bob"))
		b.do("log out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), waitURL("/login"))
		// A new sign-in in the same browser, answered with the used code
		// under the new sign-in's own state.
		b.toProvider(p.base)
		fresh := b.answerFor(oidcprovider.Bob)
		q := fresh.Query()
		q.Set("code", used.Query().Get("code"))
		reused := *fresh
		reused.RawQuery = q.Encode()
		b.do("visit the answer with the used code", chromedp.Navigate(reused.String()))
		refused(b, "reused code", "Sign-in not accepted", "refused the sign-in code")
	})

	t.Run("WrongNonce", func(t *testing.T) {
		b := newBrowser(t)
		b.toProvider(p.base)
		b.signInAtProvider(oidcprovider.Mallory)
		refused(b, "wrong nonce", "Sign-in not accepted", "was not made for this sign-in")
	})
	if resp, body := do(t, "GET", p.base+"/api/v1/users", "", ""); resp.StatusCode != 401 {
		t.Errorf("anonymous list: %s %s", resp.Status, body)
	}
}

// TestBrowserOIDCPasswordLoginOff: with oidc.disable_password_login the
// login page has no password form and a password POSTed to /login is
// refused, while the provider still logs in and the command line still
// manages users (adds, links, lists, deletes).
func TestBrowserOIDCPasswordLoginOff(t *testing.T) {
	chromium(t)
	s := newSSO(t, false, "USERHUB_OIDC_DISABLE_PASSWORD_LOGIN=true")
	p := start(t, s.env...)
	p.setup(t)
	cli := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(binary, args...)
		cmd.Env = append([]string{"USERHUB_DATA_DIR=" + p.dataDir, "PATH=" + os.Getenv("PATH")}, s.env...)
		cmd.Dir = t.TempDir()
		cmd.Stdin = strings.NewReader("a long secret phrase\n")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("userhub %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	cli("user", "add", "dan", "-password-stdin")
	if out := cli("user", "list"); !strings.Contains(out, "dan") {
		t.Errorf("user list after user add: %s", out)
	}

	b := newBrowser(t)
	b.do("the login page without a password form",
		chromedp.Navigate(p.base+"/login"),
		waitText("#oidc-login", "Sign in with Test ID"),
		waitText("#password-off", "Passwords are turned off here"))
	if n := run(b, "password fields", chromedp.Evaluate[int](`document.querySelectorAll('input[type=password], #login-form').length`)); n != 0 {
		t.Errorf("the login page has %d password fields or forms", n)
	}
	for _, who := range []string{"kim", "dan"} {
		resp, body := do(t, "POST", p.base+"/login", "application/x-www-form-urlencoded",
			"name="+who+"&password="+url.QueryEscape(map[string]string{"kim": adminPassword, "dan": "a long secret phrase"}[who]))
		if resp.StatusCode != 403 || !strings.Contains(body, "Passwords are turned off") || resp.Header.Get("Set-Cookie") != "" && strings.Contains(resp.Header.Get("Set-Cookie"), "userhub_session=") {
			t.Errorf("POST /login as %s: %s %.500s", who, resp.Status, body)
		}
	}
	b.do("the password is refused in the browser too",
		chromedp.Evaluate[chromedp.Void](`(() => { const f = document.createElement('form'); f.method = 'post'; f.action = '/login';
			for (const [k, v] of [['name', 'kim'], ['password', '`+adminPassword+`']]) { const i = document.createElement('input'); i.name = k; i.value = v; f.append(i); }
			document.body.append(f); f.submit(); })()`),
		waitText("h1", "Passwords are turned off"))
	b.notLoggedIn(p.base)
	b.toProvider(p.base)
	b.signInAtProvider(oidcprovider.Alice)
	b.do("alice lands on the list with dan in it", waitURL("/"), waitText("#home-greeting", "Hello, alice"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-name="dan"]`)))
	// dan cannot log in to link his account: the operator links it.
	if out := cli("user", "link", "dan", oidcprovider.Bob.ID); !strings.Contains(out, "linked dan") {
		t.Errorf("user link: %s", out)
	}
	bob := newBrowser(t)
	bob.toProvider(p.base)
	bob.signInAtProvider(oidcprovider.Bob)
	bob.do("bob at the provider is dan here", waitURL("/"), waitText("#home-greeting", "Hello, dan"))
	cli("user", "delete", "dan")
	if out := cli("user", "list"); strings.Contains(out, "dan") {
		t.Errorf("user list after user delete: %s", out)
	}
}

// TestBrowserOIDCProviderDown: with the provider not answering, /login
// renders (both ways in), the button's page says the provider does not
// answer (in English and Korean), the password still logs in, and the
// button works once the provider answers, without a restart; stopped
// again, the button says so again.
func TestBrowserOIDCProviderDown(t *testing.T) {
	chromium(t)
	s := newSSO(t, true)
	p := start(t, s.env...)
	p.setup(t)
	b := newBrowser(t)
	b.do("the login page renders",
		chromedp.Navigate(p.base+"/login"),
		waitText("#oidc-login", "Sign in with Test ID"),
		chromedp.WaitVisible(chromedp.ID("login-password")))
	b.do("the button's page",
		chromedp.Click(chromedp.ID("oidc-login")),
		waitURL("/login/oidc"),
		waitText("h1", "The sign-in provider does not answer"),
		waitText("#error-body", "Try again in a few minutes, or log in with your password."))
	b.do("in Korean",
		chromedp.Click(chromedp.CSS(`button[name="lang"][value="ko"]`)),
		waitText("h1", "로그인 제공자가 응답하지 않습니다"))
	b.do("back to English", chromedp.Click(chromedp.CSS(`button[name="lang"][value="en"]`)), waitText("h1", "The sign-in provider does not answer"))
	b.login(p.base, "kim", adminPassword)
	b.do("the password logs in", waitURL("/"), waitText("#home-greeting", "Hello, kim"))
	b.do("log out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), waitURL("/login"))

	s.start(t)
	b.toProvider(p.base)
	b.signInAtProvider(oidcprovider.Bob)
	b.do("bob signs in once the provider answers", waitURL("/"), waitText("#home-greeting", "Hello, bob"))
	b.do("log out", chromedp.Click(chromedp.ID("logout")), waitURL("/login"))

	// Stopped after it was discovered: the button says so again.
	if err := s.provider.Close(); err != nil {
		t.Fatal(err)
	}
	b.do("the button once the provider stopped",
		chromedp.Navigate(p.base+"/login"),
		chromedp.Click(chromedp.ID("oidc-login")),
		waitURL("/login/oidc"),
		waitText("h1", "The sign-in provider does not answer"))
	b.login(p.base, "kim", adminPassword)
	b.do("the password still logs in", waitURL("/"), waitText("#home-greeting", "Hello, kim"))
}

// providerAnswer starts a sign-in with c at start (userhub's /login/oidc),
// signs in at the provider as u, and returns the provider's answer (the
// callback URL), not yet visited. c follows no redirects by itself.
func providerAnswer(t *testing.T, c *http.Client, start string, u oidcprovider.User) *url.URL {
	t.Helper()
	next := start
	for range 10 {
		resp, err := c.Get(next)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("%s: %s, want a redirect on the way to the provider's page", next, resp.Status)
		}
		if loc.Path == "/login/username" {
			form := url.Values{"id": {loc.Query().Get("authRequestID")}, "username": {u.Username}, "password": {u.Password}}
			resp, err = c.PostForm(loc.ResolveReference(&url.URL{Path: "/login/username"}).String(), form)
			for range 10 {
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				back, lerr := resp.Location()
				if lerr != nil {
					t.Fatalf("the provider answered %s without a redirect", resp.Status)
				}
				if back.Path == "/login/oidc/callback" {
					return back
				}
				resp, err = c.Get(back.String())
			}
		}
		next = loc.String()
	}
	t.Fatal("no way to the provider's page")
	return nil
}

// TestOIDCAcrossInstances: two instances in cluster mode (two workers
// each) on one PostgreSQL and one Redis, as behind a load balancer: a
// sign-in begun on one is finished by the other (the provider sends the
// browser back to the other's address), the session works on both, and
// the same answer replayed on the first is refused: the flow's state is
// where every instance and worker finds it, and is used once.
func TestOIDCAcrossInstances(t *testing.T) {
	dsn, redisAddr := os.Getenv("USERHUB_TEST_POSTGRES_DSN"), os.Getenv("USERHUB_TEST_REDIS_ADDR")
	if dsn == "" || redisAddr == "" {
		t.Skip("single sign-on across instances skipped: set USERHUB_TEST_POSTGRES_DSN and USERHUB_TEST_REDIS_ADDR")
	}
	s := newSSO(t, false)
	db := pgSchema(t, dsn)
	shared := []string{"USERHUB_DATABASE_DRIVER=postgres", "USERHUB_DATABASE_DSN=" + db, "USERHUB_CLUSTER_WORKERS=2",
		"USERHUB_SESSION_STORE=redis", "USERHUB_SESSION_REDIS_ADDR=" + redisAddr,
		"USERHUB_SESSION_REDIS_PREFIX=e2e-" + strings.ToLower(rand.Text()[:8]) + ":"}
	// Both send the provider to two's callback (s.addr); one listens elsewhere.
	two := start(t, append(append([]string{"USERHUB_DATA_DIR=" + t.TempDir()}, s.env...), shared...)...)
	one := start(t, append(append(append([]string{"USERHUB_DATA_DIR=" + t.TempDir()}, s.env...), shared...), "USERHUB_SERVER_ADDR="+freeAddr(t))...)
	one.setup(t)
	for _, u := range []oidcprovider.User{oidcprovider.Alice, oidcprovider.Bob} {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		answer := providerAnswer(t, c, one.base+"/login/oidc", u)
		if answer.Host != strings.TrimPrefix(two.base, "http://") {
			t.Fatalf("the provider sent back to %s, want two (%s)", answer.Host, two.base)
		}
		flowCookie := jar.Cookies(mustParse(one.base)) // 127.0.0.1, whatever the port
		if len(flowCookie) == 0 {
			t.Fatal("no flow cookie")
		}
		resp, err := c.Get(answer.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/" {
			t.Fatalf("%s's answer on two: %s to %q\n%s", u.Username, resp.Status, loc, two.output())
		}
		for _, p := range []*proc{one, two} {
			resp, body := doWith(t, c, "GET", p.base+"/api/v1/me", "", "")
			if resp.StatusCode != 200 || !strings.Contains(body, `"name":"`+u.Username+`"`) {
				t.Errorf("%s's session on %s: %s %s", u.Username, p.base, resp.Status, body)
			}
		}
		// The same answer, with a copy of the flow cookie, on one.
		replay := *answer
		replay.Host = strings.TrimPrefix(one.base, "http://")
		other, _ := cookiejar.New(nil)
		other.SetCookies(mustParse(one.base), flowCookie)
		resp, body := doWith(t, &http.Client{Jar: other}, "GET", replay.String(), "", "")
		if resp.StatusCode != 400 || !strings.Contains(body, "or was used already") {
			t.Errorf("%s's answer replayed on one: %s %.300s", u.Username, resp.Status, body)
		}
	}
}

// TestBrowserOIDCLinkAndUnlink: without create_users, bob at the provider
// has no account here and is told to ask an administrator; lee, logged in
// with her password, links her account on the security page by signing in
// at the provider as bob; bob's sign-in is then lee's; she unlinks it, in
// Korean, and bob is turned away again.
func TestBrowserOIDCLinkAndUnlink(t *testing.T) {
	chromium(t)
	s := newSSO(t, false, "USERHUB_OIDC_CREATE_USERS=false")
	p := start(t, s.env...)
	admin := p.setup(t)
	if resp, body := doWith(t, admin, "POST", p.base+"/api/v1/users", jsonCT, `{"name":"lee","password":"a long secret phrase"}`); resp.StatusCode != 201 {
		t.Fatalf("create lee: %s %s", resp.Status, body)
	}
	b := newBrowser(t)
	b.toProvider(p.base)
	b.signInAtProvider(oidcprovider.Bob)
	b.do("not linked: ask an administrator", waitURL("/login/oidc/callback"),
		waitText("h1", "No account for this sign-in"), waitText("#error-body", "Ask an administrator to create your account"))
	b.notLoggedIn(p.base)

	b.login(p.base, "lee", "a long secret phrase")
	b.do("link on the security page",
		waitURL("/"),
		chromedp.Navigate(p.base+"/account/security"),
		waitText("#oidc-none", "Your account is not linked."),
		chromedp.Click(chromedp.ID("oidc-link")),
	)
	b.signInAtProvider(oidcprovider.Bob)
	b.do("linked", waitURL("/account/security"), waitText("#oidc-linked", "Your account is linked"),
		waitText("#oidc-links", oidcprovider.Bob.ID))
	b.do("log out", chromedp.Click(chromedp.ID("logout")), waitURL("/login"))

	b.toProvider(p.base)
	b.signInAtProvider(oidcprovider.Bob)
	b.do("bob's sign-in is lee's", waitURL("/"), waitText("#home-greeting", "Hello, lee"))

	b.do("unlink, in Korean",
		chromedp.Navigate(p.base+"/account/security"),
		chromedp.Click(chromedp.CSS(`button[name="lang"][value="ko"]`)),
		waitText("#oidc-heading", "통합 로그인(SSO)"),
		chromedp.Click(chromedp.CSS("button.oidc-unlink")),
		waitText("#oidc-unlinked", "연결을 해제했습니다."),
		waitText("#oidc-none", "계정이 연결되어 있지 않습니다."),
		chromedp.Click(chromedp.CSS(`button[name="lang"][value="en"]`)),
		waitText("#oidc-none", "Your account is not linked."),
		chromedp.Click(chromedp.ID("logout")), waitURL("/login"),
	)
	b.toProvider(p.base)
	b.signInAtProvider(oidcprovider.Bob)
	b.do("bob turned away again", waitURL("/login/oidc/callback"), waitText("h1", "No account for this sign-in"))
}
