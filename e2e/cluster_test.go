//go:build unix

package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"userhub/server"
)

// Cluster mode, end to end: the built binary with cluster.workers 2 on a
// free port, under a bounded load from the test.

// startCluster starts a master with two workers and waits until both serve.
func startCluster(t *testing.T, env ...string) *proc {
	t.Helper()
	p := start(t, append([]string{"USERHUB_CLUSTER_WORKERS=2"}, env...)...)
	p.waitWorkers(t, 2)
	return p
}

var readyLine = regexp.MustCompile(`msg="worker ready" pid=\d+ role=master slot=(\d) worker_pid=(\d+)`)

// readyWorkers returns the pid of the newest ready worker of each slot.
func (p *proc) readyWorkers() map[int]int {
	slots := map[int]int{}
	for _, m := range readyLine.FindAllStringSubmatch(p.output(), -1) {
		slot, _ := strconv.Atoi(m[1])
		pid, _ := strconv.Atoi(m[2])
		slots[slot] = pid
	}
	return slots
}

// waitWorkers waits until n slots have a ready worker.
func (p *proc) waitWorkers(t *testing.T, n int) map[int]int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if w := p.readyWorkers(); len(w) >= n {
			return w
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d workers not ready:\n%s", n, p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// load sends GET /healthz from conns keep-alive connections until stopped
// or for at most max, and records what happened.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []string
	// acceptedErrs are the failures of requests sent on a connection the
	// server had accepted before (a reused keep-alive connection).
	acceptedErrs []string
	pids         map[int]time.Time // worker pid -> when it last answered
	// connPID is, per connection, the pid of the worker that last answered
	// on it: which connections a worker holds.
	connPID []atomic.Int64
	stop    chan struct{}
	done    sync.WaitGroup
}

// startLoad sends GET /healthz (and, with posts, every other request a
// POST, which clients do not retry on their own) from conns keep-alive
// connections.
func startLoad(t *testing.T, base string, conns int, max time.Duration, posts ...bool) *load {
	l := &load{stop: make(chan struct{}), pids: map[int]time.Time{}, connPID: make([]atomic.Int64, conns)}
	deadline := time.Now().Add(max)
	withPosts := len(posts) > 0 && posts[0]
	for conn := range conns {
		client := &http.Client{
			Transport:     &http.Transport{MaxIdleConnsPerHost: 1},
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		l.done.Go(func() {
			defer client.CloseIdleConnections()
			for i := 0; time.Now().Before(deadline); i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				var reused bool
				// Sticky: a request retried on a new connection was sent on
				// an accepted one first.
				trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused = reused || info.Reused }}
				ctx := httptrace.WithClientTrace(context.Background(), trace)
				req, _ := http.NewRequestWithContext(ctx, "GET", base+"/healthz", nil)
				if withPosts && i%2 == 1 {
					// POST /lang: public, cheap, and a state change (303 and a cookie).
					req, _ = http.NewRequestWithContext(ctx, "POST", base+"/lang", strings.NewReader("lang=en&next=%2Fabout"))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				resp, err := client.Do(req)
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					l.errs = append(l.errs, err.Error())
					if reused {
						l.acceptedErrs = append(l.acceptedErrs, err.Error())
					}
					l.mu.Unlock()
					time.Sleep(5 * time.Millisecond)
					continue
				}
				if req.Method == "POST" {
					resp.Body.Close()
					if resp.StatusCode == http.StatusSeeOther {
						l.ok.Add(1)
						continue
					}
					l.failed.Add(1)
					l.mu.Lock()
					l.errs = append(l.errs, fmt.Sprintf("POST: status %d", resp.StatusCode))
					l.mu.Unlock()
					continue
				}
				var body struct{ PID int }
				err = jsonDecode(resp, &body)
				if err != nil || resp.StatusCode != 200 {
					l.failed.Add(1)
					l.mu.Lock()
					l.errs = append(l.errs, fmt.Sprintf("status %d, %v", resp.StatusCode, err))
					l.mu.Unlock()
					continue
				}
				l.ok.Add(1)
				l.connPID[conn].Store(int64(body.PID))
				l.mu.Lock()
				l.pids[body.PID] = time.Now()
				l.mu.Unlock()
			}
		})
	}
	return l
}

