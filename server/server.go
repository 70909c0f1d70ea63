// Package server runs userhub's listeners: it binds addresses (with a
// one-line error an operator can act on when a port is taken), builds
// http.Servers with the configured timeouts, serves, and shuts down
// gracefully. It knows nothing of routes; it is given a handler.
package server

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"userhub/config"
)

// ListenError is a listener that could not be bound, in words that name the
// address, the setting that chose it, and what to do.
type ListenError struct {
	Addr    string
	Setting string // e.g. "server.addr"
	Err     error
}

func (e *ListenError) Error() string {
	env := config.EnvName(e.Setting)
	_, port, _ := net.SplitHostPort(e.Addr)
	switch {
	case errors.Is(e.Err, syscall.EADDRINUSE):
		return fmt.Sprintf("cannot listen on %s: port %s is already in use; stop the other program or choose another port with %s (%s)", e.Addr, port, e.Setting, env)
	case errors.Is(e.Err, syscall.EACCES):
		return fmt.Sprintf("cannot listen on %s: permission denied for port %s (ports below 1024 need privileges); choose another port with %s (%s)", e.Addr, port, e.Setting, env)
	case errors.Is(e.Err, syscall.EADDRNOTAVAIL):
		return fmt.Sprintf("cannot listen on %s: this machine has no such address; fix %s (%s)", e.Addr, e.Setting, env)
	}
	var dnsErr *net.DNSError
	if errors.As(e.Err, &dnsErr) {
		return fmt.Sprintf("cannot listen on %s: host %q is unknown; fix %s (%s)", e.Addr, dnsErr.Name, e.Setting, env)
	}
	return fmt.Sprintf("cannot listen on %s (%s): %v", e.Addr, e.Setting, e.Err)
}

func (e *ListenError) Unwrap() error { return e.Err }

// Listen binds a TCP address for the setting that names it.
func Listen(addr, setting string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &ListenError{Addr: addr, Setting: setting, Err: err}
	}
	return ln, nil
}

// NewHTTPServer returns an http.Server for handler with the configured
// timeouts and header limit. ReadHeaderTimeout is what closes slowloris
// connections; the others bound slow bodies, slow readers and idle
// keep-alives.
func NewHTTPServer(cfg config.Server, handler http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          stdlog.New(serverErrors{log}, "", 0),
	}
}

// serverErrors takes net/http's own error lines. Failed TLS handshakes
// (scanners, clients that distrust a development certificate) are routine
// on any public port: they go to debug; the rest are warnings.
type serverErrors struct{ log *slog.Logger }

func (w serverErrors) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	level := slog.LevelWarn
	if strings.HasPrefix(msg, "http: TLS handshake error") {
		level = slog.LevelDebug
	}
	w.log.Log(context.Background(), level, msg)
	return len(p), nil
}

// Listener is one bound socket and the server that answers on it.
type Listener struct {
	Name   string // "http" or "https"
	Net    net.Listener
	Server *http.Server
	TLS    bool // serve TLS, with Server.TLSConfig
	// draining is set when the server stops: HTTP/1.1 answers then ask
	// the client to close the connection (see Serve).
	draining *atomic.Bool
}

// ErrTerminated is the cause of a stop that a service manager or an
// orchestrator asked for (SIGTERM: systemctl stop, a rolling restart): a
// load balancer may still be sending requests here, so Serve first drains
// for server.drain_delay. A stop for another cause (Ctrl-C at a terminal,
// a cluster worker replaced while the others go on serving) does not wait.
var ErrTerminated = errors.New("SIGTERM received")

// drainGrace is how long a stopping server goes on answering requests on
// connections it had accepted, each answer closing its connection, before
// it closes the connections that stayed idle.
const drainGrace = time.Second

// closeWhenDraining makes every HTTP/1.1 answer close its connection once
// draining is set, so a client with a kept-alive connection sends its next
// request over a new one: to another worker in cluster mode.
func closeWhenDraining(h http.Handler, draining *atomic.Bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() && r.ProtoMajor == 1 {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

// URL is how the log names the listener: https://0.0.0.0:8443.
func (l Listener) URL() string {
	scheme := "http"
	if l.TLS {
		scheme = "https"
	}
	return scheme + "://" + l.Net.Addr().String()
}

// protocols lists what the listener speaks, for the log: "h2, http/1.1".
func (l Listener) protocols() string {
	p := l.Server.Protocols
	var names []string
	if l.TLS && p.HTTP2() {
		names = append(names, "h2")
	}
	if !l.TLS && p.UnencryptedHTTP2() {
		names = append(names, "h2c")
	}
	return strings.Join(append(names, "http/1.1"), ", ")
}

// Serve serves every listener until ctx ends, then shuts them all down.
// When ctx ended with ErrTerminated and cfg.DrainDelay is set, the server
// first lame-ducks: for DrainDelay it goes on serving everything, while
// /readyz answers 503 (the draining flag handed to Listeners is set) and
// HTTP/1.1 answers close their connections, so that the balancer's health
// checks take the instance out of rotation before it stops accepting;
// hurry closing ends that period early. Then the listeners stop accepting at once (in cluster mode the other
// workers take the new connections). For drainGrace, requests still
// arriving on accepted HTTP/1.1 connections are answered, each answer
// closing its connection: closing an idle keep-alive connection at once
// could cut off a request that is already on its way, which a client may
// not retry (a POST). HTTP/2 connections get a GOAWAY. Then the idle
// connections close, and requests in flight get what remains of
// cfg.ShutdownTimeout to finish. It returns nil after a clean shutdown, and
// the first error if a listener fails while serving.
func Serve(ctx context.Context, hurry <-chan struct{}, log *slog.Logger, cfg config.Server, listeners ...Listener) error {
	shutdownTimeout := cfg.ShutdownTimeout
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		log.Info("listening on "+l.URL()+" ("+l.protocols()+")", "listener", l.Name)
		go func() {
			var err error
			if l.TLS {
				err = l.Server.ServeTLS(l.Net, "", "")
			} else {
				err = l.Server.Serve(l.Net)
			}
			if !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s listener on %s: %w", l.Name, l.Net.Addr(), err)
			}
		}()
	}
	setDraining := func() {
		for _, l := range listeners {
			if l.draining != nil {
				l.draining.Store(true)
			}
		}
	}

	var serveErr error
	select {
	case <-ctx.Done():
		if cfg.DrainDelay > 0 && errors.Is(context.Cause(ctx), ErrTerminated) {
			log.Info("draining: still serving, but /readyz answers 503 so that load balancers stop sending here",
				"drain_delay", cfg.DrainDelay)
			setDraining()
			select {
			case <-time.After(cfg.DrainDelay):
			case <-hurry:
				log.Info("asked again: draining ends now")
			case serveErr = <-errc:
				log.Error("listener failed; shutting down", "error", serveErr)
			}
		}
		log.Info("shutting down", "timeout", shutdownTimeout)
	case serveErr = <-errc:
		log.Error("listener failed; shutting down", "error", serveErr)
	}

	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	setDraining()
	for _, l := range listeners {
		l.Net.Close() // stop accepting; Shutdown below sees it closed
	}
	grace := time.NewTimer(min(drainGrace, shutdownTimeout/2))
	select {
	case <-grace.C:
	case <-sctx.Done():
	}
	shutdown := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() { shutdown <- l.Server.Shutdown(sctx) }()
	}
	for range listeners {
		if err := <-shutdown; err != nil {
			log.Warn("requests still running at the shutdown deadline were cut off", "error", err)
			for _, l := range listeners {
				l.Server.Close()
			}
		}
	}
	return serveErr
}
