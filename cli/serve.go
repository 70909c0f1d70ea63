package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"userhub/accounts"
	"userhub/cluster"
	"userhub/config"
	"userhub/handlers"
	"userhub/models"
	"userhub/server"
	"userhub/sessions"
	"userhub/store"
)

// serve runs the server until SIGINT or SIGTERM, then drains in-flight
// requests (bounded by server.shutdown_timeout) and returns nil. With
// cluster.workers, this process is the master: it binds the sockets and
// supervises worker processes (started with workerArgs and env) that serve.
func serve(cfg config.Config, assets Assets, log *slog.Logger, workerArgs, env []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// After the first signal, a second one kills at once (default behaviour).
	go func() { <-ctx.Done(); stop() }()
	// SIGHUP reloads (the workers, or the certificate files); taken from
	// the start, so that one sent early does not kill the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	if err := cluster.Available(); err != nil && cfg.Cluster.WorkerCount() > 0 {
		return err // before binding: nothing is touched for a mode that cannot run
	}
	// Bind first: a taken port is the most common start-up failure, and it
	// should be reported before anything else is touched.
	sockets, err := server.Bind(cfg)
	if err != nil {
		return err
	}
	if n := cfg.Cluster.WorkerCount(); n > 0 {
		return master(ctx, cfg, log.With("role", "master"), sockets, n, workerArgs, env, hup)
	}
	return runServer(ctx, cfg, assets, log, sockets, hup, nil)
}

// secretKeeper is where instances sharing s agree on a session secret
// none is configured: PostgreSQL (instances on several machines share only
// the database); nil for SQLite, whose processes share the data directory.
func secretKeeper(s *store.Store) sessions.SecretKeeper {
	if s.Driver() == "postgres" {
		return s
	}
	return nil
}

// master prepares what the workers share (the database schema, the session
// secret, a development certificate), so that they do not race to create
// it, then runs the cluster master. It orders no ACME certificate: the
// workers do, taking turns (server.CertStore).
func master(ctx context.Context, cfg config.Config, log *slog.Logger, sockets []server.Socket, n int, workerArgs, env []string, hup <-chan os.Signal) error {
	defer func() {
		for _, s := range sockets {
			s.Listener.Close()
		}
	}()
	s, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	secret, err := sessions.Secret(ctx, cfg, secretKeeper(s))
	s.Close()
	if err != nil {
		return err
	}
	// Checks certificates, makes a development one; with autocert, checks
	// the settings only: the workers serve the handshakes, and order.
	tlsSetup, err := server.PrepareTLS(cfg, secret, nil, log)
	if err != nil {
		return err
	}
	tlsSetup.Close()
	exe, err := os.Executable() // now: a binary replaced later at this path is what reloads run
	if err != nil {
		return err
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devNull.Close()
	spec := cluster.Spec{Path: exe, Args: workerArgs, Env: env, Sockets: sockets, Stdin: devNull, Stdout: os.Stdout, Stderr: os.Stderr}
	return cluster.New(spec, n, cfg.Server.ShutdownTimeout, log).Run(ctx, hup)
}

// worker serves, as one of a cluster's workers, on the sockets its master
// handed down (file descriptors 3 and up, named by sockets), then says so
// on the ready pipe; it drains and exits when the master closes the life
// pipe (or dies), or on SIGTERM.
func worker(cfg config.Config, assets Assets, log *slog.Logger, sockets []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var inherited []server.Socket
	for i, name := range sockets {
		f := os.NewFile(uintptr(3+i), name)
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("worker: socket %s from the master: %w", name, err)
		}
		inherited = append(inherited, server.Socket{Name: name, Listener: ln})
	}
	ready := os.NewFile(uintptr(3+len(sockets)), "ready")
	life := os.NewFile(uintptr(4+len(sockets)), "life")
	if hasHTTPS := slices.Contains(sockets, "https"); hasHTTPS != cfg.TLSOn() {
		return fmt.Errorf("worker: the configuration now says tls.mode %q, but the master's sockets are %s; restart the master to change listeners",
			cfg.TLS.Mode, strings.Join(sockets, ", "))
	}
	for _, s := range inherited {
		want := map[string]string{"http": cfg.Server.Addr, "https": cfg.TLS.Addr}[s.Name]
		if !sameAddr(want, s.Listener.Addr()) {
			log.Warn("the configured address differs from the socket the master holds; restart the master to move it",
				"listener", s.Name, "configured", want, "serving", s.Listener.Addr().String())
		}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP) // the master reloads; a worker only reloads certificates
	defer signal.Stop(hup)
	go func() {
		io.Copy(io.Discard, life) // returns when the master closes its end, or dies
		stop()
	}()
	return runServer(ctx, cfg, assets, log, inherited, hup, func() {
		ready.WriteString("ready\n")
		ready.Close()
	})
}

