package cli

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"userhub/config"
	"userhub/handlers"
	"userhub/models"
	"userhub/server"
	"userhub/sessionstore"
)

// serve runs the server until SIGINT or SIGTERM, then drains in-flight
// requests (bounded by server.shutdown_timeout) and returns nil.
func serve(cfg config.Config, assets Assets, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// After the first signal, a second one kills at once (default behaviour).
	go func() { <-ctx.Done(); stop() }()

	// Bind first: a taken port is the most common start-up failure, and it
	// should be reported before anything else is touched.
	sockets, err := server.Bind(cfg)
	if err != nil {
		return err
	}
	return runServer(ctx, cfg, assets, log, sockets)
}

// runServer serves on sockets until ctx ends.
func runServer(ctx context.Context, cfg config.Config, assets Assets, log *slog.Logger, sockets []server.Socket) error {
	defer func() {
		for _, s := range sockets {
			s.Listener.Close()
		}
	}()
	tlsSetup, err := server.PrepareTLS(cfg, log)
	if err != nil {
		return err
	}
	defer tlsSetup.Close()
	if tlsSetup != nil && tlsSetup.Reload != nil {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for range hup {
				tlsSetup.Reload()
			}
		}()
	}

	s, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()

	secret, err := sessionstore.Secret(cfg)
	if err != nil {
		return err
	}
	sessions, err := sessionstore.Open(cfg.Session, secret)
	if err != nil {
		return err
	}
	defer sessions.Close()
	deps := handlers.Deps{
		Config:       cfg,
		Store:        s,
		SessionStore: sessions.Store,
		Counter:      s, // login counts in the database, unless Redis keeps them
		Hasher:       newHasher(cfg.Auth),
		Logger:       log,
		Templates:    assets.Templates,
		Static:       assets.Static,
	}
	if sessions.Counter != nil {
		deps.Counter = sessions.Counter
		deps.Ready = append(deps.Ready, sessions.Ping)
	}
	handler, err := handlers.New(deps)
	if err != nil {
		return err
	}
	log.Info("userhub starting", "version", version(), "database", s.Driver(), "sessions", cfg.Session.Store,
		"tls", cfg.TLS.Mode, "data_dir", cfg.DataDir)
	err = server.Serve(ctx, log, cfg.Server.ShutdownTimeout, server.Listeners(cfg, handler, tlsSetup, sockets, log)...)
	if err == nil {
		log.Info("stopped")
	}
	return err
}

// newHasher returns the password hasher the configuration asks for. Each
// hash takes argon2_memory_kib, so at most hash_concurrency (by default one
// per CPU) run at once; a login waits up to 5 s for a turn, then gets 503.
func newHasher(a config.Auth) *models.Hasher {
	n := a.HashConcurrency
	if n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return models.NewHasher(models.Argon2Params{
		MemoryKiB:   uint32(a.Argon2MemoryKiB),
		Iterations:  uint32(a.Argon2Iterations),
		Parallelism: uint8(a.Argon2Parallelism),
	}, n, 5*time.Second)
}
