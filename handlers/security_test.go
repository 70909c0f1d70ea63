package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"userhub/config"
)

// codeAt is the authenticator code of secret, steps steps from now: the
// server accepts one step either side, and each step once.
func codeAt(t testing.TB, secret string, steps int) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, time.Now().Add(time.Duration(steps)*30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// enrolTOTP turns the authenticator on for the session's user through the
// API, and returns the secret and the recovery codes.
func enrolTOTP(t *testing.T, a app, session *http.Cookie) (secret string, recovery []string) {
	t.Helper()
	rec := a.do(jsonReq("POST", "/api/v1/me/totp", "", session))
	wantStatus(t, rec, http.StatusCreated, "begin")
	var begun struct {
		Secret string `json:"secret"`
		URL    string `json:"otpauth_url"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &begun); err != nil || begun.Secret == "" || !strings.HasPrefix(begun.URL, "otpauth://totp/userhub:") {
		t.Fatalf("begin: %s (%v)", rec.Body, err)
	}
	rec = a.do(jsonReq("POST", "/api/v1/me/totp/confirm", `{"code":"000000x"}`, session))
	wantStatus(t, rec, http.StatusUnprocessableEntity, "confirm with a wrong code")
	rec = a.do(jsonReq("POST", "/api/v1/me/totp/confirm", `{"code":"`+codeAt(t, begun.Secret, 0)+`"}`, session))
	wantStatus(t, rec, http.StatusOK, "confirm")
	var confirmed struct {
		Codes []string `json:"recovery_codes"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &confirmed); err != nil || len(confirmed.Codes) != 10 {
		t.Fatalf("confirm: %s (%v)", rec.Body, err)
	}
	return begun.Secret, confirmed.Codes
}

func loginBody(name, password string, extra string) string {
	return `{"name":"` + name + `","password":"` + password + `"` + extra + `}`
}

// TestTOTPOverTheAPI: enrol, confirm, and the logins that follow, each
// row a request and what it must answer.
func TestTOTPOverTheAPI(t *testing.T) {
	a := newApp(t)
	users("kim", "lee")(t, a)
	secret, recovery := enrolTOTP(t, a, a.login(t, "lee"))
	steps := []struct {
		name   string
		body   func() string
		status int
		code   string
	}{
		{"a password alone", func() string { return loginBody("lee", testPassword, "") }, 401, "second_factor_required"},
		{"a wrong password with a code", func() string { return loginBody("lee", "wrong password!", `,"totp":"`+codeAt(t, secret, 1)+`"`) }, 401, "bad_credentials"},
		{"the next code", func() string { return loginBody("lee", testPassword, `,"totp":"`+codeAt(t, secret, 1)+`"`) }, 200, ""},
		{"the same code again", func() string { return loginBody("lee", testPassword, `,"totp":"`+codeAt(t, secret, 1)+`"`) }, 401, "invalid_second_factor"},
		{"an earlier code", func() string { return loginBody("lee", testPassword, `,"totp":"`+codeAt(t, secret, 0)+`"`) }, 401, "invalid_second_factor"},
		{"a recovery code", func() string {
			return loginBody("lee", testPassword, `,"recovery_code":"`+strings.ToLower(recovery[3])+`"`)
		}, 200, ""},
		{"the recovery code again", func() string { return loginBody("lee", testPassword, `,"recovery_code":"`+recovery[3]+`"`) }, 401, "invalid_second_factor"},
		{"another recovery code in the code's field", func() string { return loginBody("lee", testPassword, `,"totp":"`+recovery[4]+`"`) }, 200, ""},
	}
	for _, s := range steps {
		rec := a.do(jsonReq("POST", "/api/v1/login", s.body()))
		if rec.Code != s.status || (s.code != "" && !strings.Contains(rec.Body.String(), `"code":"`+s.code+`"`)) {
			t.Errorf("%s: %d %s, want %d %s", s.name, rec.Code, rec.Body, s.status, s.code)
		}
		if s.status != 200 && len(rec.Result().Cookies()) != 0 {
			t.Errorf("%s: a cookie was set: %v", s.name, rec.Header()["Set-Cookie"])
		}
	}
	// Wrong codes count toward the login throttle: 429 after the limit.
	for i := 1; i <= a.cfg.Auth.LoginLimitPerName+1; i++ {
		rec := a.do(jsonReq("POST", "/api/v1/login", loginBody("lee", testPassword, `,"totp":"000000"`)))
		want := 401
		if i > a.cfg.Auth.LoginLimitPerName {
			want = 429
		}
		if rec.Code != want {
			t.Fatalf("wrong code %d: %d %s, want %d", i, rec.Code, rec.Body, want)
		}
	}
	rec := a.do(jsonReq("POST", "/api/v1/login", loginBody("lee", testPassword, `,"totp":"`+codeAt(t, secret, 1)+`"`)))
	wantStatus(t, rec, 429, "the right code while throttled")
}

// TestTOTPManagement: the API's enrol, confirm and remove, row by row.
func TestTOTPManagement(t *testing.T) {
	a := newApp(t)
	users("kim", "lee")(t, a)
	session := a.login(t, "lee")
	rec := a.do(jsonReq("POST", "/api/v1/me/totp/confirm", `{"code":"123456"}`, session))
	wantStatus(t, rec, 422, "confirm before begin")
	secret, recovery := enrolTOTP(t, a, session)
	rows := []struct {
		name, method, path, body string
		status                   int
		contains                 string
	}{
		{"begin again while on", "POST", "/api/v1/me/totp", "", 409, `"code":"totp_enabled"`},
		{"remove without a code", "DELETE", "/api/v1/me/totp", `{"password":"` + testPassword + `"}`, 422, `"field":"code"`},
		{"remove with a wrong password", "DELETE", "/api/v1/me/totp", `{"password":"wrong password!","code":"` + recovery[0] + `"}`, 422, `"code":"wrong_password"`},
		{"remove with a wrong code", "DELETE", "/api/v1/me/totp", `{"password":"` + testPassword + `","code":"000000"}`, 422, `"code":"wrong_code"`},
		{"remove with a recovery code", "DELETE", "/api/v1/me/totp", `{"password":"` + testPassword + `","code":"` + recovery[0] + `"}`, 204, ""},
		{"remove again", "DELETE", "/api/v1/me/totp", `{"password":"` + testPassword + `","code":"` + codeAt(t, secret, 1) + `"}`, 422, `"code":"wrong_code"`},
		{"the password alone logs in again", "POST", "/api/v1/login", loginBody("lee", testPassword, ""), 200, `"name":"lee"`},
	}
	for _, r := range rows {
		rec := a.do(jsonReq(r.method, r.path, r.body, session))
		if rec.Code != r.status || !strings.Contains(rec.Body.String(), r.contains) {
			t.Errorf("%s: %d %s, want %d %s", r.name, rec.Code, rec.Body, r.status, r.contains)
		}
	}
}

// cookieOf returns the session cookie rec set, or nil.
func cookieOf(rec *httptest.ResponseRecorder) *http.Cookie {
	var last *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "userhub_session" && c.MaxAge >= 0 {
			last = c
		}
	}
	return last
}

