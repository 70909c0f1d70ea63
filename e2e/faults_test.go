//go:build unix

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// Faults, end to end: the built binary against a throwaway PostgreSQL or
// Redis that the test stops, freezes (SIGSTOP) and starts again, and
// against a data directory on a tmpfs that fills up. What is asserted is
// what clients see (503 with Retry-After, never 500 nor a hang; no
// acknowledged write lost, no refused write committed) and what the log
// says; the only times asserted are the bounds the server promises
// (database.query_timeout, Redis's client timeouts).

// faultQueryTimeout is the database.query_timeout the tests run userhub with.
const faultQueryTimeout = time.Second

// reply is what one request got back, and how long it took.
type reply struct {
	status int
	header http.Header
	body   string
	took   time.Duration
	err    error // no answer (a hang past the client's timeout among them)
}

func (r reply) String() string {
	if r.err != nil {
		return fmt.Sprintf("no answer after %v: %v", r.took.Round(time.Millisecond), r.err)
	}
	return fmt.Sprintf("%d after %v: %s", r.status, r.took.Round(time.Millisecond), strings.TrimSpace(r.body))
}

// send makes one request with c, waiting at most wait for its answer. It
// neither fails nor stops the test, so goroutines may use it.
func send(c *http.Client, wait time.Duration, method, url, contentType, body string) reply {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	began := time.Now()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return reply{err: err}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		return reply{err: err, took: time.Since(began)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b), took: time.Since(began), err: err}
}

// unavailable checks that r is the outage answer: 503 with Retry-After,
// problem+json saying "unavailable" on JSON routes, the HTML error page on
// pages.
func unavailable(t *testing.T, what string, r reply, page bool) {
	t.Helper()
	if r.err != nil || r.status != http.StatusServiceUnavailable {
		t.Errorf("%s: %v, want 503", what, r)
		return
	}
	if r.header.Get("Retry-After") == "" {
		t.Errorf("%s: 503 without Retry-After", what)
	}
	ct := r.header.Get("Content-Type")
	switch {
	case page && !strings.HasPrefix(ct, "text/html"):
		t.Errorf("%s: Content-Type %q, want the HTML error page", what, ct)
	case !page && (!strings.HasPrefix(ct, problemCT) || !strings.Contains(r.body, `"code":"unavailable"`)):
		t.Errorf("%s: %q %s, want problem+json with \"code\":\"unavailable\"", what, ct, r.body)
	}
}

// wantStatus checks that r answered status.
func wantStatus(t *testing.T, what string, r reply, status int) {
	t.Helper()
	if r.err != nil || r.status != status {
		t.Errorf("%s: %v, want %d", what, r, status)
	}
}

// waitReady waits up to 20 s for GET /readyz to answer 200.
func waitReady(t *testing.T, p *proc) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := send(newClient(), 5*time.Second, "GET", p.base+"/readyz", "", "")
		if r.err == nil && r.status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 within 20s: %v", r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logLines returns the lines of userhub's output that contain text.
func logLines(p *proc, text string) []string {
	var lines []string
	for line := range strings.Lines(p.output()) {
		if strings.Contains(line, text) {
			lines = append(lines, strings.TrimSpace(line))
		}
	}
	return lines
}

// noErrorLines fails the test for any level=ERROR line in userhub's
// output. An outage is told once, as a warning ("stopped answering"): the
// requests it fails are the clients' business (503 with Retry-After), not
// errors of the server. The access log's lines for such 503s are reported
// apart from the rest, so that the failure says which it is.
func noErrorLines(t *testing.T, p *proc) {
	t.Helper()
	var access, other []string
	for _, line := range logLines(p, "level=ERROR") {
		if strings.Contains(line, "msg=request ") && strings.Contains(line, " status=503 ") {
			access = append(access, line)
		} else {
			other = append(other, line)
		}
	}
	if len(access) > 0 {
		t.Errorf("the access log says level=ERROR for %d requests answered 503 during an outage (the outage has its one WARN line):\n%s",
			len(access), strings.Join(access, "\n"))
	}
	if len(other) > 0 {
		t.Errorf("the log has %d level=ERROR lines:\n%s", len(other), strings.Join(other, "\n"))
	}
}

// isBackLine reports whether a log line says that a service answers
// again (the INFO line, not the WARN line that promises it).
func isBackLine(line string) bool {
	return strings.Contains(line, "level=INFO") && strings.Contains(line, "answers again")
}

