//go:build unix

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Several instances behind HAProxy, end to end (issue 11): three userhub
// processes on one PostgreSQL schema and one throwaway Redis, behind
// HAProxy running deploy/haproxy.cfg itself, with only its bind and server
// lines pointed at the test's loopback ports. The load is bounded in
// requests and time and goes to 127.0.0.1 only. What is asserted is what
// clients see (statuses, failures counted against what was in flight) and
// the logs; the only times asserted are the ones promised (a change seen
// by the other instances within 100 ms, a session back within 5 s of
// Redis).

// haDrainDelay is the server.drain_delay the instances run with: long
// enough for two failed health checks a second apart.
const haDrainDelay = 3 * time.Second

// haShutdownTimeout is their server.shutdown_timeout.
const haShutdownTimeout = 10 * time.Second

// haproxyBinary returns the haproxy command, or skips the test.
func haproxyBinary(t *testing.T) string {
	t.Helper()
	if path, err := exec.LookPath("haproxy"); err == nil {
		return path
	}
	if _, err := os.Stat("/usr/sbin/haproxy"); err == nil {
		return "/usr/sbin/haproxy"
	}
	t.Skip("HAProxy test skipped: no haproxy (apt-get install -y haproxy)")
	return ""
}

// haproxyConfig returns deploy/haproxy.cfg with its bind line listening on
// listen, its server lines pointed at servers (in order; their names and
// options kept), and without chroot, user and group: the test runs HAProxy
// as whoever runs the tests. Every other line is the shipped one.
func haproxyConfig(t *testing.T, listen string, servers []string) string {
	t.Helper()
	shipped, err := os.ReadFile("../deploy/haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	binds, n := 0, 0
	for line := range strings.Lines(string(shipped)) {
		fields := strings.Fields(line)
		if len(fields) > 0 {
			switch fields[0] {
			case "chroot", "user", "group":
				continue
			case "bind":
				binds++
				line = "    bind " + listen + "\n"
			case "server":
				if n < len(servers) && len(fields) >= 3 {
					fields[2] = servers[n]
					line = "    " + strings.Join(fields, " ") + "\n"
				}
				n++
			}
		}
		out.WriteString(line)
	}
	if binds != 1 || n != len(servers) {
		t.Fatalf("deploy/haproxy.cfg has %d bind lines and %d server lines; the test fills in 1 and %d", binds, n, len(servers))
	}
	return out.String()
}

// checkHAProxyConfig runs haproxy -c on file, warnings counting as errors.
func checkHAProxyConfig(t *testing.T, bin, file string) {
	t.Helper()
	out, err := exec.Command(bin, "-c", "-dW", "-f", file).CombinedOutput()
	if err != nil {
		t.Fatalf("haproxy -c -dW -f %s: %v\n%s", file, err, out)
	}
}

// TestHAProxyConfig: the shipped deploy/haproxy.cfg is valid, without a
// warning, as shipped and as the tests below run it; and it says what
// docs/scaling.md promises.
func TestHAProxyConfig(t *testing.T) {
	bin := haproxyBinary(t)
	checkHAProxyConfig(t, bin, "../deploy/haproxy.cfg")
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(haproxyConfig(t, "127.0.0.1:1", []string{"127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4"})), 0o600); err != nil {
		t.Fatal(err)
	}
	checkHAProxyConfig(t, bin, cfg)
	shipped, _ := os.ReadFile("../deploy/haproxy.cfg")
	var lines []string
	for line := range strings.Lines(string(shipped)) {
		lines = append(lines, strings.Join(strings.Fields(line), " "))
	}
	for _, want := range []string{
		"timeout connect 5s", "retries 3", "retry-on conn-failure", "option redispatch 1", "http-reuse safe",
		"option forwardfor", "option httpchk", "http-check expect status 200",
		"default-server check inter 1s fall 2 rise 2",
		"# bind :443 ssl crt /etc/haproxy/certs/userhub.pem alpn h2,http/1.1",
		"# http-request redirect scheme https code 308 unless { ssl_fc }",
		"http-request set-header X-Forwarded-Proto https if { ssl_fc }",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("deploy/haproxy.cfg has no line %q", want)
		}
	}
	for _, line := range lines {
		if strings.HasPrefix(line, "retry-on ") && line != "retry-on conn-failure" {
			t.Errorf("deploy/haproxy.cfg: %q: only a failed connection may be retried (a request that reached an instance is not idempotent)", line)
		}
		if strings.HasPrefix(line, "timeout client ") || strings.HasPrefix(line, "timeout server ") {
			d, err := time.ParseDuration(strings.Fields(line)[2])
			if err != nil || d < 30*time.Second {
				t.Errorf("deploy/haproxy.cfg: %q: want at least userhub's read and write timeouts (30s)", line)
			}
		}
	}
}

