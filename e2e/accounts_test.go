package e2e

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sessionEnvs are the session stores the account checks run on: the cookie
// store, and Redis when USERHUB_TEST_REDIS_ADDR names one.
func sessionEnvs(t *testing.T) map[string][]string {
	envs := map[string][]string{"cookie": nil}
	if addr := os.Getenv("USERHUB_TEST_REDIS_ADDR"); addr != "" {
		envs["redis"] = []string{"USERHUB_SESSION_STORE=redis", "USERHUB_SESSION_REDIS_ADDR=" + addr,
			"USERHUB_SESSION_REDIS_PREFIX=userhub-e2e:" + rand.Text() + ":"}
	} else {
		t.Log("Redis session store skipped: set USERHUB_TEST_REDIS_ADDR (e.g. 127.0.0.1:6379)")
	}
	return envs
}

// raw sends a request with exactly the cookie header given, no jar.
func raw(t *testing.T, method, url, contentType, body, cookie string, header ...string) (*http.Response, string) {
	t.Helper()
	if cookie != "" {
		header = append(header, "Cookie", cookie)
	}
	return do(t, method, url, contentType, body, header...)
}

// sessionOf returns "name=value" of the session cookie a response set.
func sessionOf(t *testing.T, resp *http.Response) string {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == "userhub_session" && c.Value != "" {
			return c.Name + "=" + c.Value
		}
	}
	t.Fatalf("no session cookie set: %v", resp.Header["Set-Cookie"])
	return ""
}

func apiLogin(t *testing.T, base, name, password, cookie string) *http.Response {
	t.Helper()
	resp, _ := raw(t, "POST", base+"/api/v1/login", jsonCT, `{"name":"`+name+`","password":"`+password+`"}`, cookie)
	return resp
}

