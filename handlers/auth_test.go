package handlers_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	ginsessions "github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	gsessions "github.com/gorilla/sessions"

	"userhub/accounts"
	"userhub/auth"
	"userhub/config"
	"userhub/models"
)

func form(method, path string, values url.Values) *http.Request {
	req := httptest.NewRequest(method, path, strings.NewReader(values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func jsonReq(method, path, body string, cookies ...*http.Cookie) *http.Request {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", jsonCT)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	return req
}

func get(path string, cookies ...*http.Cookie) *http.Request {
	req := httptest.NewRequest("GET", path, nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	return req
}

func wantStatus(t *testing.T, rec *httptest.ResponseRecorder, status int, what string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("%s: status %d, want %d\n%s", what, rec.Code, status, rec.Body)
	}
}

func TestFirstRunSetup(t *testing.T) { onEachSessionStore(t, testFirstRunSetup) }

func testFirstRunSetup(t *testing.T, sessions func(*config.Config)) {
	a := newApp(t, sessions)
	for _, path := range []string{"/", "/login", "/account"} {
		rec := a.do(get(path))
		if rec.Code != 303 || rec.Header().Get("Location") != "/setup" {
			t.Fatalf("%s before setup: %d to %q", path, rec.Code, rec.Header().Get("Location"))
		}
	}
	// From the server's own machine, the setup page needs no token.
	local := func(req *http.Request) *http.Request { req.RemoteAddr = "127.0.0.1:40000"; return req }
	rec := a.do(local(get("/setup")))
	wantStatus(t, rec, 200, "setup page")
	if !strings.Contains(rec.Body.String(), "Create the first administrator") {
		t.Fatalf("setup page: %s", rec.Body)
	}

	for _, tt := range []struct {
		values url.Values
		want   string
	}{
		{url.Values{"name": {""}, "password": {testPassword}, "password_confirm": {testPassword}}, "Enter a name."},
		{url.Values{"name": {"kim"}, "password": {"short"}, "password_confirm": {"short"}}, "The password is too short."},
		{url.Values{"name": {"kim"}, "password": {"password1234"}, "password_confirm": {"password1234"}}, "one of the most common"},
		{url.Values{"name": {"kim"}, "password": {testPassword}, "password_confirm": {testPassword + "!"}}, "The two passwords differ."},
	} {
		rec := a.do(local(form("POST", "/setup", tt.values)))
		if rec.Code != 422 || !strings.Contains(rec.Body.String(), tt.want) || !strings.Contains(rec.Body.String(), `aria-invalid="true"`) {
			t.Fatalf("setup %v: %d, want 422 with %q\n%s", tt.values, rec.Code, tt.want, rec.Body)
		}
	}
	if n, _ := a.store.CountUsers(context.Background(), models.Filter{}); n != 0 {
		t.Fatal("a refused setup created a user")
	}

	rec = a.do(local(form("POST", "/setup", url.Values{"name": {"kim"}, "password": {testPassword}, "password_confirm": {testPassword}})))
	if rec.Code != 303 || rec.Header().Get("Location") != "/" {
		t.Fatalf("setup: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	session := sessionCookie(t, rec)
	home := a.do(get("/", session))
	wantStatus(t, home, 200, "home after setup")
	if !strings.Contains(home.Body.String(), `<span class="who">kim</span>`) || !strings.Contains(home.Body.String(), `id="add-user"`) {
		t.Fatalf("home after setup: %s", home.Body)
	}
	u, _ := a.store.UserByName(context.Background(), "kim")
	if !u.IsAdmin() || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Fatalf("first user %+v", u)
	}
	// Afterwards /setup is gone.
	wantStatus(t, a.do(get("/setup")), 404, "setup page after setup")
	wantStatus(t, a.do(form("POST", "/setup", url.Values{"name": {"evil"}, "password": {testPassword}, "password_confirm": {testPassword}})), 404, "second setup")
}

// TestSetupNeedsTheLink: while no user exists, /setup from another
// machine needs the setup link's token (403 with a page that says where
// the link is, otherwise); the form carries the token on. The client
// address is the one the server trusts: X-Forwarded-For only from
// server.trusted_proxies.
func TestSetupNeedsTheLink(t *testing.T) {
	a := newApp(t)
	setup := url.Values{"name": {"kim"}, "password": {testPassword}, "password_confirm": {testPassword}}
	for _, tt := range []struct {
		what string
		req  *http.Request
	}{
		{"GET without the token", get("/setup")},
		{"GET with a wrong token", get("/setup?token=guess")},
		{"POST without the token", form("POST", "/setup", setup)},
		{"POST with a wrong token", form("POST", "/setup", url.Values{"name": {"kim"}, "password": {testPassword}, "password_confirm": {testPassword}, "token": {"guess"}})},
		{"GET claiming loopback in X-Forwarded-For, from an untrusted proxy", func() *http.Request {
			r := get("/setup")
			r.Header.Set("X-Forwarded-For", "127.0.0.1")
			return r
		}()},
	} {
		rec := a.do(tt.req)
		body := rec.Body.String()
		if rec.Code != http.StatusForbidden || !strings.Contains(body, "Setup is locked") || !strings.Contains(body, "setup link printed in the server&#39;s log") {
			t.Errorf("%s: %d, want 403 saying where the link is\n%s", tt.what, rec.Code, body)
		}
	}
	if n, _ := a.store.CountUsers(context.Background(), models.Filter{}); n != 0 {
		t.Fatal("a refused setup created a user")
	}
	page := a.do(get("/setup?token=" + testSetupToken))
	if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), `<input type="hidden" name="token" value="`+testSetupToken+`">`) {
		t.Fatalf("the setup link: %d\n%s", page.Code, page.Body)
	}
	setup.Set("token", testSetupToken)
	if rec := a.do(form("POST", "/setup", setup)); rec.Code != http.StatusSeeOther {
		t.Fatalf("setup with the link's token: %d %s", rec.Code, rec.Body)
	}
	// Behind a trusted proxy, its X-Forwarded-For is the client's address:
	// local only when the proxy is on this machine too, and says so.
	b := newApp(t, func(c *config.Config) { c.Server.TrustedProxies = []string{"192.0.2.0/24", "127.0.0.1"} })
	for _, tt := range []struct {
		remote, forwarded string
		status            int
	}{
		{"127.0.0.1:4000", "127.0.0.1", http.StatusOK},
		{"127.0.0.1:4000", "203.0.113.9", http.StatusForbidden}, // a visitor through a proxy on this machine
		{"192.0.2.7:4000", "127.0.0.1", http.StatusForbidden},   // a trusted proxy elsewhere cannot claim to be local
	} {
		req := get("/setup")
		req.RemoteAddr = tt.remote
		req.Header.Set("X-Forwarded-For", tt.forwarded)
		if rec := b.do(req); rec.Code != tt.status {
			t.Errorf("from %s saying X-Forwarded-For %s: %d, want %d", tt.remote, tt.forwarded, rec.Code, tt.status)
		}
	}
}

func TestLoginPage(t *testing.T) {
	a := newApp(t)
	users("kim", "lee")(t, a)
	for _, tt := range []struct {
		name, password, next string
		status               int
		location             string
		contains             string
	}{
		{"kim", testPassword, "", 303, "/", ""},
		{"KIM", testPassword, "/account", 303, "/account", ""},
		{"kim", testPassword, "/?cursor=Mg", 303, "/?cursor=Mg", ""},
		{"kim", testPassword, "https://evil.example/", 303, "/", ""},
		{"kim", testPassword, "//evil.example/", 303, "/", ""},
		{"kim", testPassword, "/\\evil.example", 303, "/", ""},
		{"kim", testPassword, "javascript:alert(1)", 303, "/", ""},
		{"kim", testPassword, "/logout", 303, "/", ""},
		{"kim", "wrong password!", "/account", 401, "", "Wrong name or password."},
		{"nobody", testPassword, "", 401, "", "Wrong name or password."},
		{"kim", "", "", 401, "", "Wrong name or password."},
	} {
		rec := a.do(form("POST", "/login", url.Values{"name": {tt.name}, "password": {tt.password}, "next": {tt.next}}))
		if rec.Code != tt.status || rec.Header().Get("Location") != tt.location || !strings.Contains(rec.Body.String(), tt.contains) {
			t.Errorf("login %s next=%q: %d to %q, want %d to %q\n%s", tt.name, tt.next, rec.Code, rec.Header().Get("Location"), tt.status, tt.location, rec.Body)
		}
		if tt.status == 401 && (strings.Contains(rec.Body.String(), tt.password) && tt.password != "") {
			t.Errorf("the login page shows the password back")
		}
	}
	// A wrong name and a wrong password read exactly alike.
	a2 := newApp(t)
	users("kim")(t, a2)
	badName := a2.do(form("POST", "/login", url.Values{"name": {"nobody"}, "password": {"x"}}))
	badPass := a2.do(form("POST", "/login", url.Values{"name": {"kim"}, "password": {"x"}}))
	clean := func(s string) string { return strings.NewReplacer("nobody", "NAME", "kim", "NAME").Replace(s) }
	if clean(badName.Body.String()) != clean(badPass.Body.String()) || badName.Code != badPass.Code {
		t.Error("a wrong name and a wrong password are told apart")
	}

	// The login page, already logged in, goes on to next.
	session := a.login(t, "kim")
	rec := a.do(get("/login?next=%2Faccount", session))
	if rec.Code != 303 || rec.Header().Get("Location") != "/account" {
		t.Fatalf("login page while logged in: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	// GET /logout changes nothing: 405.
	rec = a.do(get("/logout", session))
	if rec.Code != 405 || !strings.Contains(rec.Header().Get("Allow"), "POST") {
		t.Fatalf("GET /logout: %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
	wantStatus(t, a.do(get("/api/v1/me", session)), 200, "session after GET /logout")
}

func TestSessionCookie(t *testing.T) { onEachSessionStore(t, testSessionCookie) }

func testSessionCookie(t *testing.T, sessions func(*config.Config)) {
	a := newApp(t, sessions)
	users("kim", "lee")(t, a)

	rec := a.do(jsonReq("POST", "/api/v1/login", `{"name":"kim","password":"`+testPassword+`"}`))
	wantStatus(t, rec, 200, "API login")
	raw := rec.Header().Get("Set-Cookie")
	for _, attr := range []string{"userhub_session=", "Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=43200"} {
		if !strings.Contains(raw, attr) {
			t.Errorf("Set-Cookie %q lacks %s", raw, attr)
		}
	}
	if strings.Contains(raw, "Secure") || strings.Contains(raw, "Domain=") {
		t.Errorf("Set-Cookie %q over plain HTTP", raw)
	}
	if len(raw) > 1024 {
		t.Errorf("the cookie is %d bytes", len(raw))
	}
	if body := rec.Body.String(); !strings.Contains(body, `"name":"kim"`) || strings.Contains(body, "argon2") {
		t.Errorf("login body: %s", body)
	}
	session := sessionCookie(t, rec)

	// Requests right after login do not set the cookie again.
	again := a.do(get("/api/v1/me", session))
	wantStatus(t, again, 200, "me")
	if sc := again.Header().Get("Set-Cookie"); sc != "" {
		t.Errorf("an ordinary request rewrites the cookie: %s", sc)
	}

	// Login renews the session: logging in again (or as someone else) with
	// a cookie in hand gives a different one.
	req := jsonReq("POST", "/api/v1/login", `{"name":"lee","password":"`+testPassword+`"}`, session)
	renewed := sessionCookie(t, a.do(req))
	if renewed.Value == session.Value {
		t.Fatal("the cookie after login equals the one before")
	}
	// ... and the replaced session is over.
	wantStatus(t, a.do(get("/api/v1/me", session)), 401, "the session replaced by a new login")

	// One byte changed: anonymous.
	tampered := *renewed
	b := []byte(tampered.Value)
	b[len(b)/2] ^= 1
	tampered.Value = string(b)
	rec = a.do(get("/api/v1/me", &tampered))
	wantStatus(t, rec, 401, "tampered cookie")
	if !strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("a tampered cookie is not deleted: %q", rec.Header().Get("Set-Cookie"))
	}

	// Under TLS: __Host- prefix and Secure.
	tlsReq := jsonReq("POST", "/api/v1/login", `{"name":"kim","password":"`+testPassword+`"}`)
	tlsReq.TLS = &tls.ConnectionState{}
	raw = a.do(tlsReq).Header().Get("Set-Cookie")
	if !strings.HasPrefix(raw, "__Host-userhub_session=") || !strings.Contains(raw, "; Secure") || strings.Contains(raw, "Domain=") {
		t.Errorf("Set-Cookie under TLS: %q", raw)
	}
}

func TestSessionsEnd(t *testing.T) { onEachSessionStore(t, testSessionsEnd) }

func testSessionsEnd(t *testing.T, sessions func(*config.Config)) {
	ctx := context.Background()
	a := newApp(t, sessions)
	users("kim", "lee", "park")(t, a)

	t.Run("logout, and the old cookie replayed", func(t *testing.T) {
		session := a.login(t, "lee")
		rec := a.do(jsonReq("POST", "/api/v1/logout", "", session))
		wantStatus(t, rec, 204, "logout")
		if !strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0") {
			t.Errorf("logout does not delete the cookie: %q", rec.Header().Get("Set-Cookie"))
		}
		wantStatus(t, a.do(get("/api/v1/me", session)), 401, "replayed cookie")
		if rec := a.do(get("/", session)); rec.Code != 303 {
			t.Fatalf("replayed cookie on a page: %d", rec.Code)
		}
		// Other sessions of the user go on.
		other := a.login(t, "lee")
		wantStatus(t, a.do(get("/api/v1/me", other)), 200, "another session")
	})
	t.Run("page logout", func(t *testing.T) {
		session := a.login(t, "lee")
		rec := a.do(func() *http.Request { r := form("POST", "/logout", nil); r.AddCookie(session); return r }())
		if rec.Code != 303 || rec.Header().Get("Location") != "/login?bye=1" {
			t.Fatalf("logout: %d to %q", rec.Code, rec.Header().Get("Location"))
		}
		wantStatus(t, a.do(get("/api/v1/me", session)), 401, "after page logout")
		if !strings.Contains(a.do(get("/login?bye=1")).Body.String(), "You have logged out.") {
			t.Error("no logout message")
		}
	})
	t.Run("deleted user", func(t *testing.T) {
		session := a.login(t, "park")
		admin := a.login(t, "kim")
		park, _ := a.store.UserByName(ctx, "park")
		wantStatus(t, a.do(func() *http.Request {
			r := httptest.NewRequest("DELETE", fmt.Sprintf("/api/v1/users/%d", park.ID), nil)
			r.AddCookie(admin)
			return r
		}()), 204, "delete park")
		wantStatus(t, a.do(get("/api/v1/me", session)), 401, "deleted user's cookie")
	})
	t.Run("own password change ends the other sessions only", func(t *testing.T) {
		here := a.login(t, "lee")
		elsewhere := a.login(t, "lee")
		for _, tt := range []struct {
			body   string
			status int
			want   string
		}{
			{`{"current_password":"wrong one here","new_password":"a brand new password"}`, 422, `"code":"wrong_password"`},
			{`{"current_password":"` + testPassword + `","new_password":"short"}`, 422, `"code":"password_too_short"`},
			{`{"current_password":"` + testPassword + `","new_password":"lee-is-my-password"}`, 422, `"code":"password_contains_name"`},
			{`{"new_password":"a brand new password"}`, 422, `"field":"current_password"`},
		} {
			rec := a.do(jsonReq("PUT", "/api/v1/me/password", tt.body, here))
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) {
				t.Fatalf("%s: %d %s", tt.body, rec.Code, rec.Body)
			}
		}
		rec := a.do(jsonReq("PUT", "/api/v1/me/password", `{"current_password":"`+testPassword+`","new_password":"a brand new password"}`, here))
		wantStatus(t, rec, 204, "password change")
		current := sessionCookie(t, rec)
		wantStatus(t, a.do(get("/api/v1/me", current)), 200, "the session the change was made in")
		wantStatus(t, a.do(get("/api/v1/me", elsewhere)), 401, "another session after a password change")
		a.loginWith(t, "lee", "a brand new password")
	})
	t.Run("admin sets a password", func(t *testing.T) {
		password := testPassword
		u, _ := a.accounts.Create(ctx, auth.Operator(), accounts.NewAccount{Name: "choi", Password: &password})
		session := a.login(t, "choi")
		rec := a.do(jsonReq("PATCH", fmt.Sprintf("/api/v1/users/%d", u.ID), `{"password":"set by the admin"}`, a.login(t, "kim")))
		wantStatus(t, rec, 200, "admin sets choi's password")
		wantStatus(t, a.do(get("/api/v1/me", session)), 401, "choi's session after the admin set a password")
		a.loginWith(t, "choi", "set by the admin")
	})
	t.Run("log out everywhere", func(t *testing.T) {
		session := a.login(t, "kim")
		kim, _ := a.store.UserByName(ctx, "kim")
		if _, err := a.accounts.EndSessions(ctx, auth.Operator(), kim.ID); err != nil { // what `userhub user logout kim` does
			t.Fatal(err)
		}
		wantStatus(t, a.do(get("/api/v1/me", session)), 401, "after log out everywhere")
	})
}

func TestSessionTimeouts(t *testing.T) { onEachSessionStore(t, testSessionTimeouts) }

func testSessionTimeouts(t *testing.T, sessions func(*config.Config)) {
	for _, tt := range []struct {
		name           string
		idle, absolute time.Duration
		activity       bool // keep the session busy while waiting
	}{
		{"idle", 700 * time.Millisecond, time.Hour, false},
		{"absolute", time.Hour, 800 * time.Millisecond, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, sessions, func(c *config.Config) { c.Session.IdleTimeout, c.Session.AbsoluteTimeout = tt.idle, tt.absolute })
			users("kim")(t, a)
			start := time.Now()
			session := a.login(t, "kim")
			deadline := time.Now().Add(2 * time.Second)
			for tt.activity && time.Now().Before(deadline) {
				if rec := a.do(get("/api/v1/me", session)); rec.Code == 401 {
					if age := time.Since(start); age < tt.absolute {
						t.Fatalf("the session ended after %v, before the absolute timeout (%v)", age, tt.absolute)
					}
					return // the absolute timeout ended it, busy or not
				}
				time.Sleep(20 * time.Millisecond)
			}
			if tt.activity {
				t.Fatal("a busy session outlived the absolute timeout")
			}
			wantStatus(t, a.do(get("/api/v1/me", session)), 200, "before the idle timeout")
			time.Sleep(time.Second)
			wantStatus(t, a.do(get("/api/v1/me", session)), 401, "after the idle timeout")
		})
	}
}

func TestIdleRefreshRewritesTheCookie(t *testing.T) {
	onEachSessionStore(t, testIdleRefreshRewritesTheCookie)
}

func testIdleRefreshRewritesTheCookie(t *testing.T, sessions func(*config.Config)) {
	a := newApp(t, sessions, func(c *config.Config) { c.Session.IdleTimeout = 500 * time.Millisecond })
	users("kim")(t, a)
	session := a.login(t, "kim")
	for range 10 { // a second of activity: twice the idle timeout
		time.Sleep(100 * time.Millisecond)
		rec := a.do(get("/api/v1/me", session))
		wantStatus(t, rec, 200, "active session")
		for _, c := range rec.Result().Cookies() {
			if c.Name == "userhub_session" {
				session = c // the refreshed last-seen time
			}
		}
	}
	// Static files and health checks are the same for everyone: no session
	// refresh on them, so no Set-Cookie beside a public Cache-Control.
	time.Sleep(100 * time.Millisecond)
	for path, cacheControl := range map[string]string{"/static/app.css": "public", "/favicon.ico": "public", "/healthz": "no-store"} {
		rec := a.do(get(path, session))
		wantStatus(t, rec, 200, path)
		if sc := rec.Header().Get("Set-Cookie"); sc != "" {
			t.Errorf("%s with a session: Set-Cookie %q", path, sc)
		}
		if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, cacheControl) {
			t.Errorf("%s: Cache-Control %q, want %s", path, cc, cacheControl)
		}
	}
}

