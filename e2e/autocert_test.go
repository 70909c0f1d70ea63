package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"userhub/store"
)

// Autocert end to end, against Pebble: Let's Encrypt's own test ACME
// server, run on loopback. Pebble validates challenges by connecting to
// the names it is asked about; its DNS (pebble-challtestsrv) answers
// 127.0.0.1 for every name, so the validations reach userhub.

const pebbleVersion = "v2.10.1"

// pebble builds (once, cached) and returns the paths of pebble and
// pebble-challtestsrv, and the module directory with Pebble's test CA.
func pebble(t *testing.T) (pebbleBin, challBin, moduleDir string) {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	bin := filepath.Join(cache, "userhub-test", "pebble-"+pebbleVersion)
	pebbleBin, challBin = filepath.Join(bin, "pebble"), filepath.Join(bin, "pebble-challtestsrv")
	if _, err := os.Stat(challBin); err != nil {
		install := exec.Command("go", "install",
			"github.com/letsencrypt/pebble/v2/cmd/pebble@"+pebbleVersion,
			"github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@"+pebbleVersion)
		install.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=")
		install.Dir = os.TempDir() // outside this module: Pebble is not a dependency of userhub
		if out, err := install.CombinedOutput(); err != nil {
			t.Skipf("autocert test skipped: cannot build Pebble (needs the Go module proxy): %v\n%s", err, out)
		}
	}
	list := exec.Command("go", "mod", "download", "-json", "github.com/letsencrypt/pebble/v2@"+pebbleVersion)
	list.Dir = os.TempDir()
	list.Env = append(os.Environ(), "GOFLAGS=")
	out, err := list.Output()
	if err != nil {
		t.Skipf("autocert test skipped: cannot find Pebble's module: %v", err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download: %s", out)
	}
	return pebbleBin, challBin, mod.Dir
}

// freeUDP returns a loopback UDP address nobody uses, for the test DNS.
func freeUDP(t *testing.T) string {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// acmeServer is a running Pebble.
type acmeServer struct {
	directory string // https://127.0.0.1:port/dir
	mgmt      string // https://127.0.0.1:port
	caFile    string // the CA of Pebble's own HTTPS
	log       *lockedBuffer
}

type lockedBuffer struct{ p proc }

func (b *lockedBuffer) String() string { return b.p.output() }

// startPebble runs challtestsrv and Pebble, validating HTTP-01 on
// httpPort and TLS-ALPN-01 on tlsPort.
func startPebble(t *testing.T, httpPort, tlsPort string) *acmeServer {
	pebbleBin, challBin, moduleDir := pebble(t)
	dns := freeUDP(t)
	chall := exec.Command(challBin, "-dnsserver", dns, "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "", "-management", freeAddr(t))
	startBackground(t, chall, nil)

	listen, mgmt := freeAddr(t), freeAddr(t)
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress": listen, "managementListenAddress": mgmt,
		"certificate": filepath.Join(moduleDir, "test/certs/localhost/cert.pem"),
		"privateKey":  filepath.Join(moduleDir, "test/certs/localhost/key.pem"),
		"httpPort":    atoi(t, httpPort), "tlsPort": atoi(t, tlsPort),
		"ocspResponderURL": "", "externalAccountBindingRequired": false,
		"domainBlocklist": []string{}, "retryAfter": map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm": "ecdsa",
		"profiles":     map[string]any{"default": map[string]any{"description": "test", "validityPeriod": 7776000}},
	}}
	cfgFile := filepath.Join(t.TempDir(), "pebble.json")
	data, _ := json.Marshal(cfg)
	os.WriteFile(cfgFile, data, 0o600)
	peb := exec.Command(pebbleBin, "-config", cfgFile, "-dnsserver", dns)
	peb.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	a := &acmeServer{directory: "https://" + listen + "/dir", mgmt: "https://" + mgmt,
		caFile: filepath.Join(moduleDir, "test/certs/pebble.minica.pem"), log: &lockedBuffer{}}
	startBackground(t, peb, &a.log.p)

	client := a.client(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := client.Get(a.directory)
		if err == nil {
			resp.Body.Close()
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("Pebble did not start: %v\n%s", err, a.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func atoi(t *testing.T, s string) int {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// startBackground starts cmd, keeps its output in out (if given), and
// kills it when the test ends.
func startBackground(t *testing.T, cmd *exec.Cmd, out *proc) {
	if out != nil {
		out.done = make(chan struct{})
		cmd.Stdout, cmd.Stderr = &lockedWriter{p: out}, &lockedWriter{p: out}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

// client trusts Pebble's own HTTPS certificate.
func (a *acmeServer) client(t *testing.T) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool(t, a.caFile)}}, Timeout: 10 * time.Second}
}

// roots returns the root of the certificates Pebble issues.
func (a *acmeServer) roots(t *testing.T) *x509.CertPool {
	resp, err := a.client(t).Get(a.mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("Pebble's root: %s", data)
	}
	return pool
}

// env is the environment of a userhub on httpAddr and tlsAddr getting
// certificates from this Pebble for domains (comma-separated). A handshake
// may wait for an order (its own, or another process's): the handshake
// timeout (the smallest of the server timeouts) is raised from 5 s to
// 30 s, so that a slow order on a busy machine does not fail the test.
func (a *acmeServer) env(httpAddr, tlsAddr, domains string) []string {
	return []string{"USERHUB_SERVER_ADDR=" + httpAddr, "USERHUB_TLS_ADDR=" + tlsAddr, "USERHUB_TLS_MODE=autocert",
		"USERHUB_TLS_DOMAINS=" + domains, "USERHUB_TLS_EMAIL=ops@example.test",
		"USERHUB_TLS_ACME_DIRECTORY=" + a.directory, "USERHUB_TLS_ACME_CA_FILE=" + a.caFile,
		"USERHUB_SERVER_READ_HEADER_TIMEOUT=30s"}
}

var issuedLine = regexp.MustCompile(`Issued certificate serial ([0-9a-f]+) for order`)

// issued returns the serials (hex) of the certificates Pebble issued, in
// order.
func (a *acmeServer) issued() []string {
	var serials []string
	for _, m := range issuedLine.FindAllStringSubmatch(a.log.String(), -1) {
		serials = append(serials, m[1])
	}
	return serials
}

// waitIssued waits until Pebble has logged n certificates, then a moment
// more (its log comes through a pipe), and returns every serial logged:
// an order too many, made before the certificates were served, shows.
func (a *acmeServer) waitIssued(t *testing.T, n int) []string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); len(a.issued()) < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Pebble issued %d certificates, not %d:\n%s", len(a.issued()), n, a.log)
		}
	}
	time.Sleep(300 * time.Millisecond)
	return a.issued()
}

