package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// target is a server under load and the client that drives it. Later
// variants (HTTPS and HTTP/2, a cluster of workers) are more targets with
// their own base URL and client.
type target struct {
	name    string
	baseURL string // http://127.0.0.1:port, never another host
	client  *http.Client
	pid     int    // the server process, whose CPU time a run records (0: none)
	only    string // if set, the one scenario (path) this target runs
	// countRetries: count the requests the client sent again on a new
	// connection after the first one failed (net/http does so for a GET on
	// a reused connection): for the reload run, where those are near-misses.
	countRetries bool
	// cookie, if set, replaces the scenario's session cookie: an instance
	// whose sessions live in Redis has a session of its own.
	cookie string
}

// newTarget returns a target whose client keeps at most conns keep-alive
// connections, and asks for no compression, so that every target sends the
// same bytes.
func newTarget(name, baseURL string, conns int) target {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		DisableCompression:  true,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
	}
	return target{name: name, baseURL: baseURL, client: &http.Client{Transport: tr}}
}

// seedUsers creates users user001, user002, ... with POST /user.
func seedUsers(ctx context.Context, t target, session string, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for i := 1; i <= n; i++ {
		body := fmt.Sprintf(`{"name":"user%03d"}`, i)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.baseURL+"/user", strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Cookie", session)
		resp, err := t.client.Do(req)
		if err != nil {
			return fmt.Errorf("seed: POST /user: %w", err)
		}
		answer, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("seed: POST /user: %w", err)
		}
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("seed: POST /user %s: %s, want 201: %s", body, resp.Status, bytes.TrimSpace(answer))
		}
	}
	return nil
}

// newTLSTarget returns a target over TLS trusting roots: HTTP/2 (every
// request a stream of at most conns connections) or HTTP/1.1.
func newTLSTarget(name, baseURL string, conns int, roots *x509.CertPool, h2 bool) target {
	t := newTarget(name, baseURL, conns)
	tr := t.client.Transport.(*http.Transport)
	tr.TLSClientConfig = &tls.Config{RootCAs: roots}
	tr.ForceAttemptHTTP2 = h2
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return t
}

// checkProtocol makes sure t's client and server speak HTTP/major, as its
// name says: a silent fallback to HTTP/1.1 would measure the wrong thing.
func checkProtocol(ctx context.Context, t target, major int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.baseURL+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", t.name, err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != major {
		return fmt.Errorf("%s: answered over %s, want HTTP/%d", t.name, resp.Proto, major)
	}
	return nil
}

// caPool reads a PEM file of roots.
func caPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no certificate", file)
	}
	return pool, nil
}