func TestLoginThrottling(t *testing.T) { onEachSessionStore(t, testLoginThrottling) }

func testLoginThrottling(t *testing.T, sessions func(*config.Config)) {
	a := newApp(t, sessions)
	users("kim", "lee")(t, a)
	bad := `{"name":"kim","password":"not the password"}`
	for i := 1; i <= 5; i++ {
		wantStatus(t, a.do(jsonReq("POST", "/api/v1/login", bad)), 401, fmt.Sprintf("wrong password %d", i))
	}
	rec := a.do(jsonReq("POST", "/api/v1/login", bad))
	wantStatus(t, rec, 429, "the 6th wrong password")
	if ra := rec.Header().Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After %q", ra)
	}
	if !strings.Contains(rec.Body.String(), `"code":"too_many_attempts"`) {
		t.Fatalf("429 body: %s", rec.Body)
	}
	// Even the right password waits for the window now.
	wantStatus(t, a.do(jsonReq("POST", "/api/v1/login", `{"name":"kim","password":"`+testPassword+`"}`)), 429, "right password while throttled")
	// The form says so in the page.
	page := a.do(form("POST", "/login", url.Values{"name": {"KIM"}, "password": {testPassword}}))
	if page.Code != 429 || !strings.Contains(page.Body.String(), "Too many failed attempts") || page.Header().Get("Retry-After") == "" {
		t.Fatalf("login form while throttled: %d %s", page.Code, page.Body)
	}
	// Another account from the same address is not locked out by kim's count.
	a.login(t, "lee")

	// Per IP: 20 failures over any names, then 429 for everyone from there.
	b := newApp(t, sessions)
	users("kim")(t, b)
	for i := range 20 {
		wantStatus(t, b.do(jsonReq("POST", "/api/v1/login", fmt.Sprintf(`{"name":"user%d","password":"x"}`, i))), 401, "spray")
	}
	wantStatus(t, b.do(jsonReq("POST", "/api/v1/login", `{"name":"kim","password":"`+testPassword+`"}`)), 429, "after 20 failures from one IP")

	// A success clears the name's count.
	c := newApp(t, sessions)
	users("kim")(t, c)
	for range 4 {
		c.do(jsonReq("POST", "/api/v1/login", bad))
	}
	c.login(t, "kim")
	for range 4 {
		wantStatus(t, c.do(jsonReq("POST", "/api/v1/login", bad)), 401, "after a success")
	}
}