// accounts says how many ACME accounts Pebble made.
func (a *acmeServer) accounts() int {
	return len(regexp.MustCompile(`There are now \d+ accounts`).FindAllString(a.log.String(), -1))
}

// serial is the serial (hex, as Pebble logs it) of the certificate served.
func serial(resp *http.Response) string {
	return hex.EncodeToString(resp.TLS.PeerCertificates[0].SerialNumber.Bytes())
}

// sqliteCertCache opens the autocert cache in the SQLite database of a
// data directory.
func sqliteCertCache(t *testing.T, dataDir string) *store.CertCache {
	s, err := store.Open(context.Background(), store.Options{Driver: "sqlite", DSN: filepath.Join(dataDir, "userhub.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.CertCache()
}

// getAs fetches path from the HTTPS listener at addr under the host name
// host (SNI and Host), trusting roots.
func getAs(t *testing.T, addr, host, path string, roots *x509.CertPool) (*http.Response, error) {
	resp, _, err := fetchAs(addr, host, path, roots)
	return resp, err
}

// fetchAs is getAs, with the body.
func fetchAs(addr, host, path string, roots *x509.CertPool) (*http.Response, []byte, error) {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: host},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+host+path, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body, err
}

// TestAutocert obtains a certificate from Pebble through each challenge
// type and serves it; a name outside tls.domains gets nothing, and causes
// no ACME traffic.
func TestAutocert(t *testing.T) {
	for _, tt := range []struct {
		challenge string
		// Pebble validates the other challenge type on a port where nothing
		// listens, so only this one can succeed.
		deadHTTP, deadTLS bool
	}{
		{challenge: "tls-alpn-01", deadHTTP: true},
		{challenge: "http-01", deadTLS: true},
	} {
		t.Run(tt.challenge, func(t *testing.T) {
			httpAddr, tlsAddr := freeAddr(t), freeAddr(t)
			httpPort, tlsPort := port(httpAddr), port(tlsAddr)
			if tt.deadHTTP {
				httpPort = port(freeAddr(t))
			}
			if tt.deadTLS {
				tlsPort = port(freeAddr(t))
			}
			acme := startPebble(t, httpPort, tlsPort)
			p := start(t, acme.env(httpAddr, tlsAddr, "app.example.test")...)
			roots := acme.roots(t)

			resp, err := getAs(t, tlsAddr, "app.example.test", "/healthz", roots)
			if err != nil {
				t.Fatalf("HTTPS for an allowed name: %v\nPebble:\n%s\nuserhub:\n%s", err, acme.log, p.output())
			}
			if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" || resp.TLS.PeerCertificates[0].VerifyHostname("app.example.test") != nil {
				t.Fatalf("served %s %d", resp.Proto, resp.StatusCode)
			}
			// Pebble logs its HTTP-01 validations, and no line for TLS-ALPN-01 ones.
			if httpTried := strings.Contains(acme.log.String(), "Attempting to validate w/ HTTP"); httpTried != (tt.challenge == "http-01") {
				t.Errorf("%s: Pebble validated over HTTP: %v\n%s", tt.challenge, httpTried, acme.log)
			}
			// The certificate and account are kept in the database, for
			// restarts and other processes; nothing in the directory
			// earlier versions used.
			cache := sqliteCertCache(t, p.dataDir)
			for _, key := range []string{"app.example.test", "acme_account+key"} {
				if _, err := cache.Get(context.Background(), key); err != nil {
					t.Errorf("the database's autocert cache: %s: %v", key, err)
				}
			}
			if _, err := os.Stat(filepath.Join(p.dataDir, "autocert")); !os.IsNotExist(err) {
				t.Errorf("<data_dir>/autocert: %v; want none", err)
			}

			before := acme.log.String()
			if _, err := getAs(t, tlsAddr, "other.example.test", "/healthz", roots); err == nil {
				t.Fatal("a name outside tls.domains got a certificate")
			}
			time.Sleep(200 * time.Millisecond)
			if after := acme.log.String(); strings.Contains(after, "other.example.test") || len(after) != len(before) {
				t.Errorf("a name outside tls.domains caused ACME traffic:\n%s", after[len(before):])
			}
		})
	}
}

// TestAutocertAcrossInstances: two instances on one database order one
// certificate between them, and answer each other's challenges: on
// PostgreSQL, and on SQLite (two processes on one data directory, as a
// cluster's workers are, but each asked directly). Pebble validates at the
// second instance only: asked at once, both serve the one certificate
// Pebble issued, whichever ordered it; asked alone, the first orders, the
// second (which started nothing) answers the challenge, then serves the
// certificate without an order of its own.
func TestAutocertAcrossInstances(t *testing.T) {
	for _, database := range []string{"PostgreSQL", "SQLite"} {
		for _, challenge := range []string{"tls-alpn-01", "http-01"} {
			t.Run(database+"/"+challenge, func(t *testing.T) {
				var shared []string
				if database == "PostgreSQL" {
					dsn := os.Getenv("USERHUB_TEST_POSTGRES_DSN")
					if dsn == "" {
						t.Skip("autocert across instances on PostgreSQL skipped: set USERHUB_TEST_POSTGRES_DSN")
					}
					shared = []string{"USERHUB_DATABASE_DRIVER=postgres", "USERHUB_DATABASE_DSN=" + pgSchema(t, dsn)}
				} else {
					shared = []string{"USERHUB_DATA_DIR=" + t.TempDir()}
				}
				autocertAcrossInstances(t, challenge, shared)
			})
		}
	}
}

func autocertAcrossInstances(t *testing.T, challenge string, shared []string) {
	type instance struct {
		p                 *proc
		httpAddr, tlsAddr string
	}
	one := &instance{httpAddr: freeAddr(t), tlsAddr: freeAddr(t)}
	two := &instance{httpAddr: freeAddr(t), tlsAddr: freeAddr(t)}
	// The other challenge type is validated where nothing listens.
	httpPort, tlsPort := port(freeAddr(t)), port(two.tlsAddr)
	if challenge == "http-01" {
		httpPort, tlsPort = port(two.httpAddr), port(freeAddr(t))
	}
	acme := startPebble(t, httpPort, tlsPort)
	for _, in := range []*instance{one, two} {
		in.p = start(t, append(acme.env(in.httpAddr, in.tlsAddr, "both.example.test,one.example.test"), shared...)...)
	}
	roots := acme.roots(t)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\nPebble:\n%s\none:\n%s\ntwo:\n%s", append(args, acme.log, one.p.output(), two.p.output())...)
	}

	// Both asked at once.
	serials := make([]string, 2)
	var wg sync.WaitGroup
	for i, in := range []*instance{one, two} {
		wg.Go(func() {
			resp, err := getAs(t, in.tlsAddr, "both.example.test", "/healthz", roots)
			if err != nil {
				serials[i] = err.Error()
				return
			}
			serials[i] = serial(resp)
		})
	}
	wg.Wait()
	issued := acme.waitIssued(t, 1)
	if len(issued) != 1 || serials[0] != issued[0] || serials[1] != issued[0] {
		fail("asked at once: instances served %v; Pebble issued %v; want one certificate, served by both", serials, issued)
	}

	// One asked alone: it orders, two answers the challenge.
	resp, err := getAs(t, one.tlsAddr, "one.example.test", "/healthz", roots)
	if err != nil {
		fail("one.example.test on one (the challenge answered by two): %v", err)
	}
	issued = acme.waitIssued(t, 2)
	if len(issued) != 2 || serial(resp) != issued[1] {
		fail("one.example.test: one served %s; Pebble issued %v", serial(resp), issued)
	}
	if resp, err = getAs(t, two.tlsAddr, "one.example.test", "/healthz", roots); err != nil || serial(resp) != issued[1] {
		fail("one.example.test on two: %v; want the certificate one ordered, %s", err, issued[1])
	}
	if n := len(acme.issued()); n != 2 {
		fail("two ordered again: Pebble issued %d certificates", n)
	}
	if challenge == "http-01" && !strings.Contains(acme.log.String(), ":"+port(two.httpAddr)+"/.well-known/acme-challenge/") {
		fail("Pebble did not validate at two's HTTP listener")
	}
	if n := acme.accounts(); n != 1 {
		fail("%d ACME accounts; want one, shared", n)
	}
}