// backLines returns the log lines saying that a service answers again.
func backLines(p *proc) []string {
	var lines []string
	for _, line := range logLines(p, "answers again") {
		if isBackLine(line) {
			lines = append(lines, line)
		}
	}
	return lines
}

// waitBack waits up to ten seconds for n lines saying that a service
// answers again.
func waitBack(t *testing.T, p *proc, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(backLines(p)) < n {
		if time.Now().After(deadline) {
			t.Errorf("the log does not say %d times that the service answers again:\n%s", n, p.output())
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settleLog gives userhub's buffered info lines (written every 100 ms)
// time to come out before the log is counted.
func settleLog() { time.Sleep(300 * time.Millisecond) }

// userNames pages through GET /api/v1/users with c and returns every name.
func userNames(t *testing.T, c *http.Client, base string) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	cursor := ""
	for range 1000 {
		u := base + "/api/v1/users?limit=500"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		r := send(c, 15*time.Second, "GET", u, "", "")
		if r.err != nil || r.status != http.StatusOK {
			t.Fatalf("list users: %v", r)
		}
		var page struct {
			Users      []struct{ Name string }
			NextCursor string `json:"next_cursor"`
		}
		if err := jsonUnmarshal(r.body, &page); err != nil {
			t.Fatalf("list users: %v\n%s", err, r.body)
		}
		for _, u := range page.Users {
			names[u.Name] = true
		}
		if page.NextCursor == "" {
			return names
		}
		cursor = page.NextCursor
	}
	t.Fatal("list users: more than 1000 pages")
	return nil
}

// uncertain stands for a 503 whose code is "outcome_unknown": the
// database did not confirm the commit in time, and may have made it.
const uncertain = -503

// outcome is r's status, or uncertain.
func outcome(r reply) int {
	if r.status == http.StatusServiceUnavailable && strings.Contains(r.body, `"code":"outcome_unknown"`) {
		return uncertain
	}
	return r.status
}

// outcomes records the answer each created name got.
type outcomes struct {
	mu     sync.Mutex
	status map[string]int // name -> outcome (0: no answer)
}

func (o *outcomes) put(name string, status int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.status == nil {
		o.status = map[string]int{}
	}
	o.status[name] = status
}

// counts returns how many names got each status.
func (o *outcomes) counts() map[int]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := map[int]int{}
	for _, s := range o.status {
		n[s]++
	}
	return n
}

// check compares the outcomes with the users listed: every name answered
// 201 is there (no acknowledged write lost), no name answered 503
// "unavailable" is (no refused write committed later). A name answered
// 503 "outcome_unknown" may be either: its client was told so.
func (o *outcomes) check(t *testing.T, listed map[string]bool) (ok bool) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	ok = true
	for _, name := range slices.Sorted(maps.Keys(o.status)) {
		switch s := o.status[name]; {
		case s == http.StatusCreated && !listed[name]:
			t.Errorf("%s was answered 201 and is not listed: an acknowledged write was lost", name)
			ok = false
		case s == http.StatusServiceUnavailable && listed[name]:
			t.Errorf("%s was answered 503 and is listed: a write the client was told failed was committed", name)
			ok = false
		}
	}
	return ok
}

// createUser sends POST /api/v1/users for name (no password: no hashing).
func createUser(c *http.Client, base, name string, wait time.Duration) reply {
	return send(c, wait, "POST", base+"/api/v1/users", jsonCT, `{"name":"`+name+`"}`)
}

// processLog is the output of a helper process, kept for failures.
type processLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *processLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *processLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// children returns the pids whose parent is pid, read from /proc.
func children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var kids []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after its ")".
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			kids = append(kids, child)
		}
	}
	return kids
}

// --- a throwaway PostgreSQL ---

