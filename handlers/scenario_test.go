package handlers_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"userhub/handlers"
	"userhub/models"
	"userhub/store"
)

// scenario is one request and what the response must (and must not) hold,
// in the manner of PocketBase's ApiScenario: tests are tables of these.
type scenario struct {
	name    string
	method  string
	path    string
	header  map[string]string
	body    string
	fixture func(t testing.TB, s models.UserStore) // data the request needs

	status      int
	wantHeader  map[string]string // header -> substring its value must contain ("" = must be absent)
	contains    []string          // substrings the body must contain
	notContains []string          // substrings the body must not contain
}

// app is a handler over a fresh SQLite database with the real templates and
// static files.
type app struct {
	handler http.Handler
	store   *store.Store
}

func newApp(t testing.TB) app {
	t.Helper()
	s, err := store.Open(context.Background(), store.Options{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "test.db")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h, err := handlers.New(handlers.Deps{
		Store:        s,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		Templates:    os.DirFS("../templates"),
		Static:       os.DirFS("../static"),
		MaxBodyBytes: 1 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	return app{handler: h, store: s}
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
				sc.fixture(t, a.store)
			}
			rec := httptest.NewRecorder()
			a.handler.ServeHTTP(rec, sc.request())
			sc.check(t, rec)
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
func bench(b *testing.B, sc scenario) {
	a := newApp(b)
	if sc.fixture != nil {
		sc.fixture(b, a.store)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		a.handler.ServeHTTP(rec, sc.request())
		if rec.Code != sc.status {
			b.Fatalf("status %d, want %d: %s", rec.Code, sc.status, rec.Body)
		}
	}
}

// users creates the named users (the first one an admin).
func users(names ...string) func(testing.TB, models.UserStore) {
	return func(t testing.TB, s models.UserStore) {
		t.Helper()
		for i, n := range names {
			role := models.RoleMember
			if i == 0 {
				role = models.RoleAdmin
			}
			if _, err := s.CreateUser(context.Background(), models.NewUser{Name: n, Role: role}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

const jsonCT = "application/json"

func jsonHeader() map[string]string { return map[string]string{"Content-Type": jsonCT} }
