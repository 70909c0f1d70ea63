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
	"strings"
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

// Lifetimes of the development certificates. The CA is one that people
// are told to trust system-wide, so it is short-lived and name-constrained
// (it can vouch only for the names it was made for, see newCA).
const (
	caLifetime   = 365 * 24 * time.Hour
	leafLifetime = 90 * 24 * time.Hour
	leafRenewal  = 30 * 24 * time.Hour // a certificate this close to its end is made again
)

// DevCertificate returns the development certificate in dir for names
// (DefaultNames always included), issuing one, and a CA, if there is none
// yet, if it lacks a name, if it expires within 30 days, or if the CA
// beside it no longer suits (expiring, or constrained to other names).
func DevCertificate(dir string, names []string) (*tls.Certificate, error) {
	names = withDefaultNames(names)
	if cert, err := readCertificate(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile), nil); err == nil &&
		time.Until(cert.Leaf.NotAfter) > leafRenewal && covers(cert.Leaf, names) {
		if ca, _, err := loadCA(dir, names); err == nil && cert.Leaf.CheckSignatureFrom(ca) == nil {
			return cert, nil
		}
	}
	if _, err := WriteDevCertificate(dir, names); err != nil {
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
// rename), keys mode 0600. It reports whether it made a new CA (which
// whoever trusted the old one must trust anew).
func WriteDevCertificate(dir string, names []string) (newCA bool, err error) {
	names = withDefaultNames(names)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, err
	}
	ca, caPriv, err := loadCA(dir, names)
	if err != nil {
		if ca, caPriv, err = makeCA(dir, names); err != nil {
			return false, err
		}
		newCA = true
	}
	return newCA, writeLeaf(dir, names, ca, caPriv)
}

func writeLeaf(dir string, names []string, ca *x509.Certificate, caPriv *ecdsa.PrivateKey) error {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{Organization: []string{"userhub development"}, CommonName: names[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(leafLifetime),
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

// loopbacks are the address ranges every development CA may vouch for.
var loopbacks = []*net.IPNet{
	{IP: net.IPv4(127, 0, 0, 0).To4(), Mask: net.CIDRMask(8, 32)},
	{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)},
}

// makeCA makes a CA for names, valid for a year, whose name constraints
// (critical) permit only those names (a DNS name and its subdomains, an
// address) and the loopback addresses: trusted system-wide, it still
// cannot vouch for anyone else's site.
func makeCA(dir string, names []string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:                serial(),
		Subject:                     pkix.Name{Organization: []string{"userhub development"}, CommonName: "userhub development CA"},
		NotBefore:                   time.Now().Add(-time.Hour),
		NotAfter:                    time.Now().Add(caLifetime),
		KeyUsage:                    x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid:       true,
		IsCA:                        true,
		MaxPathLenZero:              true,
		PermittedDNSDomainsCritical: true,
		PermittedIPRanges:           slices.Clone(loopbacks),
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			if !permitsIP(tmpl.PermittedIPRanges, ip) {
				tmpl.PermittedIPRanges = append(tmpl.PermittedIPRanges, hostRange(ip))
			}
		} else {
			tmpl.PermittedDNSDomains = append(tmpl.PermittedDNSDomains, n)
		}
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

// hostRange is the range of ip alone.
func hostRange(ip net.IP) *net.IPNet {
	if v4 := ip.To4(); v4 != nil {
		return &net.IPNet{IP: v4, Mask: net.CIDRMask(32, 32)}
	}
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(128, 128)}
}

func permitsIP(ranges []*net.IPNet, ip net.IP) bool {
	return slices.ContainsFunc(ranges, func(r *net.IPNet) bool { return r.Contains(ip) })
}

// permits reports whether ca's name constraints allow a certificate for
// name. A CA without constraints (made by an earlier version) permits
// nothing: it is to be replaced.
func permits(ca *x509.Certificate, name string) bool {
	if !ca.PermittedDNSDomainsCritical {
		return false
	}
	if ip := net.ParseIP(name); ip != nil {
		return permitsIP(ca.PermittedIPRanges, ip)
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	return slices.ContainsFunc(ca.PermittedDNSDomains, func(d string) bool {
		d = strings.ToLower(d)
		return name == d || strings.HasSuffix(name, "."+d)
	})
}

// loadCA returns the CA in dir if it can sign a certificate for names:
// constrained to cover them, and not ending before a certificate made now
// would.
func loadCA(dir string, names []string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, CAFile), filepath.Join(dir, caKey))
	if err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, err
	}
	priv, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || !ca.IsCA || time.Until(ca.NotAfter) < leafLifetime+24*time.Hour {
		return nil, nil, errors.New("no usable CA")
	}
	for _, n := range names {
		if !permits(ca, n) {
			return nil, nil, fmt.Errorf("the CA may not vouch for %s", n)
		}
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