// apiLogin logs the bench administrator in through the JSON API of t and
// returns the session cookie ("name=value").
func apiLogin(ctx context.Context, t target) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	body := `{"name":"root","password":"` + benchPassword + `"}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.baseURL+"/api/v1/login", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("login on %s: %w", t.name, err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if strings.HasSuffix(c.Name, "userhub_session") && resp.StatusCode == http.StatusOK {
			return c.Name + "=" + c.Value, nil
		}
	}
	return "", fmt.Errorf("login on %s: %s, no session cookie", t.name, resp.Status)
}

// setupAdmin creates the first administrator through the setup form and
// returns its session cookie ("name=value").
func setupAdmin(ctx context.Context, t target) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	form := url.Values{"name": {"root"}, "password": {benchPassword}, "password_confirm": {benchPassword}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.baseURL+"/setup", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := t.client.Transport.RoundTrip(req) // not following the redirect
	if err != nil {
		return "", fmt.Errorf("setup: %w", err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "userhub_session" && resp.StatusCode == http.StatusSeeOther {
			return c.Name + "=" + c.Value, nil
		}
	}
	return "", fmt.Errorf("setup: %s, no session cookie", resp.Status)
}

// benchPassword is the bench administrator's password.
const benchPassword = "a long bench password"

// capture fetches sc.path from t and keeps its body and Content-Type as
// what every measured response must match.
func capture(ctx context.Context, t target, sc *scenario) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.baseURL+sc.path, nil)
	if err != nil {
		return err
	}
	if sc.cookie != "" {
		req.Header.Set("Cookie", sc.cookie)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return fmt.Errorf("capture GET %s: %w", sc.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("capture GET %s: %w", sc.path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("capture GET %s: %s, want 200", sc.path, resp.Status)
	}
	if enc := resp.Header.Get("Content-Encoding"); enc != "" {
		return fmt.Errorf("capture GET %s: Content-Encoding %q though the client asked for none", sc.path, enc)
	}
	sc.contentType = resp.Header.Get("Content-Type")
	sc.header = resp.Header.Clone()
	sc.header.Del("Date") // net/http adds its own
	if sc.header.Get("Set-Cookie") != "" {
		return fmt.Errorf("capture GET %s: the response sets a cookie; it should not on an ordinary request", sc.path)
	}
	sc.body = body
	return nil
}

// checkUsers makes sure GET /users answered every seeded user in one page,
// so that the run measures what it says.
func checkUsers(body []byte, want int) error {
	var users map[string]string
	if err := json.Unmarshal(body, &users); err != nil {
		return fmt.Errorf("GET /users: %w", err)
	}
	if len(users) != want {
		return fmt.Errorf("GET /users answered %d users, want %d", len(users), want)
	}
	return nil
}

// result is one measured run of a scenario against a target, or the
// round a table row reports.
type result struct {
	path     string
	target   string
	requests int           // answered 200 with the expected body
	errors   int           // transport errors, other statuses, other bodies
	retried  int           // requests the client sent twice (with countRetries)
	firstErr string        // the first of those, to show
	elapsed  time.Duration // from the first request to the last answer
	p50, p99 time.Duration // over the successful requests
	cpu      time.Duration // CPU time the server process spent in the run (-1: unknown)
	ratio    float64       // req/s relative to the baseline's, if compared
	compared bool          // false for the baseline itself
}

// rps is successful requests per second.
func (r result) rps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

// load sends GET sc.path to t from conns workers over keep-alive
// connections until n requests have been sent or limit has passed,
// whichever comes first, and measures each one from sending to the last
// byte of the body.
func load(ctx context.Context, t target, sc *scenario, conns, n int, limit time.Duration) result {
	// One deadline bounds the requests in flight, instead of a timer per
	// request: the client shares the CPUs with the servers.
	ctx, cancel := context.WithTimeout(ctx, limit+10*time.Second)
	defer cancel()
	address := t.baseURL + sc.path
	latencies := make([]time.Duration, n)
	var (
		sent, done, failed atomic.Int64
		retried            atomic.Int64
		firstErr           sync.Once
		res                = result{path: sc.path, target: t.name}
		wg                 sync.WaitGroup
	)
	cpuBefore := treeCPU(t.pid)
	start := time.Now()
	deadline := start.Add(limit)
	for range min(conns, n) {
		wg.Go(func() {
			var buf bytes.Buffer
			for sent.Add(1) <= int64(n) {
				began := time.Now()
				if began.After(deadline) {
					return
				}
				reqCtx := ctx
				if t.countRetries {
					conns := 0
					reqCtx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) {
						if conns++; conns == 2 {
							retried.Add(1)
						}
					}})
				}
				cookie := sc.cookie
				if t.cookie != "" && cookie != "" {
					cookie = t.cookie
				}
				if err := get(reqCtx, t.client, address, cookie, sc.body, &buf); err != nil {
					failed.Add(1)
					firstErr.Do(func() { res.firstErr = err.Error() })
					continue
				}
				latencies[done.Add(1)-1] = time.Since(began)
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.cpu = -1
	if cpuAfter := treeCPU(t.pid); cpuBefore >= 0 && cpuAfter >= 0 {
		res.cpu = cpuAfter - cpuBefore
	}
	res.requests = int(done.Load())
	res.errors = int(failed.Load())
	res.retried = int(retried.Load())
	ok := latencies[:res.requests]
	slices.Sort(ok)
	res.p50 = percentile(ok, 0.50)
	res.p99 = percentile(ok, 0.99)
	return res
}

// get is one measured request: the answer must be 200 with want as its
// body, read in full into buf.
func get(ctx context.Context, client *http.Client, url, cookie string, want []byte, buf *bytes.Buffer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return err
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("status %s", resp.Status)
	case !bytes.Equal(buf.Bytes(), want):
		return fmt.Errorf("body differs from the captured one (%d bytes, captured %d)", buf.Len(), len(want))
	}
	return nil
}

// percentile is the nearest-rank p-quantile (0 < p <= 1) of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// median is the run with the median throughput (the lower middle of an
// even number), so a row's latencies come from the same run as its req/s.
func median(runs []result) result {
	if len(runs) == 0 {
		return result{}
	}
	sorted := slices.Clone(runs)
	slices.SortStableFunc(sorted, func(a, b result) int {
		switch ra, rb := a.rps(), b.rps(); {
		case ra < rb:
			return -1
		case ra > rb:
			return 1
		}
		return 0
	})
	return sorted[(len(sorted)-1)/2]
}

// ratio is rps relative to ref, or 0 when there is no reference.
func ratio(rps, ref float64) float64 {
	if ref <= 0 {
		return 0
	}
	return rps / ref
}

// fmtLatency shows a latency in milliseconds with about three significant
// digits.
func fmtLatency(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 10:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.0fms", ms)
}

// writeTable prints one row per result, then the first error of every row
// that had any.
func writeTable(w io.Writer, rows []result) error {
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "path\tserver\treq/s\tp50\tp99\tcpu/req\trequests\terrors\tratio")
	for _, r := range rows {
		ratio := ""
		if r.compared {
			ratio = fmt.Sprintf("%.2f", r.ratio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t%d\t%d\t%s\n",
			r.path, r.target, r.rps(), fmtLatency(r.p50), fmtLatency(r.p99), r.cpuPerRequest(), r.requests, r.errors, ratio)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var out strings.Builder
	for line := range strings.Lines(table.String()) {
		// The baseline's empty ratio cell leaves padding behind.
		out.WriteString(strings.TrimRight(line, " \n") + "\n")
	}
	for _, r := range rows {
		if r.errors > 0 {
			fmt.Fprintf(&out, "%s %s: %d errors, the first: %s\n", r.path, r.target, r.errors, r.firstErr)
		}
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// cpuPerRequest is the server's CPU time per answered request, which,
// unlike req/s, hardly depends on what else the machine is doing.
func (r result) cpuPerRequest() string {
	if r.cpu < 0 || r.requests == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fµs", float64(r.cpu.Microseconds())/float64(r.requests))
}

// processCPU returns the user+system CPU time of process pid from
// /proc/<pid>/stat, or -1 where that cannot be read (pid 0, not Linux).
func processCPU(pid int) time.Duration {
	if pid <= 0 {
		return -1
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is the first, utime the 12th, stime the 13th.
	_, rest, ok := strings.Cut(string(data), ") ")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	const clockTicksPerSecond = 100 // USER_HZ, 100 on every Linux architecture Go supports
	return time.Duration(utime+stime) * time.Second / clockTicksPerSecond
}

// treeCPU is processCPU of pid and of its children (a cluster master's
// workers), or -1.
func treeCPU(pid int) time.Duration {
	total := processCPU(pid)
	if total < 0 {
		return -1
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || parentOf(child) != pid {
			continue
		}
		if cpu := processCPU(child); cpu > 0 {
			total += cpu
		}
	}
	return total
}

// parentOf reads a process's parent pid from /proc (0 if unknown).
func parentOf(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	_, rest, ok := strings.Cut(string(data), ") ")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

// writeBackendRatios compares, path by path, the instances on PostgreSQL
// (pg-redis, pg-cookie) with the embedded default (userhub: SQLite and
// cookie sessions), measured in the same run.
func writeBackendRatios(w io.Writer, rows []result) {
	single := resultsOf(rows, "userhub")
	for _, r := range rows {
		s, ok := single[r.path]
		if !strings.HasPrefix(r.target, "pg-") || !ok || s.rps() == 0 {
			continue
		}
		fmt.Fprintf(w, "%s on %s: %.2f × the req/s of SQLite + cookie sessions\n", r.target, r.path, r.rps()/s.rps())
	}
}

// writeClusterCost says what cluster mode costs, path by path: the cluster's
// req/s and CPU per request against the single process's, same run.
func writeClusterCost(w io.Writer, rows []result) {
	single := resultsOf(rows, "userhub")
	for _, r := range rows {
		s, ok := single[r.path]
		if r.target != "cluster" || !ok || s.rps() == 0 {
			continue
		}
		fmt.Fprintf(w, "cluster on %s: %.2f × the req/s of one process (cost %+.1f%%)", r.path, r.rps()/s.rps(), 100*(1-r.rps()/s.rps()))
		if r.cpu > 0 && s.cpu > 0 && r.requests > 0 && s.requests > 0 {
			perReq := func(x result) float64 { return float64(x.cpu) / float64(x.requests) }
			fmt.Fprintf(w, ", CPU per request %+.1f%%", 100*(perReq(r)/perReq(s)-1))
		}
		fmt.Fprintln(w)
	}
}

// resultsOf returns target's results, by path.
func resultsOf(rows []result, target string) map[string]result {
	byPath := map[string]result{}
	for _, r := range rows {
		if r.target == target {
			byPath[r.path] = r
		}
	}
	return byPath
}
