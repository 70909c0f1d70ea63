package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"userhub/accounts"
	"userhub/buildinfo"
	"userhub/cluster"
	"userhub/config"
	"userhub/handlers"
	"userhub/metrics"
	"userhub/middleware"
	"userhub/models"
	"userhub/server"
	"userhub/sessions"
	"userhub/sso"
	"userhub/store"
)

// serve runs the server until SIGINT or SIGTERM, then drains in-flight
// requests (bounded by server.shutdown_timeout) and returns nil. With
// cluster.workers, this process is the master: it binds the sockets and
// supervises worker processes (started with workerArgs and env) that serve.
func serve(cfg config.Config, assets Assets, log *slog.Logger, workerArgs, env []string) error {
	stop := onSignals(true)
	defer stop.close()
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
	admin, err := bindAdmin(cfg)
	if err != nil {
		for _, s := range sockets {
			s.Listener.Close()
		}
		return err
	}
	// Tell `userhub restore` that the data directory is in use.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory (data_dir): %w", err)
	}
	release, err := store.HoldDataDir(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("data directory (data_dir): %w", err)
	}
	defer release()
	if n := cfg.Cluster.WorkerCount(); n > 0 {
		return master(stop, cfg, log.With("role", "master"), sockets, admin, n, workerArgs, env, hup)
	}
	return runServer(stop, cfg, assets, log, sockets, admin, hup, nil, server.NewTicketSeed())
}

// bindAdmin binds admin.addr, the metrics and profiler listener; nil
// when it is off.
func bindAdmin(cfg config.Config) (net.Listener, error) {
	if cfg.Admin.Addr == "" {
		return nil, nil
	}
	return server.Listen(cfg.Admin.Addr, "admin.addr")
}

// adminSocket is the name of a cluster worker's own socket, on which it
// serves its admin handler to its master.
const adminSocket = "admin"

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
// workers do, taking turns (server.CertStore). With an admin listener,
// it serves it: its own metrics and every worker's (metrics.Workers).
func master(stop *stopping, cfg config.Config, log *slog.Logger, sockets []server.Socket, admin net.Listener, n int, workerArgs, env []string, hup <-chan os.Signal) error {
	ctx := stop.ctx
	defer func() {
		for _, s := range sockets {
			s.Listener.Close()
		}
		if admin != nil {
			admin.Close()
		}
	}()
	s, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	// Made here (if it is to be made) so that the workers only read it.
	_, err = sessions.Secret(ctx, cfg, secretKeeper(s), log)
	s.Close()
	if err != nil {
		return err
	}
	// The TLS ticket seed, random, for this master's workers: in memory,
	// handed down on a pipe, gone with the master.
	ticketSeed := server.NewTicketSeed()
	// Checks certificates, makes a development one; with autocert, checks
	// the settings only: the workers serve the handshakes, and order.
	tlsSetup, err := server.PrepareTLS(cfg, ticketSeed, nil, log)
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
	spec := cluster.Spec{Path: exe, Args: workerArgs, Env: env, Sockets: sockets, Secret: ticketSeed, Stdin: devNull, Stdout: os.Stdout, Stderr: os.Stderr}
	if admin != nil {
		stopAdmin, err := serveClusterAdmin(cfg, admin, &spec, log)
		if err != nil {
			return err
		}
		defer stopAdmin()
	}
	m := cluster.New(spec, n, cfg.Server.ShutdownTimeout, cfg.Server.DrainDelay, log)
	m.Reloaded = func(done bool, why string) {
		// The master opens the database for this only, beside the loop.
		go func() {
			s, err := openStore(ctx, cfg, log)
			if err != nil {
				log.Warn("audit entry not recorded", "action", models.AuditServerReloaded, "error", err)
				return
			}
			defer s.Close()
			recordReload(ctx, s, log, map[string]string{"reloaded": "workers", "workers": strconv.Itoa(n), "outcome": reloadOutcome(done, why)})
		}()
	}
	return m.Run(ctx, hup, stop.hurry)
}

// serveClusterAdmin serves the master's admin listener: the master's own
// metrics (worker="master") and each worker's (worker="0", "1", ...),
// gathered over a socket spec gives each worker. Its profiler profiles the
// master.
func serveClusterAdmin(cfg config.Config, admin net.Listener, spec *cluster.Spec, log *slog.Logger) (stop func(), err error) {
	workers, err := metrics.NewWorkers()
	if err != nil {
		return nil, err
	}
	spec.WorkerSocket = func(slot int) (server.Socket, func(), error) {
		ln, release, err := workers.Listen(slot)
		return server.Socket{Name: adminSocket, Listener: ln}, release, err
	}
	gather := prometheus.Gatherers{metrics.Labelled("master", metrics.Master(buildinfo.Get())), workers}
	l := server.AdminListener(cfg.Server, metrics.Handler(gather), admin, log)
	log.Info("listening on "+l.URL()+" (metrics of every worker, and the master's profiler)", "listener", l.Name)
	go l.Server.Serve(l.Net)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
		defer cancel()
		l.Server.Shutdown(ctx)
		workers.Close()
	}, nil
}