// sameAddr reports whether a configured listen address (":8080") names the
// bound address addr.
func sameAddr(configured string, addr net.Addr) bool {
	host, port, err := net.SplitHostPort(configured)
	tcp, ok := addr.(*net.TCPAddr)
	if err != nil || !ok || port != strconv.Itoa(tcp.Port) {
		return false
	}
	return host == "" || net.ParseIP(host).Equal(tcp.IP) || host == "localhost"
}

// runServer serves on sockets until ctx ends; ready, if given, is called
// once the servers are about to accept. SIGHUP (on hup) reads static
// certificate files again, and is otherwise noted and ignored.
func runServer(ctx context.Context, cfg config.Config, assets Assets, log *slog.Logger, sockets []server.Socket, hup <-chan os.Signal, ready func()) error {
	defer func() {
		for _, s := range sockets {
			s.Listener.Close()
		}
	}()
	s, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	secret, err := sessions.Secret(ctx, cfg, secretKeeper(s))
	if err != nil {
		return err
	}
	tlsSetup, err := server.PrepareTLS(cfg, secret, s.CertCache(), log)
	if err != nil {
		return err
	}
	defer tlsSetup.Close()
	go func() {
		for range hup {
			if tlsSetup != nil && tlsSetup.Reload != nil {
				tlsSetup.Reload()
			} else {
				log.Info("SIGHUP: nothing to reload (it reloads cluster workers and static certificates)")
			}
		}
	}()

	users, stopSignal, err := readCache(s, cfg, log)
	if err != nil {
		return err
	}
	defer stopSignal()
	backend, err := sessions.Open(cfg.Session, secret, log)
	if err != nil {
		return err
	}
	defer backend.Close()
	var counter models.Counter = s // login counts in the database, unless Redis keeps them
	checks := map[string]func(context.Context) error{}
	if backend.Counter != nil {
		counter = backend.Counter
		checks["redis"] = backend.Ping
	}
	handler, err := handlers.New(handlers.Deps{
		Config:    cfg,
		Store:     users,
		Accounts:  accounts.New(accounts.Options{Store: users, Counter: counter, Hasher: newHasher(cfg.Auth), Auth: cfg.Auth, Log: log}),
		Sessions:  sessions.NewManager(backend, cfg.Session, users, users, log),
		Logger:    log,
		Templates: assets.Templates,
		Static:    assets.Static,
		Ready:     checks,
	})
	if err != nil {
		return err
	}
	log.Info("userhub starting", "version", version(), "database", s.Driver(), "sessions", cfg.Session.Store,
		"tls", cfg.TLS.Mode, "data_dir", cfg.DataDir)
	if n, err := users.CountUsers(ctx, models.Filter{}); err == nil && n == 0 {
		log.Info("no user yet: open the setup page to create the first administrator", "url", setupURL(cfg, sockets))
	}
	listeners := server.Listeners(cfg, handler, tlsSetup, sockets, log)
	if ready != nil {
		ready() // the sockets are bound already: connections wait in the backlog until Serve accepts
	}
	err = server.Serve(ctx, log, cfg.Server.ShutdownTimeout, listeners...)
	if err == nil {
		log.Info("stopped")
	}
	return err
}

// newHasher returns the password hasher the configuration asks for. Each
// hash takes argon2_memory_kib, so at most hash_concurrency (by default one
// per CPU) run at once; a login waits up to hash_wait for a turn, then gets 503.
func newHasher(a config.Auth) *accounts.Hasher {
	n := a.HashConcurrency
	if n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return accounts.NewHasher(accounts.Argon2Params{
		MemoryKiB:   uint32(a.Argon2MemoryKiB),
		Iterations:  uint32(a.Argon2Iterations),
		Parallelism: uint8(a.Argon2Parallelism),
	}, n, a.HashWait)
}

// setupURL is where a browser on this machine finds the setup page: the
// HTTPS listener when there is one, else the HTTP one.
func setupURL(cfg config.Config, sockets []server.Socket) string {
	scheme, name := "http", "http"
	if cfg.TLSOn() {
		scheme, name = "https", "https"
	}
	for _, s := range sockets {
		if s.Name != name {
			continue
		}
		if tcp, ok := s.Listener.Addr().(*net.TCPAddr); ok {
			host := "localhost"
			if !tcp.IP.IsUnspecified() && !tcp.IP.IsLoopback() {
				host = tcp.IP.String()
			}
			return fmt.Sprintf("%s://%s/setup", scheme, net.JoinHostPort(host, strconv.Itoa(tcp.Port)))
		}
	}
	return "/setup"
}