func TestAPILoginInput(t *testing.T) {
	run(t, []scenario{
		{name: "missing password", method: "POST", path: "/api/v1/login", header: jsonHeader(), body: `{"name":"kim"}`, fixture: users("kim"),
			status: 422, contains: []string{`"field":"password"`, `"code":"required"`}},
		{name: "text/plain", method: "POST", path: "/api/v1/login", header: map[string]string{"Content-Type": "text/plain"}, body: "kim", status: 415},
		{name: "extra field", method: "POST", path: "/api/v1/login", header: jsonHeader(), body: `{"name":"kim","password":"x","admin":true}`, status: 422},
		{name: "wrong password", method: "POST", path: "/api/v1/login", header: jsonHeader(), body: `{"name":"kim","password":"x"}`, fixture: users("kim"),
			status: 401, wantHeader: map[string]string{"WWW-Authenticate": "Cookie", "Set-Cookie": ""}, contains: []string{`"code":"bad_credentials"`}},
		{name: "a password over 256 characters is a wrong one", method: "POST", path: "/api/v1/login", header: jsonHeader(),
			body: `{"name":"kim","password":"` + strings.Repeat("x", 100000) + `"}`, fixture: users("kim"),
			status: 401, contains: []string{`"code":"bad_credentials"`}},
		{name: "a user without a password cannot log in", method: "POST", path: "/api/v1/login", header: jsonHeader(), body: `{"name":"nopass","password":""}`,
			fixture: func(t testing.TB, a app) {
				a.store.CreateUser(context.Background(), models.NewUser{Name: "nopass"})
			}, status: 401},
		{name: "me", as: "kim", method: "GET", path: "/api/v1/me", fixture: users("kim"), status: 200, contains: []string{`"name":"kim"`, `"role":"admin"`}},
	})
}

