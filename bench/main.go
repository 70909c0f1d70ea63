// Command bench is the load generator behind `make bench`.
//
// It measures what userhub's HTTP stack costs on top of the network: it
// starts the userhub binary on a loopback port with a fresh database of 100
// users, captures its answers to GET /about (anonymous) and GET /users (as
// a logged-in user: the session is decoded and the user loaded on every
// request), and starts a
// baseline next to it, a bare net/http handler that answers those exact
// bytes (the same headers, Content-Type and Content-Length included, and
// the same body) from memory. Both are
// driven by the same Go client (a fixed number of keep-alive connections,
// no compression, so both sides send identical bodies), and for each path
// it prints requests/s, p50 and p99 latency and the ratio userhub/baseline.
//
// The baseline is this program re-executed in a hidden mode
// (-baseline-serve), so that userhub and the baseline each have a runtime
// of their own, as they would in production, and neither shares a
// scheduler or garbage collector with the client. The ratio is the number
// to watch: absolute numbers depend on the machine, and on a shared machine
// they drift, which is why runs are interleaved (baseline and userhub
// alternate, path by path, round by round) and the median round is shown.
//
// Every run is bounded by a request count (-n) and a duration (-d),
// whichever comes first; only 127.0.0.1 is ever contacted. userhub runs as
// in production, at log level info: its access log (a line per request)
// goes to a file.
//
// Usage:
//
//	go run ./bench -bin bin/userhub [-c 32] [-n 30000] [-d 10s] [-rounds 3] [-warmup 1000]
package main

