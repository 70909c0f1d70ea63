package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Certificates for development: a small CA of our own and a server
// certificate it signs. self-signed mode keeps them in <data_dir>/tls and
// reuses them; `userhub cert` writes them for people who want their browser
// to trust the CA.

// DefaultNames are the names every development certificate covers.
var DefaultNames = []string{"localhost", "127.0.0.1", "::1"}

// Files of a development certificate, in its directory.
const (
	CAFile   = "ca.pem"
	caKey    = "ca-key.pem"
	CertFile = "cert.pem"
	KeyFile  = "key.pem"
)

// pemCertificates returns the DER bytes of every CERTIFICATE block in data.
func pemCertificates(data []byte) [][]byte {
	var ders [][]byte
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return ders
		}
		if block.Type == "CERTIFICATE" {
			ders = append(ders, block.Bytes)
		}
	}
}

// DevCertificate returns the development certificate in dir for names
// (DefaultNames always included), issuing one, and a CA, if there is none
// yet, if it lacks a name, or if it expires within 30 days.
func DevCertificate(dir string, names []string) (*tls.Certificate, error) {
	names = withDefaultNames(names)
	if cert, err := readCertificate(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile), nil); err == nil &&
		time.Until(cert.Leaf.NotAfter) > 30*24*time.Hour && covers(cert.Leaf, names) {
		return cert, nil
	}
	if err := WriteDevCertificate(dir, names); err != nil {
		return nil, err
	}
	return readCertificate(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile), nil)
}

func withDefaultNames(names []string) []string {
	all := slices.Clone(DefaultNames)
	for _, n := range names {
		if !slices.Contains(all, n) {
			all = append(all, n)
		}
	}
	return all
}

func covers(c *x509.Certificate, names []string) bool {
	for _, n := range names {
		if c.VerifyHostname(n) != nil {
			return false
		}
	}
	return true
}

// WriteDevCertificate writes a server certificate for names (with
// DefaultNames) into dir, signed by the CA in dir, which it creates first
// if missing or expiring. Files are written whole (temporary file, then
// rename), keys mode 0600.
func WriteDevCertificate(dir string, names []string) error {
	names = withDefaultNames(names)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ca, caPriv, err := loadCA(dir)
	if err != nil {
		if ca, caPriv, err = newCA(dir); err != nil {
			return err
		}
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{Organization: []string{"userhub development"}, CommonName: names[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(397 * 24 * time.Hour), // the longest browsers accept
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &priv.PublicKey, caPriv)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(dir, KeyFile), "PRIVATE KEY", mustPKCS8(priv), 0o600); err != nil {
		return err
	}
	return writePEM(filepath.Join(dir, CertFile), "CERTIFICATE", der, 0o644)
}

func newCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"userhub development"}, CommonName: "userhub development CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, nil, err
	}
	if err := writePEM(filepath.Join(dir, caKey), "PRIVATE KEY", mustPKCS8(priv), 0o600); err != nil {
		return nil, nil, err
	}
	if err := writePEM(filepath.Join(dir, CAFile), "CERTIFICATE", der, 0o644); err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	return ca, priv, err
}

func loadCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, CAFile), filepath.Join(dir, caKey))
	if err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, err
	}
	priv, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || !ca.IsCA || time.Until(ca.NotAfter) < 400*24*time.Hour {
		return nil, nil, errors.New("no usable CA")
	}
	return ca, priv, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func mustPKCS8(priv *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		panic(err) // an ECDSA P-256 key always marshals
	}
	return der
}

// writePEM writes one PEM block to path atomically.
func writePEM(path, typ string, der []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := pem.Encode(tmp, &pem.Block{Type: typ, Bytes: der}); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
