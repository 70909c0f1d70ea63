package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"userhub/openapi/openapitest"
)

// binary is the userhub binary built once for the whole package.
var binary string

// contract checks every exchange of newClient's clients with the API
// against openapi/openapi.yaml.
var contract *openapitest.Checker

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "userhub-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "userhub")
	if contract, err = openapitest.Contract(); err != nil {
		fmt.Fprintln(os.Stderr, "openapi:", err)
		os.Exit(1)
	}
	build := exec.Command("go", "build", "-buildvcs=auto", "-o", binary, "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build userhub: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running userhub.
type proc struct {
	t       testing.TB
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:PORT
	dataDir string
	mu      sync.Mutex
	log     bytes.Buffer
	done    chan struct{}
	exit    error
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs the binary with env added to a minimal environment, in an
// empty working directory (so no config.yaml is read), and waits until
// /healthz answers on the HTTP listener (200, or the redirect to HTTPS). USERHUB_SERVER_ADDR and USERHUB_DATA_DIR get fresh values unless
// env sets them.
func start(t testing.TB, env ...string) *proc {
	t.Helper()
	p := launch(t, env...)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := newClient().Get(p.base + "/healthz")
		lastErr := err
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 { // 200, or the redirect to HTTPS (308, or 400 for a name autocert does not serve)
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("userhub exited before serving: %v\n%s", p.exit, p.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("userhub did not serve within 15s (last: %v)\n%s", lastErr, p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// launch starts the binary without waiting for it to serve.
func launch(t testing.TB, env ...string) *proc {
	t.Helper()
	p := &proc{t: t, done: make(chan struct{})}
	vars := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "USERHUB_LOG_LEVEL=info"}
	has := func(name string) bool {
		for _, kv := range env {
			if strings.HasPrefix(kv, name+"=") {
				return true
			}
		}
		return false
	}
	addr := freeAddr(t)
	if !has("USERHUB_SERVER_ADDR") {
		vars = append(vars, "USERHUB_SERVER_ADDR="+addr)
	}
	if !has("USERHUB_DATA_DIR") {
		p.dataDir = t.TempDir()
		vars = append(vars, "USERHUB_DATA_DIR="+p.dataDir)
	}
	if !has("USERHUB_SERVER_DRAIN_DELAY") {
		// Nothing balances load here: stop at once (TestDrain sets one).
		vars = append(vars, "USERHUB_SERVER_DRAIN_DELAY=0s")
	}
	vars = append(vars, env...)
	for _, kv := range vars {
		if v, ok := strings.CutPrefix(kv, "USERHUB_SERVER_ADDR="); ok {
			addr = v
		}
		if v, ok := strings.CutPrefix(kv, "USERHUB_DATA_DIR="); ok {
			p.dataDir = v
		}
	}
	p.base = "http://" + addr
	p.cmd = exec.Command(binary)
	p.cmd.Env = vars
	p.cmd.Dir = t.TempDir()
	p.cmd.Stdout = &lockedWriter{p: p}
	p.cmd.Stderr = &lockedWriter{p: p}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.exit = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("userhub output:\n%s", p.output())
		}
	})
	return p
}

type lockedWriter struct{ p *proc }

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.log.Write(b)
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// waitLog waits up to ten seconds for text in the output (info lines are
// written out every 100 ms; a cluster reload takes a second a worker).
func (p *proc) waitLog(t testing.TB, text string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.output(), text) {
		if time.Now().After(deadline) {
			t.Errorf("the log does not say %q:\n%s", text, p.output())
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signal sends sig to the process.
func (p *proc) signal(sig syscall.Signal) {
	_ = p.cmd.Process.Signal(sig)
}

// wait waits up to d for the process to exit and returns its exit code.
func (p *proc) wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.t.Fatalf("userhub still running after %v\n%s", d, p.output())
	}
	return p.cmd.ProcessState.ExitCode()
}

// stop ends the process: SIGTERM, then SIGKILL if it lingers.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// newClient returns a client with a cookie jar that does not ask for gzip
// on its own (tests see what the server sends for the headers they set),
// does not follow redirects (tests check them), and checks every exchange
// with the API against the contract: a mismatch is the request's error.
func newClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:           jar,
		Transport:     &openapitest.Transport{Base: &http.Transport{DisableCompression: true}, Checker: contract},
		Timeout:       30 * time.Second, // a hung server fails the test, not the run
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// adminPassword is the password of the administrator setup creates.
const adminPassword = "correct horse battery staple"

// setup creates the first administrator (kim) through the setup form and
// returns a client logged in as kim.
func (p *proc) setup(t testing.TB) *http.Client {
	t.Helper()
	c := newClient()
	resp, _ := doWith(t, c, "POST", p.base+"/setup", "application/x-www-form-urlencoded",
		"name=kim&password="+url.QueryEscape(adminPassword)+"&password_confirm="+url.QueryEscape(adminPassword))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("setup: %s", resp.Status)
	}
	return c
}

// do sends a request with a fresh client (no cookies) and returns the
// response with its body read.
func do(t testing.TB, method, url, contentType, body string, header ...string) (*http.Response, string) {
	t.Helper()
	return doWith(t, newClient(), method, url, contentType, body, header...)
}

// doWith sends a request with client c.
func doWith(t testing.TB, c *http.Client, method, url, contentType, body string, header ...string) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func jsonDecode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

func mustParse(raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	return u
}