// TestAccountsOverHTTP is the accounts issue's list of checks, with curl's
// eyes, against the running binary, on each session store.
func TestAccountsOverHTTP(t *testing.T) {
	for store, env := range sessionEnvs(t) {
		t.Run(store, func(t *testing.T) {
			p := start(t, env...)
			p.setup(t)
			me := p.base + "/api/v1/me"

			// Login sets a cookie with HttpOnly, SameSite=Lax and Path=/.
			resp := apiLogin(t, p.base, "kim", adminPassword, "")
			setCookie := resp.Header.Get("Set-Cookie")
			for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
				if !strings.Contains(setCookie, attr) {
					t.Errorf("Set-Cookie %q lacks %s", setCookie, attr)
				}
			}
			kim := sessionOf(t, resp)
			if r, body := raw(t, "GET", me, "", "", kim); r.StatusCode != 200 || !strings.Contains(body, `"name":"kim"`) {
				t.Fatalf("me: %d %s", r.StatusCode, body)
			}

			// The cookie after login differs from any cookie before it.
			relogin := sessionOf(t, apiLogin(t, p.base, "kim", adminPassword, kim))
			if relogin == kim {
				t.Fatal("logging in again with a cookie in hand kept the cookie")
			}
			// ...and the one it replaced no longer works (no session fixation).
			if r, _ := raw(t, "GET", me, "", "", kim); r.StatusCode != 401 {
				t.Fatalf("the cookie replaced at login: %d", r.StatusCode)
			}
			kim = relogin

			// A cookie with one byte changed is anonymous.
			tampered := []byte(kim)
			tampered[len(tampered)-10] ^= 1
			if r, _ := raw(t, "GET", me, "", "", string(tampered)); r.StatusCode != 401 {
				t.Fatalf("tampered cookie: %d", r.StatusCode)
			}

			// A logged-out cookie replayed gets 401.
			other := sessionOf(t, apiLogin(t, p.base, "kim", adminPassword, ""))
			if r, _ := raw(t, "POST", p.base+"/api/v1/logout", "", "", other); r.StatusCode != 204 {
				t.Fatalf("logout: %d", r.StatusCode)
			}
			if r, _ := raw(t, "GET", me, "", "", other); r.StatusCode != 401 || r.Header.Get("WWW-Authenticate") == "" {
				t.Fatalf("replayed logged-out cookie: %d %v", r.StatusCode, r.Header)
			}

			// A deleted user's cookie gets 401.
			r, body := raw(t, "POST", p.base+"/api/v1/users", jsonCT, `{"name":"lee","password":"a long secret phrase"}`, kim)
			if r.StatusCode != 201 {
				t.Fatalf("create lee: %d %s", r.StatusCode, body)
			}
			lee := sessionOf(t, apiLogin(t, p.base, "lee", "a long secret phrase", ""))
			if r, _ := raw(t, "DELETE", p.base+"/user/2", "", "", kim); r.StatusCode != 204 {
				t.Fatalf("delete lee: %d", r.StatusCode)
			}
			if r, _ := raw(t, "GET", me, "", "", lee); r.StatusCode != 401 {
				t.Fatalf("deleted user's cookie: %d", r.StatusCode)
			}

			// A POST with Origin: https://evil.example gets 403.
			if r, _ := raw(t, "POST", p.base+"/user", jsonCT, `{"name":"x"}`, kim, "Origin", "https://evil.example"); r.StatusCode != 403 {
				t.Fatalf("cross-origin POST: %d", r.StatusCode)
			}

			// The 6th wrong password in a minute for one name gets 429 with Retry-After.
			for i := 1; i <= 6; i++ {
				r := apiLogin(t, p.base, "kim", "not the password", "")
				want := 401
				if i == 6 {
					want = 429
				}
				if r.StatusCode != want {
					t.Fatalf("wrong password %d: %d, want %d", i, r.StatusCode, want)
				}
				if i == 6 && r.Header.Get("Retry-After") == "" {
					t.Fatal("429 without Retry-After")
				}
			}

			// /login?next=https://evil.example lands on a local page.
			form := url.Values{"name": {"park"}, "password": {"another long phrase"}, "next": {"https://evil.example"}}
			raw(t, "POST", p.base+"/api/v1/users", jsonCT, `{"name":"park","password":"another long phrase"}`, kim)
			r, _ = raw(t, "POST", p.base+"/login", "application/x-www-form-urlencoded", form.Encode(), "")
			if loc := r.Header.Get("Location"); r.StatusCode != 303 || loc != "/" {
				t.Fatalf("login with an outside next: %d to %q", r.StatusCode, loc)
			}
			if r, _ := raw(t, "GET", p.base+"/login?next=https://evil.example", "", "", kim); r.Header.Get("Location") != "/" {
				t.Fatalf("login page with an outside next, logged in: to %q", r.Header.Get("Location"))
			}
		})
	}
}

// TestUserLogoutCommand: `userhub user logout NAME` on the same data
// directory ends the sessions of a running server at once.
func TestUserLogoutCommand(t *testing.T) {
	p := start(t)
	p.setup(t)
	kim := sessionOf(t, apiLogin(t, p.base, "kim", adminPassword, ""))
	cmd := exec.Command(binary, "user", "logout", "kim")
	cmd.Env = []string{"USERHUB_DATA_DIR=" + p.dataDir, "PATH=" + os.Getenv("PATH")}
	cmd.Dir = t.TempDir()
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "every session of kim has ended") {
		t.Fatalf("userhub user logout kim: %v\n%s", err, out)
	}
	if r, _ := raw(t, "GET", p.base+"/api/v1/me", "", "", kim); r.StatusCode != 401 {
		t.Fatalf("kim's cookie after `user logout`: %d", r.StatusCode)
	}
}

