package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"userhub/config"
)

// Autocert's turns, without an ACME server: the directory URL leads
// nowhere, so a handshake that tried to order would fail. What a handshake
// gets shows what autocert did: a certificate from the cache, or nothing.
// e2e/autocert_test.go orders for real, from Pebble.

// memCertStore is a CertStore in memory. Its lock is held by "another
// process" until release is closed (never, when nil); lockCalls counts
// who asked for it.
type memCertStore struct {
	mu        sync.Mutex
	data      map[string][]byte
	gets      atomic.Int32
	lockCalls atomic.Int32
	waiting   chan context.Context // each LockOrders call's context, when not nil
	release   chan struct{}
}

func newMemCertStore() *memCertStore {
	return &memCertStore{data: map[string][]byte{}}
}

func (s *memCertStore) Get(_ context.Context, key string) ([]byte, error) {
	s.gets.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.data[key]; ok {
		return d, nil
	}
	return nil, autocert.ErrCacheMiss
}

func (s *memCertStore) Put(_ context.Context, key string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[key] = bytes.Clone(data)
	return nil
}

func (s *memCertStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.data, key)
	return nil
}

func (s *memCertStore) LockOrders(ctx context.Context) (func(), error) {
	s.lockCalls.Add(1)
	if s.waiting != nil {
		s.waiting <- ctx
	}
	select {
	case <-s.release:
		return func() {}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *memCertStore) has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.data[key]
	return ok
}

// autocertTLS is the TLS of a process in tls.mode autocert for
// app.example.test, its data in dataDir, its ACME server unreachable.
func autocertTLS(t *testing.T, certs CertStore, dataDir string) *tls.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = dataDir
	cfg.TLS.Mode = "autocert"
	cfg.TLS.Domains = []string{"app.example.test"}
	cfg.TLS.ACMEDirectory = "https://127.0.0.1:1/directory"
	tlsSetup, err := PrepareTLS(cfg, []byte("secret"), certs, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tlsSetup.Close)
	return tlsSetup.Config
}

// handshake connects to a server with cfg under the name, offering protos,
// the server's side bounded by serverCtx (and half a minute: a handshake
// that waits for a lock nobody releases fails the test, not the run), and
// returns the certificate served.
func handshake(serverCtx context.Context, cfg *tls.Config, name string, protos ...string) (*x509.Certificate, error) {
	serverCtx, cancel := context.WithTimeout(serverCtx, 30*time.Second)
	defer cancel()
	c, s := net.Pipe()
	defer c.Close()
	go func() {
		tls.Server(s, cfg).HandshakeContext(serverCtx)
		s.Close()
	}()
	client := tls.Client(c, &tls.Config{ServerName: name, InsecureSkipVerify: true, NextProtos: protos})
	if err := client.HandshakeContext(context.Background()); err != nil {
		return nil, err
	}
	return client.ConnectionState().PeerCertificates[0], nil
}

// cachedCert is a certificate for name as autocert keeps it: its key,
// then the chain, in PEM. The certificate carries extra extensions when
// given (a TLS-ALPN-01 challenge certificate's).
func cachedCert(t *testing.T, name string) (data []byte, cert *x509.Certificate) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert = sign(t, &x509.Certificate{Subject: pkix.Name{CommonName: name}, DNSNames: []string{name}}, nil, key.Public(), key, time.Now().Add(24*time.Hour))
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	data = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	return append(data, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})...), cert
}

// challengeCert is a TLS-ALPN-01 challenge certificate for name, as
// autocert keeps it while its order waits for validation.
func challengeCert(t *testing.T, name string) (data []byte, serial []byte) {
	t.Helper()
	accountKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert, err := (&acme.Client{Key: accountKey}).TLSALPN01ChallengeCert("token", name)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	data = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	data = append(data, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})...)
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	return data, leaf.SerialNumber.Bytes()
}

// TestAutocertServesTheCachedCertificate: a certificate another process
// stored is served, without the order lock.
func TestAutocertServesTheCachedCertificate(t *testing.T) {
	certs := newMemCertStore() // its lock is never released
	data, want := cachedCert(t, "app.example.test")
	certs.Put(context.Background(), "app.example.test", data)
	cfg := autocertTLS(t, certs, t.TempDir())
	for range 3 {
		got, err := handshake(context.Background(), cfg, "app.example.test")
		if err != nil || !got.Equal(want) {
			t.Fatalf("served %v, %v; want the cached certificate", got, err)
		}
	}
	if n := certs.lockCalls.Load(); n != 0 {
		t.Errorf("the order lock was asked for %d times", n)
	}
	if n := certs.gets.Load(); n > 2 {
		t.Errorf("three handshakes read the cache %d times: the certificate is kept in memory after the first", n)
	}
}

// TestAutocertWaitsForAnotherProcessOrder: a handshake for a name the
// cache lacks waits for the lock; the holder stores the certificate and
// lets go; the waiter serves it and orders nothing (it could not: the
// ACME server is unreachable).
func TestAutocertWaitsForAnotherProcessOrder(t *testing.T) {
	certs := newMemCertStore()
	certs.waiting = make(chan context.Context, 4)
	certs.release = make(chan struct{})
	cfg := autocertTLS(t, certs, t.TempDir())
	type result struct {
		cert *x509.Certificate
		err  error
	}
	done := make(chan result, 1)
	go func() {
		cert, err := handshake(context.Background(), cfg, "app.example.test")
		done <- result{cert, err}
	}()
	select {
	case <-certs.waiting:
	case r := <-done:
		t.Fatalf("the handshake did not wait for the lock: %v, %v", r.cert, r.err)
	}
	data, want := cachedCert(t, "app.example.test") // the holder's order
	certs.Put(context.Background(), "app.example.test", data)
	close(certs.release)
	r := <-done
	if r.err != nil || !r.cert.Equal(want) {
		t.Fatalf("served %v, %v; want the certificate the holder stored", r.cert, r.err)
	}
}