// TestSystemdUnit: deploy/userhub.service is key=value lines in sections
// and sets the directives docs/scaling.md promises; where systemd-analyze
// is installed, `systemd-analyze verify` accepts it without a word (with
// ExecStart pointed at the binary the tests built: verify wants it to
// exist).
func TestSystemdUnit(t *testing.T) {
	raw, err := os.ReadFile("../deploy/userhub.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := map[string]map[string][]string{} // section -> key -> values
	section := ""
	for i, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			unit[section] = map[string][]string{}
		default:
			key, value, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.TrimSpace(key) != key || key == "" {
				t.Fatalf("deploy/userhub.service:%d: %q is not key=value in a section", i+1, line)
			}
			unit[section][key] = append(unit[section][key], value)
		}
	}
	if got := slices.Sorted(maps.Keys(unit)); !slices.Equal(got, []string{"Install", "Service", "Unit"}) {
		t.Fatalf("sections %v, want Install, Service, Unit", got)
	}
	service := unit["Service"]
	for key, want := range map[string]string{
		"EnvironmentFile": "-/etc/userhub/env", "KillSignal": "SIGTERM", "Restart": "on-failure",
		"User": "userhub", "StateDirectory": "userhub", "ProtectSystem": "strict", "ProtectHome": "yes",
		"PrivateTmp": "yes", "NoNewPrivileges": "yes", "CapabilityBoundingSet": "",
		"SystemCallFilter": "@system-service", "MemoryDenyWriteExecute": "yes", "LockPersonality": "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
	} {
		if got := service[key]; !slices.Contains(got, want) {
			t.Errorf("[Service] %s = %q, want %q", key, got, want)
		}
	}
	if got := service["AmbientCapabilities"]; got != nil {
		t.Errorf("[Service] AmbientCapabilities = %q: only in the commented variant for ports below 1024", got)
	}
	if !strings.Contains(string(raw), "\n#AmbientCapabilities=CAP_NET_BIND_SERVICE\n") {
		t.Error("no commented AmbientCapabilities=CAP_NET_BIND_SERVICE for ports below 1024")
	}
	// systemd stops the service after TimeoutStopSec: it must outlast the
	// drain and the shutdown with the defaults.
	stop, err := time.ParseDuration(strings.Join(service["TimeoutStopSec"], ""))
	if drainDefault, shutdownDefault := 5*time.Second, 15*time.Second; err != nil || stop <= drainDefault+shutdownDefault {
		t.Errorf("[Service] TimeoutStopSec = %q, want more than server.drain_delay + server.shutdown_timeout (%v)", service["TimeoutStopSec"], drainDefault+shutdownDefault)
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze verify skipped: no systemd-analyze; the unit was checked as key=value sections only")
		return
	}
	exe := strings.Join(service["ExecStart"], "")
	path := filepath.Join(t.TempDir(), "userhub.service")
	bin, _ := filepath.Abs(binary)
	if err := os.WriteFile(path, []byte(strings.Replace(string(raw), "ExecStart="+exe, "ExecStart="+bin+" serve", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// haproxyServer is HAProxy running in the foreground (-db).
type haproxyServer struct {
	base string // http://127.0.0.1:PORT
	log  processLog
	cmd  *exec.Cmd
	done chan struct{}
}

// startHAProxy runs deploy/haproxy.cfg in front of servers (host:port),
// stopped when the test ends, and waits until it accepts connections.
func startHAProxy(t *testing.T, bin string, servers []string) *haproxyServer {
	t.Helper()
	addr := freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(haproxyConfig(t, addr, servers)), 0o600); err != nil {
		t.Fatal(err)
	}
	checkHAProxyConfig(t, bin, cfg)
	h := &haproxyServer{base: "http://" + addr}
	h.cmd = exec.Command(bin, "-db", "-f", cfg)
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	ready := func() error {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
		}
		return err
	}
	h.done = startService(t, "haproxy", h.cmd, &h.log, ready, 15*time.Second)
	t.Cleanup(func() {
		_ = syscall.Kill(-h.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-h.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-h.cmd.Process.Pid, syscall.SIGKILL)
			<-h.done
		}
		if t.Failed() {
			t.Logf("haproxy output:\n%s", h.log.String())
		}
	})
	return h
}

