package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// getAs fetches path from the HTTPS listener at addr under the host name
// host (SNI and Host), trusting roots.
func getAs(t *testing.T, addr, host, path string, roots *x509.CertPool) (*http.Response, error) {
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
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
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
			p := start(t, "USERHUB_SERVER_ADDR="+httpAddr, "USERHUB_TLS_ADDR="+tlsAddr, "USERHUB_TLS_MODE=autocert",
				"USERHUB_TLS_DOMAINS=app.example.test", "USERHUB_TLS_EMAIL=ops@example.test",
				"USERHUB_TLS_ACME_DIRECTORY="+acme.directory, "USERHUB_TLS_ACME_CA_FILE="+acme.caFile)
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
			// The certificate and account are kept, for restarts and other workers.
			if entries, _ := os.ReadDir(filepath.Join(p.dataDir, "autocert")); len(entries) < 2 {
				t.Errorf("autocert cache holds %d files", len(entries))
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
