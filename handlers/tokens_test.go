package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"userhub/config"
)

// TestTokens: personal access tokens over the API, as a program uses them.
func TestTokens(t *testing.T) {
	a := newApp(t)
	users("kim", "lee")(t, a)
	kim, lee := a.login(t, "kim"), a.login(t, "lee")
	call := func(method, path, body string, cookie *http.Cookie, token string, header ...string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if cookie != nil {
			req.AddCookie(cookie)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		return a.do(req)
	}
	type created struct {
		ID     int64    `json:"id"`
		Token  string   `json:"token"`
		Prefix string   `json:"prefix"`
		Scopes []string `json:"scopes"`
	}
	create := func(cookie *http.Cookie, body string) created {
		t.Helper()
		rec := call("POST", "/api/v1/tokens", body, cookie, "")
		if rec.Code != http.StatusCreated {
			t.Fatalf("create %s: %d %s", body, rec.Code, rec.Body)
		}
		var c created
		json.Unmarshal(rec.Body.Bytes(), &c)
		if !strings.HasPrefix(c.Token, "uh_") || len(c.Token) < 3+43 || !strings.HasPrefix(c.Token, c.Prefix) || len(c.Prefix) >= len(c.Token) ||
			rec.Header().Get("Location") == "" {
			t.Fatalf("created token %+v, Location %q", c, rec.Header().Get("Location"))
		}
		return c
	}
	read := create(kim, `{"name":"backup","scopes":["read"]}`)
	adminToken := create(kim, `{"name":"deploy","scopes":["write","admin"],"expires_in":"720h"}`)
	writeOnly := create(kim, `{"name":"write only","scopes":["write"]}`)
	leeToken := create(lee, `{"name":"script","scopes":["read","write"]}`)

	// A token alone reads the API: no cookie jar, no Set-Cookie, no-store.
	rec := call("GET", "/api/v1/users", "", nil, read.Token)
	if rec.Code != http.StatusOK || rec.Header().Get("Set-Cookie") != "" || rec.Header().Get("Cache-Control") != "no-store" || !strings.Contains(rec.Body.String(), `"name":"lee"`) {
		t.Fatalf("GET /api/v1/users with a read token: %d, Set-Cookie %q, Cache-Control %q\n%s", rec.Code, rec.Header().Get("Set-Cookie"), rec.Header().Get("Cache-Control"), rec.Body)
	}

	for _, tt := range []struct {
		what, method, path, body, token string
		status                          int
		contains                        string
	}{
		{"a read token's POST", "POST", "/api/v1/users", `{"name":"park"}`, read.Token, 403, `"code":"insufficient_scope"`},
		{"a read token's POST names the scope", "POST", "/api/v1/users", `{"name":"park"}`, read.Token, 403, `lacks the \"write\" scope`},
		{"an admin's write token (no admin scope) creating a user", "POST", "/api/v1/users", `{"name":"park"}`, writeOnly.Token, 403, `lacks the \"admin\" scope`},
		{"an admin's write+admin token creates a user", "POST", "/api/v1/users", `{"name":"park","password":"` + testPassword + `"}`, adminToken.Token, 201, `"name":"park"`},
		{"a write token renames its own user", "PATCH", "/api/v1/users/2", `{"name":"lee2"}`, leeToken.Token, 200, `"name":"lee2"`},
		{"a member's token cannot delete", "DELETE", "/api/v1/users/3", "", leeToken.Token, 403, `"code":"forbidden"`},
		{"a token cannot make a token", "POST", "/api/v1/tokens", `{"name":"more","scopes":["read"]}`, adminToken.Token, 403, "logged in with a password"},
		{"junk is 401", "GET", "/api/v1/users", "", "uh_junk", 401, `"code":"invalid_token"`},
		{"a well-formed unknown token is 401", "GET", "/api/v1/users", "", "uh_" + strings.Repeat("A", 43), 401, `"code":"invalid_token"`},
		{"the list shows prefixes, never a secret", "GET", "/api/v1/tokens", "", read.Token, 200, `"prefix":"` + adminToken.Prefix + `"`},
	} {
		rec := call(tt.method, tt.path, tt.body, nil, tt.token)
		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.contains) {
			t.Errorf("%s: %d %s, want %d with %s", tt.what, rec.Code, rec.Body, tt.status, tt.contains)
		}
		if rec.Code == http.StatusUnauthorized && !strings.Contains(rec.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: WWW-Authenticate %q lacks Bearer", tt.what, rec.Header().Get("WWW-Authenticate"))
		}
		if rec.Header().Get("Set-Cookie") != "" {
			t.Errorf("%s: a bearer request got Set-Cookie %q", tt.what, rec.Header().Get("Set-Cookie"))
		}
	}
	list := call("GET", "/api/v1/tokens", "", kim, "").Body.String()
	for _, secret := range []string{read.Token, adminToken.Token, writeOnly.Token} {
		if strings.Contains(list, secret) {
			t.Fatalf("the token list shows a secret: %s", list)
		}
	}
	if !strings.Contains(list, `"last_used_at":"`) || strings.Contains(list, "script") {
		t.Errorf("kim's list: used tokens have last_used_at, and lee's is not there:\n%s", list)
	}
	if fresh := create(kim, `{"name":"unused","scopes":["read"]}`); !strings.Contains(call("GET", "/api/v1/tokens", "", kim, "").Body.String(),
		`"id":`+itoa(fresh.ID)+`,"name":"unused","prefix":"`+fresh.Prefix+`","scopes":["read"],"user_id":1,`) {
		t.Errorf("the list lacks the new token %+v", fresh)
	}

	// A member asking for admin: 422. A bad lifetime: 422.
	for _, body := range []string{`{"name":"x","scopes":["admin"]}`, `{"name":"x","scopes":["read"],"expires_in":"soon"}`,
		`{"name":"x","scopes":["read"],"expires_in":"1m"}`, `{"name":"x","scopes":["root"]}`, `{"name":"","scopes":["read"]}`, `{"name":"x","scopes":[]}`} {
		if rec := call("POST", "/api/v1/tokens", body, lee, ""); rec.Code != http.StatusUnprocessableEntity {
			t.Errorf("member creates %s: %d %s, want 422", body, rec.Code, rec.Body)
		}
	}

	// Pages ignore a bearer token: they are for people with a session.
	if rec := call("GET", "/", "", nil, adminToken.Token); rec.Code != http.StatusSeeOther {
		t.Errorf("the home page with only a bearer token: %d, want 303 to the login page", rec.Code)
	}
	// A bearer token is not ambient: a cross-site request with one needs no
	// same-origin proof; with a cookie it is refused.
	crossSite := []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}
	if rec := call("POST", "/api/v1/users", `{"name":"choi"}`, nil, adminToken.Token, crossSite...); rec.Code != http.StatusCreated {
		t.Errorf("cross-site POST with a bearer token: %d %s, want 201", rec.Code, rec.Body)
	}
	if rec := call("POST", "/api/v1/users", `{"name":"jung"}`, kim, "", crossSite...); rec.Code != http.StatusForbidden {
		t.Errorf("cross-site POST with the cookie: %d, want 403", rec.Code)
	}
	// A bad bearer token with a good cookie: the token decides (401).
	if rec := call("GET", "/api/v1/users", "", kim, "uh_junk"); rec.Code != http.StatusUnauthorized {
		t.Errorf("a bad token beside a good cookie: %d, want 401", rec.Code)
	}

	// Members see and revoke only their own; admins anyone's.
	if rec := call("GET", "/api/v1/tokens?user=1", "", lee, ""); rec.Code != http.StatusForbidden {
		t.Errorf("a member listing kim's tokens: %d, want 403", rec.Code)
	}
	if rec := call("DELETE", "/api/v1/tokens/"+itoa(read.ID), "", lee, ""); rec.Code != http.StatusNotFound {
		t.Errorf("a member revoking kim's token: %d, want 404", rec.Code)
	}
	if rec := call("GET", "/api/v1/tokens?user=2", "", kim, ""); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "script") {
		t.Errorf("an admin listing lee's tokens: %d %s", rec.Code, rec.Body)
	}

	// Revoked: 401 at once.
	if rec := call("DELETE", "/api/v1/tokens/"+itoa(read.ID), "", kim, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
	}
	if rec := call("GET", "/api/v1/users", "", nil, read.Token); rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Header().Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("a revoked token: %d (WWW-Authenticate %q), want 401 with Bearer", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	// Demoted below its scope: kim's admin token stops when kim is no admin.
	if rec := call("PATCH", "/api/v1/users/3", `{"role":"admin"}`, kim, ""); rec.Code != http.StatusOK { // park, so kim is not the last admin
		t.Fatal(rec.Body)
	}
	if rec := call("PATCH", "/api/v1/users/1", `{"role":"member"}`, kim, ""); rec.Code != http.StatusOK {
		t.Fatal(rec.Body)
	}
	if rec := call("GET", "/api/v1/users", "", nil, adminToken.Token); rec.Code != http.StatusUnauthorized {
		t.Errorf("an admin token after its user's demotion: %d, want 401", rec.Code)
	}
	if rec := call("GET", "/api/v1/users", "", nil, writeOnly.Token); rec.Code != http.StatusOK {
		t.Errorf("a write token after its user's demotion: %d, want 200 (within what a member may do)", rec.Code)
	}
	// A password change ends the user's tokens with their sessions.
	if rec := call("PATCH", "/api/v1/users/2", `{"password":"a brand new long password"}`, a.login(t, "park"), ""); rec.Code != http.StatusOK {
		t.Fatal(rec.Body)
	}
	if rec := call("GET", "/api/v1/users", "", nil, leeToken.Token); rec.Code != http.StatusUnauthorized {
		t.Errorf("a token after its user's password was set: %d, want 401", rec.Code)
	}
	// A deleted user's tokens go with them.
	if rec := call("DELETE", "/api/v1/users/1", "", a.login(t, "park"), ""); rec.Code != http.StatusNoContent {
		t.Fatal(rec.Body)
	}
	if rec := call("GET", "/api/v1/users", "", nil, writeOnly.Token); rec.Code != http.StatusUnauthorized {
		t.Errorf("a deleted user's token: %d, want 401", rec.Code)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestTokensPage: the page makes a token with a plain form and shows its
// secret once, lists tokens by their prefix, says what is wrong with a
// form, and revokes; members are not offered the admin scope.
func TestTokensPage(t *testing.T) {
	a := newApp(t)
	users("kim", "lee")(t, a)
	kim, lee := a.login(t, "kim"), a.login(t, "lee")
	post := func(path string, values url.Values, cookie *http.Cookie) *httptest.ResponseRecorder {
		req := form("POST", path, values)
		req.AddCookie(cookie)
		return a.do(req)
	}
	page := a.do(get("/account/tokens", kim))
	if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), "You have no tokens yet.") || !strings.Contains(page.Body.String(), `value="admin"`) {
		t.Fatalf("the empty page: %d\n%s", page.Code, page.Body)
	}
	if body := a.do(get("/account/tokens", lee)).Body.String(); strings.Contains(body, `value="admin"`) {
		t.Error("a member is offered the admin scope")
	}
	made := post("/account/tokens", url.Values{"name": {"backup"}, "scopes": {"read", "write"}, "expires_in": {"720h"}}, kim)
	body := made.Body.String()
	secret := regexp.MustCompile(`value="(uh_[0-9A-Za-z]{43})"`).FindStringSubmatch(body)
	if made.Code != http.StatusCreated || secret == nil || !strings.Contains(body, "It is shown only this once") {
		t.Fatalf("creating a token: %d\n%s", made.Code, body)
	}
	// It works, and the page lists it by its prefix only.
	req := get("/api/v1/me")
	req.Header.Set("Authorization", "Bearer "+secret[1])
	if rec := a.do(req); rec.Code != http.StatusOK {
		t.Fatalf("the token from the page: %d", rec.Code)
	}
	listed := a.do(get("/account/tokens", kim)).Body.String()
	if strings.Contains(listed, secret[1]) || !strings.Contains(listed, secret[1][:9]+"…") || !strings.Contains(listed, "read, write") || !strings.Contains(listed, "backup") {
		t.Errorf("the list after creating:\n%s", listed)
	}
	// What is wrong is said, in the page's language; nothing is made.
	for _, tt := range []struct {
		values url.Values
		cookie *http.Cookie
		says   string
	}{
		{url.Values{"name": {""}, "scopes": {"read"}, "expires_in": {"720h"}}, kim, "Name the token."},
		{url.Values{"name": {"x"}, "expires_in": {"720h"}}, kim, "Choose at least one scope."},
		{url.Values{"name": {"x"}, "scopes": {"admin"}, "expires_in": {"720h"}}, lee, "Only an administrator&#39;s token may have the admin scope."},
		{url.Values{"name": {"x"}, "scopes": {"read"}, "expires_in": {"soon"}}, kim, "Choose when the token expires."},
	} {
		rec := post("/account/tokens", tt.values, tt.cookie)
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), tt.says) {
			t.Errorf("%v: %d, want 422 saying %q\n%s", tt.values, rec.Code, tt.says, rec.Body)
		}
	}
	if n := strings.Count(a.do(get("/account/tokens", kim)).Body.String(), `/revoke"`); n != 1 {
		t.Errorf("%d tokens listed after the refused forms, want 1", n)
	}
	// Revoke: back to the page, which says so; the token stops.
	id := regexp.MustCompile(`/account/tokens/(\d+)/revoke`).FindStringSubmatch(listed)[1]
	if rec := post("/account/tokens/99/revoke", nil, lee); rec.Code != http.StatusNotFound {
		t.Errorf("revoking another's token from the page: %d, want 404", rec.Code)
	}
	rec := post("/account/tokens/"+id+"/revoke", nil, kim)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/account/tokens?revoked=1" {
		t.Fatalf("revoke: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	if body := a.do(get("/account/tokens?revoked=1", kim)).Body.String(); !strings.Contains(body, "The token was revoked.") || !strings.Contains(body, "You have no tokens yet.") {
		t.Errorf("after revoking:\n%s", body)
	}
	if rec := a.do(req); rec.Code != http.StatusUnauthorized {
		t.Errorf("the revoked token: %d, want 401", rec.Code)
	}
}

// BenchmarkAPIListUsers: GET /api/v1/users (50 of 100 users) through the
// whole handler chain, logged in with the session cookie and with a bearer
// token, under a rate limit it never reaches: what a token costs beside a
// session (the token read with its user in one query, the rate limit).
func BenchmarkAPIListUsers(b *testing.B) {
	a := newApp(b, func(c *config.Config) { c.API.RateLimit = 1000000 })
	names := []string{"kim"}
	for i := range 99 {
		names = append(names, fmt.Sprintf("user%03d", i))
	}
	users(names...)(b, a)
	kim := a.login(b, "kim")
	req := httptest.NewRequest("POST", "/api/v1/tokens", strings.NewReader(`{"name":"bench","scopes":["read"]}`))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(kim)
	var made struct{ Token string }
	json.Unmarshal(a.do(req).Body.Bytes(), &made)
	for _, tt := range []struct {
		name string
		auth func(*http.Request)
	}{
		{"cookie", func(r *http.Request) { r.AddCookie(kim) }},
		{"token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+made.Token) }},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest("GET", "/api/v1/users?limit=50", nil)
				tt.auth(r)
				rec := httptest.NewRecorder()
				a.handler.ServeHTTP(rec, r)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
