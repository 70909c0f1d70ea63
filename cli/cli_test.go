package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"userhub/config"
	"userhub/models"
	"userhub/server"
	"userhub/store"
)

func runCLI(t *testing.T, vars []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := env{args: args, vars: vars, stdout: &out, stderr: &errb}
	code = e.run(Assets{Templates: os.DirFS("../templates"), Static: os.DirFS("../static")})
	return code, out.String(), errb.String()
}

func TestConfigCommandRedacts(t *testing.T) {
	code, out, _ := runCLI(t, []string{
		"USERHUB_DATABASE_DRIVER=postgres",
		"USERHUB_DATABASE_DSN=postgres://app:hunter2@db:5432/userhub",
	}, "config")
	if code != 0 || strings.Contains(out, "hunter2") || !strings.Contains(out, "app:REDACTED@db") || !strings.Contains(out, "addr: :8080") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
}

func TestBadConfigListsEveryProblem(t *testing.T) {
	code, _, stderr := runCLI(t, []string{"USERHUB_SERVER_ADDR=nope", "USERHUB_LOG_FORMAT=xml"}, "serve")
	if code != exitUsage || !strings.Contains(stderr, "server.addr") || !strings.Contains(stderr, "log.format") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestFlagsAfterTheCommand(t *testing.T) {
	code, out, stderr := runCLI(t, nil, "config", "-set", "server.addr=127.0.0.1:9999")
	if code != 0 || !strings.Contains(out, "addr: 127.0.0.1:9999") {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	if code, _, _ := runCLI(t, nil, "frobnicate"); code != exitUsage {
		t.Fatalf("unknown command: exit %d", code)
	}
}

// The seed's EADDRINUSE, made readable: one line naming the port and the
// setting, and a non-zero exit.
func TestPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	code, _, stderr := runCLI(t, []string{"USERHUB_SERVER_ADDR=" + addr, "USERHUB_DATA_DIR=" + t.TempDir()}, "serve")
	if code != exitFailed {
		t.Fatalf("exit %d", code)
	}
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 ||
		!strings.Contains(stderr, "port "+port+" is already in use") || !strings.Contains(stderr, "server.addr") || !strings.Contains(stderr, "USERHUB_SERVER_ADDR") {
		t.Fatalf("stderr:\n%s", stderr)
	}
}

func TestMigrateCommand(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runCLI(t, []string{"USERHUB_DATA_DIR=" + dir}, "migrate")
	if code != 0 || !strings.Contains(stderr, "applied migration") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "userhub.db")); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, []string{"USERHUB_DATA_DIR=" + dir}, "migrate")
	if code != 0 || strings.Contains(stderr, "applied migration") {
		t.Fatalf("second migrate: exit %d\n%s", code, stderr)
	}
}

func runCLIWithInput(t *testing.T, vars []string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := env{args: args, vars: vars, stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}
	code = e.run(Assets{Templates: os.DirFS("../templates"), Static: os.DirFS("../static")})
	return code, out.String(), errb.String()
}

func TestUserCommands(t *testing.T) {
	vars := []string{"USERHUB_DATA_DIR=" + t.TempDir()}
	steps := []struct {
		stdin  string
		args   []string
		code   int
		stdout string // substring of stdout (or of stderr when code != 0)
	}{
		{"correct horse battery staple\n", []string{"user", "add", "kim", "-admin", "-password-stdin"}, 0, "added kim (id 1, admin)"},
		{"another good password\n", []string{"user", "add", "-password-stdin", "lee"}, 0, "added lee (id 2, member)"},
		{"\n", []string{"user", "add", "park", "-password-stdin"}, 0, "added park (id 3, member)"},
		{"short\n", []string{"user", "add", "choi", "-password-stdin"}, exitFailed, "password must be at least 12 characters"},
		{"correct horse battery staple\n", []string{"user", "add", "KIM", "-password-stdin"}, exitFailed, "another user already has this name"},
		{"", []string{"user", "list"}, 0, "kim   admin   set"},
		{"", []string{"user", "list"}, 0, "park  member  none"},
		{"a new good password\n", []string{"user", "passwd", "lee", "-password-stdin"}, 0, "password of lee changed"},
		{"\n", []string{"user", "passwd", "lee", "-password-stdin"}, exitFailed, "empty"},
		{"", []string{"user", "logout", "Lee"}, 0, "every session of lee has ended"},
		{"", []string{"user", "delete", "park"}, 0, "deleted park"},
		{"", []string{"user", "delete", "park"}, exitFailed, `no user is named "park"`},
		{"", []string{"user", "delete", "kim"}, exitFailed, "the only administrator who can log in: make another user an administrator first"},
		{"", []string{"user", "suspend", "kim"}, exitFailed, "the only administrator who can log in"},
		{"", []string{"user", "suspend", "lee"}, 0, "suspended lee: their sessions have ended"},
		{"", []string{"user", "list"}, 0, "lee   member  set       suspended"},
		{"", []string{"user", "restore", "lee"}, 0, "restored lee: they can log in again"},
		{"", []string{"user", "list"}, 0, "lee   member  set       active"},
		{"", []string{"user", "passwd", "kim"}, exitFailed, "no terminal"},
		{"", []string{"user"}, exitUsage, "which subcommand"},
		{"", []string{"user", "frob", "x"}, exitUsage, "unknown subcommand"},
		{"", []string{"user", "add"}, exitUsage, "one NAME"},
		// What the operator did is in the audit log, oldest first.
		{"", []string{"audit", "export"}, 0, `"action":"user.created","actor_id":null,"actor_name":"(operator)","target_id":1,"target_name":"kim","client_ip":""`},
		{"", []string{"audit", "export"}, 0, `"action":"user.deleted","actor_id":null,"actor_name":"(operator)","target_id":3,"target_name":"park"`},
		{"", []string{"audit", "export", "-since", "1h"}, 0, `"action":"user.unsuspended"`},
		{"", []string{"audit", "export", "--since", "2000-01-01"}, 0, `"action":"sessions.ended"`},
		{"", []string{"audit", "export", "-since", "whenever"}, exitUsage, "-since"},
		{"", []string{"audit"}, exitUsage, "export"},
	}
	for _, s := range steps {
		code, stdout, stderr := runCLIWithInput(t, vars, s.stdin, s.args...)
		out := stdout
		if s.code != 0 {
			out = stderr
		}
		if code != s.code || !strings.Contains(out, s.stdout) {
			t.Fatalf("userhub %v: exit %d, want %d with %q\nstdout: %s\nstderr: %s", s.args, code, s.code, s.stdout, stdout, stderr)
		}
		if strings.Contains(stdout+stderr, "horse") || strings.Contains(stdout+stderr, "good password") {
			t.Fatalf("a password was echoed: %s%s", stdout, stderr)
		}
	}
}

