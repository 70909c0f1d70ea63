package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"database/sql"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

const (
	jsonCT    = "application/json"
	problemCT = "application/problem+json"
)

// step is one request against the running binary and what must come back.
// Steps run in order on one server, so later steps see earlier writes.
type step struct {
	name        string
	method      string
	path        string
	contentType string
	body        string
	header      []string // extra request headers, name, value, ...
	status      int
	wantHeader  map[string]string // header -> substring of its value
	contains    []string
}

func (s step) run(t *testing.T, c *http.Client, base string) (*http.Response, string) {
	t.Helper()
	resp, body := doWith(t, c, s.method, base+s.path, s.contentType, s.body, s.header...)
	if resp.StatusCode != s.status {
		t.Fatalf("%s: %s %s = %d, want %d\n%s", s.name, s.method, s.path, resp.StatusCode, s.status, body)
	}
	for k, want := range s.wantHeader {
		if got := strings.Join(resp.Header.Values(k), ", "); !strings.Contains(got, want) {
			t.Errorf("%s: %s = %q, want %q", s.name, k, got, want)
		}
	}
	for _, want := range s.contains {
		if !strings.Contains(body, want) {
			t.Errorf("%s: body lacks %q\n%s", s.name, want, body)
		}
	}
	return resp, body
}

// TestRunningBinary walks the foundation's list against the real binary,
// logged in as the administrator.
func TestRunningBinary(t *testing.T) {
	p := start(t)
	admin := p.setup(t)
	big := `{"name":"` + strings.Repeat("a", 2<<20) + `"}`
	problem := map[string]string{"Content-Type": problemCT}
	for _, s := range []step{
		{name: "home", method: "GET", path: "/", status: 200, wantHeader: map[string]string{"Content-Type": "text/html"}, contains: []string{"<h1>Users</h1>"}},
		{name: "create", method: "POST", path: "/user", contentType: jsonCT, body: `{"name":"lee"}`, status: 201,
			wantHeader: map[string]string{"Location": "/api/v1/users/2"}, contains: []string{`"name":"lee"`}},
		{name: "list", method: "GET", path: "/users", status: 200, contains: []string{`{"1":"kim","2":"lee"}`}},
		{name: "put", method: "PUT", path: "/user/2", contentType: jsonCT, body: `{"name":"choi"}`, status: 200, contains: []string{`"name":"choi"`}},
		{name: "patch", method: "PATCH", path: "/user/2", contentType: jsonCT, body: `{"name":"park"}`, status: 200, contains: []string{`"name":"park"`}},
		{name: "unknown id", method: "PUT", path: "/user/42", contentType: jsonCT, body: `{"name":"x"}`, status: 404, wantHeader: problem},
		{name: "bad json", method: "POST", path: "/user", contentType: jsonCT, body: `{"name":`, status: 400, wantHeader: problem},
		{name: "text/plain", method: "POST", path: "/user", contentType: "text/plain", body: "kim", status: 415, wantHeader: problem},
		{name: "65 characters", method: "POST", path: "/user", contentType: jsonCT, body: `{"name":"` + strings.Repeat("x", 65) + `"}`,
			status: 422, wantHeader: problem, contains: []string{`"field":"name"`}},
		{name: "duplicate", method: "POST", path: "/user", contentType: jsonCT, body: `{"name":"park"}`, status: 409, wantHeader: problem},
		{name: "duplicate in another case", method: "POST", path: "/user", contentType: jsonCT, body: `{"name":"PARK"}`, status: 409, wantHeader: problem},
		{name: "2 MiB", method: "POST", path: "/user", contentType: jsonCT, body: big, status: 413, wantHeader: problem},
		{name: "TRACE", method: "TRACE", path: "/users", status: 405, wantHeader: map[string]string{"Allow": "GET, HEAD, OPTIONS", "Content-Type": problemCT}},
		{name: "delete", method: "DELETE", path: "/user/2", status: 204},
		{name: "gone", method: "DELETE", path: "/user/2", status: 404, wantHeader: problem},
		{name: "cross-origin", method: "POST", path: "/user", contentType: jsonCT, body: `{"name":"x"}`, header: []string{"Origin", "https://evil.example"}, status: 403, wantHeader: problem},
		{name: "readyz", method: "GET", path: "/readyz", status: 200},
	} {
		s.run(t, admin, p.base)
	}

	// gzip when asked.
	resp, body := do(t, "GET", p.base+"/about", "", "", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip: %v", resp.Header)
	}
	zr, err := gzip.NewReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if plain, _ := io.ReadAll(zr); !bytes.Contains(plain, []byte("About userhub")) {
		t.Fatalf("gunzipped body: %s", plain)
	}

	// 304 on a static file with its ETag.
	resp, _ = do(t, "GET", p.base+"/static/app.css", "", "")
	etag := resp.Header.Get("ETag")
	resp, body = do(t, "GET", p.base+"/static/app.css", "", "", "If-None-Match", etag)
	if etag == "" || resp.StatusCode != 304 || body != "" {
		t.Fatalf("revalidation with %q: %d %q", etag, resp.StatusCode, body)
	}
}