// pgServer is a PostgreSQL instance of the test's own, in a temporary
// directory, on a free loopback port.
type pgServer struct {
	t    *testing.T
	bin  string // directory of postgres, initdb, pg_ctl
	dir  string // data directory, also where its socket is
	port string
	cred *syscall.Credential // the postgres user, when the test runs as root
	// settings are passed with -c, in order (a later one wins).
	settings []string
	log      processLog

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// newPostgres initializes and starts a PostgreSQL, stopped when the test
// ends, with fsync off unless settings ("name=value", passed with -c)
// say otherwise. It skips the test when PostgreSQL is not installed.
func newPostgres(t *testing.T, settings ...string) *pgServer {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(bins) == 0 {
		t.Skip("PostgreSQL fault tests skipped: no /usr/lib/postgresql/*/bin/postgres (apt-get install -y postgresql)")
	}
	slices.SortFunc(bins, func(a, b string) int { return pgMajor(a) - pgMajor(b) })
	pg := &pgServer{t: t, bin: filepath.Dir(bins[len(bins)-1]), settings: append([]string{"fsync=off"}, settings...)}
	base := t.TempDir()
	if os.Geteuid() == 0 { // postgres refuses to run as root: run it as the postgres user
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("PostgreSQL fault tests skipped: running as root and no postgres user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		pg.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		// The test's temporary directories are root's (0700): let postgres through.
		for _, d := range []string{filepath.Dir(base), base} {
			if err := os.Chmod(d, 0o711); err != nil {
				t.Fatal(err)
			}
		}
	}
	pg.dir = filepath.Join(base, "pg")
	if err := os.Mkdir(pg.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if pg.cred != nil {
		if err := os.Chown(pg.dir, int(pg.cred.Uid), int(pg.cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	_, pg.port, _ = net.SplitHostPort(freeAddr(t))
	initdb := pg.command("initdb", "-D", pg.dir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	t.Cleanup(pg.kill)
	pg.start()
	return pg
}

// pgMajor is the major version in a path like /usr/lib/postgresql/15/bin/postgres.
func pgMajor(path string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return n
}

// dsn is the URL userhub connects with.
func (pg *pgServer) dsn() string {
	return "postgres://postgres@127.0.0.1:" + pg.port + "/postgres?sslmode=disable"
}

// command prepares one of PostgreSQL's programs, run as the postgres user.
func (pg *pgServer) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(pg.bin, name), args...)
	cmd.Dir = pg.dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LANG=C", "LC_ALL=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: pg.cred}
	return cmd
}

// start runs the postmaster in the foreground, in a process group of its
// own, and waits until it accepts queries.
func (pg *pgServer) start() {
	t := pg.t
	t.Helper()
	args := []string{"-D", pg.dir, "-p", pg.port, "-k", pg.dir, "-c", "listen_addresses=127.0.0.1"}
	for _, setting := range pg.settings {
		args = append(args, "-c", setting)
	}
	cmd := pg.command("postgres", args...)
	done := startService(t, "postgres", cmd, &pg.log, pg.ping, 30*time.Second)
	pg.mu.Lock()
	pg.cmd, pg.done = cmd, done
	pg.mu.Unlock()
}

// startService starts cmd (in a process group of its own), its output
// going to log, and waits up to within for ready to succeed. It returns
// the channel closed when cmd exits; on failure it kills the group first.
func startService(t *testing.T, what string, cmd *exec.Cmd, log *processLog, ready func() error, within time.Duration) chan struct{} {
	t.Helper()
	fail := func(format string, args ...any) {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf(format, args...)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", what, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	deadline := time.Now().Add(within)
	for {
		if ready() == nil {
			return done
		}
		select {
		case <-done:
			fail("%s exited before answering:\n%s", what, log.String())
		default:
		}
		if time.Now().After(deadline) {
			fail("%s does not answer within %v:\n%s", what, within, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping runs SELECT 1 on a fresh connection.
func (pg *pgServer) ping() error {
	db, err := sql.Open("pgx", pg.dsn()+"&connect_timeout=2")
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return db.QueryRowContext(ctx, "SELECT 1").Scan(new(int))
}

// stop shuts PostgreSQL down the way an operator would: pg_ctl stop -m fast.
func (pg *pgServer) stop() {
	t := pg.t
	t.Helper()
	if out, err := pg.command("pg_ctl", "stop", "-m", "fast", "-w", "-t", "30", "-D", pg.dir).CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl stop: %v\n%s\n%s", err, out, pg.log.String())
	}
	pg.mu.Lock()
	done := pg.done
	pg.mu.Unlock()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("postgres still running 30s after pg_ctl stop")
	}
}

// processes returns the postmaster's pid and its children's (the
// backends, which each make a process group of their own with setsid, so
// a signal to the postmaster's group does not reach them).
func (pg *pgServer) processes() []int {
	pg.mu.Lock()
	pid := pg.cmd.Process.Pid
	pg.mu.Unlock()
	return append([]int{pid}, children(pid)...)
}

// freeze stops every process of the instance (SIGSTOP): the postmaster
// first, so that it starts no new backend, then each backend. Connections
// stay open and the kernel still accepts new ones; nothing answers.
func (pg *pgServer) freeze() {
	pg.mu.Lock()
	pgid := pg.cmd.Process.Pid
	pg.mu.Unlock()
	_ = syscall.Kill(-pgid, syscall.SIGSTOP)
	for _, pid := range pg.processes() {
		_ = syscall.Kill(pid, syscall.SIGSTOP)
	}
}

// thaw lets every process of the instance run again (SIGCONT).
func (pg *pgServer) thaw() {
	pg.mu.Lock()
	pgid := pg.cmd.Process.Pid
	pg.mu.Unlock()
	for _, pid := range pg.processes() {
		_ = syscall.Kill(pid, syscall.SIGCONT)
	}
	_ = syscall.Kill(-pgid, syscall.SIGCONT)
}

// kill ends the instance, whatever state it is in (the test's cleanup).
func (pg *pgServer) kill() {
	pg.mu.Lock()
	cmd, done := pg.cmd, pg.done
	pg.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	pg.thaw()
	_ = syscall.Kill(cmd.Process.Pid, syscall.SIGINT) // fast shutdown
	select {
	case <-done:
		return
	case <-time.After(15 * time.Second):
	}
	for _, pid := range pg.processes() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	<-done
}

// startOnPostgres starts userhub against pg with the short query timeout
// and returns it with a client logged in as the administrator.
func startOnPostgres(t *testing.T, pg *pgServer) (*proc, *http.Client) {
	t.Helper()
	p := start(t, "USERHUB_DATABASE_DRIVER=postgres", "USERHUB_DATABASE_DSN="+pg.dsn(),
		"USERHUB_DATABASE_QUERY_TIMEOUT="+faultQueryTimeout.String())
	return p, p.setup(t)
}

// --- PostgreSQL down ---

// TestPostgresDown: with PostgreSQL shut down (pg_ctl stop -m fast), the
// API, the login and the pages answer 503 with Retry-After (problem+json,
// or the HTML error page), never 500; the log says so once, with no
// ERROR line; once PostgreSQL is back, the same requests work, without
// restarting userhub, and the log says the database answers again. /readyz
// names the database meanwhile; afterwards the instance listens for
// changes again: a change another instance makes in the database reaches
// its cache (it was read before the outage).
func TestPostgresDown(t *testing.T) {
	pg := newPostgres(t)
	p, admin := startOnPostgres(t, pg)
	const wait = 15 * time.Second
	form := "name=kim&password=" + url.QueryEscape(adminPassword)
	login := `{"name":"kim","password":"` + adminPassword + `"}`
	type request struct {
		what                   string
		client                 *http.Client
		method, path, ct, body string
		page                   bool
		status                 int // when the database answers
	}
	requests := func() []request {
		return []request{
			{"GET /api/v1/users", admin, "GET", "/api/v1/users", "", "", false, http.StatusOK},
			{"POST /api/v1/login", newClient(), "POST", "/api/v1/login", jsonCT, login, false, http.StatusOK},
			{"GET /", admin, "GET", "/", "", "", true, http.StatusOK},
			{"POST /login", newClient(), "POST", "/login", "application/x-www-form-urlencoded", form, true, http.StatusSeeOther},
		}
	}
	for _, r := range requests() {
		wantStatus(t, "before the outage: "+r.what, send(r.client, wait, r.method, p.base+r.path, r.ct, r.body), r.status)
	}
	// lee, read through the cache before the outage: after it, a change made
	// in the database by someone else (another instance) must be seen, so
	// the instance listens for changes again and its cache was dropped.
	created := send(admin, wait, "POST", p.base+"/api/v1/users", jsonCT, `{"name":"lee"}`)
	wantStatus(t, "create lee", created, http.StatusCreated)
	var lee struct {
		ID   int64  `json:"id"`
		Role string `json:"role"`
	}
	json.Unmarshal([]byte(created.body), &lee)
	leeURL := fmt.Sprintf("%s/api/v1/users/%d", p.base, lee.ID)
	wantStatus(t, "GET lee", send(admin, wait, "GET", leeURL, "", ""), http.StatusOK)
	if t.Failed() {
		t.FailNow()
	}

	pg.stop()
	if r := send(newClient(), wait, "GET", p.base+"/readyz", "", ""); r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "the database does not answer") {
		t.Errorf("/readyz, PostgreSQL down: %v, want 503 naming the database", r)
	}
	for _, r := range requests() {
		got := send(r.client, wait, r.method, p.base+r.path, r.ct, r.body)
		unavailable(t, "PostgreSQL down: "+r.what, got, r.page)
		t.Logf("PostgreSQL down: %s: %d in %v", r.what, got.status, got.took.Round(time.Millisecond))
	}
	unavailable(t, "PostgreSQL down: GET /users", send(admin, wait, "GET", p.base+"/users", "", ""), false)
	p.waitLog(t, "stopped answering")
	settleLog()
	if lines := logLines(p, "stopped answering"); len(lines) != 1 {
		t.Errorf("%d \"stopped answering\" lines for one outage, want 1:\n%s", len(lines), strings.Join(lines, "\n"))
	}

	pg.start()
	waitReady(t, p)
	for _, r := range requests() {
		wantStatus(t, "PostgreSQL back: "+r.what, send(r.client, wait, r.method, p.base+r.path, r.ct, r.body), r.status)
	}
	waitBack(t, p, 1)
	p.waitLog(t, "listening to the database's change notifications again")
	db, err := sql.Open("pgx", pg.dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE users SET role = 'admin' WHERE id = $1", lee.ID); err != nil {
		t.Fatalf("another instance's change: %v", err)
	}
	changed := time.Now()
	for {
		r := send(admin, wait, "GET", leeURL, "", "")
		if strings.Contains(r.body, `"role":"admin"`) {
			t.Logf("a change made elsewhere after the outage was seen in %v", time.Since(changed).Round(time.Millisecond))
			break
		}
		if r.status != http.StatusOK || time.Since(changed) > 5*time.Second {
			t.Fatalf("GET lee after another instance made lee an admin: %v; the cache did not hear of it", r)
		}
		time.Sleep(10 * time.Millisecond)
	}
	settleLog()
	if lines := logLines(p, "stopped answering"); len(lines) != 1 {
		t.Errorf("%d \"stopped answering\" lines for one outage, want 1:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if lines := backLines(p); len(lines) != 1 {
		t.Errorf("%d \"answers again\" lines for one outage, want 1:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	noErrorLines(t, p)
}

// --- PostgreSQL frozen ---

// TestPostgresFrozen: a PostgreSQL that stops answering (every process
// SIGSTOPped: connections open, nothing said) costs each request at most
// database.query_timeout: creates answer 503 with Retry-After within
// query_timeout + 1 s, never 500, never a hang. When it wakes, no create
// answered 503 "unavailable" was committed (the commit-deadline trigger
// refuses COMMITs that arrive late), and every create answered 201 is
// there, also when the freeze falls in the middle of a stream of creates.
//
// PostgreSQL runs with fsync on here, as in production: a COMMIT then
// spends a while flushing the WAL after the commit-deadline trigger has
// let it through, and a freeze can land there. Such a COMMIT completes
// when the server wakes, and nobody can know before: its client is told
// 503 "outcome_unknown" (the change may have been made), and the test
// counts those without asserting where they went. Statements slower than
// 300 ms are logged, so that a failure shows which COMMITs the freeze held.
func TestPostgresFrozen(t *testing.T) {
	pg := newPostgres(t, "fsync=on", "log_min_duration_statement=300")
	p, admin := startOnPostgres(t, pg)
	t.Cleanup(pg.thaw) // runs before userhub and PostgreSQL are stopped
	bound := faultQueryTimeout + time.Second
	const wait = 15 * time.Second // the client gives up here: a hang, not a slow answer

	// A burst while frozen: 20 creates, 4 at a time.
	var burst outcomes
	pg.freeze()
	var slowest time.Duration
	var mu sync.Mutex
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := range 20 {
		name := fmt.Sprintf("frozen-%02d", i)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r := createUser(admin, p.base, name, wait)
			burst.put(name, outcome(r))
			mu.Lock()
			slowest = max(slowest, r.took)
			mu.Unlock()
			switch {
			case r.err != nil || r.status != http.StatusServiceUnavailable:
				t.Errorf("create %s while frozen: %v, want 503", name, r)
			case r.header.Get("Retry-After") == "":
				t.Errorf("create %s while frozen: 503 without Retry-After", name)
			case r.took > bound:
				t.Errorf("create %s while frozen: answered after %v, want within query_timeout + 1s = %v", name, r.took, bound)
			}
		})
	}
	wg.Wait()
	pg.thaw()
	waitReady(t, p)
	burst.check(t, userNames(t, admin, p.base))
	t.Logf("frozen burst: statuses %v, slowest answer %v (bound %v)", burst.counts(), slowest.Round(time.Millisecond), bound)

	// Freezes in the middle of streams of creates (each sends one create
	// after another), so that some are in flight (a COMMIT in PostgreSQL's
	// socket among them, at times) at the SIGSTOP.
	var stream outcomes
	for round := range 3 {
		freezeMidStream(t, p, admin, pg, round, 4, &stream)
	}
	waitReady(t, p)
	if !stream.check(t, userNames(t, admin, p.base)) {
		var held []string
		for line := range strings.Lines(pg.log.String()) {
			if strings.Contains(line, "duration:") || strings.Contains(line, "outlived its deadline") {
				held = append(held, strings.TrimSpace(line))
			}
		}
		t.Logf("PostgreSQL's slow statements and refused commits:\n%s", strings.Join(held, "\n"))
	}
	counts := stream.counts()
	t.Logf("streams with freezes: statuses %v (%d: 503 outcome_unknown); PostgreSQL refused %d commits past their deadline",
		counts, uncertain, strings.Count(pg.log.String(), "outlived its deadline"))
	if counts[http.StatusServiceUnavailable]+counts[uncertain] == 0 {
		t.Error("no create of the streams was answered 503: the freezes missed them")
	}
	noErrorLines(t, p)
}

// freezeMidStream runs n streams of creates (each one create after
// another, bounded in count), freezes PostgreSQL once they run, thaws it
// once every create in flight has timed out, and stops the streams once
// creates are acknowledged again. Each create must answer 201, or 503
// with Retry-After within query_timeout + 1 s; what each got goes into out.
func freezeMidStream(t *testing.T, p *proc, admin *http.Client, pg *pgServer, round, n int, out *outcomes) {
	t.Helper()
	const wait = 15 * time.Second // the client gives up here: a hang, not a slow answer
	bound := faultQueryTimeout + time.Second
	var (
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		mu       sync.Mutex
		acked    int // 201s so far
		slowest  time.Duration
		problems []string
	)
	for s := range n {
		wg.Go(func() {
			for i := range 2000 { // bounded; stopped long before
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("stream-%d-%d-%04d", round, s, i)
				r := createUser(admin, p.base, name, wait)
				out.put(name, outcome(r))
				mu.Lock()
				switch {
				case r.err != nil:
					problems = append(problems, fmt.Sprintf("create %s: %v", name, r))
				case r.status == http.StatusCreated:
					acked++
				case r.status != http.StatusServiceUnavailable:
					problems = append(problems, fmt.Sprintf("create %s: %v, want 201 or 503", name, r))
				case r.header.Get("Retry-After") == "":
					problems = append(problems, fmt.Sprintf("create %s: 503 without Retry-After", name))
				case r.took > bound:
					problems = append(problems, fmt.Sprintf("create %s: 503 after %v, want within query_timeout + 1s = %v", name, r.took, bound))
				}
				if r.status == http.StatusServiceUnavailable {
					slowest = max(slowest, r.took)
				}
				mu.Unlock()
			}
		})
	}
	// waitFor waits up to 10 s for the streams to have k creates acknowledged.
	waitFor := func(k int) bool {
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			got := acked
			mu.Unlock()
			if got >= k {
				return true
			}
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(time.Millisecond)
		}
	}
	// Freeze once the streams run, at a moment that differs from round to round.
	if !waitFor(10 + 7*round) {
		t.Errorf("stream round %d: not %d creates acknowledged within 10s before the freeze", round, 10+7*round)
	}
	pg.freeze()
	time.Sleep(faultQueryTimeout + 1500*time.Millisecond) // every create in flight has timed out
	pg.thaw()
	mu.Lock()
	before := acked
	mu.Unlock()
	if !waitFor(before + 10) { // the streams go on after the thaw
		t.Errorf("stream round %d: creates not acknowledged again within 10s of the thaw", round)
	}
	close(stop)
	wg.Wait()
	for _, problem := range problems {
		t.Error(problem)
	}
	t.Logf("stream round %d: slowest 503 %v (bound %v)", round, slowest.Round(time.Millisecond), bound)
}

// --- Redis down or frozen ---

// redisServer is a Redis of the test's own on a free loopback port,
// nothing saved to disk.
type redisServer struct {
	t    *testing.T
	port string
	dir  string
	log  processLog

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// newRedis starts a Redis, stopped when the test ends; it skips the test
// when redis-server is not installed.
func newRedis(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("Redis fault test skipped: no redis-server (apt-get install -y redis-server)")
	}
	rs := &redisServer{t: t, dir: t.TempDir()}
	_, rs.port, _ = net.SplitHostPort(freeAddr(t))
	t.Cleanup(rs.kill)
	rs.start()
	return rs
}

func (rs *redisServer) addr() string { return "127.0.0.1:" + rs.port }

// start runs redis-server in the foreground, in a process group of its
// own, and waits until it answers PING.
func (rs *redisServer) start() {
	t := rs.t
	t.Helper()
	cmd := exec.Command("redis-server", "--port", rs.port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	cmd.Dir = rs.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	done := startService(t, "redis-server", cmd, &rs.log, rs.ping, 15*time.Second)
	rs.mu.Lock()
	rs.cmd, rs.done = cmd, done
	rs.mu.Unlock()
}

// ping sends PING on a fresh connection and expects +PONG.
func (rs *redisServer) ping() error {
	conn, err := net.DialTimeout("tcp", rs.addr(), time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

func (rs *redisServer) signal(sig syscall.Signal) {
	rs.mu.Lock()
	pgid := rs.cmd.Process.Pid
	rs.mu.Unlock()
	_ = syscall.Kill(-pgid, sig)
}

// crash kills Redis (SIGKILL) and waits until it is gone.
func (rs *redisServer) crash() {
	rs.signal(syscall.SIGKILL)
	rs.mu.Lock()
	done := rs.done
	rs.mu.Unlock()
	<-done
}

// kill ends Redis, whatever state it is in (the test's cleanup).
func (rs *redisServer) kill() {
	rs.mu.Lock()
	cmd, done := rs.cmd, rs.done
	rs.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	rs.signal(syscall.SIGCONT)
	rs.signal(syscall.SIGKILL)
	<-done
}

// TestRedisDown: with sessions and the login counter in Redis, a Redis
// that is frozen (SIGSTOP) or killed makes logins and session routes
// answer 503 with Retry-After (not 500, not 401: nobody is logged out by
// an outage), within a bounded time (Redis's client timeouts are 2 s);
// once Redis answers again, logins work, without restarting userhub. The
// log has no ERROR line and at most one "stopped answering" per outage.
func TestRedisDown(t *testing.T) {
	rs := newRedis(t)
	p := start(t, "USERHUB_SESSION_STORE=redis", "USERHUB_SESSION_REDIS_ADDR="+rs.addr())
	t.Cleanup(func() { rs.signal(syscall.SIGCONT) }) // runs before userhub and Redis are stopped
	p.setup(t)
	const (
		bound = 10 * time.Second // two Redis timeouts of 2 s, and room
		wait  = 20 * time.Second // the client gives up here: a hang
	)
	loginBody := `{"name":"kim","password":"` + adminPassword + `"}`
	login := func() reply { return send(newClient(), wait, "POST", p.base+"/api/v1/login", jsonCT, loginBody) }
	r := login()
	wantStatus(t, "login", r, http.StatusOK)
	var kim string
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "userhub_session" && c.Value != "" {
			kim = c.Name + "=" + c.Value
		}
	}
	if kim == "" {
		t.Fatalf("login set no session cookie: %v", r.header["Set-Cookie"])
	}
	me := func() reply {
		req, _ := http.NewRequest("GET", p.base+"/api/v1/me", nil)
		req.Header.Set("Cookie", kim)
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		began := time.Now()
		resp, err := newClient().Do(req.WithContext(ctx))
		if err != nil {
			return reply{err: err, took: time.Since(began)}
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return reply{status: resp.StatusCode, header: resp.Header, body: string(b), took: time.Since(began)}
	}
	wantStatus(t, "me", me(), http.StatusOK)
	stopped := func() int { return len(logLines(p, "stopped answering")) }
	// A session read from Redis in the last second is answered from memory
	// (sessions/recent.go), Redis or not: wait that out before each outage,
	// so that the requests below need Redis.
	outlastRecent := func() { time.Sleep(1100 * time.Millisecond) }

	// (a) Redis frozen.
	outlastRecent()
	rs.signal(syscall.SIGSTOP)
	if r := send(newClient(), wait, "GET", p.base+"/readyz", "", ""); r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "the redis does not answer") {
		t.Errorf("/readyz, Redis frozen: %v, want 503 naming Redis", r)
	}
	r = login()
	unavailable(t, "login, Redis frozen", r, false)
	if r.took > bound {
		t.Errorf("login, Redis frozen: answered after %v, want within %v", r.took, bound)
	}
	t.Logf("login, Redis frozen: %d in %v", r.status, r.took.Round(time.Millisecond))
	rm := me()
	unavailable(t, "me, Redis frozen", rm, false)
	if rm.took > bound {
		t.Errorf("me, Redis frozen: answered after %v, want within %v", rm.took, bound)
	}
	t.Logf("me, Redis frozen: %d in %v", rm.status, rm.took.Round(time.Millisecond))
	rs.signal(syscall.SIGCONT)
	wantStatus(t, "login, Redis thawed", login(), http.StatusOK)
	wantStatus(t, "me, Redis thawed", me(), http.StatusOK)
	waitBack(t, p, 1)
	settleLog()
	frozenOutage := stopped()
	if frozenOutage > 1 {
		t.Errorf("%d \"stopped answering\" lines for the freeze, want at most 1", frozenOutage)
	}

	// (b) Redis killed.
	outlastRecent()
	rs.crash()
	r = login()
	unavailable(t, "login, Redis killed", r, false)
	t.Logf("login, Redis killed: %d in %v", r.status, r.took.Round(time.Millisecond))
	rm = me()
	unavailable(t, "me with a session, Redis killed (an outage logs nobody out)", rm, false)
	t.Logf("me, Redis killed: %d in %v", rm.status, rm.took.Round(time.Millisecond))
	if r.took > bound || rm.took > bound {
		t.Errorf("Redis killed: answers after %v and %v, want within %v", r.took, rm.took, bound)
	}
	rs.start()
	wantStatus(t, "login, Redis restarted", login(), http.StatusOK)
	settleLog()
	if killOutage := stopped() - frozenOutage; killOutage > 1 {
		t.Errorf("%d \"stopped answering\" lines for the kill, want at most 1", killOutage)
	}
	t.Logf("\"stopped answering\" lines: %d for the freeze, %d for the kill; log:\n%s",
		frozenOutage, stopped()-frozenOutage, strings.Join(logLines(p, "redis"), "\n"))
	noErrorLines(t, p)
}

// --- a full disk ---

// TestDiskFull: the data directory on a small tmpfs, filled by creates
// until one is refused. That one answers 503 with Retry-After; reads go on
// (200); /readyz says the database has no room left. Once space is freed,
// a create works and /readyz is 200 again; every create answered 201 is
// listed, none answered 503 is.
func TestDiskFull(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("disk-full test skipped: cannot mount a tmpfs (needs root or CAP_SYS_ADMIN): %v %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() { // after userhub stops (cleanups run last first)
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	ballast := filepath.Join(dir, "ballast")
	if err := os.WriteFile(ballast, bytes.Repeat([]byte{0xa5}, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, "USERHUB_DATA_DIR="+dir)
	admin := p.setup(t)
	const wait = 15 * time.Second

	var created outcomes
	var refused reply
	refusedName := ""
	for i := range 20000 {
		name := fmt.Sprintf("%06d-", i) + strings.Repeat("x", 53) // 60 characters
		r := createUser(admin, p.base, name, wait)
		created.put(name, outcome(r))
		if r.err != nil || r.status != http.StatusCreated {
			refused, refusedName = r, name
			break
		}
	}
	counts := created.counts()
	t.Logf("until the disk was full: statuses %v", counts)
	if refusedName == "" {
		t.Fatal("20000 creates and the disk is not full")
	}
	unavailable(t, "create on a full disk", refused, false)
	if t.Failed() {
		t.FailNow()
	}
	wantStatus(t, "GET /api/v1/users, disk full", send(admin, wait, "GET", p.base+"/api/v1/users", "", ""), http.StatusOK)
	wantStatus(t, "GET /users, disk full", send(admin, wait, "GET", p.base+"/users", "", ""), http.StatusOK)
	ready := send(newClient(), wait, "GET", p.base+"/readyz", "", "")
	if ready.status != http.StatusServiceUnavailable || !strings.Contains(ready.body, "no room left") {
		t.Errorf("/readyz, disk full: %v, want 503 saying \"no room left\"", ready)
	}
	if again := createUser(admin, p.base, "still-full", wait); again.status != http.StatusServiceUnavailable {
		t.Errorf("another create on a full disk: %v, want 503", again)
	} else {
		created.put("still-full", outcome(again))
	}

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	r := createUser(admin, p.base, "after-space-freed", wait)
	created.put("after-space-freed", outcome(r))
	wantStatus(t, "create after space was freed", r, http.StatusCreated)
	wantStatus(t, "/readyz after space was freed", send(newClient(), wait, "GET", p.base+"/readyz", "", ""), http.StatusOK)
	created.check(t, userNames(t, admin, p.base))
	noErrorLines(t, p)
}