// count returns how many times text is in HAProxy's output.
func (h *haproxyServer) count(text string) int { return strings.Count(h.log.String(), text) }

// waitCount waits up to within for text to be in HAProxy's output more
// than n times, and returns the line of the first new one.
func (h *haproxyServer) waitCount(t *testing.T, text string, n int, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for h.count(text) <= n {
		if time.Now().After(deadline) {
			t.Fatalf("HAProxy did not say %q within %v:\n%s", text, within, h.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := h.log.String()
	i := 0
	for range n + 1 {
		i += strings.Index(out[i:], text) + len(text)
	}
	line, _, _ := strings.Cut(out[i:], "\n")
	return text + line
}

// serverState is how HAProxy names instance i (0-based) in its health
// messages: "Server userhub/userhub1 is DOWN, reason: ...".
func serverState(i int, state string) string {
	return fmt.Sprintf("Server userhub/userhub%d is %s", i+1, state)
}

// haCluster is three userhub instances on one PostgreSQL schema and one
// throwaway Redis, behind HAProxy.
type haCluster struct {
	t         *testing.T
	redis     *redisServer
	env       []string // what every instance runs with, besides its address and data directory
	addrs     []string
	dataDirs  []string
	instances []*proc // each instance's current process
	all       []*proc // every process started, the ones restarted too
	lb        *haproxyServer
	admin     string // kim's session cookie, logged in through HAProxy
}

// newHACluster starts the instances and HAProxy, creates kim and logs in
// through HAProxy. It skips the test when HAProxy, PostgreSQL or
// redis-server is missing.
func newHACluster(t *testing.T) *haCluster {
	t.Helper()
	bin := haproxyBinary(t)
	dsn := os.Getenv("USERHUB_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("HAProxy test skipped: set USERHUB_TEST_POSTGRES_DSN (the instances share a PostgreSQL)")
	}
	rs := newRedis(t)
	c := &haCluster{t: t, redis: rs, env: []string{
		"USERHUB_DATABASE_DRIVER=postgres", "USERHUB_DATABASE_DSN=" + pgSchema(t, dsn),
		"USERHUB_SESSION_STORE=redis", "USERHUB_SESSION_REDIS_ADDR=" + rs.addr(),
		"USERHUB_SERVER_TRUSTED_PROXIES=127.0.0.1",
		"USERHUB_SERVER_DRAIN_DELAY=" + haDrainDelay.String(),
		"USERHUB_SERVER_SHUTDOWN_TIMEOUT=" + haShutdownTimeout.String(),
		// The load is a few sessions sending as fast as the machine lets
		// them, more than api.rate_limit's 600 a minute on a quiet one:
		// these tests are about restarts and outages, not the limits
		// (TestRateLimits, TestRateLimitAcrossWorkers).
		"USERHUB_API_RATE_LIMIT=0", "USERHUB_API_ANONYMOUS_RATE_LIMIT=0",
	}}
	for i := range 3 {
		c.addrs = append(c.addrs, freeAddr(t))
		c.dataDirs = append(c.dataDirs, t.TempDir())
		c.instances = append(c.instances, nil)
		c.start(i)
	}
	c.instances[0].setup(t)
	c.lb = startHAProxy(t, bin, c.addrs)
	c.admin = login(t, c.lb.base, "kim", adminPassword)
	// Every instance answers through HAProxy (round robin, no stickiness).
	pids := map[int]bool{}
	for deadline := time.Now().Add(20 * time.Second); len(pids) < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("through HAProxy, only pids %v answered within 20s", slices.Sorted(maps.Keys(pids)))
		}
		r := send(newClient(), 10*time.Second, "GET", c.lb.base+"/healthz", "", "")
		var body struct{ PID int }
		if r.err == nil && r.status == http.StatusOK && jsonUnmarshal(r.body, &body) == nil {
			pids[body.PID] = true
		}
	}
	return c
}

// start starts instance i on its address and data directory, and waits
// until it is ready.
func (c *haCluster) start(i int) *proc {
	p := start(c.t, append(slices.Clone(c.env), "USERHUB_SERVER_ADDR="+c.addrs[i], "USERHUB_DATA_DIR="+c.dataDirs[i])...)
	waitReady(c.t, p)
	c.instances[i] = p
	c.all = append(c.all, p)
	return p
}

// bases returns the instances' URLs.
func (c *haCluster) bases() []string {
	var bases []string
	for _, addr := range c.addrs {
		bases = append(bases, "http://"+addr)
	}
	return bases
}

// door is a way in: an instance directly, or HAProxy.
type door struct{ name, base string }

// doors returns the three instances and HAProxy.
func (c *haCluster) doors() []door {
	var doors []door
	for i, base := range c.bases() {
		doors = append(doors, door{fmt.Sprintf("instance %d", i+1), base})
	}
	return append(doors, door{"HAProxy", c.lb.base})
}

// noErrors checks every instance's log, the restarted ones' too: no
// ERROR line, no request answered 500.
func (c *haCluster) noErrors(t *testing.T) {
	t.Helper()
	settleLog()
	for _, p := range c.all {
		noErrorLines(t, p)
		if lines := logLines(p, " status=500 "); len(lines) > 0 {
			t.Errorf("%s answered 500:\n%s", p.base, strings.Join(lines, "\n"))
		}
	}
}

// login logs name in at base and returns the session cookie.
func login(t *testing.T, base, name, password string) string {
	t.Helper()
	resp := apiLogin(t, base, name, password, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login %s at %s: %s", name, base, resp.Status)
	}
	return sessionOf(t, resp)
}

// sendCookie is send with a Cookie header (and more headers, name and
// value in turn). It neither fails nor stops the test.
func sendCookie(c *http.Client, cookie, method, url, contentType, body string, header ...string) reply {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	began := time.Now()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return reply{err: err}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return reply{err: err, took: time.Since(began)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b), took: time.Since(began), err: err}
}

