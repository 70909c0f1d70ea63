package e2e

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // to read the audit table as it is on disk
)

// TestAuditLog is the operations issue's audit check against the running
// binary, on SQLite and on PostgreSQL: after an administrator creates,
// renames and deletes a user and someone fails to log in, GET
// /api/v1/audit lists those events newest first with actor, target and
// client address; a member gets 403; `userhub audit export` prints them
// as JSON lines; no password is anywhere in the audit table.
func TestAuditLog(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		dir := t.TempDir()
		auditLog(t, "sqlite", "file:"+filepath.Join(dir, "userhub.db")+"?mode=ro", "USERHUB_DATA_DIR="+dir)
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		dsn := os.Getenv("USERHUB_TEST_POSTGRES_DSN")
		if dsn == "" {
			t.Skip("PostgreSQL audit test skipped: set USERHUB_TEST_POSTGRES_DSN")
		}
		db := pgSchema(t, dsn)
		auditLog(t, "pgx", db, "USERHUB_DATA_DIR="+t.TempDir(), "USERHUB_DATABASE_DRIVER=postgres", "USERHUB_DATABASE_DSN="+db)
	})
}

func auditLog(t *testing.T, driver, dsn string, env ...string) {
	env = append(env, "USERHUB_API_ANONYMOUS_RATE_LIMIT=0")
	p := start(t, env...)
	kim := p.setup(t)
	const leePassword, parkPassword, wrongPassword = "tea at five every day", "blue whale under moonlight", "surely not the right one"
	must := func(c *http.Client, status int, method, path, body string) string {
		t.Helper()
		ct := ""
		if body != "" {
			ct = jsonCT
		}
		resp, got := doWith(t, c, method, p.base+path, ct, body)
		if resp.StatusCode != status {
			t.Fatalf("%s %s: %s, want %d\n%s", method, path, resp.Status, status, got)
		}
		return got
	}
	must(kim, 201, "POST", "/api/v1/users", `{"name":"lee","password":"`+leePassword+`"}`)
	lee := newClient()
	must(lee, 200, "POST", "/api/v1/login", `{"name":"lee","password":"`+leePassword+`"}`)
	var park struct{ ID int64 }
	jsonUnmarshal(must(kim, 201, "POST", "/api/v1/users", `{"name":"park","password":"`+parkPassword+`"}`), &park)
	parkPath := "/api/v1/users/" + strconv.FormatInt(park.ID, 10)
	must(kim, 200, "PATCH", parkPath, `{"name":"park.j"}`)
	must(kim, 204, "DELETE", parkPath, "")
	must(newClient(), 401, "POST", "/api/v1/login", `{"name":"lee","password":"`+wrongPassword+`"}`)

	var page struct {
		Entries []struct {
			Action     string            `json:"action"`
			ActorName  string            `json:"actor_name"`
			TargetName string            `json:"target_name"`
			ClientIP   string            `json:"client_ip"`
			Details    map[string]string `json:"details"`
		} `json:"entries"`
	}
	if err := jsonUnmarshal(must(kim, 200, "GET", "/api/v1/audit", ""), &page); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range page.Entries {
		got = append(got, e.Action+" "+e.ActorName+">"+e.TargetName+" "+e.ClientIP)
	}
	want := []string{
		"login.failed >lee 127.0.0.1",
		"user.deleted kim>park.j 127.0.0.1",
		"user.renamed kim>park.j 127.0.0.1",
		"user.created kim>park 127.0.0.1",
		"login lee>lee 127.0.0.1",
		"user.created kim>lee 127.0.0.1",
		"setup >kim 127.0.0.1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("GET /api/v1/audit, newest first:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d := page.Entries[2].Details; d["from"] != "park" || d["to"] != "park.j" {
		t.Errorf("the rename's details: %v", d)
	}
	must(lee, 403, "GET", "/api/v1/audit", "")

	cmd := exec.Command(binary, "audit", "export")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	cmd.Dir = t.TempDir()
	out, err := cmd.Output()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err != nil || len(lines) != len(want) {
		t.Fatalf("userhub audit export: %v, %d lines\n%s", err, len(lines), out)
	}
	for i, line := range lines {
		var e struct{ Action, ActorName, TargetName string }
		var fields map[string]any
		if err := json.Unmarshal([]byte(line), &fields); err != nil {
			t.Fatalf("line %d is not JSON: %s", i, line)
		}
		e.Action, _ = fields["action"].(string)
		e.ActorName, _ = fields["actor_name"].(string)
		e.TargetName, _ = fields["target_name"].(string)
		// Oldest first: the API's list read backwards.
		if w := want[len(want)-1-i]; !strings.HasPrefix(w, e.Action+" "+e.ActorName+">"+e.TargetName+" ") {
			t.Errorf("export line %d: %s, want %s", i, line, w)
		}
	}

	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT action || '|' || actor_name || '|' || target_name || '|' || client_ip || '|' || request_id || '|' || details FROM audit_log`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var row string
		if err := rows.Scan(&row); err != nil {
			t.Fatal(err)
		}
		n++
		for _, password := range []string{adminPassword, leePassword, parkPassword, wrongPassword} {
			if strings.Contains(row, password) {
				t.Errorf("the audit table holds a password: %s", row)
			}
		}
	}
	if err := rows.Err(); err != nil || n != len(want) {
		t.Fatalf("%d rows in audit_log (%v), want %d", n, err, len(want))
	}
}

// waitAudited waits (10s at most) until `userhub audit export`, run on the
// data directory of p, prints a line holding every one of want.
func (p *proc) waitAudited(t *testing.T, want ...string) {
	t.Helper()
	var out []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		cmd := exec.Command(binary, "audit", "export")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "USERHUB_DATA_DIR=" + p.dataDir}
		cmd.Dir = t.TempDir()
		var err error
		if out, err = cmd.Output(); err != nil {
			t.Fatalf("userhub audit export: %v", err)
		}
		for line := range strings.SplitSeq(string(out), "\n") {
			found := 0
			for _, w := range want {
				if strings.Contains(line, w) {
					found++
				}
			}
			if found == len(want) {
				return
			}
		}
	}
	t.Errorf("the audit log has no entry with %q:\n%s", want, out)
}
