package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"userhub/config"
	"userhub/models"
	"userhub/server"
	"userhub/sessions"
	"userhub/sso"
	"userhub/store"
)

// doctor runs `userhub doctor`: it checks what a server needs before it
// starts (or while it runs), one line per check, "ok", "warn" or "fail"
// with what to do, and fails (exit 1) when any check does.
func (e env) doctor(cfg config.Config, log *slog.Logger) error {
	d := &checkup{out: e.stdout}
	d.ok("configuration", "valid (defaults, config.yaml, USERHUB_* and -set)")
	// A port in use may be held by this service: it answers /healthz, on
	// HTTPS when TLS is on (the HTTP listener then redirects).
	healthz := []string{localURL("http", cfg.Server.Addr)}
	if cfg.TLSOn() {
		healthz = append(healthz, localURL("https", cfg.TLS.Addr))
	}
	d.listener("server.addr", cfg.Server.Addr, healthz)
	if cfg.TLSOn() {
		d.listener("tls.addr", cfg.TLS.Addr, healthz[1:])
	}
	if cfg.Admin.Addr != "" {
		d.listener("admin.addr", cfg.Admin.Addr, nil)
	}
	d.dataDir(cfg.DataDir)
	d.database(cfg, log)
	if cfg.Session.Store == "redis" {
		d.redis(cfg, log)
	}
	d.certificates(cfg)
	if cfg.OIDC.Enabled() {
		d.singleSignOn(cfg.OIDC, log)
	}
	if d.failed > 0 {
		return fmt.Errorf("%d of %d checks failed", d.failed, d.checks)
	}
	fmt.Fprintf(e.stdout, "all %d checks passed", d.checks)
	if d.warned > 0 {
		fmt.Fprintf(e.stdout, " (%d with a warning)", d.warned)
	}
	fmt.Fprintln(e.stdout)
	return nil
}

// singleSignOn: the client secret can be read, and the provider answers
// its discovery document. A provider that does not answer is a warning:
// the server starts without it (its sign-in button says so).
func (d *checkup) singleSignOn(cfg config.OIDC, log *slog.Logger) {
	secret, err := oidcClientSecret(cfg)
	if err != nil {
		d.fail("oidc.client_secret_file", err.Error()+"; fix: write the client secret the provider gave into that file, readable by the service's user, or set oidc.client_secret")
		return
	}
	if secret == "" {
		d.warn("oidc.client_secret", "empty: only a public client (PKCE alone) signs in without one; fix: set the secret the provider gave")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c := sso.New(cfg, secret, slog.New(slog.DiscardHandler))
	if err := c.Discover(ctx); err != nil {
		d.warn("oidc.issuer", fmt.Sprintf("%s does not answer (%v): the server starts anyway, and its sign-in button says the provider does not answer until it does; fix: check oidc.issuer (exactly as the provider's discovery document names it) and that this machine reaches it", cfg.Issuer, err))
		return
	}
	logout := "without an end-session endpoint (no provider logout offered)"
	if c.LogoutURL("") != "" {
		logout = "with an end-session endpoint"
	}
	d.ok("oidc.issuer", cfg.Issuer+" answers: its discovery document names it as issuer, "+logout)
}

// checkup prints the checks' outcomes and counts them.
type checkup struct {
	out                    io.Writer
	checks, failed, warned int
}

func (d *checkup) line(state, what, text string) {
	d.checks++
	fmt.Fprintf(d.out, "%-5s %s: %s\n", state, what, text)
}
func (d *checkup) ok(what, text string) { d.line("ok", what, text) }
func (d *checkup) warn(what, text string) {
	d.warned++
	d.line("warn", what, text)
}
func (d *checkup) fail(what, text string) {
	d.failed++
	d.line("fail", what, text)
}

// listener: the port is free, or held by a userhub that answers /healthz
// at one of the healthz URLs.
func (d *checkup) listener(setting, addr string, healthz []string) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		ln.Close()
		d.ok(setting, addr+" is free")
		return
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		d.fail(setting, (&server.ListenError{Addr: addr, Setting: setting, Err: err}).Error())
		return
	}
	if setting == "admin.addr" {
		if userhubAdminOn(addr) {
			d.ok(setting, addr+" is held by a running userhub (its metrics answer)")
			return
		}
	} else if pid, ok := userhubAt(healthz); ok {
		d.ok(setting, fmt.Sprintf("%s is held by a running userhub (pid %d)", addr, pid))
		return
	}
	d.fail(setting, (&server.ListenError{Addr: addr, Setting: setting, Err: err}).Error())
}

// localURL is the /healthz URL of a listen address, on this machine.
func localURL(scheme, addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/healthz"
}