// TestDataSurvivesRestart writes, restarts the binary, and reads.
func TestDataSurvivesRestart(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		dir := t.TempDir()
		restartKeepsData(t, "USERHUB_DATA_DIR="+dir)
		if _, err := os.Stat(filepath.Join(dir, "userhub.db")); err != nil {
			t.Fatalf("no database file in the data dir: %v", err)
		}
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		dsn := os.Getenv("USERHUB_TEST_POSTGRES_DSN")
		if dsn == "" {
			t.Skip("PostgreSQL restart test skipped: set USERHUB_TEST_POSTGRES_DSN")
		}
		// The session secret is kept in the database.
		restartKeepsData(t, "USERHUB_DATA_DIR="+t.TempDir(), "USERHUB_DATABASE_DRIVER=postgres", "USERHUB_DATABASE_DSN="+pgSchema(t, dsn))
	})
}

// TestInstancesShareTheSessionSecret: two instances on one PostgreSQL
// database, each with a data directory of its own and no session.secret,
// accept each other's sessions, and a logout on one ends the session on
// the other; with cookie sessions, and with sessions in Redis when one
// answers (issue 11).
func TestInstancesShareTheSessionSecret(t *testing.T) {
	dsn := os.Getenv("USERHUB_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("PostgreSQL instance test skipped: set USERHUB_TEST_POSTGRES_DSN")
	}
	redisAddr := os.Getenv("USERHUB_TEST_REDIS_ADDR")
	stores := map[string][]string{"cookie": nil, "redis": {"USERHUB_SESSION_STORE=redis", "USERHUB_SESSION_REDIS_ADDR=" + redisAddr,
		"USERHUB_SESSION_REDIS_PREFIX=e2e-" + strings.ToLower(rand.Text()[:8]) + ":"}}
	for name, sessionEnv := range stores {
		t.Run(name, func(t *testing.T) {
			if name == "redis" && redisAddr == "" {
				t.Skip("Redis sessions skipped: set USERHUB_TEST_REDIS_ADDR")
			}
			db := pgSchema(t, dsn)
			instance := func() *proc {
				return start(t, append([]string{"USERHUB_DATA_DIR=" + t.TempDir(), "USERHUB_DATABASE_DRIVER=postgres", "USERHUB_DATABASE_DSN=" + db}, sessionEnv...)...)
			}
			one, two := instance(), instance()
			admin := one.setup(t)
			step{name: "a write on one", method: "POST", path: "/user", contentType: jsonCT, body: `{"name":"lee"}`, status: 201}.run(t, admin, one.base)
			// The cookie jar holds one's cookie for 127.0.0.1; two listens there too.
			step{name: "the same session on two", method: "GET", path: "/users", status: 200, contains: []string{`"2":"lee"`}}.run(t, admin, two.base)
			// A copy of the cookie, kept past the logout on two, no longer
			// works on one, once the revocation's notification has arrived.
			var cookie string
			for _, c := range admin.Jar.Cookies(mustParse(one.base)) {
				cookie += c.Name + "=" + c.Value + "; "
			}
			step{name: "the copy works on one", method: "GET", path: "/users", header: []string{"Cookie", cookie}, status: 200}.run(t, newClient(), one.base)
			step{name: "logged out on two", method: "POST", path: "/api/v1/logout", status: 204}.run(t, admin, two.base)
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				resp, _ := do(t, "GET", one.base+"/users", "", "", "Cookie", cookie)
				if resp.StatusCode == http.StatusUnauthorized {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the session logged out on two still works on one after 5 s: %s", resp.Status)
				}
			}
		})
	}
}

