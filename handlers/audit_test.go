package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"userhub/config"
	"userhub/locale"
	"userhub/models"
)

type auditEntry struct {
	ID         int64             `json:"id"`
	Action     string            `json:"action"`
	ActorID    *int64            `json:"actor_id"`
	ActorName  string            `json:"actor_name"`
	TargetID   *int64            `json:"target_id"`
	TargetName string            `json:"target_name"`
	ClientIP   string            `json:"client_ip"`
	RequestID  string            `json:"request_id"`
	Details    map[string]string `json:"details"`
}

type auditPage struct {
	Entries    []auditEntry `json:"entries"`
	NextCursor string       `json:"next_cursor"`
}

// TestAuditLog: what the issue asks to see. After an administrator adds,
// renames and deletes a user and someone fails to log in, GET
// /api/v1/audit lists those events newest first with actor, target and
// client address; a member gets 403; the page shows them in words, in
// English and Korean; no password, new or wrong, and no token is in the
// log.
func TestAuditLog(t *testing.T) {
	a := newApp(t, func(c *config.Config) { c.API.RateLimit, c.API.AnonymousRateLimit = 0, 0 })
	users("kim", "lee")(t, a)
	kim, lee := a.login(t, "kim"), a.login(t, "lee")
	call := func(method, path, body string, cookie *http.Cookie, header ...string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", jsonCT)
		}
		if cookie != nil {
			req.AddCookie(cookie)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		return a.do(req)
	}
	must := func(rec *httptest.ResponseRecorder, status int) *httptest.ResponseRecorder {
		t.Helper()
		if rec.Code != status {
			t.Fatalf("%d, want %d: %s", rec.Code, status, rec.Body)
		}
		return rec
	}
	const newPassword, wrongPassword = "a brand new passphrase 42", "not the password at all"
	must(call("POST", "/api/v1/users", `{"name":"park","password":"`+testPassword+`"}`, kim), 201)
	must(call("PATCH", "/api/v1/users/3", `{"name":"park.j"}`, kim), 200)
	must(call("DELETE", "/api/v1/users/3", "", kim), 204)
	must(call("POST", "/api/v1/login", `{"name":"lee","password":"`+wrongPassword+`"}`, nil, "X-Request-Id", "failed-login-1"), 401)

	read := func(query string, cookie *http.Cookie) auditPage {
		t.Helper()
		rec := must(call("GET", "/api/v1/audit"+query, "", cookie), 200)
		var p auditPage
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := read("", kim)
	if len(p.Entries) < 6 {
		t.Fatalf("%d entries: %+v", len(p.Entries), p.Entries)
	}
	kimID := int64(1)
	for i, want := range []struct {
		action, actor, target string
		details               map[string]string
	}{
		{models.AuditLoginFailed, "", "lee", map[string]string{"reason": "wrong password"}},
		{models.AuditUserDeleted, "kim", "park.j", map[string]string{}},
		{models.AuditUserRenamed, "kim", "park.j", map[string]string{"from": "park", "to": "park.j"}},
		{models.AuditUserCreated, "kim", "park", map[string]string{"role": "member"}},
		{models.AuditLogin, "lee", "lee", map[string]string{"method": "password"}},
		{models.AuditLogin, "kim", "kim", map[string]string{"method": "password"}},
	} {
		e := p.Entries[i]
		if e.Action != want.action || e.ActorName != want.actor || e.TargetName != want.target || e.ClientIP != "192.0.2.1" || e.RequestID == "" ||
			len(e.Details) != len(want.details) {
			t.Errorf("entry %d: %+v, want %+v from 192.0.2.1", i, e, want)
		}
		for k, v := range want.details {
			if e.Details[k] != v {
				t.Errorf("entry %d (%s): details %v, want %v", i, e.Action, e.Details, want.details)
			}
		}
	}
	if e := p.Entries[0]; e.ActorID != nil || e.TargetID == nil || *e.TargetID != 2 || e.RequestID != "failed-login-1" {
		t.Errorf("the failed login: %+v", e)
	}
	if e := p.Entries[1]; e.ActorID == nil || *e.ActorID != kimID || e.TargetID == nil || *e.TargetID != 3 {
		t.Errorf("the delete: %+v", e)
	}

	// A member may not read it; neither may anyone logged out.
	must(call("GET", "/api/v1/audit", "", lee), 403)
	must(call("GET", "/api/v1/audit", "", nil), 401)
	if rec := call("GET", "/admin/audit", "", lee); rec.Code != 403 || !strings.Contains(rec.Body.String(), "You may not do this.") {
		t.Errorf("a member's /admin/audit: %d %s", rec.Code, rec.Body)
	}

	// Filters, pages, and bad filters.
	if p := read("?action=user.renamed", kim); len(p.Entries) != 1 || p.Entries[0].Details["to"] != "park.j" {
		t.Errorf("action=user.renamed: %+v", p.Entries)
	}
	if p := read("?target=park.j&actor=kim", kim); len(p.Entries) != 2 {
		t.Errorf("target=park.j&actor=kim: %+v", p.Entries)
	}
	if p := read("?since=2000-01-01&until=2000-01-02", kim); len(p.Entries) != 0 {
		t.Errorf("a day in 2000: %+v", p.Entries)
	}
	first := read("?limit=2", kim)
	rec := must(call("GET", "/api/v1/audit?limit=2", "", kim), 200)
	if len(first.Entries) != 2 || first.NextCursor == "" || !strings.Contains(rec.Header().Get("Link"), `rel="next"`) {
		t.Fatalf("a page of two: %+v, Link %q", first, rec.Header().Get("Link"))
	}
	second := read("?limit=2&cursor="+first.NextCursor, kim)
	if len(second.Entries) != 2 || second.Entries[0].ID >= first.Entries[1].ID || second.Entries[0].Action != models.AuditUserRenamed {
		t.Errorf("the second page: %+v", second.Entries)
	}
	for _, bad := range []string{"?action=user.exploded", "?since=yesterday", "?until=2026-13-01", "?cursor=!!", "?limit=0", "?limit=1001", "?actor=%01", "?since=2026-12-02&until=2026-12-01"} {
		if rec := call("GET", "/api/v1/audit"+bad, "", kim); rec.Code != 422 {
			t.Errorf("%s: %d %s, want 422", bad, rec.Code, rec.Body)
		}
	}

	// The page, in words, in both languages.
	rec = must(call("GET", "/admin/audit", "", kim, "Accept-Language", "en"), 200)
	for _, want := range []string{"Audit log", "User added", "User renamed", "User deleted", "Login failed", "park.j #3", "kim #1", "192.0.2.1", "from: park"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/admin/audit lacks %q", want)
		}
	}
	rec = must(call("GET", "/admin/audit?action=login.failed", "", kim, "Accept-Language", "ko"), 200)
	if body := rec.Body.String(); !strings.Contains(body, "감사 로그") || !strings.Contains(body, "로그인 실패") || strings.Contains(body, "사용자 추가</td>") {
		t.Errorf("/admin/audit in Korean, login failures only:\n%s", body)
	}
	if rec := call("GET", "/admin/audit?since=someday", "", kim); rec.Code != 422 || !strings.Contains(rec.Header().Get("Content-Type"), "text/html") {
		t.Errorf("a bad filter on the page: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}

	// A name typed into the login form is kept as text a page shows
	// plainly: no control or direction-changing characters.
	must(call("POST", "/api/v1/login", `{"name":"mal\u202eory\u0007","password":"`+wrongPassword+`"}`, nil), 401)
	if p := read("?action=login.failed&limit=1", kim); len(p.Entries) != 1 || p.Entries[0].TargetName != "mal\ufffdory\ufffd" || p.Entries[0].TargetID != nil {
		t.Errorf("a failed login with a disguised name: %+v", p.Entries)
	}

	// Passwords and tokens: changed, set, wrong; none is recorded.
	must(call("PUT", "/api/v1/me/password", `{"current_password":"`+testPassword+`","new_password":"`+newPassword+`"}`, lee), 204)
	must(call("PATCH", "/api/v1/users/2", `{"password":"`+testPassword+` again"}`, kim), 200)
	tok := must(call("POST", "/api/v1/tokens", `{"name":"backup","scopes":["read"]}`, kim), 201)
	var created struct{ Token string }
	json.Unmarshal(tok.Body.Bytes(), &created)
	all := read("?limit=1000", kim)
	dump, _ := json.Marshal(all)
	for _, secret := range []string{testPassword, newPassword, wrongPassword, created.Token} {
		if strings.Contains(string(dump), secret) {
			t.Errorf("the audit log holds %q", secret)
		}
	}
	if got := all.Entries[0].Action + " " + all.Entries[1].Action + " " + all.Entries[2].Action; got != "token.created user.password_set password.changed" {
		t.Errorf("the last three: %s", got)
	}
	if d := all.Entries[0].Details; d["token"] != "backup" || d["scopes"] != "read" || d["expires"] != "never" {
		t.Errorf("token.created details: %v", d)
	}
}

// Every action the log records has words in every language, for the page.
func TestAuditActionsAreTranslated(t *testing.T) {
	for _, action := range models.AuditActions {
		if !locale.Has("audit.action." + action) {
			t.Errorf("audit action %q has no words (audit.action.%s) in the translation table", action, action)
		}
	}
}