// connectionsTo counts the connections that pid answered last.
func (l *load) connectionsTo(pid int) int {
	n := 0
	for i := range l.connPID {
		if l.connPID[i].Load() == int64(pid) {
			n++
		}
	}
	return n
}

// waitEveryConnection waits until every connection has had an answer, so
// that the server has accepted each of them and later requests on them are
// requests on accepted connections.
func (l *load) waitEveryConnection(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for i := range l.connPID {
		for l.connPID[i].Load() == 0 {
			if time.Now().After(deadline) {
				l.finish()
				t.Fatalf("connection %d got no answer within 10s: %v", i, l.errs)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func (l *load) finish() {
	close(l.stop)
	l.done.Wait()
}

// answeredSince lists the pids that answered after t.
func (l *load) answeredSince(t time.Time) map[int]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	pids := map[int]bool{}
	for pid, at := range l.pids {
		if at.After(t) {
			pids[pid] = true
		}
	}
	return pids
}

// TestClusterWorkerKilled: kill -9 one worker under load; the server keeps
// answering, a replacement is up within a second, and no more requests
// fail than were in flight on that worker.
func TestClusterWorkerKilled(t *testing.T) {
	p := startCluster(t)
	workers := p.readyWorkers()
	const conns = 8
	// POSTs too: a GET that fails on a reused connection is retried by the
	// client, so GETs alone would hide lost requests.
	l := startLoad(t, p.base, conns, 10*time.Second, true)
	time.Sleep(500 * time.Millisecond)
	victim := workers[0]
	// Each connection has at most one request in flight.
	inFlight := l.connectionsTo(victim)
	killed := time.Now()
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var replacement int
	for replacement == 0 || replacement == victim {
		if time.Since(killed) > 5*time.Second {
			t.Fatalf("no replacement:\n%s", p.output())
		}
		time.Sleep(10 * time.Millisecond)
		replacement = p.readyWorkers()[0]
	}
	upAfter := time.Since(killed)
	okAtKill := l.ok.Load()
	time.Sleep(700 * time.Millisecond)
	l.finish()
	t.Logf("replacement %d ready %v after the kill; %d requests answered, %d failed", replacement, upAfter.Round(time.Millisecond), l.ok.Load(), l.failed.Load())
	if upAfter > time.Second {
		t.Errorf("the replacement took %v, want under a second", upAfter)
	}
	if l.ok.Load() <= okAtKill {
		t.Error("no request was answered after the kill")
	}
	if f := l.failed.Load(); f > int64(inFlight) {
		t.Errorf("%d requests failed, more than the %d that could be in flight on the killed worker: %v", f, inFlight, l.errs)
	}
	p.waitLog(t, fmt.Sprintf(`msg="worker died" pid=%d role=master slot=0 worker_pid=%d code=-1`, p.cmd.Process.Pid, victim))
	p.waitLog(t, "signal=killed")
	// The replacement serves: new connections reach it too.
	probe := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		resp, err := probe.Get(p.base + "/healthz")
		var body struct{ PID int }
		if err == nil && jsonDecode(resp, &body) == nil && body.PID == replacement {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replacement answers no request")
		}
	}
}

// TestClusterReload: SIGHUP under load (GETs and POSTs) replaces every
// worker with zero failed requests.
func TestClusterReload(t *testing.T) {
	p := startCluster(t)
	before := p.readyWorkers()
	l := startLoad(t, p.base, 8, 15*time.Second, true)
	time.Sleep(500 * time.Millisecond)
	p.signal(syscall.SIGHUP)
	p.waitLog(t, "reload done")
	reloaded := time.Now()
	time.Sleep(500 * time.Millisecond)
	l.finish()
	after := p.readyWorkers()
	t.Logf("workers %v -> %v; %d requests answered, %d failed", before, after, l.ok.Load(), l.failed.Load())
	if f := l.failed.Load(); f != 0 {
		t.Errorf("%d requests failed during the reload: %v", f, l.errs)
	}
	for slot, pid := range before {
		if after[slot] == pid {
			t.Errorf("slot %d still runs worker %d", slot, pid)
		}
	}
	for pid := range l.answeredSince(reloaded.Add(100 * time.Millisecond)) {
		if pid == before[0] || pid == before[1] {
			t.Errorf("old worker %d answered after the reload", pid)
		}
	}
	p.waitAudited(t, `"action":"server.reloaded"`, `"actor_name":"(operator)"`, `"outcome":"done"`, `"reloaded":"workers"`, `"workers":"2"`)
}

// TestClusterReloadWithBadConfig: a configuration that does not load
// leaves the old workers serving, and the log says why.
func TestClusterReloadWithBadConfig(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "userhub.yaml")
	os.WriteFile(cfgFile, []byte("log:\n  level: info\n"), 0o600)
	p := startCluster(t, "USERHUB_CONFIG="+cfgFile)
	before := p.readyWorkers()
	os.WriteFile(cfgFile, []byte("database:\n  driver: mysql\n"), 0o600)
	p.signal(syscall.SIGHUP)
	p.waitLog(t, "reload stopped: the new worker did not start")
	p.waitLog(t, `database.driver: "mysql" is not allowed`)
	p.waitAudited(t, `"action":"server.reloaded"`, `"outcome":"stopped; the old ones serve: the new worker did not start`)
	resp, _ := do(t, "GET", p.base+"/healthz", "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("after a failed reload: %d", resp.StatusCode)
	}
	if after := p.readyWorkers(); after[0] != before[0] || after[1] != before[1] {
		t.Errorf("workers %v after a failed reload, want the old %v", after, before)
	}
}

// TestClusterShutdown: SIGTERM under load; every request that was accepted
// completes, the master exits 0, and no worker is left.
func TestClusterShutdown(t *testing.T) {
	p := startCluster(t)
	stopUnderLoad(t, p, 20*time.Second, nil)
}

var startedLine = regexp.MustCompile(`msg="worker started" pid=\d+ role=master slot=\d worker_pid=(\d+)`)

// stopUnderLoad stops the cluster under load (GETs and POSTs on 8
// keep-alive connections): once every connection has had an answer it runs
// beforeStop (if any), then sends SIGTERM. The master must exit 0 within
// exitWithin, every request on a connection the server had accepted must
// complete, and no worker may be left: neither those ready before the stop
// nor any the master started.
func stopUnderLoad(t *testing.T, p *proc, exitWithin time.Duration, beforeStop func()) {
	t.Helper()
	workers := map[int]bool{}
	for _, pid := range p.readyWorkers() {
		workers[pid] = true
	}
	l := startLoad(t, p.base, 8, 10*time.Second, true)
	l.waitEveryConnection(t)
	if beforeStop != nil {
		beforeStop()
	}
	p.signal(syscall.SIGTERM)
	code := p.wait(exitWithin)
	l.finish()
	if code != 0 {
		t.Fatalf("exit code %d", code)
	}
	// Requests on connections the server had accepted must all complete.
	// New connections fail once the sockets close: refused, or reset if they
	// were still waiting in the kernel's queue, never accepted by a worker.
	for _, e := range l.acceptedErrs {
		t.Errorf("a request on an accepted connection failed during the stop: %s", e)
	}
	for _, m := range startedLine.FindAllStringSubmatch(p.output(), -1) {
		pid, _ := strconv.Atoi(m[1])
		workers[pid] = true
	}
	for pid := range workers {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("worker %d outlived the master", pid)
		}
	}
	t.Logf("%d requests answered; %d on new connections after the sockets closed failed", l.ok.Load(), l.failed.Load())
}