// audit export writes one JSON object a line, oldest first, and only
// those since -since.
func TestAuditExport(t *testing.T) {
	vars := []string{"USERHUB_DATA_DIR=" + t.TempDir()}
	for _, name := range []string{"kim", "lee", "park"} {
		if code, _, stderr := runCLIWithInput(t, vars, "correct horse battery staple\n", "user", "add", name, "-admin", "-password-stdin"); code != 0 {
			t.Fatal(stderr)
		}
	}
	code, out, stderr := runCLI(t, vars, "audit", "export")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || len(lines) != 3 {
		t.Fatalf("exit %d, %d lines\n%s%s", code, len(lines), out, stderr)
	}
	for i, name := range []string{"kim", "lee", "park"} {
		var e struct {
			ID         int64  `json:"id"`
			Action     string `json:"action"`
			TargetName string `json:"target_name"`
			At         string `json:"at"`
		}
		if err := json.Unmarshal([]byte(lines[i]), &e); err != nil || e.Action != "user.created" || e.TargetName != name || e.At == "" {
			t.Errorf("line %d: %s (%v)", i, lines[i], err)
		}
	}
	if code, out, _ := runCLI(t, vars, "audit", "export", "-since", "2999-01-01"); code != 0 || out != "" {
		t.Errorf("since 2999: exit %d, %q", code, out)
	}
}

// The start-up line of a server with no user yet names the setup page.
func TestSetupURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	cfg := config.Default()
	if got, want := setupURL(cfg, []server.Socket{{Name: "http", Listener: ln}}), "http://localhost:"+port+"/setup"; got != want {
		t.Errorf("setupURL = %q, want %q", got, want)
	}
	cfg.TLS.Mode = "self-signed"
	if got, want := setupURL(cfg, []server.Socket{{Name: "http", Listener: ln}, {Name: "https", Listener: ln}}), "https://localhost:"+port+"/setup"; got != want {
		t.Errorf("setupURL under TLS = %q, want %q", got, want)
	}
}

// TestBackupCommands: backup refuses an existing file; restore refuses a
// file that is not a database; for PostgreSQL both name the tool and the
// exact command, without the password.
func TestBackupCommands(t *testing.T) {
	dir := t.TempDir()
	vars := []string{"USERHUB_DATA_DIR=" + dir}
	junk := filepath.Join(t.TempDir(), "junk.db")
	os.WriteFile(junk, []byte("not a database at all, just text"), 0o600)
	for _, tt := range []struct {
		vars []string
		args []string
		code int
		want string
	}{
		{vars, []string{"backup", junk}, exitFailed, "exists already"},
		{vars, []string{"restore", junk}, exitFailed, "is not a userhub database"},
		{vars, []string{"backup"}, exitUsage, "backup takes one FILE"},
		{[]string{"USERHUB_DATABASE_DRIVER=postgres", "USERHUB_DATABASE_DSN=postgres://app:hunter2@db:5432/userhub"}, []string{"backup", "/backups/u.dump"},
			exitFailed, "pg_dump --format=custom --file='/backups/u.dump' 'postgres://app:REDACTED@db:5432/userhub'"},
		{[]string{"USERHUB_DATABASE_DRIVER=postgres", "USERHUB_DATABASE_DSN=postgres://app:hunter2@db:5432/userhub"}, []string{"restore", "/backups/u.dump"},
			exitFailed, "pg_restore --clean --if-exists --no-owner --dbname='postgres://app:REDACTED@db:5432/userhub' '/backups/u.dump'"},
	} {
		code, out, errOut := runCLI(t, tt.vars, tt.args...)
		if code != tt.code || !strings.Contains(out+errOut, tt.want) || strings.Contains(out+errOut, "hunter2") {
			t.Errorf("%v: exit %d, want %d with %q\n%s%s", tt.args, code, tt.code, tt.want, out, errOut)
		}
	}
}

// The server prunes the audit log: an entry older than audit.retention
// goes, a newer one stays.
func TestPruneAudit(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := store.Open(ctx, store.Options{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "userhub.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	old := models.AuditEntry{Action: models.AuditLogin, TargetName: "old", At: time.Now().Add(-49 * time.Hour)}
	recent := models.AuditEntry{Action: models.AuditLogin, TargetName: "recent", At: time.Now().Add(-47 * time.Hour)}
	if err := s.RecordAudit(ctx, old, recent); err != nil {
		t.Fatal(err)
	}
	go pruneAudit(ctx, s, 48*time.Hour, 0, slog.New(slog.DiscardHandler))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		left, _, err := s.AuditLog(ctx, models.AuditQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(left) == 1 && left[0].TargetName == "recent" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s, the log holds %+v", left)
		}
	}
}
