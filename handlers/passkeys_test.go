package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// ceremonyOf returns the passkey ceremony cookie rec set, or nil.
func ceremonyOf(rec *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == "userhub_webauthn" && c.MaxAge > 0 {
			return c
		}
	}
	return nil
}

// TestPasskeyAPI: the passkey routes' answers short of a browser (which
// e2e's TestBrowserPasskeys brings): the options, and each way a ceremony
// is refused. Each row is a request and what it must answer.
func TestPasskeyAPI(t *testing.T) {
	a := newApp(t)
	users("kim", "lee")(t, a)
	kim, lee := a.login(t, "kim"), a.login(t, "lee")

	rec := a.do(jsonReq("POST", "/api/v1/login/passkey/options", ""))
	login := ceremonyOf(rec)
	if rec.Code != 200 || login == nil || !login.HttpOnly || login.SameSite != http.SameSiteStrictMode ||
		!strings.Contains(rec.Body.String(), `"rpId":"localhost"`) || !strings.Contains(rec.Body.String(), `"userVerification":"required"`) {
		t.Fatalf("login options: %d %v %s", rec.Code, login, rec.Body)
	}
	rec = a.do(jsonReq("POST", "/api/v1/me/passkeys/options", "", kim))
	register := ceremonyOf(rec)
	if rec.Code != 200 || register == nil || !strings.Contains(rec.Body.String(), `"residentKey":"required"`) || !strings.Contains(rec.Body.String(), `"name":"kim"`) {
		t.Fatalf("registration options: %d %s", rec.Code, rec.Body)
	}
	bogus := `{"credential":{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AAAA","signature":"AAAA"}}}`
	rows := []struct {
		name     string
		req      *http.Request
		status   int
		contains string
	}{
		{"a sign-in without its ceremony", jsonReq("POST", "/api/v1/login/passkey", bogus), 400, `"code":"no_ceremony"`},
		{"a sign-in that does not verify", jsonReq("POST", "/api/v1/login/passkey", bogus, login), 401, `"code":"invalid_passkey"`},
		{"the same ceremony again", jsonReq("POST", "/api/v1/login/passkey", bogus, login), 400, `"code":"no_ceremony"`},
		{"a registration with a sign-in's ceremony", jsonReq("POST", "/api/v1/me/passkeys", `{"name":"x","credential":{}}`, kim, login), 400, `"code":"no_ceremony"`},
		{"another user's registration ceremony", jsonReq("POST", "/api/v1/me/passkeys", `{"name":"x","credential":{}}`, lee, register), 400, `"code":"no_ceremony"`},
		{"a registration without a name", jsonReq("POST", "/api/v1/me/passkeys", `{"name":" ","credential":{}}`, kim, register), 422, `"field":"name"`},
		{"a registration without a credential", jsonReq("POST", "/api/v1/me/passkeys", `{"name":"x"}`, kim), 422, `"field":"credential"`},
		{"the list", get("/api/v1/me/passkeys", kim), 200, `{"passkeys":[]}`},
		{"removing one that is not there", jsonReq("DELETE", "/api/v1/me/passkeys/AAAA", "", kim), 404, `"code":"not_found"`},
		{"anonymous registration", jsonReq("POST", "/api/v1/me/passkeys/options", ""), 401, `"code":"not_authenticated"`},
	}
	for _, r := range rows {
		rec := a.do(r.req)
		if rec.Code != r.status || !strings.Contains(rec.Body.String(), r.contains) {
			t.Errorf("%s: %d %s, want %d %s", r.name, rec.Code, rec.Body, r.status, r.contains)
		}
	}
}
