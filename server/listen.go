package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/acme"

	"userhub/config"
	"userhub/middleware"
)

// Socket is a bound listening socket.
type Socket struct {
	Name     string // "http" or "https"
	Listener net.Listener
}

// Bind binds every socket the configuration asks for: server.addr, and
// tls.addr when TLS is on. A socket that cannot be bound is reported in one
// line of its own, and none stays bound.
func Bind(cfg config.Config) ([]Socket, error) {
	type wanted struct{ name, addr, setting string }
	want := []wanted{{"http", cfg.Server.Addr, "server.addr"}}
	if cfg.TLSOn() {
		want = append(want, wanted{"https", cfg.TLS.Addr, "tls.addr"})
	}
	var sockets []Socket
	var errs []error
	for _, w := range want {
		ln, err := Listen(w.addr, w.setting)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sockets = append(sockets, Socket{Name: w.name, Listener: ln})
	}
	if len(errs) > 0 {
		for _, s := range sockets {
			s.Listener.Close()
		}
		return nil, errors.Join(errs...)
	}
	return sockets, nil
}

// TLS is the HTTPS side of a process: the TLS settings with their source of
// certificates, and what the HTTP listener must answer for it.
type TLS struct {
	Config *tls.Config
	// WrapHTTP wraps the HTTP listener's handler: autocert answers HTTP-01
	// challenges there.
	WrapHTTP func(http.Handler) http.Handler
	// Reload reads static certificate files again (SIGHUP), and says
	// whether it could; nil otherwise.
	Reload func() error
	// Names are the host names (and IP addresses) HTTPS has a certificate
	// for, the only ones the HTTP listener redirects to; "*.example.com"
	// covers one label under example.com.
	Names func() []string
	stop  chan struct{}
}

// Close stops watching certificate files and rotating ticket keys.
func (t *TLS) Close() {
	if t != nil {
		close(t.stop)
	}
}

// PrepareTLS sets up the certificates tls.mode asks for: it returns nil
// when TLS is off, and a one-line error when a certificate cannot be used.
// ticketSeed keys the TLS session tickets (NewTicketSeed; the workers of a
// cluster get their master's), shared by every process that has it.
// certs keeps autocert's account and certificates and makes the processes
// sharing it take turns ordering (tls.mode autocert); nil only checks the
// settings, for a process that serves no handshake (the cluster master):
// its TLS then gets no certificate from ACME, and orders none.
func PrepareTLS(cfg config.Config, ticketSeed []byte, certs CertStore, log *slog.Logger) (*TLS, error) {
	t := &TLS{WrapHTTP: func(h http.Handler) http.Handler { return h }, stop: make(chan struct{})}
	switch cfg.TLS.Mode {
	case "off":
		return nil, nil
	case "static":
		certs, err := LoadStaticCerts(cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.TLS.CAFiles, log)
		if err != nil {
			return nil, err
		}
		t.Config = NewTLSConfig(certs.GetCertificate)
		t.Reload = func() error { return certs.reloadAndLog("SIGHUP") }
		t.Names = func() []string {
			c, _ := certs.GetCertificate(nil)
			return certNames(c.Leaf) // as now: the files may have been replaced
		}
		go certs.Watch(time.Second, t.stop)
		leaf := certs.cert.Leaf
		log.Info("certificate loaded", "file", cfg.TLS.CertFile, "names", strings.Join(certNames(leaf), ","),
			"expires", leaf.NotAfter.Format(time.RFC3339), "chain", len(certs.cert.Certificate))
	case "self-signed":
		dir := filepath.Join(cfg.DataDir, "tls")
		cert, err := DevCertificate(dir, cfg.TLS.Domains)
		if err != nil {
			return nil, fmt.Errorf("self-signed certificate in %s: %w", dir, err)
		}
		t.Config = NewTLSConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert, nil })
		names := certNames(cert.Leaf)
		t.Names = func() []string { return names }
		log.Info("self-signed certificate (for development; trust "+filepath.Join(dir, CAFile)+" to avoid browser warnings)",
			"names", strings.Join(certNames(cert.Leaf), ","))
	case "autocert":
		m, getCertificate, err := newAutocert(cfg, certs, log)
		if err != nil {
			return nil, err
		}
		t.Config = NewTLSConfig(getCertificate)
		// TLS-ALPN-01 challenges arrive as handshakes for this protocol.
		t.Config.NextProtos = []string{acme.ALPNProto}
		t.WrapHTTP = func(h http.Handler) http.Handler { return withoutPort(m.HTTPHandler(h)) }
		t.Names = func() []string { return cfg.TLS.Domains } // no other name gets a certificate
		log.Info("certificates from ACME", "directory", cfg.TLS.ACMEDirectory, "domains", strings.Join(cfg.TLS.Domains, ","))
	}
	shareTicketKeys(t.Config, ticketSeed, t.stop)
	return t, nil
}

// withoutPort drops the port from the Host of ACME HTTP-01 requests:
// autocert checks the host against tls.domains as it comes, and an HTTP
// listener on another port than 80 (behind a port mapping, or in tests)
// receives "name:port".
func withoutPort(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
			if host, _, err := net.SplitHostPort(r.Host); err == nil {
				r.Host = host
			}
		}
		h.ServeHTTP(w, r)
	})
}

// Listeners puts a server on each bound socket: the application over
// HTTPS, and over HTTP either a redirect to HTTPS (tls.redirect) or the
// application too. HTTP/2 is on over TLS unless server.http2 is false; h2c
// on the HTTP listener when server.h2c is true. Serve sets draining when
// the server begins to stop; the application reads it for /readyz.
func Listeners(cfg config.Config, app http.Handler, t *TLS, sockets []Socket, draining *atomic.Bool, log *slog.Logger) []Listener {
	var out []Listener
	app = closeWhenDraining(app, draining)
	for _, s := range sockets {
		srv := NewHTTPServer(cfg.Server, app, log)
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		l := Listener{Name: s.Name, Net: s.Listener, Server: srv, draining: draining}
		if s.Name == "https" {
			l.TLS = true
			srv.TLSConfig = t.Config
			srv.Protocols.SetHTTP2(cfg.Server.HTTP2)
		} else {
			srv.Protocols.SetUnencryptedHTTP2(cfg.Server.H2C)
			if t != nil {
				handler := app
				if cfg.TLS.Redirect {
					// Validated with the configuration: cannot fail here.
					proxied, _ := middleware.ProxiedHTTPS(cfg.Server.TrustedProxies)
					redirect := closeWhenDraining(RedirectToHTTPS(cfg.TLS.Addr, t.Names), draining)
					handler = unlessProxiedHTTPS(proxied, app, redirect)
				}
				srv.Handler = t.WrapHTTP(handler)
			}
		}
		out = append(out, l)
	}
	return out
}

// AdminListener puts the admin handler (metrics, the profiler) on its own
// socket (admin.addr, or in a cluster worker the socket its master made
// for it): HTTP/1.1, and no write timeout, as a CPU profile or a trace
// answers only after the seconds it was asked to run.
func AdminListener(cfg config.Server, handler http.Handler, ln net.Listener, log *slog.Logger) Listener {
	srv := NewHTTPServer(cfg, handler, log)
	srv.WriteTimeout = 0
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	return Listener{Name: "admin", Net: ln, Server: srv}
}
