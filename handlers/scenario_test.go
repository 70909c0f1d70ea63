package handlers_test

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ginsessions "github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"

	"userhub/accounts"
	"userhub/auth"
	"userhub/cachedstore"
	"userhub/config"
	"userhub/handlers"
	"userhub/middleware"
	"userhub/models"
	"userhub/openapi/openapitest"
	"userhub/sessions"
	"userhub/sso"
	"userhub/store"
)

// scenario is one request and what the response must (and must not) hold,
// in the manner of PocketBase's ApiScenario: tests are tables of these.
type scenario struct {
	name    string
	as      string // the user making the request ("" = anonymous); logged in first
	method  string
	path    string
	header  map[string]string
	body    string
	fixture func(t testing.TB, a app) // data the request needs

	status      int
	wantHeader  map[string]string // header -> substring its value must contain ("" = must be absent)
	contains    []string          // substrings the body must contain
	notContains []string          // substrings the body must not contain
}

// testSetupToken is the setup link's token in these tests.
const testSetupToken = "test-setup-token"

// testPassword is every fixture user's password.
const testPassword = "correct horse battery staple"

// app is a handler over a fresh SQLite database behind the read cache (as
// `userhub serve` runs it), with the real templates and static files, the
// cookie session store, and a fast password hasher.
type app struct {
	handler  http.Handler
	store    *cachedstore.Store
	db       *store.Store // under the cache; it also counts login attempts
	accounts *accounts.Service
	hasher   *accounts.Hasher
	cfg      config.Config
	log      *slog.Logger               // nil: discard
	sessions ginsessions.Store          // nil: the one cfg names
	requests middleware.RequestObserver // nil: none
	t        testing.TB                 // fails when an exchange does not match the contract (do)
}

func newApp(t testing.TB, adjust ...func(*config.Config)) app {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "test.db")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := config.Default()
	for _, f := range adjust {
		f(&cfg)
	}
	a := app{db: db, store: cachedstore.New(db, &cachedstore.LocalSignal{}), cfg: cfg, hasher: testHasher(), t: t}
	a.accounts = a.newAccounts(a.store, db)
	a.handler = a.build(t, a.store)
	return a
}

// testHasher has tiny argon2id costs: the same code, a thousand times faster.
func testHasher() *accounts.Hasher {
	return accounts.NewHasher(accounts.Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}, 4, time.Second)
}

func (a app) newAccounts(s models.UserStore, counter models.Counter) *accounts.Service {
	key, _ := accounts.SealKey([]byte("test secret: 0123456789abcdef0123456789"))
	rpID, origins := a.cfg.RelyingParty()
	return accounts.New(accounts.Options{Store: s, Tokens: a.db, SecondFactors: a.db, Passkeys: a.db, Audit: a.db, SealKey: key, RPID: rpID, RPOrigins: origins,
		Counter: counter, Hasher: a.hasher, Auth: a.cfg.Auth, Log: a.logger(),
		OIDCLinks: a.db, OIDC: accounts.OIDCRules(a.cfg.OIDC)})
}

// testStore is what the handlers read and the sessions check.
type testStore interface {
	models.UserStore
	models.Revocations
}