func TestLoginsAreLogged(t *testing.T) {
	var logs bytes.Buffer
	a := newApp(t)
	a.log = slog.New(slog.NewTextHandler(&logs, nil))
	a.handler = a.build(t, a.store)
	users("kim")(t, a)
	a.do(jsonReq("POST", "/api/v1/login", `{"name":"kim","password":"wrong-password-123"}`))
	a.do(jsonReq("POST", "/api/v1/login", `{"name":"nobody","password":"wrong-password-456"}`))
	session := a.login(t, "kim")
	a.do(get("/api/v1/me", session))
	rec := a.do(jsonReq("PUT", "/api/v1/me/password", `{"current_password":"`+testPassword+`","new_password":"a brand new password"}`, session))
	wantStatus(t, rec, 204, "password change")
	out := logs.String()
	for _, want := range []string{
		`msg="login failed" name=kim ip=192.0.2.1 reason="wrong password"`,
		`msg="login failed" name=nobody ip=192.0.2.1 reason="no such user"`,
		`msg=login user=kim ip=192.0.2.1`,
		"path=/api/v1/me status=200", "user=kim",
		`msg="password changed" user=kim`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q\n%s", want, out)
		}
	}
	if n := strings.Count(out, "msg=login "); n != 1 {
		t.Errorf("%d login lines for one login (a password change is not a login)\n%s", n, out)
	}
	for _, secret := range []string{"wrong-password", testPassword, "brand new", session.Value} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds a secret: %q", secret)
		}
	}
}