// TestClusterCrashLoop: workers that exit at start-up every time (here:
// Redis, which only workers use, does not answer) make the master give up
// with a message and a non-zero exit, instead of spinning.
func TestClusterCrashLoop(t *testing.T) {
	p := launch(t, "USERHUB_CLUSTER_WORKERS=2", "USERHUB_SESSION_STORE=redis", "USERHUB_SESSION_REDIS_ADDR=127.0.0.1:1")
	if code := p.wait(30 * time.Second); code == 0 {
		t.Fatal("the master exited 0")
	}
	p.waitLog(t, "workers keep failing at start-up")
	p.waitLog(t, "cannot reach Redis at 127.0.0.1:1")
}

// TestWorkersDieWithTheirMaster: kill -9 the master; the workers finish and
// exit on their own.
func TestWorkersDieWithTheirMaster(t *testing.T) {
	p := startCluster(t)
	workers := p.readyWorkers()
	syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
	p.wait(5 * time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range workers {
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("worker %d outlived its master", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestClusterWritesFromBothWorkers: concurrent writes through both workers
// into one SQLite file lose nothing.
func TestClusterWritesFromBothWorkers(t *testing.T) {
	p := startCluster(t)
	admin := p.setup(t)
	session := ""
	for _, c := range admin.Jar.Cookies(mustParse(p.base)) {
		session = c.Name + "=" + c.Value
	}
	const writers, each = 16, 15
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := range writers {
		wg.Go(func() {
			// New connections, so that the kernel spreads them over both workers.
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			for i := range each {
				req, _ := http.NewRequest("POST", p.base+"/user", stringsReader(fmt.Sprintf(`{"name":"w%02d-%02d"}`, w, i)))
				req.Header.Set("Content-Type", jsonCT)
				req.Header.Set("Cookie", session)
				resp, err := client.Do(req)
				if err != nil || resp.StatusCode != 201 {
					failed.Add(1)
					if err == nil {
						resp.Body.Close()
					}
					continue
				}
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d writes failed", failed.Load())
	}
	resp, body := doWith(t, admin, "GET", p.base+"/users", "", "")
	var users map[string]string
	if err := jsonUnmarshal(body, &users); err != nil || resp.StatusCode != 200 {
		t.Fatalf("list: %d %v", resp.StatusCode, err)
	}
	if want := writers*each + 1; len(users) != want {
		t.Fatalf("%d users stored, want %d", len(users), want)
	}
	// Both workers took writes: each logs its own access lines.
	p.waitLog(t, "method=POST path=/user status=201")
	for slot, pid := range p.readyWorkers() {
		if !regexp.MustCompile(fmt.Sprintf(`pid=%d role=worker method=POST path=/user status=201`, pid)).MatchString(p.output()) {
			t.Errorf("worker %d (slot %d) took no write", pid, slot)
		}
	}
	if regexp.MustCompile(`database is locked|SQLITE_BUSY`).MatchString(p.output()) {
		t.Error("a worker met a locked database")
	}
}

// TestClusterCrashAfterFailedReload: with a broken configuration on disk,
// a worker that dies cannot be replaced; the master keeps the other one
// serving (instead of giving up), keeps trying, and recovers once the
// configuration is fixed.
func TestClusterCrashAfterFailedReload(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "userhub.yaml")
	good := []byte("log:\n  level: info\n")
	os.WriteFile(cfgFile, good, 0o600)
	p := startCluster(t, "USERHUB_CONFIG="+cfgFile)
	workers := p.readyWorkers()
	os.WriteFile(cfgFile, []byte("database:\n  driver: mysql\n"), 0o600)
	p.signal(syscall.SIGHUP)
	p.waitLog(t, "reload stopped")
	syscall.Kill(workers[0], syscall.SIGKILL)
	p.waitLog(t, "workers keep failing at start-up")
	for range 20 {
		if resp, _ := do(t, "GET", p.base+"/healthz", "", ""); resp.StatusCode != 200 {
			t.Fatalf("healthz while slot 0 cannot start: %d", resp.StatusCode)
		}
	}
	select {
	case <-p.done:
		t.Fatalf("the master gave up while a worker still served:\n%s", p.output())
	default:
	}
	os.WriteFile(cfgFile, good, 0o600)
	deadline := time.Now().Add(20 * time.Second)
	for p.readyWorkers()[0] == workers[0] {
		if time.Now().After(deadline) {
			t.Fatalf("slot 0 did not recover:\n%s", p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterStopDuringReload: SIGTERM while a reload is under way; every
// worker, old and new, finishes its requests and exits, then the master.
func TestClusterStopDuringReload(t *testing.T) {
	p := startCluster(t)
	stopUnderLoad(t, p, 30*time.Second, func() {
		p.signal(syscall.SIGHUP)
		p.waitLog(t, "reload: replacing the workers")
	})
}

// TestClusterHTTPS: cluster mode with TLS; a client's TLS session resumes
// on whichever worker it reaches (the ticket keys are shared).
func TestClusterHTTPS(t *testing.T) {
	tlsAddr := freeAddr(t)
	p := startCluster(t, "USERHUB_TLS_MODE=self-signed", "USERHUB_TLS_ADDR="+tlsAddr)
	pool := caPool(t, filepath.Join(p.dataDir, "tls", server.CAFile))
	cache := tls.NewLRUClientSessionCache(8)
	pids := map[int]bool{}
	connections, resumed := 0, 0
	// New connections until both workers have answered (a ticket issued by
	// one must resume on the other), at most 200.
	for ; connections < 200 && (len(pids) < 2 || connections < 12); connections++ {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ClientSessionCache: cache}, ForceAttemptHTTP2: true}
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + tlsAddr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ PID int }
		jsonDecode(resp, &body)
		pids[body.PID] = true
		if connections > 0 && resp.TLS.DidResume {
			resumed++
		}
		tr.CloseIdleConnections()
	}
	if len(pids) < 2 {
		t.Fatalf("all %d connections reached one worker", connections)
	}
	if resumed != connections-1 {
		t.Errorf("%d of %d later connections resumed their TLS session (workers %v)", resumed, connections-1, pids)
	}
}

// TestClusterSessions: a session started on one worker works on every
// worker, and a logout on one ends it on all. Each worker keeps its own
// caches (decoded cookies, users, revocations), so both must have served
// the cookie before the logout, and both must refuse it after.
func TestClusterSessions(t *testing.T) {
	p := startCluster(t)
	workers := p.readyWorkers()
	p.setup(t)
	cookie := sessionOf(t, apiLogin(t, p.base, "kim", adminPassword, ""))
	// replay sends the cookie on new connections (either worker may take
	// one) until both workers have answered it with status.
	replay := func(status int) {
		t.Helper()
		for sent := 0; ; sent++ {
			resp, _ := raw(t, "GET", p.base+"/api/v1/me", "", "", cookie)
			if resp.StatusCode != status {
				t.Fatalf("request %d: %d, want %d", sent+1, resp.StatusCode, status)
			}
			if sent%10 == 9 {
				time.Sleep(150 * time.Millisecond) // the log is written in batches
				if answeredBy(p.output(), status)[workers[0]] && answeredBy(p.output(), status)[workers[1]] {
					return
				}
			}
			if sent == 500 {
				t.Fatalf("after %d requests, not both workers %v answered %d:\n%s", sent, workers, status, p.output())
			}
		}
	}
	replay(200)
	if resp, _ := raw(t, "POST", p.base+"/api/v1/logout", "", "", cookie); resp.StatusCode != 204 {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	replay(401)
}

var meLine = regexp.MustCompile(`msg=request pid=(\d+) role=worker .*path=/api/v1/me status=(\d+)`)

// answeredBy lists the workers whose access log shows GET /api/v1/me
// answered with status.
func answeredBy(log string, status int) map[int]bool {
	pids := map[int]bool{}
	for _, m := range meLine.FindAllStringSubmatch(log, -1) {
		if m[2] == strconv.Itoa(status) {
			pid, _ := strconv.Atoi(m[1])
			pids[pid] = true
		}
	}
	return pids
}
