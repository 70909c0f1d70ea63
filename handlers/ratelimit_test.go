package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"userhub/config"
)

// TestRateLimits: with api.rate_limit 20, a token's 21st request in a
// minute is 429 with Retry-After and the RateLimit fields; another token,
// and a session, have limits of their own; anonymous requests are limited
// per client address by api.anonymous_rate_limit; pages are not limited.
func TestRateLimits(t *testing.T) {
	a := newApp(t, func(c *config.Config) { c.API.RateLimit, c.API.AnonymousRateLimit = 20, 3 })
	users("kim")(t, a)
	kim := a.login(t, "kim") // one anonymous request
	newToken := func() string {
		req := httptest.NewRequest("POST", "/api/v1/tokens", strings.NewReader(`{"name":"load","scopes":["read"]}`))
		req.Header.Set("Content-Type", "application/json")
		req.AddCookie(kim)
		rec := a.do(req)
		var out struct{ Token string }
		json.Unmarshal(rec.Body.Bytes(), &out)
		if out.Token == "" {
			t.Fatalf("create a token: %d %s", rec.Code, rec.Body)
		}
		return out.Token
	}
	first, second := newToken(), newToken() // the session's requests 1 and 2
	call := func(token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/api/v1/users", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		return a.do(req)
	}
	remaining := regexp.MustCompile(`^"principal";r=(\d+);t=(\d+)$`)
	for i := 1; i <= 20; i++ {
		rec := call(first)
		if rec.Code != http.StatusOK || rec.Header().Get("RateLimit-Policy") != `"principal";q=20;w=60` || !remaining.MatchString(rec.Header().Get("RateLimit")) {
			t.Fatalf("request %d: %d, RateLimit-Policy %q, RateLimit %q", i, rec.Code, rec.Header().Get("RateLimit-Policy"), rec.Header().Get("RateLimit"))
		}
		if m := remaining.FindStringSubmatch(rec.Header().Get("RateLimit")); i == 20 && m[1] != "0" {
			t.Errorf("the 20th request leaves %s, want 0", m[1])
		}
	}
	rec := call(first)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || rec.Header().Get("Content-Type") != "application/problem+json" ||
		!strings.Contains(rec.Body.String(), `"code":"rate_limited"`) || !remaining.MatchString(rec.Header().Get("RateLimit")) {
		t.Fatalf("the 21st request: %d, Retry-After %q, RateLimit %q\n%s", rec.Code, rec.Header().Get("Retry-After"), rec.Header().Get("RateLimit"), rec.Body)
	}
	if rec := call(second); rec.Code != http.StatusOK {
		t.Errorf("another token after the first's limit: %d, want 200", rec.Code)
	}
	if rec := a.do(get("/api/v1/me", kim)); rec.Code != http.StatusOK {
		t.Errorf("the session after a token's limit: %d, want 200", rec.Code)
	}
	if rec := a.do(get("/", kim)); rec.Code != http.StatusOK || rec.Header().Get("RateLimit") != "" {
		t.Errorf("a page: %d, RateLimit %q; want 200 and no rate limit", rec.Code, rec.Header().Get("RateLimit"))
	}
	// Anonymous: 3 a minute per address; the login above was the first.
	for i, want := range []int{http.StatusUnauthorized, http.StatusUnauthorized, http.StatusTooManyRequests} {
		rec := a.do(jsonReq("POST", "/api/v1/login", `{"name":"kim","password":"not the password at all"}`))
		if rec.Code != want || !strings.HasPrefix(rec.Header().Get("RateLimit"), `"anonymous";`) {
			t.Errorf("anonymous request %d: %d (RateLimit %q), want %d", i+2, rec.Code, rec.Header().Get("RateLimit"), want)
		}
	}
}