// TestAutocertWaitEndsWithTheHandshake: a wait for the lock ends when the
// handshake's context does.
func TestAutocertWaitEndsWithTheHandshake(t *testing.T) {
	certs := newMemCertStore()
	certs.waiting = make(chan context.Context, 4)
	cfg := autocertTLS(t, certs, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := handshake(ctx, cfg, "app.example.test")
		done <- err
	}()
	lockCtx := <-certs.waiting
	cancel()
	select {
	case <-lockCtx.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the wait for the lock outlived the handshake's context by 30 s")
	}
	if err := <-done; err == nil {
		t.Fatal("a handshake that gave up waiting got a certificate")
	}
}

// TestAutocertChallengesNeverWait: while the lock is held (by the process
// whose order waits for this validation), a TLS-ALPN-01 challenge
// handshake is answered from the cache at once.
func TestAutocertChallengesNeverWait(t *testing.T) {
	certs := newMemCertStore() // its lock is never released
	data, serial := challengeCert(t, "app.example.test")
	certs.Put(context.Background(), "app.example.test+token", data)
	cfg := autocertTLS(t, certs, t.TempDir())
	got, err := handshake(context.Background(), cfg, "app.example.test", acme.ALPNProto)
	if err != nil || !bytes.Equal(got.SerialNumber.Bytes(), serial) {
		t.Fatalf("challenge handshake: %v, %v; want the challenge certificate", got, err)
	}
	if n := certs.lockCalls.Load(); n != 0 {
		t.Errorf("a challenge handshake asked for the order lock (%d times)", n)
	}
}

// TestAutocertOtherNamesTouchNothing: a name outside tls.domains gets no
// certificate, without a look in the cache or the lock.
func TestAutocertOtherNamesTouchNothing(t *testing.T) {
	certs := newMemCertStore()
	cfg := autocertTLS(t, certs, t.TempDir())
	if _, err := handshake(context.Background(), cfg, "other.example.test"); err == nil {
		t.Fatal("a name outside tls.domains got a certificate")
	}
	if g, l := certs.gets.Load(), certs.lockCalls.Load(); g != 0 || l != 0 {
		t.Errorf("%d cache reads, %d lock calls for a name outside tls.domains", g, l)
	}
}

// TestAutocertChecksOnly: without a CertStore (the cluster master), the
// settings are checked and no handshake gets a certificate.
func TestAutocertChecksOnly(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.TLS.Mode = "autocert"
	cfg.TLS.Domains = []string{"app.example.test"}
	cfg.TLS.ACMECAFile = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := PrepareTLS(cfg, []byte("secret"), nil, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a missing tls.acme_ca_file passed the check")
	}
	cfg.TLS.ACMECAFile = ""
	tlsSetup, err := PrepareTLS(cfg, []byte("secret"), nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer tlsSetup.Close()
	if _, err := handshake(context.Background(), tlsSetup.Config, "app.example.test"); err == nil {
		t.Fatal("a process without a certificate store served a certificate")
	}
}

// TestAutocertImportsTheDirectoryCache: what an earlier version kept in
// <data_dir>/autocert is moved into the store on a miss, so an upgrade
// neither orders again nor changes ACME account; an old challenge
// response is not.
func TestAutocertImportsTheDirectoryCache(t *testing.T) {
	dataDir := t.TempDir()
	dir := filepath.Join(dataDir, "autocert")
	os.Mkdir(dir, 0o700)
	data, want := cachedCert(t, "app.example.test")
	files := map[string][]byte{
		"app.example.test":       data,
		"acme_account+key":       []byte("-----BEGIN EC PRIVATE KEY-----\n...\n"),
		"app.example.test+token": []byte("an old challenge"),
		"tok+http-01":            []byte("an old response"),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	certs := newMemCertStore()
	cfg := autocertTLS(t, certs, dataDir)
	got, err := handshake(context.Background(), cfg, "app.example.test")
	if err != nil || !got.Equal(want) {
		t.Fatalf("served %v, %v; want the certificate from the directory", got, err)
	}
	if n := certs.lockCalls.Load(); n != 0 {
		t.Errorf("the order lock was asked for %d times", n)
	}
	if !certs.has("app.example.test") {
		t.Error("the certificate was not imported into the store")
	}

	cache := &dirImport{CertStore: certs, dir: autocert.DirCache(dir), log: slog.New(slog.DiscardHandler)}
	if key, err := cache.Get(context.Background(), "acme_account+key"); err != nil || !bytes.Equal(key, files["acme_account+key"]) || !certs.has("acme_account+key") {
		t.Errorf("account key: %q, %v; imported: %v", key, err, certs.has("acme_account+key"))
	}
	for _, key := range []string{"app.example.test+token", "tok+http-01", "missing.example.test"} {
		if d, err := cache.Get(context.Background(), key); !errors.Is(err, autocert.ErrCacheMiss) || certs.has(key) {
			t.Errorf("Get(%s) = %q, %v; want a miss, nothing imported", key, d, err)
		}
	}
	// The store wins over the directory: a renewed certificate stays.
	certs.Put(context.Background(), "app.example.test", []byte("renewed"))
	if d, _ := cache.Get(context.Background(), "app.example.test"); string(d) != "renewed" {
		t.Errorf("the directory overrode the store: %.20q", d)
	}
}
