package server

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"userhub/config"
	"userhub/middleware"
)

// testPKI is a root CA, an intermediate it signs, and leaves the
// intermediate signs: what a real certificate authority hands out.
type testPKI struct {
	root, inter       *x509.Certificate
	rootKey, interKey crypto.Signer
	rootPool          *x509.CertPool
	interPEM, rootPEM []byte
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{}
	p.rootKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p.root = sign(t, &x509.Certificate{Subject: pkix.Name{CommonName: "test root"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}, nil, p.rootKey.Public(), p.rootKey, time.Now().Add(time.Hour))
	p.interKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p.inter = sign(t, &x509.Certificate{Subject: pkix.Name{CommonName: "test intermediate"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}, p.root, p.interKey.Public(), p.rootKey, time.Now().Add(time.Hour))
	p.rootPool = x509.NewCertPool()
	p.rootPool.AddCert(p.root)
	p.rootPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.root.Raw})
	p.interPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.inter.Raw})
	return p
}

func sign(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer, notAfter time.Time) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber, _ = rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-2*time.Hour), notAfter
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// leaf issues a server certificate for localhost and 127.0.0.1 with a key
// of the given kind ("ecdsa" or "rsa") and writes cert.pem and key.pem in
// dir; it returns their paths and the certificate's serial number.
func (p *testPKI) leaf(t *testing.T, dir, kind string, notAfter time.Time) (certFile, keyFile string, serial *big.Int) {
	t.Helper()
	var key crypto.Signer
	if kind == "rsa" {
		key, _ = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	c := sign(t, &x509.Certificate{Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, p.inter, key.Public(), p.interKey, notAfter)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	write(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	write(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	write(t, filepath.Join(dir, "inter.pem"), p.interPEM)
	return certFile, keyFile, c.SerialNumber
}

// leaf3 writes a valid leaf of kind in a directory of its own.
func (p *testPKI) leaf3(t *testing.T, kind string) (certFile, keyFile string) {
	certFile, keyFile, _ = p.leaf(t, t.TempDir(), kind, time.Now().Add(time.Hour))
	return certFile, keyFile
}

// load loads a leaf written by leaf, with its intermediate.
func load(t *testing.T, certFile, keyFile string) *StaticCerts {
	certs, err := LoadStaticCerts(certFile, keyFile, []string{filepath.Join(filepath.Dir(certFile), "inter.pem")}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return certs
}

func write(t *testing.T, path string, data []byte, modTime ...time.Time) {
	t.Helper()
	// Through a temporary file, as deployment tools replace certificates.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, m := range modTime {
		if err := os.Chtimes(tmp, m, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// serveTLS serves a small handler over TLS with cfg on a loopback port.
func serveTLS(t *testing.T, cfg *tls.Config, http2 bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHTTPServer(config.Default().Server, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}), quiet)
	srv.TLSConfig = cfg
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(http2)
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestCipherSuiteMatrix dials every TLS 1.2 suite Go knows, secure or not,
// against an ECDSA and an RSA certificate: exactly the six allowed suites
// must get through (each with its key type), and nothing else.
func TestCipherSuiteMatrix(t *testing.T) {
	pki := newPKI(t)
	var all []*tls.CipherSuite
	all = append(all, tls.CipherSuites()...)
	all = append(all, tls.InsecureCipherSuites()...)
	succeeded := map[uint16]bool{}
	for _, kind := range []string{"ecdsa", "rsa"} {
		certFile, keyFile := pki.leaf3(t, kind)
		certs := load(t, certFile, keyFile)
		addr := serveTLS(t, NewTLSConfig(certs.GetCertificate), true)
		for _, suite := range all {
			if !slices.Contains(suite.SupportedVersions, tls.VersionTLS12) {
				continue
			}
			conn, err := tls.Dial("tcp", addr, &tls.Config{
				RootCAs: pki.rootPool, ServerName: "localhost",
				MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS12,
				CipherSuites: []uint16{suite.ID},
			})
			if err == nil {
				succeeded[suite.ID] = true
				conn.Close()
			}
		}
	}
	for _, suite := range all {
		allowed := slices.Contains(CipherSuites, suite.ID)
		if succeeded[suite.ID] != allowed {
			t.Errorf("%s: handshake succeeded=%v, allowed=%v", suite.Name, succeeded[suite.ID], allowed)
		}
	}
	if len(succeeded) != 6 {
		t.Errorf("%d suites got through, want the 6 allowed", len(succeeded))
	}
}

func TestProtocolVersions(t *testing.T) {
	pki := newPKI(t)
	certFile, keyFile := pki.leaf3(t, "ecdsa")
	certs := load(t, certFile, keyFile)
	addr := serveTLS(t, NewTLSConfig(certs.GetCertificate), true)
	for _, tt := range []struct {
		version uint16
		ok      bool
	}{{tls.VersionTLS10, false}, {tls.VersionTLS11, false}, {tls.VersionTLS12, true}, {tls.VersionTLS13, true}} {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pki.rootPool, ServerName: "localhost", MinVersion: tt.version, MaxVersion: tt.version})
		if (err == nil) != tt.ok {
			t.Errorf("%s: handshake err=%v, want ok=%v", tls.VersionName(tt.version), err, tt.ok)
		}
		if err == nil {
			if tt.version == tls.VersionTLS13 && conn.ConnectionState().CurveID != tls.X25519MLKEM768 {
				t.Errorf("TLS 1.3 key exchange %v, want X25519MLKEM768 first", conn.ConnectionState().CurveID)
			}
			conn.Close()
		}
	}
}

// TestALPN: HTTP/2 when both sides speak it, HTTP/1.1 for old clients, and
// no h2 when server.http2 is off.
func TestALPN(t *testing.T) {
	pki := newPKI(t)
	certFile, keyFile := pki.leaf3(t, "ecdsa")
	certs := load(t, certFile, keyFile)
	for _, tt := range []struct {
		serverH2, clientH2 bool
		want               string
	}{{true, true, "HTTP/2.0"}, {true, false, "HTTP/1.1"}, {false, true, "HTTP/1.1"}} {
		addr := serveTLS(t, NewTLSConfig(certs.GetCertificate), tt.serverH2)
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.rootPool}, ForceAttemptHTTP2: tt.clientH2}
		if !tt.clientH2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{} // an HTTP/1.1-only client
		}
		resp, err := (&http.Client{Transport: tr}).Get("https://localhost:" + port(addr) + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Proto != tt.want || string(body) != tt.want {
			t.Errorf("server h2=%v, client h2=%v: %s (server saw %s), want %s", tt.serverH2, tt.clientH2, resp.Proto, body, tt.want)
		}
		tr.CloseIdleConnections()
	}
}

func port(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }

// TestChainAndReload: the intermediates are sent, and a certificate file
// replaced on disk is served to new connections, without a restart, while
// a connection opened before goes on working.
func TestChainAndReload(t *testing.T) {
	pki := newPKI(t)
	dir := t.TempDir()
	certFile, keyFile, first := pki.leaf(t, dir, "ecdsa", time.Now().Add(time.Hour))
	interFile := filepath.Join(dir, "inter.pem")
	write(t, interFile, pki.interPEM)
	certs, err := LoadStaticCerts(certFile, keyFile, []string{interFile}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go certs.Watch(20*time.Millisecond, stop)
	addr := serveTLS(t, NewTLSConfig(certs.GetCertificate), true)

	dial := func() *tls.Conn {
		// Only the root is trusted: verification needs the intermediate from the server.
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pki.rootPool, ServerName: "localhost"})
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		return conn
	}
	old := dial()
	defer old.Close()
	if chain := old.ConnectionState().PeerCertificates; len(chain) != 2 || chain[1].Subject.CommonName != "test intermediate" {
		t.Fatalf("the server sent %d certificates, want the leaf and the intermediate", len(chain))
	}

	_, _, second := pki.leaf(t, dir, "ecdsa", time.Now().Add(2*time.Hour))
	deadline := time.Now().Add(3 * time.Second)
	for {
		conn := dial()
		serial := conn.ConnectionState().PeerCertificates[0].SerialNumber
		conn.Close()
		if serial.Cmp(second) == 0 {
			break
		}
		if serial.Cmp(first) != 0 || time.Now().After(deadline) {
			t.Fatalf("serving serial %v; want the replaced certificate %v", serial, second)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The connection made before the reload still works.
	req, _ := http.NewRequest("GET", "https://localhost/", nil)
	if err := req.Write(old); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 12)
	if _, err := io.ReadFull(old, buf); err != nil || string(buf) != "HTTP/1.1 200" {
		t.Fatalf("the old connection after the reload: %q, %v", buf, err)
	}
}

// lockedBuffer is a log destination the watcher goroutine may write to.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A half-done deploy (a new key beside the old certificate) is reported
// once, not on every check, and the old certificate stays in use.
func TestBrokenReplacementIsReportedOnce(t *testing.T) {
	pki := newPKI(t)
	dir := t.TempDir()
	certFile, keyFile, _ := pki.leaf(t, dir, "ecdsa", time.Now().Add(time.Hour))
	_, otherKey, _ := pki.leaf(t, t.TempDir(), "ecdsa", time.Now().Add(time.Hour))
	var logs lockedBuffer
	certs, err := LoadStaticCerts(certFile, keyFile, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	served, _ := certs.GetCertificate(nil)
	stop := make(chan struct{})
	defer close(stop)
	go certs.Watch(10*time.Millisecond, stop)

	key, err := os.ReadFile(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	// The replacement keeps the old file's size and modification time, as
	// two writes within the file system's timestamp granularity can: it is
	// noticed all the same, being another file.
	before, err := os.Stat(keyFile)
	if err != nil || before.Size() != int64(len(key)) {
		t.Fatalf("the two keys differ in size (%v): %v", before, err)
	}
	write(t, keyFile, key, before.ModTime())
	time.Sleep(300 * time.Millisecond) // thirty checks
	if n := strings.Count(logs.String(), "certificate not reloaded"); n != 1 {
		t.Errorf("the broken files were reported %d times, want once:\n%s", n, logs.String())
	}
	if now, _ := certs.GetCertificate(nil); now != served {
		t.Error("a broken replacement displaced the certificate in use")
	}
}

// TestCertificateProblems: each start-up failure is one line that names
// the file and what is wrong.
func TestCertificateProblems(t *testing.T) {
	pki := newPKI(t)
	dir := t.TempDir()
	certFile, keyFile, _ := pki.leaf(t, dir, "ecdsa", time.Now().Add(time.Hour))
	otherDir := t.TempDir()
	_, otherKey, _ := pki.leaf(t, otherDir, "ecdsa", time.Now().Add(time.Hour))
	expiredDir := t.TempDir()
	expiredCert, expiredKey, _ := pki.leaf(t, expiredDir, "ecdsa", time.Now().Add(-time.Hour))
	for _, tt := range []struct {
		cert, key string
		want      string
	}{
		{filepath.Join(dir, "missing.pem"), keyFile, "missing.pem: no such file"},
		{certFile, otherKey, "does not match the certificate in tls.cert_file"},
		{expiredCert, expiredKey, "expired on"},
	} {
		_, err := LoadStaticCerts(tt.cert, tt.key, nil, quiet)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s / %s: %v, want one line with %q", tt.cert, tt.key, err, tt.want)
		}
	}
}

// TestRedirectToHTTPS: the redirect keeps the method, path and query, and
// sends only to a name HTTPS has a certificate for, spelt as configured;
// any other Host gets 400.
func TestRedirectToHTTPS(t *testing.T) {
	names := func() []string {
		return []string{"App.Example.com", "*.apps.example.com", "localhost", "127.0.0.1", "::1"}
	}
	for _, tt := range []struct {
		tlsAddr, host, target string
		want                  string // the Location; "" for 400
	}{
		{":8443", "app.example.com:8080", "/about?x=1", "https://app.example.com:8443/about?x=1"},
		{":443", "APP.EXAMPLE.COM", "/a/b?c=d&e=f", "https://app.example.com/a/b?c=d&e=f"},
		{":443", "app.example.com.", "/", "https://app.example.com/"},
		{":443", "one.apps.example.com", "/", "https://one.apps.example.com/"},
		{":8443", "localhost:8080", "/", "https://localhost:8443/"},
		{":8443", "127.0.0.1:8080", "/", "https://127.0.0.1:8443/"},
		{":8443", "[::1]:8080", "/", "https://[::1]:8443/"},
		{":443", "[::1]:80", "/x", "https://[::1]/x"},
		{":8443", "[0:0::1]", "/x", "https://[::1]:8443/x"},
		{":443", "evil.example", "/", ""},
		{":443", "app.example.com.evil.example", "/", ""},
		{":443", "apps.example.com", "/", ""},
		{":443", "a.b.apps.example.com", "/", ""},
		{":443", "-x.apps.example.com", "/", ""},
		{":443", "10.0.0.1", "/", ""},
		{":443", "", "/", ""},
	} {
		req := httptest.NewRequest("POST", "http://placeholder"+tt.target, nil)
		req.Host = tt.host
		rec := httptest.NewRecorder()
		RedirectToHTTPS(tt.tlsAddr, names).ServeHTTP(rec, req)
		want := http.StatusPermanentRedirect
		if tt.want == "" {
			want = http.StatusBadRequest
		}
		if rec.Code != want || rec.Header().Get("Location") != tt.want {
			t.Errorf("Host %q %s: %d to %q, want %d to %q", tt.host, tt.target, rec.Code, rec.Header().Get("Location"), want, tt.want)
		}
	}
}

// TestRedirectBehindAProxy: a request that a trusted proxy received over
// HTTPS (X-Forwarded-Proto: https) is served, not redirected again (that
// would loop); the same header from anyone else changes nothing.
func TestRedirectBehindAProxy(t *testing.T) {
	proxied, err := middleware.ProxiedHTTPS([]string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := unlessProxiedHTTPS(proxied, app, RedirectToHTTPS(":443", func() []string { return []string{"app.example.com"} }))
	for _, tt := range []struct {
		remote, proto string
		want          int
	}{
		{"10.1.2.3:5000", "https", http.StatusTeapot},
		{"10.1.2.3:5000", "HTTPS", http.StatusTeapot},
		{"10.1.2.3:5000", "http", http.StatusPermanentRedirect},
		{"10.1.2.3:5000", "", http.StatusPermanentRedirect},
		{"192.0.2.7:5000", "https", http.StatusPermanentRedirect},
	} {
		req := httptest.NewRequest("GET", "http://app.example.com/", nil)
		req.RemoteAddr = tt.remote
		if tt.proto != "" {
			req.Header.Set("X-Forwarded-Proto", tt.proto)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("from %s with X-Forwarded-Proto %q: %d, want %d", tt.remote, tt.proto, rec.Code, tt.want)
		}
	}
}

// TestDevCertificate: made once and kept; made again when a name is added.
func TestDevCertificate(t *testing.T) {
	dir := t.TempDir()
	first, err := DevCertificate(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"localhost", "127.0.0.1", "::1"} {
		if first.Leaf.VerifyHostname(n) != nil {
			t.Errorf("the certificate does not cover %s", n)
		}
	}
	again, _ := DevCertificate(dir, nil)
	if again.Leaf.SerialNumber.Cmp(first.Leaf.SerialNumber) != 0 {
		t.Error("a second start made a new certificate")
	}
	more, _ := DevCertificate(dir, []string{"dev.example.test"})
	if more.Leaf.VerifyHostname("dev.example.test") != nil || more.Leaf.SerialNumber.Cmp(first.Leaf.SerialNumber) == 0 {
		t.Error("a new name did not make a new certificate")
	}
	// It verifies against the CA beside it.
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(filepath.Join(dir, CAFile))
	pool.AppendCertsFromPEM(caPEM)
	if _, err := more.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost"}); err != nil {
		t.Fatalf("the certificate does not verify against %s: %v", CAFile, err)
	}
	for _, f := range []string{caKey, KeyFile} {
		if fi, _ := os.Stat(filepath.Join(dir, f)); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v", f, fi.Mode().Perm())
		}
	}
}

// TestBindReportsEveryTakenPort: one line per listener that fails.
func TestBindReportsEveryTakenPort(t *testing.T) {
	a, _ := net.Listen("tcp", "127.0.0.1:0")
	b, _ := net.Listen("tcp", "127.0.0.1:0")
	defer a.Close()
	defer b.Close()
	cfg := config.Default()
	cfg.Server.Addr, cfg.TLS.Mode, cfg.TLS.Addr = a.Addr().String(), "self-signed", b.Addr().String()
	_, err := Bind(cfg)
	if err == nil {
		t.Fatal("bound taken ports")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "server.addr") || !strings.Contains(lines[1], "tls.addr") {
		t.Fatalf("errors:\n%v", err)
	}
}

// TestSessionResumption: a client that comes back resumes its TLS session
// (no full handshake), with TLS 1.2 and 1.3 alike.
func TestSessionResumption(t *testing.T) {
	pki := newPKI(t)
	certFile, keyFile := pki.leaf3(t, "ecdsa")
	certs := load(t, certFile, keyFile)
	addr := serveTLS(t, NewTLSConfig(certs.GetCertificate), true)
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cache := tls.NewLRUClientSessionCache(4)
		for i, want := range []bool{false, true} {
			conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pki.rootPool, ServerName: "localhost",
				MinVersion: version, MaxVersion: version, ClientSessionCache: cache})
			if err != nil {
				t.Fatal(err)
			}
			// TLS 1.3 tickets arrive after the handshake: read to receive them.
			conn.Write([]byte("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
			io.ReadAll(conn)
			if got := conn.ConnectionState().DidResume; got != want {
				t.Errorf("%s connection %d: resumed=%v, want %v", tls.VersionName(version), i+1, got, want)
			}
			conn.Close()
		}
	}
}

// resumes dials addr with cache and reports whether the session resumed.
func resumes(t *testing.T, addr string, roots *x509.CertPool, version uint16, cache tls.ClientSessionCache) bool {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "localhost",
		MinVersion: version, MaxVersion: version, ClientSessionCache: cache})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// TLS 1.3 tickets arrive after the handshake: read to receive them.
	conn.Write([]byte("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
	io.ReadAll(conn)
	return conn.ConnectionState().DidResume
}

// TestTicketsAcrossProcesses: two servers with the same ticket seed (two
// workers of one master) accept each other's session tickets; a server
// with another seed does not.
func TestTicketsAcrossProcesses(t *testing.T) {
	pki := newPKI(t)
	certFile, keyFile := pki.leaf3(t, "ecdsa")
	certs := load(t, certFile, keyFile)
	stop := make(chan struct{})
	defer close(stop)
	serverWith := func(seed []byte) string {
		cfg := NewTLSConfig(certs.GetCertificate)
		shareTicketKeys(cfg, seed, stop)
		return serveTLS(t, cfg, false)
	}
	seed := NewTicketSeed()
	a, b, other := serverWith(seed), serverWith(seed), serverWith(NewTicketSeed())
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cache := tls.NewLRUClientSessionCache(4)
		resumes(t, a, pki.rootPool, version, cache)
		if !resumes(t, b, pki.rootPool, version, cache) {
			t.Errorf("%s: a session from one worker does not resume on the other", tls.VersionName(version))
		}
		if resumes(t, other, pki.rootPool, version, cache) {
			t.Errorf("%s: a session resumed on a server with another seed", tls.VersionName(version))
		}
	}
}