func TestRehashOnLogin(t *testing.T) {
	a := newApp(t)
	users("kim")(t, a) // hashed with m=64
	a.hasher = accounts.NewHasher(accounts.Argon2Params{MemoryKiB: 128, Iterations: 1, Parallelism: 1}, 2, time.Second)
	a.handler = a.build(t, a.store)
	session := a.login(t, "kim")
	u, _ := a.store.UserByName(context.Background(), "kim")
	if !strings.Contains(u.PasswordHash, "m=128,") {
		t.Fatalf("hash after login with new parameters: %s", u.PasswordHash)
	}
	wantStatus(t, a.do(get("/api/v1/me", session)), 200, "the session survives the rehash")
}

// TestDenyByDefault walks the whole route table and calls every route
// without a session: only the public allow-list may answer 2xx.
func TestDenyByDefault(t *testing.T) {
	public := map[string]bool{
		"GET /healthz": true, "GET /readyz": true, "GET /static/*path": true, "GET /favicon.ico": true,
		"GET /about": true, "GET /login": true, "POST /login": true, "GET /setup": true, "POST /setup": true,
		"POST /lang": true, "POST /api/v1/login": true, "GET /api/v1/openapi.json": true, "GET /api/docs": true,
		"GET /login/2fa": true, "POST /login/2fa": true, "POST /api/v1/login/passkey/options": true, "POST /api/v1/login/passkey": true,
		"GET /login/oidc": true, "GET /login/oidc/callback": true,
	}
	pages := map[string]bool{"/": true, "/account": true, "/logout": true, "/account/tokens": true, "/account/tokens/:id/revoke": true,
		"/account/security": true, "/account/security/totp": true, "/account/security/totp/confirm": true, "/account/security/totp/remove": true,
		"/account/security/passkeys/:id/remove": true, "/account/security/oidc/link": true, "/account/security/oidc/unlink": true, "/admin/audit": true,
		"/account/sessions": true, "/account/sessions/end-others": true, "/account/sessions/:id/end": true}
	a := newApp(t)
	users("kim", "lee")(t, a)
	engine := a.handler.(*gin.Engine)
	seen := map[string]bool{}
	for _, r := range engine.Routes() {
		key := r.Method + " " + r.Path
		if r.Method == "HEAD" {
			key = "GET " + r.Path
		}
		seen[key] = true
		path := strings.NewReplacer(":id", "2", "*path", "app.css").Replace(r.Path)
		req := httptest.NewRequest(r.Method, path, strings.NewReader(`{"name":"x","password":"y","role":"admin"}`))
		req.Header.Set("Content-Type", jsonCT)
		rec := a.do(req)
		switch {
		case r.Method == "OPTIONS":
			if rec.Code != 204 {
				t.Errorf("%s: %d", key, rec.Code)
			}
		case public[key]:
		case pages[r.Path] && r.Method != "POST": // a page sends the visitor to log in, and back
			if loc := rec.Header().Get("Location"); rec.Code != 303 || !strings.HasPrefix(loc, "/login") {
				t.Errorf("%s answers %d (to %q) to an anonymous request, want 303 to /login", key, rec.Code, loc)
			}
		case pages[r.Path]: // a form post: the error page
			if rec.Code != 401 || rec.Header().Get("Content-Type") != htmlCT {
				t.Errorf("%s answers %d %q to an anonymous request, want the 401 page", key, rec.Code, rec.Header().Get("Content-Type"))
			}
		default: // the API says what is wrong
			if rec.Code != 401 || rec.Header().Get("WWW-Authenticate") == "" ||
				(r.Method != "HEAD" && !strings.Contains(rec.Body.String(), `"code":"not_authenticated"`)) {
				t.Errorf("%s answers %d %q to an anonymous request, want 401 not_authenticated", key, rec.Code, rec.Body)
			}
		}
	}
	for key := range public {
		if !seen[key] {
			t.Errorf("the allow-list names %s, which is not a route", key)
		}
	}
}