// worker serves, as one of a cluster's workers, on the sockets its master
// handed down (file descriptors 3 and up, named by sockets), then says so
// on the ready pipe; it drains and exits when the master closes the life
// pipe (or dies), or on SIGTERM.
func worker(cfg config.Config, assets Assets, log *slog.Logger, sockets []string) error {
	stop := onSignals(false)
	defer stop.close()
	var inherited []server.Socket
	var admin net.Listener // this worker's own, from the master
	for i, name := range sockets {
		f := os.NewFile(uintptr(3+i), name)
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("worker: socket %s from the master: %w", name, err)
		}
		if name == adminSocket {
			admin = ln
			continue
		}
		inherited = append(inherited, server.Socket{Name: name, Listener: ln})
	}
	ready := os.NewFile(uintptr(3+len(sockets)), "ready")
	life := os.NewFile(uintptr(4+len(sockets)), "life")
	ticketSeed, err := readSecret(os.NewFile(uintptr(5+len(sockets)), "secret"))
	if err != nil {
		return fmt.Errorf("worker: the TLS ticket seed from the master: %w", err)
	}
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
		stop.end(errRetired)
		stop.hurryUp()
	}()
	return runServer(stop, cfg, assets, log, inherited, admin, hup, func() {
		ready.WriteString("ready\n")
		ready.Close()
	}, ticketSeed)
}

// readSecret reads the master's secret pipe to its end: the TLS ticket
// seed, shared by the master's workers.
func readSecret(f *os.File) ([]byte, error) {
	defer f.Close()
	seed, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return nil, err
	}
	if len(seed) != server.TicketSeedSize {
		return nil, fmt.Errorf("%d bytes, want %d", len(seed), server.TicketSeedSize)
	}
	return seed, nil
}

// errInterrupted and errRetired are the causes of a stop that does not
// lame-duck (see server.ErrTerminated): Ctrl-C at a terminal, and a worker
// that its master replaces or stops while its sockets stay open.
var (
	errInterrupted = errors.New("SIGINT received")
	errRetired     = errors.New("the master asked this worker to stop")
)

// stopping is how a process is asked to stop. ctx ends at the first
// SIGTERM (cause server.ErrTerminated: the server lame-ducks first) or
// SIGINT (cause errInterrupted), or when end is called; hurry closes when
// the lame-duck period should end early (see signals).
type stopping struct {
	ctx   context.Context
	end   context.CancelCauseFunc
	hurry chan struct{}
	once  sync.Once
	quit  func() // stops taking the signals
}

// hurryUp ends the lame-duck period now, if there is one.
func (s *stopping) hurryUp() { s.once.Do(func() { close(s.hurry) }) }

// onSignals takes SIGINT and SIGTERM for s. When operator is true (the
// process an operator signals: a lone server, a cluster master), a second
// signal after SIGTERM ends the lame-duck period at once (the requests in
// flight still finish), and a next one, or a second after SIGINT, kills
// (the default action). A worker (operator false) takes one signal and
// swallows the rest: with the whole process group signalled, it may get
// SIGTERM from the service manager and from its master; its master ends
// its lame-duck period by closing the life pipe.
func onSignals(operator bool) *stopping {
	ctx, end := context.WithCancelCause(context.Background())
	s := &stopping{ctx: ctx, end: end, hurry: make(chan struct{})}
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	s.quit = func() { signal.Stop(signals) }
	go func() {
		select {
		case sig := <-signals:
			if sig == syscall.SIGTERM {
				end(server.ErrTerminated)
			} else {
				end(errInterrupted)
				if operator {
					s.quit()
					return
				}
			}
		case <-ctx.Done():
			return
		}
		if !operator {
			return
		}
		select {
		case <-signals:
			s.hurryUp()
			s.quit()
		case <-s.hurry:
		}
	}()
	return s
}