// TestTicketKeysAreNotTheSessionSecret: the ticket keys no longer come
// from the session secret. Two processes prepared from one configuration
// (one session.secret, one data directory) but not by one master do not
// resume each other's sessions: whoever holds session.key cannot decrypt
// a recorded resumed session.
func TestTicketKeysAreNotTheSessionSecret(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.TLS.Mode = "self-signed"
	cfg.Session.Secret = "one session secret, 32 characters or more"
	roots := x509.NewCertPool()
	var addrs []string
	for range 2 {
		setup, err := PrepareTLS(cfg, NewTicketSeed(), nil, quiet)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(setup.Close)
		addrs = append(addrs, serveTLS(t, setup.Config, false))
	}
	caPEM, _ := os.ReadFile(filepath.Join(cfg.DataDir, "tls", CAFile))
	roots.AppendCertsFromPEM(caPEM)
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cache := tls.NewLRUClientSessionCache(4)
		resumes(t, addrs[0], roots, version, cache)
		if !resumes(t, addrs[0], roots, version, cache) {
			t.Fatalf("%s: no resumption on the same server", tls.VersionName(version))
		}
		if resumes(t, addrs[1], roots, version, cache) {
			t.Errorf("%s: a session resumed on another process with only the session secret in common", tls.VersionName(version))
		}
	}
	// The keys are the seed's and the hour's alone.
	seed := NewTicketSeed()
	if ticketKey(seed, 1) == ticketKey(NewTicketSeed(), 1) || ticketKey(seed, 1) == ticketKey(seed, 2) {
		t.Error("ticket keys do not depend on the seed and the hour")
	}
}

