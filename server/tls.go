package server

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// CipherSuites are the TLS 1.2 suites of Mozilla's "intermediate" profile
// (server side TLS guidelines 6.0): ECDHE key exchange with an AEAD cipher,
// nothing else. Go's default list still accepts CBC suites, so the list is
// set explicitly. TLS 1.3 suites are not configurable in Go, and all of
// them are AEAD.
var CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// NewTLSConfig returns the server TLS settings: TLS 1.2 and 1.3 only, the
// intermediate suites, post-quantum hybrid key exchange first, and session
// resumption (tickets, on by default). getCertificate chooses the
// certificate for each handshake.
func NewTLSConfig(getCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS12,
		CipherSuites:     CipherSuites,
		CurvePreferences: []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384},
		GetCertificate:   getCertificate,
	}
}

// StaticCerts serves a certificate read from files, and reads them again
// when asked (SIGHUP) or when they change, without a restart: handshakes
// already under way keep the certificate they started with, new ones get
// the new one, so no connection is dropped.
type StaticCerts struct {
	certFile, keyFile string
	caFiles           []string
	log               *slog.Logger

	mu    sync.RWMutex
	cert  *tls.Certificate
	files []os.FileInfo // the files as they were when last read
}

// LoadStaticCerts reads the certificate. Its errors are one line each: a
// missing file, a key that does not match, a certificate that expired.
func LoadStaticCerts(certFile, keyFile string, caFiles []string, log *slog.Logger) (*StaticCerts, error) {
	s := &StaticCerts{certFile: certFile, keyFile: keyFile, caFiles: caFiles, log: log}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// GetCertificate is for tls.Config.
func (s *StaticCerts) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cert, nil
}

// Reload reads the files again. On error the certificate in use stays.
func (s *StaticCerts) Reload() error {
	files, err := s.stat()
	if err != nil {
		return err
	}
	// Files that fail to load are not tried again until they change: a
	// half-done deploy is reported once, not on every check.
	s.mu.Lock()
	s.files = files
	s.mu.Unlock()
	cert, err := readCertificate(s.certFile, s.keyFile, s.caFiles)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.cert = cert
	s.mu.Unlock()
	return nil
}

// stat describes the files as they are on disk now.
func (s *StaticCerts) stat() ([]os.FileInfo, error) {
	var files []os.FileInfo
	for _, f := range append([]string{s.certFile, s.keyFile}, s.caFiles...) {
		fi, err := os.Stat(f)
		if err != nil {
			return nil, fileProblem(f, err)
		}
		files = append(files, fi)
	}
	return files, nil
}

// changed reports whether any file differs between two stats: another
// file in its place (deploy tools rename a new file over the old one), or
// another size or modification time. The file identity matters: two
// writes within the file system's timestamp granularity (a few
// milliseconds) can leave the same modification time.
func changed(before, now []os.FileInfo) bool {
	for i := range now {
		if i >= len(before) || !os.SameFile(before[i], now[i]) ||
			!before[i].ModTime().Equal(now[i].ModTime()) || before[i].Size() != now[i].Size() {
			return true
		}
	}
	return false
}

// Watch reloads the certificate when the files change, checking every
// interval until stop is closed. A failed reload is logged, and the old
// certificate stays in use.
func (s *StaticCerts) Watch(interval time.Duration, stop <-chan struct{}) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		files, err := s.stat()
		s.mu.RLock()
		differ := err == nil && changed(s.files, files)
		s.mu.RUnlock()
		if differ {
			_ = s.reloadAndLog("the certificate files changed") // logged
		}
	}
}

// reloadAndLog reloads and says what happened.
func (s *StaticCerts) reloadAndLog(why string) error {
	if err := s.Reload(); err != nil {
		s.log.Error("certificate not reloaded; the old one stays in use", "reason", why, "error", err)
		return err
	}
	s.mu.RLock()
	leaf := s.cert.Leaf
	s.mu.RUnlock()
	s.log.Info("certificate reloaded", "reason", why, "names", strings.Join(certNames(leaf), ","), "expires", leaf.NotAfter.Format(time.RFC3339))
	return nil
}

// readCertificate reads a key pair and its intermediates and checks them.
func readCertificate(certFile, keyFile string, caFiles []string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fileProblem(certFile, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fileProblem(keyFile, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		if strings.Contains(err.Error(), "does not match") {
			return nil, fmt.Errorf("tls.key_file %s does not match the certificate in tls.cert_file %s", keyFile, certFile)
		}
		return nil, fmt.Errorf("tls.cert_file %s / tls.key_file %s: %v", certFile, keyFile, err)
	}
	// Intermediates go after the leaf, in the order given, as the seed's
	// https server does with its ca array.
	for _, f := range caFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fileProblem(f, err)
		}
		ders := pemCertificates(data)
		if len(ders) == 0 {
			return nil, fmt.Errorf("tls.ca_files: %s holds no PEM certificate", f)
		}
		cert.Certificate = append(cert.Certificate, ders...)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, err
		}
	}
	if now := time.Now(); now.After(cert.Leaf.NotAfter) {
		return nil, fmt.Errorf("the certificate in tls.cert_file %s expired on %s (names: %s)", certFile,
			cert.Leaf.NotAfter.Format("2006-01-02"), strings.Join(certNames(cert.Leaf), ", "))
	}
	return &cert, nil
}