// build wires the handler over s, the way `userhub serve` does.
func (a app) build(t testing.TB, s testStore) http.Handler {
	t.Helper()
	backend, err := sessions.Open(a.cfg.Session, []byte("test secret: 0123456789abcdef0123456789"), a.logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backend.Close() })
	var counter models.Counter = a.db
	if backend.Counter != nil {
		counter = backend.Counter
	}
	if a.sessions != nil {
		backend = &sessions.Backend{Store: a.sessions}
	}
	manager := sessions.NewManager(backend, a.cfg.Session, s, s, a.logger())
	manager.KeepList(a.db)
	ceremonies, err := sessions.NewCeremonies([]byte("test secret: 0123456789abcdef0123456789"), s)
	if err != nil {
		t.Fatal(err)
	}
	var client *sso.Client
	var flows *sessions.Ceremonies
	if a.cfg.OIDC.Enabled() {
		client = sso.New(a.cfg.OIDC, a.cfg.OIDC.ClientSecret, a.logger())
		if flows, err = sessions.NewOIDCFlows([]byte("test secret: 0123456789abcdef0123456789"), s); err != nil {
			t.Fatal(err)
		}
	}
	h, err := handlers.New(handlers.Deps{
		SSO:         client,
		OIDCFlows:   flows,
		Config:      a.cfg,
		Store:       s,
		Accounts:    a.newAccounts(s, counter),
		Sessions:    manager,
		Logger:      a.logger(),
		Templates:   os.DirFS("../templates"),
		Static:      os.DirFS("../static"),
		Counter:     counter,
		Idempotency: a.db,
		SetupToken:  testSetupToken,
		Requests:    a.requests,
		Ceremonies:  ceremonies,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (a app) logger() *slog.Logger {
	if a.log != nil {
		return a.log
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// sessionStores are the session stores session tests run on: the cookie
// store always, Redis when USERHUB_TEST_REDIS_ADDR names one. Each Redis
// run gets key prefix of its own.
func sessionStores(t *testing.T) map[string]func(*config.Config) {
	stores := map[string]func(*config.Config){"cookie": func(*config.Config) {}}
	if addr := os.Getenv("USERHUB_TEST_REDIS_ADDR"); addr != "" {
		stores["redis"] = func(c *config.Config) {
			c.Session.Store, c.Session.RedisAddr = "redis", addr
			c.Session.RedisPrefix = "userhub-test:" + rand.Text() + ":"
		}
	} else {
		t.Log("Redis session store skipped: set USERHUB_TEST_REDIS_ADDR (e.g. 127.0.0.1:6379)")
	}
	return stores
}

// onEachSessionStore runs test once on each session store, as a subtest
// named after it.
func onEachSessionStore(t *testing.T, test func(t *testing.T, sessions func(*config.Config))) {
	for name, sessions := range sessionStores(t) {
		t.Run(name, func(t *testing.T) { test(t, sessions) })
	}
}

// do sends req and returns the response. An exchange the contract speaks
// of (openapi/openapi.yaml: the API, the seed's routes, the health checks)
// must match it, or the test fails: the response always, the request when
// the server accepted it (see openapitest.Checker.Check).
func (a app) do(req *http.Request) *httptest.ResponseRecorder {
	a.t.Helper()
	body, err := openapitest.ReadRequestBody(req)
	if err != nil {
		a.t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	if openapitest.InScope(req) {
		contract, err := openapitest.Contract()
		if err != nil {
			a.t.Fatal(err)
		}
		if err := contract.Check(req, body, rec.Result()); err != nil {
			a.t.Error(err)
		}
	}
	return rec
}

// login logs name in through the API and returns the session cookie.
func (a app) login(t testing.TB, name string) *http.Cookie {
	t.Helper()
	return a.loginWith(t, name, testPassword)
}

func (a app) loginWith(t testing.TB, name, password string) *http.Cookie {
	t.Helper()
	req := httptest.NewRequest("POST", "/api/v1/login", strings.NewReader(`{"name":"`+name+`","password":"`+password+`"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := a.do(req)
	if rec.Code != http.StatusOK {
		t.Fatalf("login as %s: %d %s", name, rec.Code, rec.Body)
	}
	return sessionCookie(t, rec)
}

// sessionCookie returns the session cookie a response set: the last one,
// as a browser keeps (a login that replaces a cookie that did not decode
// first deletes it).
func sessionCookie(t testing.TB, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	var last *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "userhub_session" {
			last = c
		}
	}
	if last == nil {
		t.Fatalf("no session cookie in %v", rec.Header()["Set-Cookie"])
	}
	return last
}

func (sc scenario) request() *http.Request {
	var body io.Reader
	if sc.body != "" {
		body = strings.NewReader(sc.body)
	}
	req := httptest.NewRequest(sc.method, sc.path, body)
	for k, v := range sc.header {
		req.Header.Set(k, v)
	}
	return req
}

// run runs each scenario on an app of its own.
func run(t *testing.T, scenarios []scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			a := newApp(t)
			if sc.fixture != nil {
				sc.fixture(t, a)
			}
			req := sc.request()
			if sc.as != "" && sc.as != "-" { // "-": anonymous, in a table of logged-in scenarios
				req.AddCookie(a.login(t, sc.as))
			}
			sc.check(t, a.do(req))
		})
	}
}

func (sc scenario) check(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	body := rec.Body.String()
	if rec.Code != sc.status {
		t.Fatalf("%s %s: status %d, want %d\nbody: %s", sc.method, sc.path, rec.Code, sc.status, body)
	}
	for k, want := range sc.wantHeader {
		got, present := rec.Header()[http.CanonicalHeaderKey(k)]
		switch {
		case want == "" && present:
			t.Errorf("header %s = %q, want it absent", k, got)
		case want != "" && !strings.Contains(strings.Join(got, ", "), want):
			t.Errorf("header %s = %q, want it to contain %q", k, got, want)
		}
	}
	for _, s := range sc.contains {
		if !strings.Contains(body, s) {
			t.Errorf("body lacks %q\nbody: %s", s, body)
		}
	}
	for _, s := range sc.notContains {
		if strings.Contains(body, s) {
			t.Errorf("body contains %q\nbody: %s", s, body)
		}
	}
}

// bench runs one scenario as a benchmark on a single app: the scenario's
// status is checked on every iteration.
func bench(b *testing.B, sc scenario, adjust ...func(app)) {
	a := newApp(b)
	if sc.fixture != nil {
		sc.fixture(b, a)
	}
	for _, f := range adjust {
		f(a)
	}
	var session *http.Cookie
	if sc.as != "" {
		session = a.login(b, sc.as)
	}
	b.ReportAllocs()
	b.ResetTimer()
	w := &discardWriter{header: http.Header{}}
	for b.Loop() {
		req := sc.request()
		if session != nil {
			req.AddCookie(session)
		}
		clear(w.header)
		w.status, w.bytes = 0, 0
		a.handler.ServeHTTP(w, req)
		if w.status != sc.status || w.bytes == 0 {
			b.Fatalf("status %d with %d bytes, want %d and a body", w.status, w.bytes, sc.status)
		}
	}
}

// discardWriter is a ResponseWriter that counts the body and keeps
// nothing: a benchmark measures the server's work, not an
// httptest.ResponseRecorder growing a fresh buffer for each body (which,
// for a 100 KB page, cost as much as a third of the render).
type discardWriter struct {
	header http.Header
	status int
	bytes  int
}

func (w *discardWriter) Header() http.Header { return w.header }
func (w *discardWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.bytes += len(p)
	return len(p), nil
}

// users creates the named users through the accounts service, the first
// one an admin, every one with testPassword.
func users(names ...string) func(testing.TB, app) {
	return func(t testing.TB, a app) {
		t.Helper()
		password := testPassword
		for i, n := range names {
			role := models.RoleMember
			if i == 0 {
				role = models.RoleAdmin
			}
			if _, err := a.accounts.Create(context.Background(), auth.Operator(), accounts.NewAccount{Name: n, Role: role, Password: &password}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

const jsonCT = "application/json"

func jsonHeader() map[string]string { return map[string]string{"Content-Type": jsonCT} }

// Gin's mode is the process's, set once where the process starts: here,
// release (debug mode prints every route of every app a test builds).
func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(m.Run())
}