// TestTicketKeyRotation: keys move on every hour; a ticket from the
// previous hour still resumes, one two hours old does not.
func TestTicketKeyRotation(t *testing.T) {
	pki := newPKI(t)
	certFile, keyFile := pki.leaf3(t, "ecdsa")
	certs := load(t, certFile, keyFile)
	seed := NewTicketSeed()
	now := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	cfg := NewTLSConfig(certs.GetCertificate)
	keys := shareTicketKeys(cfg, seed, stop)
	addr := serveTLS(t, cfg, false) // http.Server serves a clone of cfg: rotations must reach it
	cache := tls.NewLRUClientSessionCache(4)
	dial := func() bool { return resumes(t, addr, pki.rootPool, tls.VersionTLS12, cache) }
	dial() // gets a ticket made with this hour's key
	setTicketKeys(keys, seed, now.Add(time.Hour))
	if !dial() {
		t.Fatal("a ticket from the previous hour does not resume")
	}
	// That resumption renewed the ticket (the next hour's key); two hours later it is refused.
	setTicketKeys(keys, seed, now.Add(3*time.Hour))
	if dial() {
		t.Fatal("a ticket two hours old resumed after the keys rotated")
	}
}

// TestDevCAConstraints: the development CA, which people are told to
// trust system-wide, lives a year, its certificates 90 days, and its name
// constraints (critical) let it vouch only for its names (localhost, the
// loopback addresses, tls.domains): a certificate it signs for another
// site does not verify. When tls.domains grows past them, a new CA is made.
func TestDevCAConstraints(t *testing.T) {
	dir := t.TempDir()
	cert, err := DevCertificate(dir, []string{"dev.example.test", "192.0.2.10"})
	if err != nil {
		t.Fatal(err)
	}
	ca, caPriv, err := loadCA(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if life := ca.NotAfter.Sub(ca.NotBefore); life > 366*24*time.Hour {
		t.Errorf("the CA lives %v, want at most a year", life)
	}
	if life := cert.Leaf.NotAfter.Sub(cert.Leaf.NotBefore); life > 91*24*time.Hour {
		t.Errorf("the certificate lives %v, want at most 90 days", life)
	}
	if !ca.PermittedDNSDomainsCritical {
		t.Error("the CA's name constraints are not critical")
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	// A certificate the CA's key signs for name: does it verify?
	sign := func(t *testing.T, name string) *x509.Certificate {
		priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: serial(), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		if ip := net.ParseIP(name); ip != nil {
			tmpl.IPAddresses = []net.IP{ip}
		} else {
			tmpl.DNSNames = []string{name}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &priv.PublicKey, caPriv)
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(der)
		return leaf
	}
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"localhost", true},
		{"127.0.0.1", true},
		{"127.0.0.2", true},
		{"::1", true},
		{"dev.example.test", true},
		{"api.dev.example.test", true},
		{"192.0.2.10", true},
		{"www.example.com", false},
		{"accounts.google.com", false},
		{"example.test", false},
		{"192.0.2.11", false},
		{"2001:db8::1", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sign(t, tt.name).Verify(x509.VerifyOptions{Roots: roots, DNSName: tt.name})
			if (err == nil) != tt.ok {
				t.Fatalf("a certificate for %s signed by the CA: %v, want ok %v", tt.name, err, tt.ok)
			}
		})
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "dev.example.test"}); err != nil {
		t.Fatalf("the server certificate: %v", err)
	}

	// Another domain: a new CA that covers it, and a certificate that
	// verifies against it.
	more, err := DevCertificate(dir, []string{"dev.example.test", "192.0.2.10", "other.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	newCA, _, err := loadCA(dir, []string{"other.example.test"})
	if err != nil {
		t.Fatalf("the CA was not remade for the new domain: %v", err)
	}
	if newCA.SerialNumber.Cmp(ca.SerialNumber) == 0 {
		t.Fatal("the same CA for a domain outside its constraints")
	}
	roots = x509.NewCertPool()
	roots.AddCert(newCA)
	if _, err := more.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "other.example.test"}); err != nil {
		t.Fatalf("the new certificate: %v", err)
	}
	// The same names again: nothing is remade.
	again, _ := DevCertificate(dir, []string{"other.example.test", "dev.example.test", "192.0.2.10"})
	if again.Leaf.SerialNumber.Cmp(more.Leaf.SerialNumber) != 0 {
		t.Error("a start with the same names made a new certificate")
	}
}