import (
	"context"
	"crypto/rand"
	"database/sql"

	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// config is the command line of a bench run.
type config struct {
	bin    string        // the userhub binary
	conns  int           // concurrent keep-alive connections (workers)
	n      int           // measured requests per run, at most
	d      time.Duration // measured time per run, at most
	warmup int           // unmeasured requests before each run
	rounds int           // interleaved rounds; the median is reported
	users  int           // users seeded before measuring
	// postgres and redis, when set, add instances on PostgreSQL (a schema
	// of their own) with Redis sessions and with cookie sessions.
	postgres, redis string
}

func main() {
	var cfg config
	var base baselineFlags
	flag.StringVar(&cfg.bin, "bin", "bin/userhub", "the userhub binary to measure")
	flag.IntVar(&cfg.conns, "c", 32, "concurrent keep-alive connections")
	flag.IntVar(&cfg.n, "n", 30000, "requests per measured run, at most")
	flag.DurationVar(&cfg.d, "d", 10*time.Second, "duration of a measured run, at most")
	flag.IntVar(&cfg.warmup, "warmup", 1000, "unmeasured warm-up requests before each run")
	flag.IntVar(&cfg.rounds, "rounds", 3, "interleaved rounds; the median round by req/s is reported")
	flag.StringVar(&cfg.postgres, "postgres", "", "a PostgreSQL DSN: also measure instances on PostgreSQL (in a schema of their own)")
	flag.StringVar(&cfg.redis, "redis", "", "a Redis address: with -postgres, also measure an instance with its sessions in Redis")
	flag.BoolVar(&base.serve, "baseline-serve", false, "internal: serve the baseline (started by bench itself)")
	flag.StringVar(&base.addr, "baseline-addr", "", "internal: the baseline's listen address")
	flag.StringVar(&base.routes, "baseline-routes", "", "internal: the file of captured responses the baseline serves")
	flag.Parse()
	cfg.users = 100

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	if base.serve {
		err = serveBaseline(ctx, base)
	} else {
		err = run(ctx, cfg)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			err = errors.New("interrupted")
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		stop()
		os.Exit(1)
	}
}

// scenario is one request measured against every target.
type scenario struct {
	path string
	// cookie is sent with every request ("name=value"): the session of a
	// logged-in user. The baseline ignores it.
	cookie string
	// Captured from userhub before measuring; the baseline serves these
	// bytes, and every measured response must match them.
	contentType string
	header      http.Header // every response header but Date
	body        []byte
}

// run is a whole bench: start both servers, seed, capture, measure, print.
// Every process and temporary directory it creates is gone when it returns.
func run(ctx context.Context, cfg config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "userhub-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	uh, err := startUserhub(ctx, cfg.bin, tmp, "userhub")
	if err != nil {
		return err
	}
	defer uh.stop()
	// The same binary in cluster mode, with two workers.
	cl, err := startUserhub(ctx, cfg.bin, tmp, "cluster", "USERHUB_CLUSTER_WORKERS=2")
	if err != nil {
		return err
	}
	defer cl.stop()
	cluster := newTarget("cluster", cl.baseURL, cfg.conns)
	cluster.pid = cl.cmd.Process.Pid
	userhub := newTarget("userhub", uh.baseURL, cfg.conns)
	userhub.pid = uh.cmd.Process.Pid
	// The same server over TLS (its development certificate): HTTP/1.1 on
	// as many connections, and HTTP/2 with every request a stream of ONE
	// connection. They read /users only.
	roots, err := caPool(filepath.Join(uh.dataDir, "tls", "ca.pem"))
	if err != nil {
		return err
	}
	overTLS := newTLSTarget("https-h1", uh.tlsURL, cfg.conns, roots, false)
	overH2 := newTLSTarget("https-h2", uh.tlsURL, 1, roots, true)
	for _, t := range []*target{&overTLS, &overH2} {
		t.pid, t.only = userhub.pid, "/users"
	}
	if err := checkProtocol(ctx, overTLS, 1); err != nil {
		return err
	}
	if err := checkProtocol(ctx, overH2, 2); err != nil {
		return err
	}

	// The first user is the administrator that setup creates (and whose
	// session reads /users, which needs a login); the others are added by it.
	session, err := setupAdmin(ctx, userhub)
	if err != nil {
		return err
	}
	if err := seedUsers(ctx, userhub, session, cfg.users-1); err != nil {
		return err
	}
	// The cluster gets the same users; the same secret makes the session good there too.
	if _, err := setupAdmin(ctx, cluster); err != nil {
		return err
	}
	if err := seedUsers(ctx, cluster, session, cfg.users-1); err != nil {
		return err
	}
	// Under TLS the session cookie has its own name (__Host-...): log in
	// there too, and send both cookies; each listener reads its own.
	tlsSession, err := apiLogin(ctx, overTLS)
	if err != nil {
		return err
	}
	// Instances on PostgreSQL, alike but for the database (and, for
	// pg-redis, the session store): they read /users only.
	pgTargets, err := startPostgresTargets(ctx, cfg, tmp)
	if err != nil {
		return err
	}
	for i := range pgTargets {
		t := &pgTargets[i]
		defer t.stop()
		own, err := setupAdmin(ctx, t.target)
		if err != nil {
			return err
		}
		if err := seedUsers(ctx, t.target, own, cfg.users-1); err != nil {
			return err
		}
		if t.redis {
			t.target.cookie = own // a Redis session is good only where it was made
		}
	}
	scenarios := []*scenario{{path: "/about"}, {path: "/users", cookie: session + "; " + tlsSession}}
	for _, sc := range scenarios {
		if err := capture(ctx, userhub, sc); err != nil {
			return err
		}
	}
	if err := checkUsers(scenarios[1].body, cfg.users); err != nil {
		return err
	}

	bl, err := startBaseline(ctx, tmp, scenarios)
	if err != nil {
		return err
	}
	defer bl.stop()
	// The baseline comes first: it is the reference the others are
	// compared with.
	baseline := newTarget("baseline", bl.baseURL, cfg.conns)
	baseline.pid = bl.cmd.Process.Pid
	targets := []target{baseline, userhub, cluster, overTLS, overH2}
	for _, t := range pgTargets {
		targets = append(targets, t.target)
	}

	results, err := measure(ctx, cfg, scenarios, targets)
	if err != nil {
		return err
	}

	rounds := fmt.Sprintf("%d interleaved rounds (the median round by req/s is shown)", cfg.rounds)
	if cfg.rounds == 1 {
		rounds = "1 round"
	}
	fmt.Printf("userhub bench: GOMAXPROCS=%d (%d CPUs, shared by client, userhub and baseline), %d connections, ≤%d requests or %s per run after %d warm-up requests, %s, access log on (to a file)\n",
		runtime.GOMAXPROCS(0), runtime.NumCPU(), cfg.conns, cfg.n, cfg.d, cfg.warmup, rounds)
	fmt.Printf("servers: userhub over plain HTTP/1.1 (%d connections); cluster: the same with cluster.workers 2 (a master and two worker processes; CPU of all three); https-h1: over TLS, HTTP/1.1 (as many connections); https-h2: over TLS, HTTP/2, every request a stream of one connection\n", cfg.conns)
	for _, sc := range scenarios {
		who := "anonymous"
		if sc.cookie != "" {
			// One cookie, as one user's browser sends: the process's caches
			// (decoded cookies, users, revocations) answer as they do in
			// steady state; BenchmarkSeedListUsers shows the session's cost.
			who = "logged in: the session checked on every request (cookie, user and revocation from the per-process caches)"
		}
		fmt.Printf("GET %s: %d bytes, %s, %s\n", sc.path, len(sc.body), sc.contentType, who)
	}
	fmt.Println()
	if err := writeTable(os.Stdout, results); err != nil {
		return err
	}
	writeClusterCost(os.Stdout, results)
	writeBackendRatios(os.Stdout, results)
	return reloadUnderLoad(ctx, cfg, cluster, scenarios[1], filepath.Join(tmp, "cluster.log"))
}

// reloadUnderLoad sends SIGHUP to the cluster master while it serves a
// bounded load, and reports how many requests failed (the aim is none)
// and whether every worker was replaced.
func reloadUnderLoad(ctx context.Context, cfg config, t target, sc *scenario, logFile string) error {
	done := make(chan result, 1)
	// A fixed window: a reload takes a second or so a worker (draining).
	t.countRetries = true
	go func() { done <- load(ctx, t, sc, cfg.conns, 500000, 5*time.Second) }()
	time.Sleep(300 * time.Millisecond)
	master, err := os.FindProcess(t.pid)
	if err != nil {
		return err
	}
	if err := master.Signal(syscall.SIGHUP); err != nil {
		return err
	}
	r := <-done
	data, _ := os.ReadFile(logFile)
	outcome := "every worker replaced"
	if !strings.Contains(string(data), "reload done") {
		outcome = "the reload did not finish during the run"
	}
	fmt.Printf("cluster reload (SIGHUP to the master) during GET %s: %d requests answered, %d failed, %d sent again by the client after a closed connection; %s\n",
		sc.path, r.requests, r.errors, r.retried, outcome)
	if r.errors > 0 {
		fmt.Printf("  the first failure: %s\n", r.firstErr)
	}
	return nil
}

func (c config) validate() error {
	switch {
	case c.bin == "":
		return errors.New("-bin: the userhub binary is required")
	case c.conns < 1:
		return errors.New("-c must be at least 1")
	case c.n < 1:
		return errors.New("-n must be at least 1")
	case c.d <= 0:
		return errors.New("-d must be positive")
	case c.warmup < 0:
		return errors.New("-warmup must not be negative")
	case c.rounds < 1:
		return errors.New("-rounds must be at least 1")
	}
	return nil
}

// measure runs every scenario against every target, rounds times,
// interleaved (round by round, scenario by scenario, target by target) so
// that drift on a shared machine hits all of them alike, and keeps the
// median round of each. Rows come back scenario-major, in target order.
func measure(ctx context.Context, cfg config, scenarios []*scenario, targets []target) ([]result, error) {
	runs := make([][]result, len(scenarios)*len(targets))
	for round := 1; round <= cfg.rounds; round++ {
		for i, sc := range scenarios {
			for j, t := range targets {
				if t.only != "" && t.only != sc.path {
					continue
				}
				if cfg.warmup > 0 {
					load(ctx, t, sc, cfg.conns, cfg.warmup, cfg.d)
				}
				r := load(ctx, t, sc, cfg.conns, cfg.n, cfg.d)
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				fmt.Fprintf(os.Stderr, "round %d/%d  %-7s %-9s %8.0f req/s  p50 %s  p99 %s  errors %d\n",
					round, cfg.rounds, sc.path, t.name, r.rps(), fmtLatency(r.p50), fmtLatency(r.p99), r.errors)
				runs[i*len(targets)+j] = append(runs[i*len(targets)+j], r)
			}
		}
	}
	rows := make([]result, 0, len(runs))
	for i, rs := range runs {
		if len(rs) == 0 {
			continue // a target that does not run this scenario
		}
		row := median(rs)
		if j := i % len(targets); j > 0 {
			ref := median(runs[i-j])
			row.ratio, row.compared = ratio(row.rps(), ref.rps()), true
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// child is a server process started by bench.
type child struct {
	name    string
	baseURL string // http://127.0.0.1:port
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited
	err     error         // its exit status, once done is closed
	// userhub only: its data directory and HTTPS address.
	dataDir, tlsURL string
}

// startChild starts cmd, whose stdout and stderr go to bench's stderr so
// the table on stdout stays clean, and waits until GET readyPath answers
// 200 (10s at most). On failure the process is stopped again.
func startChild(ctx context.Context, name, addr, readyPath string, cmd *exec.Cmd) (*child, error) {
	if cmd.Stdout == nil {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, baseURL: "http://" + addr, cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	if err := c.waitReady(ctx, readyPath, 10*time.Second); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// waitReady polls GET path until it answers 200, the process exits, or
// the wait runs out.
func (c *child) waitReady(ctx context.Context, path string, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: time.Second}
	defer client.CloseIdleConnections()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+path, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-c.done:
			return fmt.Errorf("%s exited before it was ready: %v", c.name, c.err)
		case <-ctx.Done():
			if err := context.Cause(ctx); errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("%s: GET %s did not answer 200 within %s", c.name, path, wait)
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM and waits for the process to exit, killing it if it
// has not after 10s. A process that already exited is left as it is.
func (c *child) stop() {
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		fmt.Fprintf(os.Stderr, "bench: stop %s: %v\n", c.name, err)
	}
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		fmt.Fprintf(os.Stderr, "bench: %s did not exit 10s after SIGTERM; killing it\n", c.name)
		c.cmd.Process.Kill()
		<-c.done
	}
}

// startUserhub starts the userhub binary on a free loopback port with a
// fresh data directory under tmp, in a working directory of its own so
// that no config.yaml is picked up. Its log, one line per request, goes to
// userhub.log under tmp.
func startUserhub(ctx context.Context, bin, tmp, name string, extraEnv ...string) (*child, error) {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("-bin: %w (make build creates it)", err)
	}
	dir := filepath.Join(tmp, name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(tmp, name+".log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	tlsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	// TLS with a development certificate, and no redirect: the same
	// process answers over plain HTTP and over TLS. Every instance has the
	// same session secret, so that one session cookie is good for all
	// (they hold the same users, seeded alike).
	cmd.Env = append(append(withoutUserhubEnv(os.Environ()),
		"USERHUB_SERVER_ADDR="+addr,
		"USERHUB_DATA_DIR="+filepath.Join(dir, "data"),
		"USERHUB_LOG_LEVEL=info",
		"USERHUB_TLS_MODE=self-signed",
		"USERHUB_TLS_ADDR="+tlsAddr,
		"USERHUB_TLS_REDIRECT=false",
		"USERHUB_SESSION_SECRET="+benchSecret,
	), extraEnv...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	c, err := startChild(ctx, name, addr, "/healthz", cmd)
	if err != nil {
		return nil, err
	}
	c.dataDir, c.tlsURL = filepath.Join(dir, "data"), "https://"+tlsAddr
	return c, nil
}

// pgTarget is an instance on PostgreSQL.
type pgTarget struct {
	target target
	child  *child
	redis  bool
	drop   func()
}

func (t pgTarget) stop() {
	t.child.stop()
	t.drop()
}

// startPostgresTargets starts pg-cookie (PostgreSQL, cookie sessions) and,
// with cfg.redis, pg-redis (PostgreSQL, sessions in Redis), each on a
// schema of its own, dropped at the end.
func startPostgresTargets(ctx context.Context, cfg config, tmp string) ([]pgTarget, error) {
	if cfg.postgres == "" {
		return nil, nil
	}
	kinds := []string{"pg-cookie"}
	if cfg.redis != "" {
		kinds = append(kinds, "pg-redis")
	}
	var started []pgTarget
	for _, name := range kinds {
		dsn, drop, err := benchSchema(ctx, cfg.postgres)
		if err != nil {
			return started, err
		}
		env := []string{"USERHUB_DATABASE_DRIVER=postgres", "USERHUB_DATABASE_DSN=" + dsn}
		if name == "pg-redis" {
			env = append(env, "USERHUB_SESSION_STORE=redis", "USERHUB_SESSION_REDIS_ADDR="+cfg.redis,
				"USERHUB_SESSION_REDIS_PREFIX=userhub-bench-"+strings.ToLower(rand.Text()[:8])+":")
		}
		c, err := startUserhub(ctx, cfg.bin, tmp, name, env...)
		if err != nil {
			drop()
			return started, err
		}
		t := newTarget(name, c.baseURL, cfg.conns)
		t.pid, t.only = c.cmd.Process.Pid, "/users"
		started = append(started, pgTarget{target: t, child: c, redis: name == "pg-redis", drop: drop})
	}
	return started, nil
}

// benchSchema makes a schema in the database at dsn and returns a DSN that
// uses it, and how to drop it.
func benchSchema(ctx context.Context, dsn string) (string, func(), error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", nil, err
	}
	defer db.Close()
	schema := "bench_" + strings.ToLower(rand.Text()[:10])
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, fmt.Errorf("-postgres: %w", err)
	}
	drop := func() {
		if db, err := sql.Open("pgx", dsn); err == nil {
			db.Exec("DROP SCHEMA " + schema + " CASCADE")
			db.Close()
		}
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema, drop, nil
}

// benchSecret is the session secret of every instance the bench starts.
var benchSecret = rand.Text() + rand.Text()

// withoutUserhubEnv drops USERHUB_* variables, so that the caller's
// environment (a database DSN, a config file) does not leak into the run.
func withoutUserhubEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "USERHUB_") {
			out = append(out, kv)
		}
	}
	return out
}

// freeAddr returns a loopback address with a port that was free a moment
// ago; the child that is given it binds it.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// route is one response the baseline serves, as written to the routes file.
type route struct {
	Path   string      `json:"path"`
	Header http.Header `json:"header"`
	Body   []byte      `json:"body"`
}

// startBaseline writes the captured responses to a file under tmp and
// re-executes this program in baseline mode to serve them.
func startBaseline(ctx context.Context, tmp string, scenarios []*scenario) (*child, error) {
	routes := make([]route, len(scenarios))
	for i, sc := range scenarios {
		routes[i] = route{Path: sc.path, Header: sc.header, Body: sc.body}
	}
	data, err := json.Marshal(routes)
	if err != nil {
		return nil, err
	}
	file := filepath.Join(tmp, "baseline-routes.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-baseline-serve", "-baseline-addr", addr, "-baseline-routes", file)
	cmd.Dir = tmp
	// The baseline exits when its stdin closes, so it does not outlive
	// bench even if bench is killed outright.
	if _, err := cmd.StdinPipe(); err != nil {
		return nil, err
	}
	return startChild(ctx, "baseline", addr, scenarios[0].path, cmd)
}

// baselineFlags are the hidden flags of baseline mode.
type baselineFlags struct {
	serve  bool
	addr   string
	routes string
}

// serveBaseline is baseline mode: a plain http.ServeMux answering each
// captured path with its bytes from memory, until SIGTERM, SIGINT or the
// end of stdin.
func serveBaseline(ctx context.Context, f baselineFlags) error {
	if f.addr == "" || f.routes == "" {
		return errors.New("-baseline-serve needs -baseline-addr and -baseline-routes")
	}
	data, err := os.ReadFile(f.routes)
	if err != nil {
		return err
	}
	var routes []route
	if err := json.Unmarshal(data, &routes); err != nil {
		return fmt.Errorf("%s: %w", f.routes, err)
	}
	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.HandleFunc("GET "+rt.Path, staticHandler(rt.Header, rt.Body))
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	return srv.Shutdown(shutdown)
}

// staticHandler answers with the captured header and body, as a bare
// from-memory handler would: the header slices are shared, not copied.
func staticHandler(header http.Header, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		for k, v := range header {
			h[k] = v
		}
		w.Write(body)
	}
}