// TestAutocertUpgradeFromTheDirectoryCache: an instance of an earlier
// version kept its account and certificate in <data_dir>/autocert. After
// the upgrade they are imported into the database: the same certificate
// is served without an order, and a new name is ordered with the same
// ACME account.
func TestAutocertUpgradeFromTheDirectoryCache(t *testing.T) {
	httpAddr, tlsAddr := freeAddr(t), freeAddr(t)
	acme := startPebble(t, port(freeAddr(t)), port(tlsAddr))
	before := start(t, acme.env(httpAddr, tlsAddr, "app.example.test")...)
	roots := acme.roots(t)
	resp, err := getAs(t, tlsAddr, "app.example.test", "/healthz", roots)
	if err != nil {
		t.Fatalf("first certificate: %v\nPebble:\n%s", err, acme.log)
	}
	first := serial(resp)
	acme.waitIssued(t, 1)
	before.stop()

	// What an earlier version left: autocert.DirCache's files, one per
	// key, in a data directory without a database.
	cache := sqliteCertCache(t, before.dataDir)
	dataDir := t.TempDir()
	dir := filepath.Join(dataDir, "autocert")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"app.example.test", "acme_account+key"} {
		data, err := cache.Get(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, key), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	after := start(t, append(acme.env(httpAddr, tlsAddr, "app.example.test,new.example.test"), "USERHUB_DATA_DIR="+dataDir)...)
	if resp, err = getAs(t, tlsAddr, "app.example.test", "/healthz", roots); err != nil || serial(resp) != first {
		t.Fatalf("after the upgrade: %v; want the certificate from the directory, %s\n%s", err, first, after.output())
	}
	if issued := acme.issued(); len(issued) != 1 {
		t.Fatalf("the upgrade ordered again: Pebble issued %v", issued)
	}
	after.waitLog(t, "imported into the database")
	if _, err := getAs(t, tlsAddr, "new.example.test", "/healthz", roots); err != nil {
		t.Fatalf("a new name after the upgrade: %v\nPebble:\n%s", err, acme.log)
	}
	if n := acme.accounts(); n != 1 {
		t.Errorf("%d ACME accounts; want the imported one only", n)
	}
}