// TestParallelLogins: a burst of wrong passwords sent at once slips past
// the limit by at most the hashing slots (the throttle looks again, and
// counts, inside a slot); a burst of right ones is never refused.
func TestParallelLogins(t *testing.T) {
	burst := func(a app, body func(i int) string) map[int]int {
		const n = 40
		codes := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { codes[i] = a.do(jsonReq("POST", "/api/v1/login", body(i))).Code })
		}
		wg.Wait()
		count := map[int]int{}
		for _, c := range codes {
			count[c]++
		}
		return count
	}
	a := newApp(t)
	users("kim")(t, a)
	const limit, slots = 5, 4 // the default per-name limit; testHasher's slots
	wrong := burst(a, func(i int) string { return `{"name":"kim","password":"guess number ` + fmt.Sprint(i) + `"}` })
	if wrong[401] < limit || wrong[401] > limit+slots || wrong[401]+wrong[429] != 40 {
		t.Fatalf("40 parallel wrong passwords: %v, want %d to %d checked (401) and the rest refused (429)", wrong, limit, limit+slots)
	}
	b := newApp(t)
	users("kim")(t, b)
	if right := burst(b, func(int) string { return `{"name":"kim","password":"` + testPassword + `"}` }); right[200] != 40 {
		t.Fatalf("40 parallel right passwords: %v, want every one 200", right)
	}
}