// fileProblem words a file error as one line naming the file.
func fileProblem(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: no such file", path)
	}
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%s: permission denied", path)
	}
	return err
}

// certNames lists a certificate's DNS names and IP addresses.
func certNames(c *x509.Certificate) []string {
	names := append([]string{}, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}

// TicketSeedSize is the length of a TLS ticket seed, in bytes.
const TicketSeedSize = 32

// NewTicketSeed returns a random ticket seed.
func NewTicketSeed() []byte {
	seed := make([]byte, TicketSeedSize)
	_, _ = rand.Read(seed) // never fails
	return seed
}

// ticketKeyPeriod is how long a ticket key issues tickets; the one before
// is still accepted, so a ticket resumes for one to two periods.
const ticketKeyPeriod = time.Hour

// shareTicketKeys makes every process with the same seed (the workers of
// one cluster master) encrypt TLS session tickets with the same keys, so a
// client resumes its session whichever worker it reaches. The seed is
// random, made by the master at start, handed to its workers on a pipe,
// kept in memory only and gone when the master ends: it is not the
// session secret, so whoever holds that (or the database) cannot decrypt
// a recorded resumed session. Instances behind a balancer have seeds of
// their own, and a client moving between them makes a full handshake.
// The keys are derived per hour and rotated: tickets are issued with this
// hour's key and accepted with the previous hour's too, so a key taken
// from a process's memory reveals at most two hours of resumed sessions.
// The keys live in a config of their own that cfg's ticket hooks call:
// http.Server clones cfg when it starts serving, and a rotation must
// reach the clone too. It refreshes the keys every minute (a new hour is
// taken up within a minute) until stop is closed, and returns the config
// that holds them.
func shareTicketKeys(cfg *tls.Config, seed []byte, stop <-chan struct{}) *tls.Config {
	keys := &tls.Config{}
	setTicketKeys(keys, seed, time.Now())
	cfg.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		return keys.EncryptTicket(cs, ss)
	}
	cfg.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		return keys.DecryptTicket(identity, cs)
	}
	go func() {
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		period := time.Now().Unix() / int64(ticketKeyPeriod.Seconds())
		for {
			select {
			case <-stop:
				return
			case now := <-tick.C:
				if p := now.Unix() / int64(ticketKeyPeriod.Seconds()); p != period {
					period = p
					setTicketKeys(keys, seed, now)
				}
			}
		}
	}()
	return keys
}

// setTicketKeys sets the keys of now's hour (to issue tickets) and of the
// hour before (still accepted).
func setTicketKeys(keys *tls.Config, seed []byte, now time.Time) {
	period := now.Unix() / int64(ticketKeyPeriod.Seconds())
	keys.SetSessionTicketKeys([][32]byte{ticketKey(seed, period), ticketKey(seed, period-1)})
}

func ticketKey(seed []byte, period int64) [32]byte {
	var key [32]byte
	k, _ := hkdf.Key(sha256.New, seed, nil, fmt.Sprintf("userhub tls session ticket key, hour %d", period), 32)
	copy(key[:], k) // hkdf.Key fails only for a length over 255*32
	return key
}

// CertificateReport is what `userhub doctor` says of static certificate
// files: they load (key matches, not expired), and what they cover.
type CertificateReport struct {
	Names    []string
	NotAfter time.Time
	Chain    int   // certificates sent: the leaf and intermediates
	Verified error // nil when the chain verifies against the system's roots
}

// CheckCertificate loads certificate files as tls.mode static does, and
// reports on them.
func CheckCertificate(certFile, keyFile string, caFiles []string) (CertificateReport, error) {
	cert, err := readCertificate(certFile, keyFile, caFiles)
	if err != nil {
		return CertificateReport{}, err
	}
	r := CertificateReport{Names: certNames(cert.Leaf), NotAfter: cert.Leaf.NotAfter, Chain: len(cert.Certificate)}
	intermediates := x509.NewCertPool()
	for _, der := range cert.Certificate[1:] {
		if c, err := x509.ParseCertificate(der); err == nil {
			intermediates.AddCert(c)
		}
	}
	_, r.Verified = cert.Leaf.Verify(x509.VerifyOptions{Intermediates: intermediates})
	return r, nil
}