// within polls check every few milliseconds for up to limit and returns
// how long it took to succeed, or -1.
func within(limit time.Duration, check func() bool) time.Duration {
	began := time.Now()
	for {
		if check() {
			return time.Since(began)
		}
		if time.Since(began) > limit {
			return -1
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestHAProxyInstancesAgree: what one instance does, the others know,
// directly and through HAProxy. A user created or renamed on one is read on
// the other two within 100 ms; a logout on one ends the session on the
// others; a password change on one ends the user's other sessions on every
// instance; five failed logins spread over the three throttle the sixth.
// HAProxy replaces the X-Forwarded-For and X-Forwarded-Proto a client
// sends. No 500 and no ERROR line anywhere.
func TestHAProxyInstancesAgree(t *testing.T) {
	c := newHACluster(t)
	bases := c.bases()
	doors := c.doors()
	client := newClient()

	// A write on one is read on the others within 100 ms: a create (in the
	// list the others read just before) and a rename (of a user the others
	// have in their caches).
	const promised = 100 * time.Millisecond
	var slowest time.Duration
	seen := func(what string, from int, read func(base string) bool) {
		t.Helper()
		var wg sync.WaitGroup
		lags := make([]time.Duration, len(bases))
		for i, base := range bases {
			if i == from {
				continue
			}
			wg.Go(func() { lags[i] = within(5*time.Second, func() bool { return read(base) }) })
		}
		wg.Wait()
		for i, lag := range lags {
			switch {
			case i == from:
			case lag < 0:
				t.Errorf("%s on instance %d: not read on instance %d within 5s", what, from+1, i+1)
			case lag > promised:
				t.Errorf("%s on instance %d: read on instance %d after %v, want within %v", what, from+1, i+1, lag, promised)
			default:
				slowest = max(slowest, lag)
			}
		}
	}
	for round := range 6 {
		from := round % 3
		name := fmt.Sprintf("agree%d", round)
		listed := func(base string) bool {
			r := sendCookie(client, c.admin, "GET", base+"/api/v1/users?q=agree", "", "")
			return r.status == http.StatusOK && strings.Contains(r.body, `"name":"`+name+`"`)
		}
		for _, base := range bases {
			if listed(base) {
				t.Fatalf("%s listed before it was created", name)
			}
		}
		r := sendCookie(client, c.admin, "POST", bases[from]+"/api/v1/users", jsonCT, `{"name":"`+name+`"}`)
		wantStatus(t, "create "+name, r, http.StatusCreated)
		seen("create "+name, from, listed)

		location := r.header.Get("Location")
		for _, base := range bases {
			wantStatus(t, "read "+name, sendCookie(client, c.admin, "GET", base+location, "", ""), http.StatusOK)
		}
		renamed := name + "-renamed"
		by := (from + 1) % 3
		wantStatus(t, "rename "+name, sendCookie(client, c.admin, "PATCH", bases[by]+location, jsonCT, `{"name":"`+renamed+`"}`), http.StatusOK)
		seen("rename "+name, by, func(base string) bool {
			r := sendCookie(client, c.admin, "GET", base+location, "", "")
			return r.status == http.StatusOK && strings.Contains(r.body, `"name":"`+renamed+`"`)
		})
	}
	t.Logf("a write on one instance was read on the others after at most %v (promised: %v)", slowest, promised)

	// A logout on one ends the session on the others.
	const leePassword = "tea at five every day"
	wantStatus(t, "create lee", sendCookie(client, c.admin, "POST", c.lb.base+"/api/v1/users", jsonCT,
		`{"name":"lee","role":"member","password":"`+leePassword+`"}`), http.StatusCreated)
	ended := func(what, cookie string, skip int) {
		t.Helper()
		for i, door := range doors {
			if i == skip {
				continue
			}
			lag := within(5*time.Second, func() bool {
				return sendCookie(client, cookie, "GET", door.base+"/api/v1/me", "", "").status == http.StatusUnauthorized
			})
			if lag < 0 {
				t.Errorf("%s: the session still works at %s after 5s", what, door.name)
			}
			t.Logf("%s: the session ended at %s after %v", what, door.name, lag)
		}
	}
	lee := login(t, bases[0], "lee", leePassword)
	for _, door := range doors {
		wantStatus(t, "lee's session at "+door.name, sendCookie(client, lee, "GET", door.base+"/api/v1/me", "", ""), http.StatusOK)
	}
	wantStatus(t, "logout on instance 2", sendCookie(client, lee, "POST", bases[1]+"/api/v1/logout", "", ""), http.StatusNoContent)
	ended("logout on instance 2", lee, 1)

	// A password change on one ends the user's other sessions everywhere.
	first, second := login(t, bases[0], "lee", leePassword), login(t, c.lb.base, "lee", leePassword)
	for _, door := range doors {
		wantStatus(t, "lee's second session at "+door.name, sendCookie(client, second, "GET", door.base+"/api/v1/me", "", ""), http.StatusOK)
	}
	const newPassword = "coffee at seven every night"
	wantStatus(t, "password change on instance 3", sendCookie(client, first, "PUT", bases[2]+"/api/v1/me/password", jsonCT,
		`{"current_password":"`+leePassword+`","new_password":"`+newPassword+`"}`), http.StatusNoContent)
	ended("password change on instance 3", second, -1)

	// HAProxy is the edge: it replaces what a client says in
	// X-Forwarded-For and X-Forwarded-Proto. Directly, from 127.0.0.1 (a
	// trusted proxy), userhub believes both.
	probe := "/forwarded-probe-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	wantStatus(t, "probe through HAProxy", sendCookie(client, "", "GET", c.lb.base+probe, "", "", "X-Forwarded-For", "203.0.113.7"), http.StatusNotFound)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var lines []string
		for _, p := range c.instances {
			lines = append(lines, logLines(p, "path="+probe+" ")...)
		}
		if len(lines) == 1 {
			if !strings.Contains(lines[0], " ip=127.0.0.1 ") {
				t.Errorf("a client's X-Forwarded-For went through HAProxy: %s", lines[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the probe is logged %d times, want once: %v", len(lines), lines)
		}
	}
	loginBody := `{"name":"kim","password":"` + adminPassword + `"}`
	r := sendCookie(client, "", "POST", c.lb.base+"/api/v1/login", jsonCT, loginBody, "X-Forwarded-Proto", "https")
	wantStatus(t, "login through HAProxy, claiming https", r, http.StatusOK)
	if cookie := strings.Join(r.header.Values("Set-Cookie"), "\n"); strings.Contains(cookie, "Secure") || strings.Contains(cookie, "__Host-") {
		t.Errorf("a client's X-Forwarded-Proto went through HAProxy: %s", cookie)
	}
	r = sendCookie(client, "", "POST", bases[0]+"/api/v1/login", jsonCT, loginBody, "X-Forwarded-Proto", "https")
	wantStatus(t, "login from a trusted proxy over https", r, http.StatusOK)
	if cookie := strings.Join(r.header.Values("Set-Cookie"), "\n"); !strings.Contains(cookie, "__Host-userhub_session=") || !strings.Contains(cookie, "Secure") {
		t.Errorf("X-Forwarded-Proto: https from a trusted proxy: the cookie is %s, want Secure and __Host-", cookie)
	}

	// Five failed logins spread over the three instances throttle the
	// sixth, on any of them and through HAProxy.
	wrong := `{"name":"lee","password":"not the right password"}`
	for i := range 5 {
		wantStatus(t, fmt.Sprintf("failed login %d, on instance %d", i+1, i%3+1),
			sendCookie(client, "", "POST", bases[i%3]+"/api/v1/login", jsonCT, wrong), http.StatusUnauthorized)
	}
	for i, door := range []door{doors[2], doors[3]} {
		r := sendCookie(client, "", "POST", door.base+"/api/v1/login", jsonCT, wrong)
		wantStatus(t, fmt.Sprintf("failed login %d, at %s", 6+i, door.name), r, http.StatusTooManyRequests)
		if r.header.Get("Retry-After") == "" {
			t.Errorf("429 at %s without Retry-After", door.name)
		}
	}
	c.noErrors(t)
}

// haLoad is a bounded load through HAProxy: clients logged in as kim, each
// sending one request at a time (GET /users, and every third request a
// POST /api/v1/users of a new name) until stopped, for at most longest and
// perClient requests each.
type haLoad struct {
	clients int
	sent    atomic.Int64
	stop    chan struct{}
	done    sync.WaitGroup

	mu       sync.Mutex
	statuses map[int]int
	failures []haFailure
	created  map[string]bool // names answered 201
}

// haFailure is a request that did not get the answer it should have.
type haFailure struct {
	began time.Time
	what  string
}

func startHALoad(t *testing.T, c *haCluster, clients, perClient int, longest time.Duration) *haLoad {
	l := &haLoad{clients: clients, stop: make(chan struct{}), statuses: map[int]int{}, created: map[string]bool{}}
	deadline := time.Now().Add(longest)
	for n := range clients {
		cookie := login(t, c.lb.base, "kim", adminPassword)
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
		l.done.Go(func() {
			defer client.CloseIdleConnections()
			for i := 0; i < perClient && time.Now().Before(deadline); i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				began := time.Now()
				method, path, body, want, name := "GET", "/users", "", http.StatusOK, ""
				if i%3 == 2 {
					name = fmt.Sprintf("load%d-%d-%d", n, i, began.UnixNano()%1e6)
					method, path, body, want = "POST", "/api/v1/users", `{"name":"`+name+`"}`, http.StatusCreated
				}
				r := sendCookie(client, cookie, method, c.lb.base+path, jsonCT, body)
				l.sent.Add(1)
				l.mu.Lock()
				l.statuses[r.status]++
				switch {
				case r.err != nil || r.status != want:
					l.failures = append(l.failures, haFailure{began, fmt.Sprintf("%s %s: %v", method, path, r)})
				case name != "":
					l.created[name] = true
				}
				l.mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	return l
}

// finish stops the load and waits for its last requests.
func (l *haLoad) finish() {
	close(l.stop)
	l.done.Wait()
}

// check logs what the load got and checks that every create answered 201
// is listed (through HAProxy): no acknowledged write lost.
func (l *haLoad) check(t *testing.T, c *haCluster) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Logf("load: %d requests from %d clients; statuses %v; %d failed; %d users created", l.sent.Load(), l.clients, l.statuses, len(l.failures), len(l.created))
	admin := newClient()
	wantStatus(t, "login for the list", send(admin, 20*time.Second, "POST", c.lb.base+"/api/v1/login", jsonCT,
		`{"name":"kim","password":"`+adminPassword+`"}`), http.StatusOK)
	listed := userNames(t, admin, c.lb.base)
	for name := range l.created {
		if !listed[name] {
			t.Errorf("%s was answered 201 and is not listed", name)
		}
	}
}

// TestHAProxyRollingRestart: under a bounded load through HAProxy (a few
// logged-in clients listing users and creating some), each instance in
// turn gets SIGTERM, drains (HAProxy sees /readyz 503 and takes it out),
// exits 0, starts again on its port and data directory, and is back in
// rotation before the next one goes. Not one request fails.
func TestHAProxyRollingRestart(t *testing.T) {
	c := newHACluster(t)
	load := startHALoad(t, c, 4, 5000, 3*time.Minute)
	time.Sleep(time.Second)
	for i := range c.instances {
		old := c.instances[i]
		down, up := c.lb.count(serverState(i, "DOWN")), c.lb.count(serverState(i, "UP"))
		began := time.Now()
		old.signal(syscall.SIGTERM)
		var r reply
		if within(haDrainDelay/2, func() bool {
			r = send(newClient(), 10*time.Second, "GET", old.base+"/readyz", "", "")
			return r.status == http.StatusServiceUnavailable && strings.Contains(r.body, `"code":"draining"`)
		}) < 0 {
			t.Errorf("instance %d, after SIGTERM: /readyz %v, want 503 \"draining\"", i+1, r)
		}
		line := c.lb.waitCount(t, serverState(i, "DOWN"), down, 30*time.Second)
		t.Logf("instance %d: SIGTERM; HAProxy after %v: %s", i+1, time.Since(began).Round(time.Millisecond), line)
		if !strings.Contains(line, "code: 503") {
			t.Errorf("instance %d: HAProxy took it out for another reason than the drain's /readyz 503: %s", i+1, line)
		}
		if code := old.wait(haDrainDelay + haShutdownTimeout + 10*time.Second); code != 0 {
			t.Fatalf("instance %d exited %d after SIGTERM", i+1, code)
		}
		t.Logf("instance %d: exited 0 after %v", i+1, time.Since(began).Round(time.Millisecond))
		c.start(i)
		c.lb.waitCount(t, serverState(i, "UP"), up, 30*time.Second)
		t.Logf("instance %d: back in rotation after %v", i+1, time.Since(began).Round(time.Millisecond))
	}
	time.Sleep(time.Second)
	load.finish()
	load.check(t, c)
	for _, f := range load.failures {
		t.Errorf("failed during the rolling restart: %s", f.what)
	}
	if load.sent.Load() < 100 {
		t.Errorf("only %d requests were sent: the load did not cover the restarts", load.sent.Load())
	}
	c.noErrors(t)
}

// TestHAProxyInstanceKilled: kill -9 of one instance under load through
// HAProxy. The requests it had in flight fail (502 from HAProxy): at most
// one per client, as each client has one request at a time; every request
// sent after it died is answered by the others (a refused connection is
// retried on another instance), before and after HAProxy's health check
// takes it out of rotation. Started again, it is back in rotation.
func TestHAProxyInstanceKilled(t *testing.T) {
	c := newHACluster(t)
	const clients = 4
	load := startHALoad(t, c, clients, 5000, 2*time.Minute)
	time.Sleep(2 * time.Second)
	victim := c.instances[1]
	if n := c.lb.count("www userhub/userhub2 "); n == 0 {
		t.Fatal("instance 2 answered nothing through HAProxy before the kill")
	}
	down, up := c.lb.count(serverState(1, "DOWN")), c.lb.count(serverState(1, "UP"))
	victim.signal(syscall.SIGKILL)
	<-victim.done
	dead := time.Now()
	line := c.lb.waitCount(t, serverState(1, "DOWN"), down, 30*time.Second)
	t.Logf("instance 2 killed; HAProxy after %v: %s", time.Since(dead).Round(time.Millisecond), line)
	before := load.sent.Load()
	time.Sleep(2 * time.Second)
	if after := load.sent.Load() - before; after < 20 {
		t.Errorf("only %d requests after instance 2 was taken out", after)
	}
	// systemd would start it again (Restart=on-failure): back in rotation.
	c.start(1)
	c.lb.waitCount(t, serverState(1, "UP"), up, 30*time.Second)
	served := c.lb.count("www userhub/userhub2 ")
	time.Sleep(time.Second)
	load.finish()
	load.check(t, c)
	if c.lb.count("www userhub/userhub2 ") == served {
		t.Error("instance 2, started again, answered nothing through HAProxy")
	}
	if len(load.failures) > clients {
		t.Errorf("%d requests failed, more than the %d that can have been in flight", len(load.failures), clients)
	}
	for _, f := range load.failures {
		if f.began.After(dead) {
			t.Errorf("a request sent %v after instance 2 died failed: %s", f.began.Sub(dead).Round(time.Millisecond), f.what)
		} else {
			t.Logf("in flight when instance 2 died: %s", f.what)
		}
	}
	c.noErrors(t)
}

// redisCommand sends one command to Redis and returns the first line of
// its answer.
func redisCommand(addr string, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	cmd := fmt.Sprintf("*%d\r\n", len(args))
	for _, a := range args {
		cmd += fmt.Sprintf("$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(cmd)); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line), err
}

// TestHAProxyRedisDown: Redis stopped (saved first, as a Redis with
// persistence does on shutdown). Logged-in requests get 503 with
// Retry-After on every instance and through HAProxy (userhub's answer, then
// HAProxy's own once it has taken every instance out: the same problem+json),
// and /readyz answers 503 naming Redis on each instance. Redis started again
// on its port: the same session cookie works again within 5 s, on every
// instance and through HAProxy, without a restart. No 500 and no ERROR line.
func TestHAProxyRedisDown(t *testing.T) {
	c := newHACluster(t)
	doors := c.doors()
	client := newClient()
	for _, door := range doors {
		wantStatus(t, "me at "+door.name, sendCookie(client, c.admin, "GET", door.base+"/api/v1/me", "", ""), http.StatusOK)
	}
	if ok, err := redisCommand(c.redis.addr(), "SAVE"); ok != "+OK" {
		t.Fatalf("Redis SAVE: %q %v", ok, err)
	}
	// A session read from Redis in the last second is answered from memory
	// (sessions/recent.go): wait that out, so that the requests need Redis.
	time.Sleep(1100 * time.Millisecond)
	downs := make([]int, 3)
	for i := range downs {
		downs[i] = c.lb.count(serverState(i, "DOWN"))
	}
	c.redis.signal(syscall.SIGTERM)
	c.redis.mu.Lock()
	done := c.redis.done
	c.redis.mu.Unlock()
	<-done

	for _, door := range doors {
		unavailable(t, "me at "+door.name+", Redis down", sendCookie(client, c.admin, "GET", door.base+"/api/v1/me", "", ""), false)
	}
	for _, door := range doors[:3] {
		r := sendCookie(client, "", "GET", door.base+"/readyz", "", "")
		wantStatus(t, "readyz at "+door.name+", Redis down", r, http.StatusServiceUnavailable)
		if !strings.Contains(r.body, "redis") || r.header.Get("Retry-After") == "" {
			t.Errorf("readyz at %s, Redis down: %v, want it to name redis, with Retry-After", door.name, r)
		}
	}
	for i := range downs {
		c.lb.waitCount(t, serverState(i, "DOWN"), downs[i], 30*time.Second)
	}
	r := sendCookie(client, c.admin, "GET", c.lb.base+"/api/v1/me", "", "")
	unavailable(t, "me through HAProxy, every instance out", r, false)
	t.Logf("HAProxy, no instance ready: %v, Retry-After %s", r, r.header.Get("Retry-After"))

	c.redis.start()
	var wg sync.WaitGroup
	for _, door := range doors {
		wg.Go(func() {
			lag := within(15*time.Second, func() bool {
				return sendCookie(client, c.admin, "GET", door.base+"/api/v1/me", "", "").status == http.StatusOK
			})
			switch {
			case lag < 0:
				t.Errorf("the session does not work at %s within 15s of Redis answering again", door.name)
			case lag > 5*time.Second:
				t.Errorf("the session works again at %s after %v, want within 5s", door.name, lag)
			default:
				t.Logf("the session works again at %s after %v", door.name, lag)
			}
		})
	}
	wg.Wait()
	c.noErrors(t)
}
