// Package cli decides what the userhub binary does: it parses the command
// line, loads the configuration and runs a command (serve, migrate, config,
// version). Everything else is a library it wires together; main.go only
// hands it the embedded files.
package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"userhub/config"
	"userhub/store"
)

// Assets are the files embedded in the binary.
type Assets struct {
	Templates fs.FS
	Static    fs.FS
}

// Exit codes: 0 success, 1 failure at run time, 2 bad usage or configuration.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

const usage = `userhub serves a user-management web application and its JSON API.

Usage:
  userhub [flags] [command]

Commands:
  serve      serve HTTP (the default)
  migrate    apply database migrations and exit
  config     print the effective configuration, secrets redacted
  version    print the version

Flags:
  -config FILE     configuration file (default config.yaml if present; or USERHUB_CONFIG)
  -set KEY=VALUE   override one setting, e.g. -set server.addr=:9090 (repeatable)

Settings come from config.yaml, then USERHUB_* environment variables, then -set.
`

// env is the process environment, read here and nowhere else.
type env struct {
	args   []string
	vars   []string
	stdout io.Writer
	stderr io.Writer
}

// Run runs the command line args (without the program name) and returns the
// process exit code.
func Run(args []string, assets Assets) int {
	e := env{args: args, vars: os.Environ(), stdout: os.Stdout, stderr: os.Stderr}
	return e.run(assets)
}

type options struct {
	configFile string
	sets       []string
}

func (e env) run(assets Assets) int {
	var opt options
	fl := flag.NewFlagSet("userhub", flag.ContinueOnError)
	fl.SetOutput(e.stderr)
	fl.Usage = func() { fmt.Fprint(e.stderr, usage) }
	fl.StringVar(&opt.configFile, "config", os.Getenv("USERHUB_CONFIG"), "")
	fl.Func("set", "", func(s string) error { opt.sets = append(opt.sets, s); return nil })

	// Flags may come before or after the command: userhub -config x migrate,
	// or userhub migrate -config x.
	if err := fl.Parse(e.args); err != nil {
		return exitUsage
	}
	cmd := "serve"
	if rest := fl.Args(); len(rest) > 0 {
		cmd = rest[0]
		if err := fl.Parse(rest[1:]); err != nil {
			return exitUsage
		}
		if extra := fl.Args(); len(extra) > 0 {
			fmt.Fprintf(e.stderr, "userhub %s: unexpected arguments %q\n", cmd, extra)
			return exitUsage
		}
	}

	switch cmd {
	case "version":
		fmt.Fprintln(e.stdout, "userhub", version())
		return exitOK
	case "help":
		fmt.Fprint(e.stdout, usage)
		return exitOK
	case "serve", "migrate", "config":
	default:
		fmt.Fprintf(e.stderr, "userhub: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}

	cfg, err := config.Load(opt.configFile, e.vars, opt.sets)
	if err != nil {
		fmt.Fprintln(e.stderr, "userhub:", err)
		return exitUsage
	}
	if cmd == "config" {
		out, err := cfg.Redacted(store.RedactDSN)
		if err != nil {
			return e.fail(err)
		}
		e.stdout.Write(out)
		return exitOK
	}

	logOut := newLogOutput(e.stderr)
	log := newLogger(cfg.Log, logOut)
	switch cmd {
	case "migrate":
		err = migrate(cfg, log)
	default:
		err = serve(cfg, assets, log)
	}
	logOut.Close() // before the error line, so the log reads in order
	return e.fail(err)
}

// fail prints err as one line and returns the exit code for it.
func (e env) fail(err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(e.stderr, "userhub:", err)
	return exitFailed
}

// openStore opens and migrates the configured database, creating the data
// directory first.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (*store.Store, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory (data_dir): %w", err)
	}
	s, err := store.Open(ctx, store.Options{Driver: cfg.Database.Driver, DSN: cfg.Database.DSN, MaxOpenConns: cfg.Database.MaxOpenConns})
	if err != nil {
		return nil, err
	}
	applied, err := s.Migrate(ctx)
	if err != nil {
		s.Close()
		return nil, err
	}
	for _, m := range applied {
		log.Info("applied migration", "version", m.Version, "name", m.Name)
	}
	return s, nil
}

func migrate(cfg config.Config, log *slog.Logger) error {
	s, err := openStore(context.Background(), cfg, log)
	if err != nil {
		return err
	}
	log.Info("database is up to date", "driver", s.Driver())
	return s.Close()
}

// version reports the module version and VCS revision the binary was built from.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			v += " " + s.Value[:min(12, len(s.Value))]
		}
	}
	return strings.TrimSpace(v)
}