// TestOddNamesAtLogin: whatever the client sends as a name is an unknown
// name, never a server error.
func TestOddNamesAtLogin(t *testing.T) {
	a := newApp(t)
	users("kim")(t, a)
	// As JSON: a NUL, a lone surrogate, 5000 characters, a newline, nothing.
	for _, name := range []string{`kim\u0000`, `\ud800`, strings.Repeat("x", 5000), `a\nb`, ""} {
		rec := a.do(jsonReq("POST", "/api/v1/login", `{"name":"`+name+`","password":"whatever it is"}`))
		if rec.Code != 401 {
			t.Errorf("name %.20q: %d %s", name, rec.Code, rec.Body)
		}
	}
	rec := a.do(form("POST", "/login", url.Values{"name": {string([]byte{0xff, 0xfe})}, "password": {"x"}}))
	if rec.Code != 401 {
		t.Errorf("a name that is not UTF-8: %d", rec.Code)
	}
}

// brokenSessions is a session store whose server does not answer.
type brokenSessions struct{ ginsessions.Store }

func (brokenSessions) New(r *http.Request, name string) (*gsessions.Session, error) {
	return gsessions.NewSession(nil, name), errors.New("dial tcp 127.0.0.1:6379: connection refused")
}

// TestSessionStoreDown: when the session store does not answer, a request
// with a session gets 503, not 401: nobody is logged out by an outage.
func TestSessionStoreDown(t *testing.T) {
	a := newApp(t)
	users("kim")(t, a)
	session := a.login(t, "kim")
	a.sessions = brokenSessions{}
	h := a.build(t, a.store)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, get("/api/v1/me", session))
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), `"code":"unavailable"`) {
		t.Fatalf("session store down: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	// Anonymous requests do not touch the store: unaffected.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, get("/healthz"))
	if rec.Code != 200 {
		t.Fatalf("healthz with the session store down: %d", rec.Code)
	}
}

// The per-address limit counts the socket's address, unless the request
// came through a trusted proxy: a client cannot dodge it with a forged
// X-Forwarded-For, and behind a proxy clients are told apart.
func TestThrottleClientAddress(t *testing.T) {
	spray := func(a app, forwardedFor func(i int) string) {
		for i := range 20 {
			req := jsonReq("POST", "/api/v1/login", fmt.Sprintf(`{"name":"user%d","password":"x"}`, i))
			req.Header.Set("X-Forwarded-For", forwardedFor(i))
			wantStatus(t, a.do(req), 401, "spray")
		}
	}
	loginFrom := func(a app, forwardedFor string) int {
		req := jsonReq("POST", "/api/v1/login", `{"name":"kim","password":"`+testPassword+`"}`)
		req.Header.Set("X-Forwarded-For", forwardedFor)
		return a.do(req).Code
	}

	direct := newApp(t) // httptest requests come from 192.0.2.1
	users("kim")(t, direct)
	spray(direct, func(i int) string { return fmt.Sprintf("203.0.113.%d", i) })
	if code := loginFrom(direct, "203.0.113.99"); code != 429 {
		t.Errorf("a forged X-Forwarded-For dodged the per-address limit: %d", code)
	}

	proxied := newApp(t, func(c *config.Config) { c.Server.TrustedProxies = []string{"192.0.2.0/24"} })
	users("kim")(t, proxied)
	spray(proxied, func(int) string { return "203.0.113.7" })
	if code := loginFrom(proxied, "203.0.113.7"); code != 429 {
		t.Errorf("the client behind the proxy that failed 20 times: %d, want 429", code)
	}
	if code := loginFrom(proxied, "203.0.113.8"); code != 200 {
		t.Errorf("another client behind the same proxy: %d, want 200", code)
	}
}

// TestCookiesThatDoNotDecode: a session cookie that does not decode, for
// whatever reason (too long for securecookie, not base64, forged), is no
// session: the request goes on anonymous, the cookie is cleared, a login
// works, and nothing is logged as an error or an outage.
func TestCookiesThatDoNotDecode(t *testing.T) {
	var logs bytes.Buffer
	a := newApp(t)
	a.log = slog.New(slog.NewTextHandler(&logs, nil))
	a.handler = a.build(t, a.store)
	users("kim")(t, a)
	for name, value := range map[string]string{
		"5000 bytes":   strings.Repeat("a", 5000),
		"not base64":   "%%%not-base64%%%",
		"valid base64": "MTIzfGFiY3xkZWY=",
	} {
		t.Run(name, func(t *testing.T) {
			cookie := &http.Cookie{Name: "userhub_session", Value: value}
			rec := a.do(get("/api/v1/me", cookie))
			if rec.Code != 401 || !strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0") {
				t.Fatalf("me with a bad cookie: %d, Set-Cookie %q", rec.Code, rec.Header().Get("Set-Cookie"))
			}
			login := a.do(jsonReq("POST", "/api/v1/login", `{"name":"kim","password":"`+testPassword+`"}`, cookie))
			wantStatus(t, login, 200, "login with a bad cookie in the jar")
			wantStatus(t, a.do(get("/api/v1/me", sessionCookie(t, login))), 200, "the new session")
		})
	}
	if strings.Contains(logs.String(), "level=ERROR") || strings.Contains(logs.String(), "stopped answering") {
		t.Errorf("bad cookies were logged as errors:\n%s", logs.String())
	}
}

