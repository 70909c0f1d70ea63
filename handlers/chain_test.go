package handlers_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"userhub/config"
	"userhub/models"
)

// Tests of the middleware chain as the routes see it.

func TestRequestID(t *testing.T) {
	a := newApp(t)
	for _, tt := range []struct {
		sent     string
		honoured bool
	}{
		{"", false},
		{"abc-123_x.y:z", true},
		{"0f9b8c1e-4a5d-4c1b-9e7a-2d3c4b5a6f70", true},
		{"has space", false},
		{"evil\nline", false},
		{strings.Repeat("a", 65), false},
	} {
		req := httptest.NewRequest("GET", "/api/v1/users/9", nil)
		if tt.sent != "" {
			req.Header["X-Request-Id"] = []string{tt.sent}
		}
		rec := httptest.NewRecorder()
		a.handler.ServeHTTP(rec, req)
		got := rec.Header().Get("X-Request-Id")
		if (got == tt.sent) != tt.honoured || got == "" {
			t.Errorf("sent %q, got %q (honoured=%v)", tt.sent, got, tt.honoured)
		}
		if !strings.Contains(rec.Body.String(), `"request_id":"`+got+`"`) {
			t.Errorf("problem body does not carry the request id %q: %s", got, rec.Body)
		}
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	want := map[string]string{
		"Content-Security-Policy": "script-src 'self'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "strict-origin-when-cross-origin",
	}
	var scs []scenario
	for _, p := range []struct {
		as, method, path string
		status           int
	}{
		{"", "GET", "/", 303}, {"", "GET", "/users", 401}, {"", "GET", "/about", 303}, {"", "GET", "/nowhere", 404},
		{"", "TRACE", "/users", 405}, {"", "GET", "/static/app.css", 200},
		// Rendered pages and answers to a logged-in user.
		{"kim", "GET", "/", 200}, {"kim", "GET", "/about", 200}, {"kim", "GET", "/account", 200}, {"kim", "GET", "/api/v1/users", 200},
		{"-", "GET", "/login", 200},
	} {
		sc := scenario{name: p.as + " " + p.method + " " + p.path, as: p.as, method: p.method, path: p.path, status: p.status, wantHeader: want}
		if p.as != "" {
			sc.fixture = users("kim")
		}
		scs = append(scs, sc)
	}
	run(t, scs)

	// The policy is one constant: frame-ancestors in it, no 'unsafe-inline'.
	rec := httptest.NewRecorder()
	newApp(t).handler.ServeHTTP(rec, httptest.NewRequest("GET", "/nowhere", nil))
	csp := rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
}

func TestCrossOriginProtection(t *testing.T) {
	body := `{"name":"lee"}`
	h := func(kv ...string) map[string]string {
		m := map[string]string{"Content-Type": jsonCT}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	run(t, asAdmin([]scenario{
		{name: "no browser headers (curl)", method: "POST", path: "/user", header: h(), body: body, status: 201},
		{name: "same-origin fetch", method: "POST", path: "/user", header: h("Sec-Fetch-Site", "same-origin", "Origin", "http://example.com"), body: body, status: 201},
		{name: "cross-site fetch", method: "POST", path: "/user", header: h("Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"), body: body,
			status: 403, wantHeader: map[string]string{"Content-Type": problemCT}, contains: []string{`"code":"cross_origin"`}},
		{name: "same-site is not same-origin", method: "DELETE", path: "/user/1", header: h("Sec-Fetch-Site", "same-site"), fixture: users("kim", "lee"), status: 403},
		{name: "foreign Origin without Sec-Fetch-Site", method: "POST", path: "/user", header: h("Origin", "https://evil.example"), body: body, status: 403},
		{name: "matching Origin", method: "POST", path: "/user", header: h("Origin", "http://example.com"), body: body, status: 201},
		{name: "cross-site GET passes", method: "GET", path: "/users", header: h("Sec-Fetch-Site", "cross-site"), status: 200},
		{name: "cross-site page POST gets the HTML page", method: "POST", path: "/logout", header: h("Sec-Fetch-Site", "cross-site"),
			status: 403, wantHeader: map[string]string{"Content-Type": htmlCT}},
		{name: "cross-site login form", as: "-", method: "POST", path: "/login", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"},
			body: "name=kim&password=" + testPassword, status: 403},
	}))
}

func TestTrustedOrigins(t *testing.T) {
	a := newApp(t, func(c *config.Config) { c.Server.TrustedOrigins = []string{"https://admin.example"} })
	users("kim")(t, a)
	req := httptest.NewRequest("POST", "/user", strings.NewReader(`{"name":"lee"}`))
	req.Header.Set("Content-Type", jsonCT)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://admin.example")
	req.AddCookie(a.login(t, "kim"))
	if rec := a.do(req); rec.Code != 201 {
		t.Fatalf("trusted origin: %d %s", rec.Code, rec.Body)
	}
}

func TestGzip(t *testing.T) {
	a := newApp(t)
	users("kim")(t, a)
	session := a.login(t, "kim")
	for _, path := range []string{"/", "/about", "/users", "/static/app.css"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		req.AddCookie(session)
		rec := a.do(req)
		if rec.Header().Get("Content-Encoding") != "gzip" || !strings.Contains(rec.Header().Get("Vary"), "Accept-Encoding") {
			t.Fatalf("%s: Content-Encoding %q, Vary %q", path, rec.Header().Get("Content-Encoding"), rec.Header().Get("Vary"))
		}
		zr, err := gzip.NewReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil || len(plain) == 0 {
			t.Fatalf("%s: bad gzip body: %v", path, err)
		}
	}
	// Without Accept-Encoding: plain.
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, httptest.NewRequest("GET", "/about", nil))
	if rec.Header().Get("Content-Encoding") != "" || !bytes.Contains(rec.Body.Bytes(), []byte("<html")) {
		t.Fatalf("plain response is encoded: %q", rec.Header().Get("Content-Encoding"))
	}
}

// A chunked body (no Content-Length) is cut off at the limit: 413 too.
func TestBodyLimitChunked(t *testing.T) {
	a := newApp(t)
	users("kim")(t, a)
	body := io.MultiReader(strings.NewReader(`{"name":"`), strings.NewReader(strings.Repeat("a", 2<<20)), strings.NewReader(`"}`))
	req := httptest.NewRequest("POST", "/user", body)
	req.ContentLength = -1
	req.Header.Set("Content-Type", jsonCT)
	req.AddCookie(a.login(t, "kim"))
	rec := a.do(req)
	if rec.Code != 413 {
		t.Fatalf("chunked 2 MiB body: %d %s", rec.Code, rec.Body)
	}
}

// faultyStore fails or panics on ListUsers and Ping, to see how the chain
// answers a broken dependency.
type faultyStore struct {
	testStore
	panics bool
}

var errDatabaseDown = errors.New("database down: secret connection detail")

func (f faultyStore) ListUsers(ctx context.Context, q models.ListQuery) (models.Page, error) {
	if f.panics {
		panic("boom")
	}
	return models.Page{}, errDatabaseDown
}

func (f faultyStore) Ping(context.Context) error { return errDatabaseDown }

func TestFaults(t *testing.T) {
	for _, panics := range []bool{false, true} {
		a := newApp(t)
		users("kim")(t, a)
		session := a.login(t, "kim")
		h := a.build(t, faultyStore{testStore: a.store, panics: panics})
		for _, tt := range []struct {
			path, contentType string
			status            int
		}{
			{"/users", problemCT, 500},
			{"/api/v1/users", problemCT, 500},
			{"/", htmlCT, 500},
			{"/readyz", problemCT, 503},
			{"/healthz", jsonCT, 200}, // liveness does not depend on the database
		} {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", tt.path, nil)
			req.AddCookie(session)
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status || !strings.HasPrefix(rec.Header().Get("Content-Type"), tt.contentType) {
				t.Errorf("panics=%v %s: %d %q, want %d %q", panics, tt.path, rec.Code, rec.Header().Get("Content-Type"), tt.status, tt.contentType)
			}
			if b := rec.Body.String(); strings.Contains(b, "secret") || strings.Contains(b, "boom") || strings.Contains(b, "goroutine") {
				t.Errorf("%s leaks the fault: %s", tt.path, b)
			}
		}
	}
}

// TestLogging checks the access log (one line per request, with status and
// request id) and that a panic is logged with its stack.
func TestLogging(t *testing.T) {
	var buf bytes.Buffer
	a := newApp(t)
	users("kim")(t, a)
	session := a.login(t, "kim")
	a.log = slog.New(slog.NewTextHandler(&buf, nil))
	h := a.build(t, faultyStore{testStore: a.store, panics: true})
	req := httptest.NewRequest("GET", "/users?secret=1", nil)
	req.Header.Set("X-Request-Id", "req-42")
	req.AddCookie(session)
	h.ServeHTTP(httptest.NewRecorder(), req)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/about", nil))

	out := buf.String()
	for _, want := range []string{
		"msg=panic", "panic=boom", "request_id=req-42", "stack=",
		"level=ERROR msg=request method=GET path=/users status=500", "user=kim",
		"level=INFO msg=request method=GET path=/about status=200",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret=1") {
		t.Errorf("the query string was logged:\n%s", out)
	}
	if n := strings.Count(out, "msg=request "); n != 2 {
		t.Errorf("%d access lines for 2 requests", n)
	}
}

// canceledStore answers as if the client had gone away mid-request.
type canceledStore struct{ testStore }

func (canceledStore) ListUsers(context.Context, models.ListQuery) (models.Page, error) {
	return models.Page{}, context.Canceled
}

// TestClientGoneIsNotAServerError: 499 in the access log, no error line.
func TestClientGoneIsNotAServerError(t *testing.T) {
	var buf bytes.Buffer
	a := newApp(t)
	users("kim")(t, a)
	session := a.login(t, "kim")
	a.log = slog.New(slog.NewTextHandler(&buf, nil))
	h := a.build(t, canceledStore{a.store})
	req := httptest.NewRequest("GET", "/users", nil)
	req.AddCookie(session)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 499 || strings.Contains(buf.String(), "level=ERROR") || !strings.Contains(buf.String(), "status=499") {
		t.Fatalf("client gone: %d\n%s", rec.Code, buf.String())
	}
}

// fullStore is a store whose disk is full: reads work, writes and the
// readiness check say so.
type fullStore struct{ testStore }

var errFull = fmt.Errorf("%w: %w: database or disk is full", models.ErrUnavailable, models.ErrStorageFull)

func (fullStore) CreateUser(context.Context, models.NewUser) (models.User, error) {
	return models.User{}, errFull
}
func (fullStore) Ping(context.Context) error { return errFull }

// TestStorageFull: writes answer 503 with Retry-After, reads go on, and
// /readyz says why the instance is not ready.
func TestStorageFull(t *testing.T) {
	a := newApp(t)
	users("kim")(t, a)
	session := a.login(t, "kim")
	h := a.build(t, fullStore{a.store})
	for _, tt := range []struct {
		method, path, body string
		status             int
		contains           string
	}{
		{"POST", "/user", `{"name":"lee"}`, 503, `"code":"unavailable"`},
		{"GET", "/users", "", 200, `"1":"kim"`},
		{"GET", "/readyz", "", 503, "the database has no room left"},
	} {
		req := jsonReq(tt.method, tt.path, tt.body, session)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.contains) || (tt.status == 503 && rec.Header().Get("Retry-After") == "") {
			t.Errorf("%s %s with the disk full: %d %v %s", tt.method, tt.path, rec.Code, rec.Header(), rec.Body)
		}
	}
}

// TestNoTrailingSlashRedirect: a path with a slash too many is not found,
// not redirected: Gin's redirect built its Location from
// X-Forwarded-Prefix, which a client sets, into a cacheable 301 anywhere.
func TestNoTrailingSlashRedirect(t *testing.T) {
	var scenarios []scenario
	for _, path := range []string{"/users/", "/login/", "/api/v1/users/", "/account/"} {
		for _, prefix := range []string{"", "//evil.example", "https://evil.example/x"} {
			sc := scenario{name: path + " " + prefix, as: "kim", fixture: users("kim"), method: "GET", path: path, status: 404,
				wantHeader: map[string]string{"Location": ""}, notContains: []string{"evil.example"}}
			if prefix != "" {
				sc.header = map[string]string{"X-Forwarded-Prefix": prefix}
			}
			scenarios = append(scenarios, sc)
		}
	}
	run(t, scenarios)
}
