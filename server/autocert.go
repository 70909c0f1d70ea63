package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"userhub/config"
)

// CertStore is where autocert's state lives, shared by every process
// serving the same names (instances on one database, a cluster's
// workers): its cache (the account key, the certificates, the challenge
// responses of an order under way) and the lock they take turns ordering
// under. store.CertCache is one.
type CertStore interface {
	autocert.Cache
	// LockOrders waits until ctx ends to be the one holder, among every
	// process sharing the store, and returns the function that lets go.
	LockOrders(ctx context.Context) (unlock func(), err error)
}

// maxOrderWait bounds a handshake's wait for another process's order, as
// autocert bounds an order itself.
const maxOrderWait = 5 * time.Minute

// newAutocert returns the ACME client for tls.mode autocert, keeping its
// state in certs, and the GetCertificate that makes processes take turns
// ordering. Only the names in tls.domains get certificates: for any other
// name, no ACME request is made at all. With certs nil (the cluster
// master, which serves no handshake) it only checks the settings: its
// GetCertificate refuses every handshake, so it never orders.
func newAutocert(cfg config.Config, certs CertStore, log *slog.Logger) (*autocert.Manager, func(*tls.ClientHelloInfo) (*tls.Certificate, error), error) {
	client := &acme.Client{DirectoryURL: cfg.TLS.ACMEDirectory}
	if cfg.TLS.ACMECAFile != "" {
		pemData, err := os.ReadFile(cfg.TLS.ACMECAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("tls.acme_ca_file: %w", fileProblem(cfg.TLS.ACMECAFile, err))
		}
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pemData) {
			return nil, nil, fmt.Errorf("tls.acme_ca_file: %s holds no PEM certificate", cfg.TLS.ACMECAFile)
		}
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.TLSClientConfig = &tls.Config{RootCAs: roots}
		client.HTTPClient = &http.Client{Transport: transport, Timeout: 30 * time.Second}
	}
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		HostPolicy: autocert.HostWhitelist(cfg.TLS.Domains...),
		Email:      cfg.TLS.Email,
		Client:     client,
	}
	if certs == nil {
		return m, func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return nil, errors.New("autocert: this process checks the settings only, and serves no certificate")
		}, nil
	}
	m.Cache = &dirImport{CertStore: certs, dir: autocert.DirCache(dirCachePath(cfg)), log: log}
	o := &inTurn{m: m, lock: certs.LockOrders, turn: make(chan struct{}, 1)}
	return m, o.GetCertificate, nil
}

// dirCachePath is where versions before the database cache kept
// autocert's files.
func dirCachePath(cfg config.Config) string { return filepath.Join(cfg.DataDir, "autocert") }

// dirImport is the store, filled on a miss from the directory cache of
// an earlier version (<data_dir>/autocert): an upgrade keeps its ACME
// account and its certificates instead of ordering again. The challenge
// responses of an order under way are not imported: an old one would be
// for another order. The directory is only read.
type dirImport struct {
	CertStore
	dir autocert.DirCache
	log *slog.Logger
}

// Get implements autocert.Cache.
func (c *dirImport) Get(ctx context.Context, key string) ([]byte, error) {
	data, err := c.CertStore.Get(ctx, key)
	if err != autocert.ErrCacheMiss || strings.HasSuffix(key, "+token") || strings.HasSuffix(key, "+http-01") {
		return data, err
	}
	data, err = c.dir.Get(ctx, key)
	if err != nil {
		if err != autocert.ErrCacheMiss {
			c.log.Warn("cannot read the autocert directory of an earlier version", "key", key, "error", err)
		}
		return nil, autocert.ErrCacheMiss
	}
	if err := c.CertStore.Put(ctx, key, data); err != nil {
		return nil, err
	}
	c.log.Info("autocert: imported into the database from the directory of an earlier version", "key", key, "dir", string(c.dir))
	return data, nil
}