// FuzzSessionCookie: whatever a session cookie holds, a request with it is
// answered as logged in (a cookie signed with the secret) or as anonymous
// (401 here), never with a server error or an outage. The corpus is in
// testdata/fuzz/FuzzSessionCookie.
func FuzzSessionCookie(f *testing.F) {
	// Every input comes from one address and one session: the API's rate
	// limits are not what this fuzzes.
	a := newApp(f, func(c *config.Config) { c.API.RateLimit, c.API.AnonymousRateLimit = 0, 0 })
	users("kim")(f, a)
	valid := a.login(f, "kim").Value
	for _, seed := range []string{valid, valid[:len(valid)/2], valid + "x", strings.Repeat("a", 5000), "", "=", "MTIzfA=="} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		req := get("/api/v1/me")
		req.Header.Set("Cookie", "userhub_session="+value)
		a := a
		a.t = t // a fuzz target reports on its own t, never f
		rec := a.do(req)
		if rec.Code != 401 && rec.Code != 200 {
			t.Fatalf("cookie %.40q: %d %s", value, rec.Code, rec.Body)
		}
	})
}

// TestForwardedProto: behind a TLS-terminating proxy, X-Forwarded-Proto:
// https makes the session cookie Secure (and __Host-), but only from an
// address in server.trusted_proxies; from anyone else the header is
// ignored.
func TestForwardedProto(t *testing.T) {
	a := newApp(t, func(c *config.Config) { c.Server.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.7"} })
	users("kim")(t, a)
	for _, tt := range []struct {
		name, from, proto string
		secure            bool
	}{
		{"a trusted proxy, over HTTPS", "10.1.2.3:5555", "https", true},
		{"a trusted proxy by address", "192.0.2.7:5555", "HTTPS", true},
		{"a trusted proxy, over HTTP", "10.1.2.3:5555", "http", false},
		{"anyone else, claiming HTTPS", "203.0.113.9:5555", "https", false},
		{"a trusted proxy, no header", "10.1.2.3:5555", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := jsonReq("POST", "/api/v1/login", `{"name":"kim","password":"`+testPassword+`"}`)
			req.RemoteAddr = tt.from
			if tt.proto != "" {
				req.Header.Set("X-Forwarded-Proto", tt.proto)
			}
			rec := a.do(req)
			wantStatus(t, rec, 200, "login")
			raw := rec.Header().Get("Set-Cookie")
			if secure := strings.HasPrefix(raw, "__Host-userhub_session=") && strings.Contains(raw, "; Secure"); secure != tt.secure {
				t.Errorf("Set-Cookie %q: Secure %v, want %v", raw, secure, tt.secure)
			}
		})
	}
}

// TestNoLockoutFromAfar: an attacker cannot lock someone else's account.
// From one address, wrong passwords on the administrator's name until
// that address is refused, names sprayed until it is over its own limit,
// then six more on the administrator's name: the administrator's right
// password, from another address, still logs in, and the attacker's
// address is still refused. IPv6 clients count by their /64.
func TestNoLockoutFromAfar(t *testing.T) {
	from := func(req *http.Request, addr string) *http.Request {
		req.RemoteAddr = addr
		return req
	}
	tests := []struct {
		name             string
		attacker, victim string // RemoteAddr
		neighbour        string // another address of the attacker's /64 (or the same /32)
	}{
		{"IPv4", "198.51.100.7:4000", "203.0.113.5:5000", "198.51.100.7:4001"},
		{"IPv6", "[2001:db8:1:2::7]:4000", "[2001:db8:9::5]:5000", "[2001:db8:1:2:ffff::1]:4001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t)
			users("kim")(t, a)
			bad := `{"name":"kim","password":"not the password"}`
			codes := map[int]int{}
			for range 8 {
				codes[a.do(from(jsonReq("POST", "/api/v1/login", bad), tt.attacker)).Code]++
			}
			if codes[401] != 5 || codes[429] != 3 {
				t.Fatalf("8 wrong passwords on kim from one address: %v, want 5 checked and 3 refused", codes)
			}
			// The sprays come from elsewhere in the attacker's /64 (IPv6).
			for i := 0; ; i++ {
				rec := a.do(from(jsonReq("POST", "/api/v1/login", fmt.Sprintf(`{"name":"user%d","password":"x"}`, i)), tt.neighbour))
				if rec.Code == 429 {
					if i != 15 { // 20 failures, 5 of them on kim
						t.Fatalf("the attacker's address (block) refused after %d more failures, want 15", i)
					}
					break
				}
				if rec.Code != 401 || i > 30 {
					t.Fatalf("spray %d: %d", i, rec.Code)
				}
			}
			for i := range 6 {
				wantStatus(t, a.do(from(jsonReq("POST", "/api/v1/login", bad), tt.attacker)), 429, fmt.Sprintf("wrong password %d over the address limit", i+1))
			}
			good := `{"name":"kim","password":"` + testPassword + `"}`
			rec := a.do(from(jsonReq("POST", "/api/v1/login", good), tt.victim))
			wantStatus(t, rec, 200, "the right password from another address")
			wantStatus(t, a.do(from(jsonReq("POST", "/api/v1/login", good), tt.attacker)), 429, "the right password from the attacker's address")
			// And the owner can change the password (it asks for the current one).
			change := `{"current_password":"` + testPassword + `","new_password":"a brand new password"}`
			wantStatus(t, a.do(from(jsonReq("PUT", "/api/v1/me/password", change, sessionCookie(t, rec)), tt.victim)), 204, "a password change from another address")
		})
	}
}
