// Package cli decides what the userhub binary does: it parses the command
// line, loads the configuration and runs a command (serve, migrate, config,
// version). Everything else is a library it wires together; main.go only
// hands it the embedded files.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/gin-gonic/gin"

	"userhub/buildinfo"
	"userhub/cachedstore"
	"userhub/config"
	"userhub/server"
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
  userhub [flags] [command] [arguments]

Commands:
  serve      serve HTTP (the default)
  migrate    apply database migrations and exit
  config     print the effective configuration, secrets redacted
  user       manage users from the shell:
               user add NAME [-admin] [-password-stdin]
               user passwd NAME [-password-stdin]
               user list
               user delete NAME
               user logout NAME     (ends every session of the user)
               user reset-2fa NAME  (removes the user's second factors and passkeys, for a lost phone; ends their sessions)
               user suspend NAME    (ends their sessions; they cannot log in until restored)
               user restore NAME
               user link NAME SUBJECT (links the account to the person oidc.issuer calls SUBJECT, its sub claim)
               user unlink NAME     (removes the account's single sign-on links)
  token      personal access tokens for the API, from the shell:
               token create NAME -user USER -scopes read,write[,admin] [-expires 720h]
                                    (prints the token, once)
               token list [-user USER]
               token revoke ID
  audit      the audit log, from the shell:
               audit export [-since T]   (JSON lines, oldest first; T: 2026-12-01, an RFC 3339 time, or 24h back)
  doctor     check this machine and the configuration before (or while) serving: the ports,
             the data directory, the database, Redis, certificates, the clock
  backup     backup FILE: a consistent copy of the SQLite database, while the server runs
  restore    restore FILE: put a backup in place (the server stopped); the database it
             replaces is kept beside it
  cert       write a development CA and a certificate for localhost, 127.0.0.1, ::1
             and NAMES to <data_dir>/tls (what tls.mode self-signed serves):
               cert [-out DIR] [NAMES...]
  version    print the version

Flags:
  -config FILE     configuration file (default config.yaml if present; or USERHUB_CONFIG)
  -set KEY=VALUE   override one setting, e.g. -set server.addr=:9000 (repeatable)

Settings come from config.yaml, then USERHUB_* environment variables, then -set.
`

// env is the process environment, read here and nowhere else.
type env struct {
	args   []string
	vars   []string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// Run runs the command line args (without the program name) and returns the
// process exit code.
func Run(args []string, assets Assets) int {
	// Gin's mode is global to the process: set here, once, where the
	// process starts (debug mode would print every route at start-up).
	gin.SetMode(gin.ReleaseMode)
	e := env{args: args, vars: os.Environ(), stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	return e.run(assets)
}

// options are the flags.
type options struct {
	configFile    string
	sets          []string
	admin         bool   // user add
	passwordStdin bool   // user add, user passwd
	out           string // cert
	tokenUser     string // token create, token list
	tokenScopes   string // token create
	tokenExpires  string // token create
	since         string // audit export
	sockets       string // worker (internal)
}

// globalArgs are the flags that say where the configuration comes from,
// for cluster workers to read the same (as it is on disk when they start).
func (o options) globalArgs() []string {
	var args []string
	if o.configFile != "" {
		args = append(args, "-config", o.configFile)
	}
	for _, kv := range o.sets {
		args = append(args, "-set", kv)
	}
	return args
}

// flags returns a flag set for cmd: the global flags, and the command's own.
func (e env) flags(cmd string, opt *options) *flag.FlagSet {
	fl := flag.NewFlagSet("userhub "+cmd, flag.ContinueOnError)
	fl.SetOutput(e.stderr)
	fl.Usage = func() { fmt.Fprint(e.stderr, usage) }
	fl.StringVar(&opt.configFile, "config", opt.configFile, "")
	fl.Func("set", "", func(s string) error { opt.sets = append(opt.sets, s); return nil })
	switch cmd {
	case "user":
		fl.BoolVar(&opt.admin, "admin", false, "")
		fl.BoolVar(&opt.passwordStdin, "password-stdin", false, "")
	case "token":
		fl.StringVar(&opt.tokenUser, "user", "", "")
		fl.StringVar(&opt.tokenScopes, "scopes", "", "")
		fl.StringVar(&opt.tokenExpires, "expires", "", "")
	case "audit":
		fl.StringVar(&opt.since, "since", "", "")
	case "cert":
		fl.StringVar(&opt.out, "out", "", "")
	case "worker":
		fl.StringVar(&opt.sockets, "sockets", "", "")
	}
	return fl
}

// parse parses args with fl, allowing flags between the positional
// arguments (userhub user add kim -admin), and returns the positional ones.
func parse(fl *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fl.Parse(args); err != nil {
			return nil, err
		}
		args = fl.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

func (e env) run(assets Assets) int {
	opt := options{configFile: lookup(e.vars, "USERHUB_CONFIG")}
	// Global flags may come before the command: userhub -config x migrate.
	global := e.flags("", &opt)
	if err := global.Parse(e.args); err != nil {
		return exitUsage
	}
	cmd, rest := "serve", global.Args()
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	args, err := parse(e.flags(cmd, &opt), rest)
	if err != nil {
		return exitUsage
	}
	wantArgs := map[string]bool{"user": true, "token": true, "audit": true, "cert": true, "backup": true, "restore": true}
	if len(args) > 0 && !wantArgs[cmd] {
		fmt.Fprintf(e.stderr, "userhub %s: unexpected arguments %q\n", cmd, args)
		return exitUsage
	}

	switch cmd {
	case "version":
		fmt.Fprintln(e.stdout, "userhub", buildinfo.Get())
		return exitOK
	case "help":
		fmt.Fprint(e.stdout, usage)
		return exitOK
	case "serve", "migrate", "config", "user", "token", "audit", "backup", "restore", "doctor", "cert", "worker":
	default:
		fmt.Fprintf(e.stderr, "userhub: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}

	cfg, err := config.Load(opt.configFile, e.vars, opt.sets)
	if err != nil {
		fmt.Fprintln(e.stderr, "userhub:", err)
		return exitUsage
	}
	switch cmd {
	case "config":
		out, err := cfg.Redacted(store.RedactDSN)
		if err != nil {
			return e.fail(err)
		}
		e.stdout.Write(out)
		return exitOK
	case "cert":
		return e.fail(e.cert(cfg, opt.out, args))
	}

	logOut := newLogOutput(e.stderr)
	log := newLogger(cfg.Log, logOut)
	switch cmd {
	case "migrate":
		err = migrate(cfg, log)
	case "user":
		err = e.user(cfg, log, opt, args)
	case "token":
		err = e.token(cfg, log, opt, args)
	case "audit":
		err = e.audit(cfg, log, opt, args)
	case "doctor":
		err = e.doctor(cfg, log)
	case "backup":
		err = e.backup(cfg, log, args)
	case "restore":
		err = e.restore(cfg, log, args)
	case "worker":
		err = worker(cfg, assets, log.With("role", "worker"), strings.Split(opt.sockets, ","))
	default:
		err = serve(cfg, assets, log, opt.globalArgs(), e.vars)
	}
	logOut.Close() // before the error line, so the log reads in order
	var usageErr usageError
	if errors.As(err, &usageErr) {
		fmt.Fprintf(e.stderr, "userhub: %v\n\n%s", err, usage)
		return exitUsage
	}
	return e.fail(err)
}

// usageError is a command line that makes no sense (exit 2, with usage).
type usageError string

func (u usageError) Error() string { return string(u) }

// lookup returns the value of the variable name in vars.
func lookup(vars []string, name string) string {
	for _, kv := range vars {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// fail prints err, a line for each problem, and returns the exit code.
func (e env) fail(err error) int {
	if err == nil {
		return exitOK
	}
	for line := range strings.Lines(err.Error()) {
		fmt.Fprintln(e.stderr, "userhub:", strings.TrimRight(line, "\n"))
	}
	return exitFailed
}

// openStore opens and migrates the configured database, creating the data
// directory first.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (*store.Store, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory (data_dir): %w", err)
	}
	s, err := store.Open(ctx, store.Options{Driver: cfg.Database.Driver, DSN: cfg.Database.DSN, MaxOpenConns: cfg.Database.MaxOpenConns,
		QueryTimeout: cfg.Database.QueryTimeout, Log: log})
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

// readCache puts the read cache in front of the store, with the change
// signal every process and instance sharing the database hears: for
// SQLite a file beside it, for PostgreSQL the database's own notifications
// (store.ChangeSignal). stop ends the signal's listening.
func readCache(s *store.Store, cfg config.Config, log *slog.Logger) (users *cachedstore.Store, stop func(), err error) {
	if s.Driver() == "postgres" {
		signal, err := s.ListenForChanges(log)
		if err != nil {
			return nil, nil, err
		}
		return cachedstore.New(s, signal), signal.Close, nil
	}
	signal, err := cachedstore.OpenFileSignal(cfg.Database.DSN + "-gen")
	if err != nil {
		return nil, nil, fmt.Errorf("open the change signal of %s: %w", cfg.Database.DSN, err)
	}
	return cachedstore.New(s, signal), func() {}, nil
}

func migrate(cfg config.Config, log *slog.Logger) error {
	s, err := openStore(context.Background(), cfg, log)
	if err != nil {
		return err
	}
	log.Info("database is up to date", "driver", s.Driver())
	return s.Close()
}

// cert writes a development CA and a server certificate signed by it.
func (e env) cert(cfg config.Config, dir string, names []string) error {
	if dir == "" {
		dir = filepath.Join(cfg.DataDir, "tls")
	}
	madeCA, err := server.WriteDevCertificate(dir, names)
	if err != nil {
		return err
	}
	all := strings.Join(append(append([]string{}, server.DefaultNames...), names...), ", ")
	fmt.Fprintf(e.stdout, `wrote %[1]s/%[3]s, %[1]s/%[4]s (the server certificate and key, valid 90 days) for %[5]s,
signed by the CA %[1]s/%[2]s (valid one year, and only for %[5]s and the loopback addresses).
`, dir, server.CAFile, server.CertFile, server.KeyFile, all)
	if madeCA {
		fmt.Fprintf(e.stdout, `The CA is new: a browser or system that trusted an earlier one must be given this one.
`)
	}
	fmt.Fprintf(e.stdout, `To make browsers trust it, import %[1]s/%[2]s as a certificate authority
(Debian: cp %[1]s/%[2]s /usr/local/share/ca-certificates/userhub.crt && update-ca-certificates).
Its name constraints keep it from vouching for any other site, and it is remade when the names change.
USERHUB_TLS_MODE=self-signed serves this certificate when -out is the default.
`, dir, server.CAFile)
	return nil
}