func restartKeepsData(t *testing.T, env ...string) {
	addr := freeAddr(t)
	env = append(env, "USERHUB_SERVER_ADDR="+addr)
	p := start(t, env...)
	admin := p.setup(t)
	step{name: "create", method: "POST", path: "/user", contentType: jsonCT, body: `{"name":"김철수"}`, status: 201}.run(t, admin, p.base)
	p.stop()
	if code := p.wait(time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	again := start(t, env...)
	// The session outlives the restart too: the secret is kept in the data dir.
	step{name: "after restart", method: "GET", path: "/users", status: 200, contains: []string{`{"1":"kim","2":"김철수"}`}}.run(t, admin, again.base)
}

// pgSchema makes a schema of its own for a test and returns a DSN that uses it.
func pgSchema(t *testing.T, dsn string) string {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	schema := "e2e_" + strings.ToLower(rand.Text()[:10])
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", dsn)
		if err == nil {
			db.Exec("DROP SCHEMA " + schema + " CASCADE")
			db.Close()
		}
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}

// TestSecondInstanceOnATakenPort is the seed's EADDRINUSE: one line that
// names the port and the setting, and a non-zero exit.
func TestSecondInstanceOnATakenPort(t *testing.T) {
	first := start(t)
	addr := strings.TrimPrefix(first.base, "http://")
	second := launch(t, "USERHUB_SERVER_ADDR="+addr)
	if code := second.wait(10 * time.Second); code == 0 {
		t.Fatal("the second instance exited 0")
	}
	out := strings.TrimSpace(second.output())
	port := addr[strings.LastIndex(addr, ":")+1:]
	if strings.Count(out, "\n") != 0 || !strings.Contains(out, "port "+port+" is already in use") || !strings.Contains(out, "server.addr") {
		t.Fatalf("second instance said:\n%s", out)
	}
}

// TestGracefulShutdown sends SIGTERM while a request is still uploading its
// body: the request completes, and the process then exits 0.
func TestGracefulShutdown(t *testing.T) {
	p := start(t)
	admin := p.setup(t)
	pr, pw := io.Pipe()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", p.base+"/user", pr)
	req.Header.Set("Content-Type", jsonCT)
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := admin.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		resp.Body.Close()
		done <- result{status: resp.StatusCode}
	}()
	pw.Write([]byte(`{"name":`)) // the request is now in flight
	time.Sleep(200 * time.Millisecond)
	p.signal(syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	// New connections are refused while the old request drains.
	if _, err := (&http.Client{Timeout: 5 * time.Second}).Get(p.base + "/healthz"); err == nil {
		t.Error("a new connection was accepted after SIGTERM")
	}
	pw.Write([]byte(`"late"}`))
	pw.Close()
	r := <-done
	if r.err != nil || r.status != 201 {
		t.Fatalf("in-flight request: %d, %v", r.status, r.err)
	}
	if code := p.wait(5 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if out := p.output(); !strings.Contains(out, "shutting down") || !strings.Contains(out, "stopped") {
		t.Fatalf("log:\n%s", out)
	}
}

// TestDrain: on SIGTERM an instance lame-ducks for server.drain_delay:
// /readyz answers 503 "draining" (so a load balancer's health checks take
// it out of rotation) while every other request is still served, HTTP/1.1
// answers closing their connections; then it stops and exits 0. In cluster
// mode the master passes SIGTERM on and every worker does the same. A
// second signal ends the lame-duck period (the stop is still graceful),
// and SIGINT alone (Ctrl-C at a terminal) skips it. The delay is long (30
// s) so that a stalled machine cannot end it before the checks run; once
// they have, the test cuts it short with a second signal.
func TestDrain(t *testing.T) {
	const delay = "USERHUB_SERVER_DRAIN_DELAY=30s"
	for _, tt := range []struct {
		name string
		env  []string
	}{
		{"single", nil},
		{"cluster", []string{"USERHUB_CLUSTER_WORKERS=2"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, append([]string{delay}, tt.env...)...)
			if tt.env != nil {
				p.waitWorkers(t, 2)
			}
			admin := p.setup(t)
			wantStatus(t, "/readyz before SIGTERM", send(newClient(), 10*time.Second, "GET", p.base+"/readyz", "", ""), http.StatusOK)
			p.signal(syscall.SIGTERM)
			deadline := time.Now().Add(15 * time.Second)
			for {
				r := send(newClient(), 10*time.Second, "GET", p.base+"/readyz", "", "")
				if r.status == http.StatusServiceUnavailable {
					if !strings.Contains(r.body, `"code":"draining"`) || r.header.Get("Retry-After") == "" {
						t.Errorf("/readyz while draining: %v, want problem+json code draining with Retry-After", r)
					}
					break
				}
				if r.err != nil || r.status != http.StatusOK || time.Now().After(deadline) {
					t.Fatalf("/readyz after SIGTERM: %v, want 200 until it turns 503 draining", r)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if tt.env != nil {
				// Both workers drain: every /readyz answer is 503 now.
				for i := range 10 {
					if r := send(newClient(), 10*time.Second, "GET", p.base+"/readyz", "", ""); r.status != http.StatusServiceUnavailable {
						t.Errorf("/readyz #%d while the cluster drains: %v, want 503", i, r)
					}
				}
			}
			resp, err := admin.Get(p.base + "/api/v1/users")
			if err != nil {
				t.Fatalf("logged-in GET /api/v1/users while draining: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !resp.Close { // Go's client takes "Connection: close" into Close
				t.Errorf("logged-in GET /api/v1/users while draining: %d, Connection: close %v; want 200 closing its connection", resp.StatusCode, resp.Close)
			}
			created := send(admin, 10*time.Second, "POST", p.base+"/api/v1/users", jsonCT, `{"name":"drained"}`)
			wantStatus(t, "POST /api/v1/users while draining", created, http.StatusCreated)
			// A second signal ends the lame-duck period; the stop stays graceful.
			p.signal(syscall.SIGINT)
			if code := p.wait(20 * time.Second); code != 0 {
				t.Fatalf("exit code %d", code)
			}
			p.waitLog(t, "draining ends now")
		})
	}
	t.Run("SIGINT stops at once", func(t *testing.T) {
		p := start(t, delay)
		p.setup(t)
		p.signal(syscall.SIGINT)
		if code := p.wait(20 * time.Second); code != 0 {
			t.Fatalf("exit code %d", code)
		}
		if strings.Contains(p.output(), "draining") {
			t.Errorf("SIGINT lame-ducked:\n%s", p.output())
		}
	})
}

// TestSetupLinkFromTheLog: a new server's setup page is closed to other
// machines (here one behind a trusted proxy, as X-Forwarded-For says),
// 403 with a page that says where the link is; the link the log prints
// opens it, and its form creates the administrator.
func TestSetupLinkFromTheLog(t *testing.T) {
	p := start(t, "USERHUB_SERVER_TRUSTED_PROXIES=127.0.0.1")
	p.waitLog(t, "no user yet")
	m := regexp.MustCompile(`url="?http://\S+/setup\?token=([A-Za-z0-9_-]+)`).FindStringSubmatch(p.output())
	if m == nil {
		t.Fatalf("the log has no setup link:\n%s", p.output())
	}
	remote := func(method, path, body string) reply {
		req, _ := http.NewRequest(method, p.base+path, strings.NewReader(body))
		req.Header.Set("X-Forwarded-For", "203.0.113.5")
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := newClient().Do(req)
		if err != nil {
			return reply{err: err}
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
	}
	if r := remote("GET", "/setup", ""); r.status != http.StatusForbidden || !strings.Contains(r.body, "Open the setup link printed in the server&#39;s log") {
		t.Fatalf("/setup from another machine without the link: %v", r)
	}
	if r := remote("GET", "/setup?token="+m[1], ""); r.status != http.StatusOK || !strings.Contains(r.body, `name="token" value="`+m[1]+`"`) {
		t.Fatalf("the setup link from the log: %v", r)
	}
	form := "name=kim&password=" + url.QueryEscape(adminPassword) + "&password_confirm=" + url.QueryEscape(adminPassword) + "&token=" + m[1]
	if r := remote("POST", "/setup", form); r.status != http.StatusSeeOther {
		t.Fatalf("setup through the link: %v", r)
	}
}

// TestVersionIsStamped: built from a git tree, the binary names its
// revision: `userhub version`, /healthz and the start-up line.
func TestVersionIsStamped(t *testing.T) {
	rev, err := exec.Command("git", "-C", "..", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skip("not built from a git tree: nothing to stamp")
	}
	revision := strings.TrimSpace(string(rev))
	out, err := exec.Command(binary, "version").Output()
	if err != nil || !strings.Contains(string(out), revision[:12]) || strings.Contains(string(out), "(devel)") {
		t.Fatalf("userhub version: %v %q, want the revision %s", err, out, revision[:12])
	}
	p := start(t)
	r := send(newClient(), 10*time.Second, "GET", p.base+"/healthz", "", "")
	if !strings.Contains(r.body, `"revision":"`+revision+`"`) {
		t.Errorf("/healthz: %s, want the revision %s", r.body, revision)
	}
	p.waitLog(t, "revision="+revision)
}
