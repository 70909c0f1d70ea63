package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// doctor runs `userhub doctor` with env and returns its output and exit code.
func doctor(t *testing.T, env ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary, "doctor")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "USERHUB_ADMIN_ADDR="}, env...)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		exit, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		code = exit.ExitCode()
	}
	return string(out), code
}

// TestDoctor: `userhub doctor` passes beside a running server on a good
// setup, and fails (non-zero, naming the fix) on a port another program
// holds, a data directory it cannot write, and an expired certificate.
func TestDoctor(t *testing.T) {
	t.Run("good setup, server running", func(t *testing.T) {
		admin := freeAddr(t)
		p := start(t, "USERHUB_ADMIN_ADDR="+admin)
		p.setup(t)
		addr := strings.TrimPrefix(p.base, "http://")
		out, code := doctor(t, "USERHUB_DATA_DIR="+p.dataDir, "USERHUB_SERVER_ADDR="+addr, "USERHUB_ADMIN_ADDR="+admin)
		if code != 0 || !strings.Contains(out, "held by a running userhub") || !strings.Contains(out, "ok    admin.addr: "+admin+" is held by a running userhub") ||
			!strings.Contains(out, "quick_check ok") || strings.Contains(out, "fail ") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
	t.Run("port taken by another program", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		out, code := doctor(t, "USERHUB_DATA_DIR="+t.TempDir(), "USERHUB_SERVER_ADDR="+ln.Addr().String())
		if code == 0 || !strings.Contains(out, "fail  server.addr") || !strings.Contains(out, "already in use; stop the other program or choose another port") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
	t.Run("data directory not writable", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		os.Mkdir(dir, 0o700)
		if os.Getuid() == 0 {
			// root writes through file modes: a read-only mount it cannot.
			if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
				t.Skipf("cannot mount a read-only tmpfs: %v %s", err, out)
			}
			t.Cleanup(func() { exec.Command("umount", dir).Run() })
		} else {
			os.Chmod(dir, 0o500)
			t.Cleanup(func() { os.Chmod(dir, 0o700) })
		}
		out, code := doctor(t, "USERHUB_DATA_DIR="+dir, "USERHUB_SERVER_ADDR="+freeAddr(t))
		if code == 0 || !strings.Contains(out, "fail  data directory") || !strings.Contains(out, "not writable") || !strings.Contains(out, "fix: chown") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
	t.Run("certificate expired", func(t *testing.T) {
		certFile, keyFile := expiredCertificate(t)
		out, code := doctor(t, "USERHUB_DATA_DIR="+t.TempDir(), "USERHUB_SERVER_ADDR="+freeAddr(t), "USERHUB_TLS_ADDR="+freeAddr(t),
			"USERHUB_TLS_MODE=static", "USERHUB_TLS_CERT_FILE="+certFile, "USERHUB_TLS_KEY_FILE="+keyFile)
		if code == 0 || !strings.Contains(out, "fail  certificate") || !strings.Contains(out, "expired on") || !strings.Contains(out, "fix: install a valid certificate") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
}

// expiredCertificate writes a self-signed certificate for localhost that
// expired yesterday, and its key.
func expiredCertificate(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile
}

// TestDoctorBesideHTTPS: beside a running server with TLS on (whose HTTP
// listener redirects), doctor still recognises both ports as userhub's.
func TestDoctorBesideHTTPS(t *testing.T) {
	httpAddr, tlsAddr := freeAddr(t), freeAddr(t)
	p := start(t, "USERHUB_SERVER_ADDR="+httpAddr, "USERHUB_TLS_ADDR="+tlsAddr, "USERHUB_TLS_MODE=self-signed")
	out, code := doctor(t, "USERHUB_DATA_DIR="+p.dataDir, "USERHUB_SERVER_ADDR="+httpAddr, "USERHUB_TLS_ADDR="+tlsAddr, "USERHUB_TLS_MODE=self-signed")
	if code != 0 || strings.Count(out, "held by a running userhub") != 2 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// TestDoctorSingleSignOn: doctor asks the provider for its discovery
// document: ok while it answers (and says whether it offers a logout), a
// warning naming the fix while it does not (the server starts without
// it), a failure when the client secret file cannot be read.
func TestDoctorSingleSignOn(t *testing.T) {
	s := newSSO(t, true)
	env := append([]string{"USERHUB_DATA_DIR=" + t.TempDir()}, s.env...)
	out, code := doctor(t, env...)
	if code != 0 || !strings.Contains(out, "warn  oidc.issuer: "+s.issuer+" does not answer") || !strings.Contains(out, "fix: check oidc.issuer") {
		t.Fatalf("provider down: exit %d:\n%s", code, out)
	}
	s.start(t)
	out, code = doctor(t, env...)
	if code != 0 || !strings.Contains(out, "ok    oidc.issuer: "+s.issuer+" answers") || !strings.Contains(out, "with an end-session endpoint") {
		t.Fatalf("provider up: exit %d:\n%s", code, out)
	}
	out, code = doctor(t, append(env, "USERHUB_OIDC_CLIENT_SECRET_FILE=/nonexistent/oidc-secret")...)
	if code == 0 || !strings.Contains(out, "fail  oidc.client_secret_file") || !strings.Contains(out, "fix: write the client secret") {
		t.Fatalf("secret file missing: exit %d:\n%s", code, out)
	}
}