// userhubAt reports whether a userhub answers one of the /healthz URLs
// (not following redirects; over HTTPS without checking the certificate:
// doctor only asks whether the program on the port is userhub).
func userhubAt(urls []string) (pid int, ok bool) {
	client := &http.Client{
		Timeout:       2 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for _, u := range urls {
		resp, err := client.Get(u)
		if err != nil {
			continue
		}
		var health struct {
			Status string `json:"status"`
			PID    int    `json:"pid"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&health)
		resp.Body.Close()
		if err == nil && health.Status == "ok" {
			return health.PID, true
		}
	}
	return 0, false
}

// userhubAdminOn reports whether a userhub's admin listener answers on
// addr: its /metrics has userhub_build_info.
func userhubAdminOn(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + net.JoinHostPort(host, port) + "/metrics")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode == http.StatusOK && strings.Contains(string(body), "userhub_build_info")
}

// dataDir: it exists (or can be made), belongs to this user, is private,
// and takes a file.
func (d *checkup) dataDir(dir string) {
	const what = "data directory"
	info, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		d.warn(what, dir+" does not exist yet; serve makes it (mode 0700)")
		return
	}
	if err != nil {
		d.fail(what, fmt.Sprintf("%s: %v", dir, err))
		return
	}
	if !info.IsDir() {
		d.fail(what, dir+" is not a directory: point data_dir (USERHUB_DATA_DIR) at a directory")
		return
	}
	probe, err := os.CreateTemp(dir, ".doctor-*")
	if err != nil {
		d.fail(what, fmt.Sprintf("%s is not writable by this user: %v; fix: chown it to the user userhub runs as, mode 0700", dir, errors.Unwrap(err)))
		return
	}
	probe.Close()
	os.Remove(probe.Name())
	if owner, ok := fileOwner(info); ok && owner != os.Getuid() {
		d.warn(what, fmt.Sprintf("%s belongs to uid %d, not to this user (uid %d): chown it to the user userhub runs as", dir, owner, os.Getuid()))
		return
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		d.warn(what, fmt.Sprintf("%s has mode %04o: others may read the database and the session secret; fix: chmod 700 %s", dir, perm, dir))
		return
	}
	d.ok(what, dir+" is private and writable")
}

// database: reachable, migrated (or to be migrated by serve), and, for
// SQLite, passing the quick check; its clock near this machine's.
func (d *checkup) database(cfg config.Config, log *slog.Logger) {
	const what = "database"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if cfg.Database.Driver == "sqlite" {
		if _, err := os.Stat(cfg.Database.DSN); errors.Is(err, os.ErrNotExist) {
			d.warn(what, cfg.Database.DSN+" does not exist yet; serve creates it")
			return
		}
	}
	s, err := store.Open(ctx, store.Options{Driver: cfg.Database.Driver, DSN: cfg.Database.DSN, QueryTimeout: 10 * time.Second, Log: log})
	if err == nil {
		err = s.Ping(ctx)
	}
	name := cfg.Database.Driver + " " + store.RedactDSN(cfg.Database.DSN)
	if err != nil {
		d.fail(what, fmt.Sprintf("%s does not answer: %v; fix database.dsn, or start the database", name, err))
		return
	}
	defer s.Close()
	current, newest, err := s.SchemaVersion(ctx)
	switch {
	case err != nil:
		d.fail(what, fmt.Sprintf("%s: cannot read its schema version: %v", name, err))
		return
	case current > newest:
		d.fail(what, fmt.Sprintf("%s has schema version %d, newer than this binary knows (%d): run a newer userhub", name, current, newest))
		return
	case current < newest:
		d.warn(what, fmt.Sprintf("%s answers; schema version %d of %d: serve (or userhub migrate) applies the rest", name, current, newest))
	default:
		d.ok(what, fmt.Sprintf("%s answers, schema version %d (up to date)", name, current))
	}
	if cfg.Database.Driver == "sqlite" {
		if err := s.QuickCheck(ctx); err != nil {
			d.fail("database integrity", fmt.Sprintf("%v; fix: restore a backup (userhub restore FILE)", err))
		} else {
			d.ok("database integrity", "SQLite quick_check ok")
		}
	}
	if at, err := s.Now(ctx); err != nil {
		d.warn("clock", fmt.Sprintf("cannot read the database's clock: %v", err))
	} else if skew := time.Since(at); skew.Abs() > models.MaxClockSkew {
		d.fail("clock", fmt.Sprintf("this machine's clock is %v off the database's: sessions and login limits depend on it; fix: run NTP (timedatectl set-ntp true)", skew.Round(time.Second)))
	} else {
		d.ok("clock", fmt.Sprintf("within %v of the database's", skew.Abs().Round(time.Millisecond)))
	}
}

// redis: it answers, and is recent enough.
func (d *checkup) redis(cfg config.Config, log *slog.Logger) {
	b, err := sessions.Open(cfg.Session, make([]byte, 32), log) // a throwaway secret: only to reach Redis
	if err != nil {
		d.fail("redis", fmt.Sprintf("%v; fix session.redis_addr, or start Redis", err))
		return
	}
	b.Close()
	d.ok("redis", cfg.Session.RedisAddr+" answers")
}

// certificates: static files load, verify, cover names, and are not close
// to expiry; autocert's names resolve.
func (d *checkup) certificates(cfg config.Config) {
	switch cfg.TLS.Mode {
	case "static":
		r, err := server.CheckCertificate(cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.TLS.CAFiles)
		if err != nil {
			d.fail("certificate", fmt.Sprintf("%v; fix: install a valid certificate and key (tls.cert_file, tls.key_file)", err))
			return
		}
		left := time.Until(r.NotAfter)
		text := fmt.Sprintf("%s for %s, %d certificates, expires %s (in %d days)", cfg.TLS.CertFile, strings.Join(r.Names, ", "),
			r.Chain, r.NotAfter.Format("2006-01-02"), int(left.Hours()/24))
		switch {
		case left < 14*24*time.Hour:
			d.warn("certificate", text+": renew it soon")
		case r.Verified != nil:
			d.warn("certificate", text+fmt.Sprintf("; it does not verify against this machine's roots (%v): browsers may refuse it unless tls.ca_files sends the intermediates", r.Verified))
		default:
			d.ok("certificate", text)
		}
	case "autocert":
		for _, name := range cfg.TLS.Domains {
			if addrs, err := net.LookupHost(name); err != nil {
				d.warn("autocert", fmt.Sprintf("%s does not resolve (%v): Let's Encrypt cannot reach this server under that name", name, err))
			} else {
				d.ok("autocert", fmt.Sprintf("%s resolves to %s", name, strings.Join(addrs, ", ")))
			}
		}
	case "self-signed":
		d.ok("certificate", "self-signed, kept in "+filepath.Join(cfg.DataDir, "tls")+" (for development)")
	}
}