// TestTOTPPages: the page login's second step and the security page, with
// plain form posts, as a browser without script sends them.
func TestTOTPPages(t *testing.T) {
	a := newApp(t)
	users("kim", "lee")(t, a)
	session := a.login(t, "lee")
	post := func(path string, values url.Values, c *http.Cookie) *httptest.ResponseRecorder {
		req := form("POST", path, values)
		if c != nil {
			req.AddCookie(c)
		}
		return a.do(req)
	}
	// Enrol on the page: the secret and its QR code, then the code.
	rec := post("/account/security/totp", nil, session)
	if rec.Code != 303 || rec.Header().Get("Location") != "/account/security" {
		t.Fatalf("begin: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	rec = a.do(get("/account/security", session))
	wantStatus(t, rec, 200, "the page with the new secret")
	m := regexp.MustCompile(`<code id="totp-secret"[^>]*>([A-Z2-7]+)</code>`).FindStringSubmatch(rec.Body.String())
	if m == nil || !strings.Contains(rec.Body.String(), `src="data:image/png;base64,`) {
		t.Fatalf("the page shows no secret or QR code:\n%s", rec.Body)
	}
	secret := m[1]
	rec = post("/account/security/totp/confirm", url.Values{"code": {"999999"}}, session)
	if rec.Code != 422 || !strings.Contains(rec.Body.String(), "That code is not right.") || !strings.Contains(rec.Body.String(), secret) {
		t.Fatalf("a wrong code: %d\n%s", rec.Code, rec.Body)
	}
	rec = post("/account/security/totp/confirm", url.Values{"code": {codeAt(t, secret, 0)}}, session)
	if rec.Code != 200 || strings.Count(rec.Body.String(), "<li><code>") != 10 || !strings.Contains(rec.Body.String(), "shown only this once") {
		t.Fatalf("confirm: %d\n%s", rec.Code, rec.Body)
	}

	// The login: the password leads to the second step, which alone is no login.
	rec = post("/login", url.Values{"name": {"lee"}, "password": {testPassword}, "next": {"/account"}}, nil)
	if rec.Code != 303 || rec.Header().Get("Location") != "/login/2fa?next=%2Faccount" {
		t.Fatalf("password: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	pending := cookieOf(rec)
	rows := []struct {
		name     string
		req      func() *httptest.ResponseRecorder
		status   int
		location string
		contains string
	}{
		{"the pending session is no login", func() *httptest.ResponseRecorder { return a.do(get("/api/v1/me", pending)) }, 401, "", ""},
		{"nor for pages", func() *httptest.ResponseRecorder { return a.do(get("/account", pending)) }, 303, "/login?next=%2Faccount", ""},
		{"the second step's form", func() *httptest.ResponseRecorder { return a.do(get("/login/2fa?next=/account", pending)) }, 200, "", `name="next" value="/account"`},
		{"the form without a pending login", func() *httptest.ResponseRecorder { return a.do(get("/login/2fa")) }, 303, "/login", ""},
		{"a wrong code", func() *httptest.ResponseRecorder {
			return post("/login/2fa", url.Values{"code": {"000000"}, "next": {"/account"}}, pending)
		}, 401, "", "That code is not right, or was used already."},
	}
	for _, r := range rows {
		rec := r.req()
		if rec.Code != r.status || rec.Header().Get("Location") != r.location || !strings.Contains(rec.Body.String(), r.contains) {
			t.Errorf("%s: %d to %q\n%s", r.name, rec.Code, rec.Header().Get("Location"), rec.Body)
		}
	}
	rec = post("/login/2fa", url.Values{"code": {codeAt(t, secret, 1)}, "next": {"/account"}}, pending)
	if rec.Code != 303 || rec.Header().Get("Location") != "/account" {
		t.Fatalf("the right code: %d to %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	full := cookieOf(rec)
	wantStatus(t, a.do(get("/api/v1/me", full)), 200, "the complete login")
	wantStatus(t, a.do(get("/api/v1/me", pending)), 401, "the pending session after the login")

	// Remove it on the page, with the password and a code.
	rec = post("/account/security/totp/remove", url.Values{"password": {testPassword}, "code": {"000000"}}, full)
	wantStatus(t, rec, 422, "remove with a wrong code")
	rec = post("/account/security/totp/remove", url.Values{"password": {testPassword}, "code": {codeAt(t, secret, -1)}}, full)
	wantStatus(t, rec, 422, "remove with a code older than the last used")
	rec = post("/account/security/totp/remove", url.Values{"password": {testPassword}, "code": {codeAt(t, secret, 2)}}, full)
	wantStatus(t, rec, 422, "remove with a code two steps ahead")
	rec = post("/login", url.Values{"name": {"lee"}, "password": {testPassword}}, nil)
	next := post("/login/2fa", url.Values{"code": {"ABCD-EFGH"}}, cookieOf(rec))
	wantStatus(t, next, 401, "a wrong recovery code")
}

// TestAdminsMustEnrol: with auth.require_2fa_for_admins, an administrator
// without a second factor may only enrol; members are not held.
func TestAdminsMustEnrol(t *testing.T) {
	a := newApp(t, func(c *config.Config) { c.Auth.Require2FAForAdmins = true })
	users("kim", "lee")(t, a)
	rec := a.do(form("POST", "/login", url.Values{"name": {"kim"}, "password": {testPassword}}))
	if rec.Code != 303 || rec.Header().Get("Location") != "/account/security" {
		t.Fatalf("an admin's login: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	kim := a.login(t, "kim")
	rows := []struct {
		name     string
		req      *http.Request
		status   int
		location string
		contains string
	}{
		{"a page", get("/", kim), 303, "/account/security", ""},
		{"the account page", get("/account", kim), 303, "/account/security", ""},
		{"the API", get("/api/v1/users", kim), 403, "", `"code":"second_factor_enrolment_required"`},
		{"the seed's routes", get("/users", kim), 403, "", `"code":"second_factor_enrolment_required"`},
		{"a change", jsonReq("POST", "/api/v1/users", `{"name":"park"}`, kim), 403, "", `"code":"second_factor_enrolment_required"`},
		{"who am I", get("/api/v1/me", kim), 200, "", `"name":"kim"`},
		{"a passkey instead", jsonReq("POST", "/api/v1/me/passkeys/options", "", kim), 200, "", `"publicKey"`},
		{"the security page", get("/account/security", kim), 200, "", "Administrators must set up a second factor before going on"},
		{"a member", get("/api/v1/users", a.login(t, "lee")), 200, "", `"name":"lee"`},
	}
	for _, r := range rows {
		rec := a.do(r.req)
		if rec.Code != r.status || rec.Header().Get("Location") != r.location || !strings.Contains(rec.Body.String(), r.contains) {
			t.Errorf("%s: %d to %q\n%s", r.name, rec.Code, rec.Header().Get("Location"), rec.Body)
		}
	}
	// Once enrolled, the session goes on as a complete one, and the next
	// login needs the code.
	secret, _ := enrolTOTPFrom(t, a, kim)
	wantStatus(t, a.do(get("/api/v1/users", kim)), 200, "the session after enrolling")
	rec = a.do(jsonReq("POST", "/api/v1/login", loginBody("kim", testPassword, `,"totp":"`+codeAt(t, secret, 1)+`"`)))
	wantStatus(t, rec, 200, "login with the code")
	wantStatus(t, a.do(get("/api/v1/users", cookieOf(rec))), 200, "the new session")
}

// enrolTOTPFrom enrols through the API as enrolTOTP does, and carries on
// with the cookie the confirmation renews.
func enrolTOTPFrom(t *testing.T, a app, session *http.Cookie) (string, []string) {
	t.Helper()
	rec := a.do(jsonReq("POST", "/api/v1/me/totp", "", session))
	wantStatus(t, rec, http.StatusCreated, "begin")
	var begun struct {
		Secret string `json:"secret"`
	}
	json.Unmarshal(rec.Body.Bytes(), &begun)
	rec = a.do(jsonReq("POST", "/api/v1/me/totp/confirm", `{"code":"`+codeAt(t, begun.Secret, 0)+`"}`, session))
	wantStatus(t, rec, http.StatusOK, "confirm")
	if c := cookieOf(rec); c != nil {
		*session = *c
	}
	var confirmed struct {
		Codes []string `json:"recovery_codes"`
	}
	json.Unmarshal(rec.Body.Bytes(), &confirmed)
	return begun.Secret, confirmed.Codes
}