// inTurn makes the processes sharing a CertStore take turns ordering
// certificates, so that one orders and the others serve what it stored.
// autocert orders when a handshake asks for a name it has no valid
// certificate for, in memory or in the cache. So a handshake whose
// certificate is neither in autocert's memory (known) nor in the cache
// takes the lock first; autocert then looks in the cache again, and a
// process that waited finds the certificate the holder stored.
//
// TLS-ALPN-01 challenge handshakes never wait: the order under way may be
// the lock holder's, whose validation is waiting for this answer.
// Renewals (autocert's own timers in each process holding the
// certificate: a third of its lifetime, at most 30 days, before expiry,
// with up to an hour of random delay) do not take the lock: each looks in
// the cache first and adopts a certificate renewed meanwhile, so a second
// renewal only happens when two timers fire within the seconds an order
// takes, and it costs one more certificate.
type inTurn struct {
	m    *autocert.Manager
	lock func(context.Context) (func(), error)
	// turn: this process's handshakes wait here for the shared lock, one
	// at a time, instead of each on a connection of its own.
	turn  chan struct{}
	known sync.Map // cache keys of the certificates autocert holds in memory
}

// GetCertificate is for tls.Config.
func (o *inTurn) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	ctx, cancel := context.WithTimeout(hello.Context(), maxOrderWait)
	defer cancel()
	name, key := certCacheKey(hello)
	if key == "" || o.holds(key) || o.m.HostPolicy(ctx, name) != nil || o.cached(ctx, key) {
		// A challenge, a certificate autocert holds or will load from the
		// cache, or a name it refuses: nothing to order.
		return o.get(hello, key)
	}
	select {
	case o.turn <- struct{}{}:
		defer func() { <-o.turn }()
	case <-ctx.Done():
		return nil, fmt.Errorf("autocert: waiting for a certificate order under way: %w", ctx.Err())
	}
	if !o.holds(key) { // else another handshake of this process got it meanwhile
		unlock, err := o.lock(ctx)
		if err != nil {
			return nil, fmt.Errorf("autocert: waiting for another process's certificate order: %w", err)
		}
		defer unlock()
	}
	return o.get(hello, key)
}

func (o *inTurn) get(hello *tls.ClientHelloInfo, key string) (*tls.Certificate, error) {
	cert, err := o.m.GetCertificate(hello)
	if err == nil && key != "" {
		o.known.Store(key, true)
	}
	return cert, err
}

// holds reports whether autocert holds key's certificate in memory: it
// then never orders it again from a handshake (renewal is its timers'
// business).
func (o *inTurn) holds(key string) bool {
	_, ok := o.known.Load(key)
	return ok
}

// cached reports whether the cache holds a certificate for key that has
// not expired: autocert then loads it, and orders nothing.
func (o *inTurn) cached(ctx context.Context, key string) bool {
	data, err := o.m.Cache.Get(ctx, key)
	if err != nil {
		return false
	}
	ders := pemCertificates(data)
	if len(ders) == 0 {
		return false
	}
	leaf, err := x509.ParseCertificate(ders[0])
	return err == nil && time.Now().Before(leaf.NotAfter)
}

// certCacheKey returns the name a handshake asks for and the key autocert
// keeps its certificate under: the name, with "+rsa" for a client that
// cannot take ECDSA (autocert's rule, in its supportsECDSA). The key is ""
// for a TLS-ALPN-01 challenge handshake, which autocert answers from the
// cache and never orders for, and for a handshake without a name.
func certCacheKey(hello *tls.ClientHelloInfo) (name, key string) {
	if hello.ServerName == "" || slices.Equal(hello.SupportedProtos, []string{acme.ALPNProto}) {
		return "", ""
	}
	name = strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if !takesECDSA(hello) {
		return name, name + "+rsa"
	}
	return name, name
}

// takesECDSA is autocert's supportsECDSA: whether a client can be served
// its ECDSA certificate.
func takesECDSA(hello *tls.ClientHelloInfo) bool {
	const ecdsaWithSHA1 tls.SignatureScheme = 0x0203
	if hello.SignatureSchemes != nil && !slices.ContainsFunc(hello.SignatureSchemes, func(s tls.SignatureScheme) bool {
		return s == ecdsaWithSHA1 || s == tls.ECDSAWithP256AndSHA256 || s == tls.ECDSAWithP384AndSHA384 || s == tls.ECDSAWithP521AndSHA512
	}) {
		return false
	}
	if hello.SupportedCurves != nil && !slices.Contains(hello.SupportedCurves, tls.CurveP256) {
		return false
	}
	return slices.ContainsFunc(hello.CipherSuites, func(s uint16) bool {
		switch s {
		case tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305:
			return true
		}
		return false
	})
}
