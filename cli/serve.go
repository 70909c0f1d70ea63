package cli

import (
	"context"
	"log/slog"
	"os/signal"
	"syscall"

	"userhub/config"
	"userhub/handlers"
	"userhub/server"
)

// serve runs the HTTP server until SIGINT or SIGTERM, then drains in-flight
// requests (bounded by server.shutdown_timeout) and returns nil.
func serve(cfg config.Config, assets Assets, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// Bind first: a taken port is the most common start-up failure, and it
	// should be reported before anything else is touched.
	ln, err := server.Listen(cfg.Server.Addr, "server.addr")
	if err != nil {
		return err
	}
	defer ln.Close()

	s, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()

	handler, err := handlers.New(handlers.Deps{
		Store:          s,
		Logger:         log,
		Templates:      assets.Templates,
		Static:         assets.Static,
		MaxBodyBytes:   cfg.Server.MaxBodyBytes,
		TrustedProxies: cfg.Server.TrustedProxies,
		TrustedOrigins: cfg.Server.TrustedOrigins,
	})
	if err != nil {
		return err
	}
	log.Info("userhub starting", "version", version(), "database", s.Driver(), "data_dir", cfg.DataDir)

	// After the first signal, a second one kills at once (default behaviour).
	go func() { <-ctx.Done(); stop() }()
	err = server.Serve(ctx, log, cfg.Server.ShutdownTimeout, server.Listener{
		Name:   "http",
		Net:    ln,
		Server: server.NewHTTPServer(cfg.Server, handler, log),
	})
	if err == nil {
		log.Info("stopped")
	}
	return err
}