// TestTokenCommands: `userhub token create` prints a token that works on
// the running server at once, with no cookie; `token list` shows it by its
// prefix; `token revoke` ends it at once. The token's text is nowhere in
// the database files or the server's log.
func TestTokenCommands(t *testing.T) {
	p := start(t)
	p.setup(t)
	run := func(args ...string) (stdout, stderr string, err error) {
		t.Helper()
		cmd := exec.Command(binary, args...)
		cmd.Env = []string{"USERHUB_DATA_DIR=" + p.dataDir, "PATH=" + os.Getenv("PATH")}
		cmd.Dir = t.TempDir()
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err = cmd.Run()
		return out.String(), errOut.String(), err
	}
	out, said, err := run("token", "create", "deploy script", "-user", "kim", "-scopes", "read,write,admin", "-expires", "720h")
	secret := strings.TrimSpace(out)
	if err != nil || !strings.HasPrefix(secret, "uh_") || strings.Contains(secret, "\n") || !strings.Contains(said, "shown once") {
		t.Fatalf("token create: %v\nstdout: %s\nstderr: %s", err, out, said)
	}
	bearer := func(method, path, body string) reply {
		req, _ := http.NewRequest(method, p.base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		if body != "" {
			req.Header.Set("Content-Type", jsonCT)
		}
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return reply{err: err}
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
	}
	if r := bearer("GET", "/api/v1/users", ""); r.status != http.StatusOK || len(r.header["Set-Cookie"]) != 0 {
		t.Fatalf("GET /api/v1/users with the token: %v", r)
	}
	if r := bearer("POST", "/api/v1/users", `{"name":"lee"}`); r.status != http.StatusCreated {
		t.Fatalf("POST /api/v1/users with the admin token: %v", r)
	}
	list, _, err := run("token", "list")
	if err != nil || !strings.Contains(list, "deploy script") || !strings.Contains(list, secret[:9]) || strings.Contains(list, secret) || !strings.Contains(list, "read,write,admin") {
		t.Fatalf("token list: %v\n%s", err, list)
	}
	if _, said, err := run("token", "create", "x", "-user", "lee", "-scopes", "admin"); err == nil || !strings.Contains(said, "only an administrator's token may have the admin scope") {
		t.Errorf("an admin token for a member: %v, %s", err, said)
	}
	for _, name := range []string{"userhub.db", "userhub.db-wal"} {
		data, err := os.ReadFile(filepath.Join(p.dataDir, name))
		if err != nil && name == "userhub.db" {
			t.Fatal(err)
		}
		if strings.Contains(string(data), secret) {
			t.Errorf("the token's text is in %s", name)
		}
	}
	if strings.Contains(p.output(), secret) {
		t.Error("the token's text is in the server's log")
	}
	id := strings.Fields(strings.Split(list, "\n")[1])[0]
	if out, said, err := run("token", "revoke", id); err != nil || !strings.Contains(out, "revoked token "+id) {
		t.Fatalf("token revoke %s: %v\n%s%s", id, err, out, said)
	}
	if r := bearer("GET", "/api/v1/users", ""); r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("the revoked token: %v, want 401 with WWW-Authenticate Bearer", r)
	}
}

// TestRateLimitAcrossWorkers: with api.rate_limit 20 and two cluster
// workers, a token's requests spread over both (a new connection each)
// get at most 20 answers in the minute, however the kernel spreads them;
// the rest are 429 with Retry-After. (A worker may be left holding part of
// its last reserved share: at least 18 are served.)
func TestRateLimitAcrossWorkers(t *testing.T) {
	p := startCluster(t, "USERHUB_API_RATE_LIMIT=20")
	p.setup(t)
	cmd := exec.Command(binary, "token", "create", "load", "-user", "kim", "-scopes", "read")
	cmd.Env = []string{"USERHUB_DATA_DIR=" + p.dataDir, "PATH=" + os.Getenv("PATH")}
	cmd.Dir = t.TempDir()
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(out))
	served, limited := 0, 0
	pids := map[string]bool{}
	for range 30 {
		req, _ := http.NewRequest("GET", p.base+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := (&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			served++
		case http.StatusTooManyRequests:
			limited++
			if resp.Header.Get("Retry-After") == "" || !strings.HasPrefix(resp.Header.Get("RateLimit"), `"principal";r=0;`) {
				t.Errorf("429 without Retry-After or RateLimit: %v", resp.Header)
			}
		default:
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	for range 10 {
		if r := send(&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}, 10*time.Second, "GET", p.base+"/healthz", "", ""); r.err == nil {
			var h struct{ PID int }
			json.Unmarshal([]byte(r.body), &h)
			pids[strconv.Itoa(h.PID)] = true
		}
	}
	t.Logf("served %d, limited %d; workers answering: %d", served, limited, len(pids))
	if served > 20 || served < 18 || served+limited != 30 {
		t.Errorf("served %d and limited %d of 30 with a limit of 20 a minute", served, limited)
	}
}