// close stops taking the signals and ends the context, if it has not ended.
func (s *stopping) close() {
	s.quit()
	s.end(nil)
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

// runServer serves on sockets until stop.ctx ends, and the metrics and
// the profiler on admin (nil: none); ready, if given, is called once the
// servers are about to accept. ticketSeed keys the TLS session tickets
// (server.NewTicketSeed, or a cluster master's). SIGHUP (on hup) reads
// static certificate files again, and is otherwise noted and ignored.
func runServer(stop *stopping, cfg config.Config, assets Assets, log *slog.Logger, sockets []server.Socket, admin net.Listener, hup <-chan os.Signal, ready func(), ticketSeed []byte) error {
	ctx := stop.ctx
	defer func() {
		for _, s := range sockets {
			s.Listener.Close()
		}
		if admin != nil {
			admin.Close()
		}
	}()
	s, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	secret, err := sessions.Secret(ctx, cfg, secretKeeper(s), log)
	if err != nil {
		return err
	}
	tlsSetup, err := server.PrepareTLS(cfg, ticketSeed, s.CertCache(), log)
	if err != nil {
		return err
	}
	defer tlsSetup.Close()
	go func() {
		for range hup {
			if tlsSetup != nil && tlsSetup.Reload != nil {
				err := tlsSetup.Reload()
				recordReload(ctx, s, log, map[string]string{"reloaded": "certificates", "outcome": reloadOutcome(err == nil, fmt.Sprint(err))})
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
	manager := sessions.NewManager(backend, cfg.Session, users, users, log)
	manager.KeepList(s)            // each user's list of their sessions, in the database
	draining := new(atomic.Bool)   // set by server.Serve when it begins to stop; /readyz reads it
	var counter models.Counter = s // login counts in the database, unless Redis keeps them
	checks := map[string]func(context.Context) error{}
	if backend.Counter != nil {
		counter = backend.Counter
		checks["redis"] = backend.Ping
	}
	var observed *metrics.Metrics // nil without an admin listener: nobody would read them
	var logins accounts.LoginObserver
	var requests middleware.RequestObserver
	if admin != nil {
		observed = metrics.New(metrics.Sources{Build: buildinfo.Get(), LiveSessions: s.CountLiveSessions, Pools: s.PoolStats, Cache: users.Stats})
		logins, requests = observed, observed
	}
	sealKey, err := accounts.SealKey(secret)
	if err != nil {
		return err
	}
	ceremonies, err := sessions.NewCeremonies(secret, users)
	if err != nil {
		return err
	}
	ssoClient, oidcFlows, err := singleSignOn(ctx, cfg.OIDC, secret, users, log)
	if err != nil {
		return err
	}
	rpID, rpOrigins := cfg.RelyingParty()
	handler, err := handlers.New(handlers.Deps{
		SSO:       ssoClient,
		OIDCFlows: oidcFlows,
		Config:    cfg,
		Store:     users,
		Accounts: accounts.New(accounts.Options{Store: users, Tokens: s, SecondFactors: s, Passkeys: s, Audit: s, SealKey: sealKey,
			RPID: rpID, RPOrigins: rpOrigins, Counter: counter, Hasher: newHasher(cfg.Auth), Auth: cfg.Auth, Logins: logins, Log: log,
			OIDCLinks: s, OIDC: accounts.OIDCRules(cfg.OIDC)}),
		Requests:    requests,
		Ceremonies:  ceremonies,
		Sessions:    manager,
		Logger:      log,
		Templates:   assets.Templates,
		Static:      assets.Static,
		Ready:       checks,
		Draining:    draining.Load,
		Counter:     counter,
		Idempotency: s,
		SetupToken:  sessions.SetupToken(secret),
	})
	if err != nil {
		return err
	}
	build := buildinfo.Get()
	log.Info("userhub starting", "version", build.Version, "revision", build.Revision, "database", s.Driver(), "sessions", cfg.Session.Store,
		"tls", cfg.TLS.Mode, "data_dir", cfg.DataDir)
	if n, err := users.CountUsers(ctx, models.Filter{}); err == nil && n == 0 {
		// The link carries the token that opens the page to other machines
		// (from this one, the page needs none).
		log.Info("no user yet: open the setup page to create the first administrator", "url", setupURL(cfg, sockets)+"?token="+sessions.SetupToken(secret))
	}
	// Within a minute of starting, at a random moment: a cluster's workers
	// do not all prune at once.
	go pruneAudit(ctx, s, cfg.Audit.Retention, rand.N(time.Minute), log)
	listeners := server.Listeners(cfg, handler, tlsSetup, sockets, draining, log)
	if admin != nil {
		listeners = append(listeners, server.AdminListener(cfg.Server, metrics.Handler(observed.Gatherer()), admin, log))
	}
	if ready != nil {
		ready() // the sockets are bound already: connections wait in the backlog until Serve accepts
	}
	err = server.Serve(ctx, stop.hurry, log, cfg.Server, listeners...)
	if err == nil {
		log.Info("stopped")
	}
	return err
}

// singleSignOn returns the OpenID Connect client, discovering its provider
// in the background (an unreachable provider never stops the server), and
// where its flows wait; nil, nil when single sign-on is off.
func singleSignOn(ctx context.Context, cfg config.OIDC, secret []byte, revocations models.Revocations, log *slog.Logger) (*sso.Client, *sessions.Ceremonies, error) {
	if !cfg.Enabled() {
		return nil, nil, nil
	}
	clientSecret, err := oidcClientSecret(cfg)
	if err != nil {
		return nil, nil, err
	}
	flows, err := sessions.NewOIDCFlows(secret, revocations)
	if err != nil {
		return nil, nil, err
	}
	client := sso.New(cfg, clientSecret, log)
	client.Start(ctx)
	return client, flows, nil
}

// oidcClientSecret is oidc.client_secret, or the first line of
// oidc.client_secret_file.
func oidcClientSecret(cfg config.OIDC) (string, error) {
	if cfg.ClientSecretFile == "" {
		return cfg.ClientSecret, nil
	}
	b, err := os.ReadFile(cfg.ClientSecretFile)
	if err != nil {
		return "", fmt.Errorf("oidc.client_secret_file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
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
