package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"userhub/server"
)

// tlsClient trusts the roots in pool; h2 says whether it may speak HTTP/2.
func tlsClient(pool *x509.CertPool, h2 bool, version uint16) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: version, MaxVersion: version},
		ForceAttemptHTTP2: h2,
	}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func caPool(t *testing.T, file string) *x509.CertPool {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("%s holds no certificate", file)
	}
	return pool
}

// TestSelfSignedHTTPS: the HTTPS issue's checks with curl's and openssl's
// eyes, against USERHUB_TLS_MODE=self-signed.
func TestSelfSignedHTTPS(t *testing.T) {
	tlsAddr := freeAddr(t)
	p := start(t, "USERHUB_TLS_MODE=self-signed", "USERHUB_TLS_ADDR="+tlsAddr)
	secure := "https://" + tlsAddr
	pool := caPool(t, filepath.Join(p.dataDir, "tls", server.CAFile))

	// HTTP/2 over TLS, and HTTP/1.1 for clients that want it.
	for _, tt := range []struct {
		h2   bool
		want string
	}{{true, "HTTP/2.0"}, {false, "HTTP/1.1"}} {
		resp, err := tlsClient(pool, tt.h2, 0).Get(secure + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Proto != tt.want {
			t.Errorf("h2=%v: %s %d, want %s 200", tt.h2, resp.Proto, resp.StatusCode, tt.want)
		}
	}
	// HTTP redirects to HTTPS with 308, keeping path and query; no HSTS there.
	resp, _ := do(t, "HEAD", p.base+"/about?x=1", "", "")
	if resp.StatusCode != 308 || resp.Header.Get("Location") != secure+"/about?x=1" || resp.Header.Get("Strict-Transport-Security") != "" {
		t.Errorf("HEAD http://.../about?x=1: %d to %q, HSTS %q", resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("Strict-Transport-Security"))
	}
	// TLS 1.1 fails, 1.2 and 1.3 succeed.
	for _, tt := range []struct {
		version uint16
		ok      bool
	}{{tls.VersionTLS11, false}, {tls.VersionTLS12, true}, {tls.VersionTLS13, true}} {
		resp, err := tlsClient(pool, true, tt.version).Get(secure + "/healthz")
		if (err == nil) != tt.ok {
			t.Errorf("%s: %v, want ok=%v", tls.VersionName(tt.version), err, tt.ok)
		}
		if err == nil {
			resp.Body.Close()
		}
	}
	// HSTS on HTTPS.
	resp, err := tlsClient(pool, true, 0).Get(secure + "/about")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h := resp.Header.Get("Strict-Transport-Security"); h != "max-age=31536000" {
		t.Errorf("HSTS over HTTPS: %q", h)
	}
	// The session cookie under TLS: __Host- prefix, Secure, Path=/, no Domain.
	form := "name=kim&password=" + strings.ReplaceAll(adminPassword, " ", "+") + "&password_confirm=" + strings.ReplaceAll(adminPassword, " ", "+")
	req, _ := http.NewRequest("POST", secure+"/setup", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = tlsClient(pool, true, 0).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sc := resp.Header.Get("Set-Cookie")
	if resp.StatusCode != 303 || !strings.HasPrefix(sc, "__Host-userhub_session=") || !strings.Contains(sc, "; Secure") ||
		!strings.Contains(sc, "Path=/") || strings.Contains(sc, "Domain=") {
		t.Errorf("setup over HTTPS: %d, Set-Cookie %q", resp.StatusCode, sc)
	}
	p.waitLog(t, "listening on https://"+tlsAddr+" (h2, http/1.1)")
}

// TestH2C: with server.h2c, the HTTP listener speaks HTTP/2 without TLS to
// a client that knows it does (prior knowledge), and HTTP/1.1 to the rest.
func TestH2C(t *testing.T) {
	p := start(t, "USERHUB_SERVER_H2C=true")
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	resp, err := (&http.Client{Transport: tr}).Get(p.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" || resp.StatusCode != 200 {
		t.Fatalf("h2c: %s %d", resp.Proto, resp.StatusCode)
	}
	if resp, _ := do(t, "GET", p.base+"/healthz", "", ""); resp.Proto != "HTTP/1.1" || resp.StatusCode != 200 {
		t.Fatalf("HTTP/1.1 beside h2c: %s %d", resp.Proto, resp.StatusCode)
	}
	p.waitLog(t, "(h2c, http/1.1)")
}

// TestBothWithoutRedirect: tls.redirect false serves the site on HTTP too.
func TestBothWithoutRedirect(t *testing.T) {
	tlsAddr := freeAddr(t)
	p := start(t, "USERHUB_TLS_MODE=self-signed", "USERHUB_TLS_ADDR="+tlsAddr, "USERHUB_TLS_REDIRECT=false")
	p.setup(t) // over plain HTTP
	resp, body := do(t, "GET", p.base+"/about", "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, "About userhub") || resp.Header.Get("Strict-Transport-Security") != "" {
		t.Fatalf("HTTP without redirect: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
}

// TestStaticCertificateReload: static certificate files replaced on disk,
// then SIGHUP: new connections get the new certificate, without a restart.
func TestStaticCertificateReload(t *testing.T) {
	dir := t.TempDir()
	// The names of the renewed certificate from the start: the CA is
	// constrained to its names, and a new name would make a new CA.
	if _, err := server.WriteDevCertificate(dir, []string{"renewed.example.test"}); err != nil {
		t.Fatal(err)
	}
	tlsAddr := freeAddr(t)
	p := start(t, "USERHUB_TLS_MODE=static", "USERHUB_TLS_ADDR="+tlsAddr,
		"USERHUB_TLS_CERT_FILE="+filepath.Join(dir, server.CertFile), "USERHUB_TLS_KEY_FILE="+filepath.Join(dir, server.KeyFile))
	pool := caPool(t, filepath.Join(dir, server.CAFile))
	serial := func() *big.Int {
		conn, err := tls.Dial("tcp", tlsAddr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber
	}
	before := serial()
	if madeCA, err := server.WriteDevCertificate(dir, []string{"renewed.example.test"}); err != nil || madeCA {
		t.Fatalf("renewing: new CA %v, %v", madeCA, err)
	}
	p.signal(syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for serial().Cmp(before) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("still serving the old certificate\n%s", p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.waitLog(t, "certificate reloaded")
	p.waitAudited(t, `"action":"server.reloaded"`, `"outcome":"done"`, `"reloaded":"certificates"`)
}

// TestCertificateErrorsAtStart: a missing file or a key that does not
// match stops start-up with one line.
func TestCertificateErrorsAtStart(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	server.WriteDevCertificate(a, nil)
	server.WriteDevCertificate(b, nil)
	for _, tt := range []struct {
		cert, key, want string
	}{
		{filepath.Join(a, "nope.pem"), filepath.Join(a, server.KeyFile), "nope.pem: no such file"},
		{filepath.Join(a, server.CertFile), filepath.Join(b, server.KeyFile), "does not match"},
	} {
		q := launch(t, "USERHUB_TLS_MODE=static", "USERHUB_TLS_ADDR="+freeAddr(t), "USERHUB_TLS_CERT_FILE="+tt.cert, "USERHUB_TLS_KEY_FILE="+tt.key)
		if code := q.wait(10 * time.Second); code == 0 {
			t.Fatal("started with a bad certificate")
		}
		out := strings.TrimSpace(q.output())
		last := out[strings.LastIndex(out, "\n")+1:]
		if !strings.HasPrefix(last, "userhub: ") || !strings.Contains(last, tt.want) {
			t.Errorf("last line %q, want one naming %q\n%s", last, tt.want, out)
		}
	}
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
