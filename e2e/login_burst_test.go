package e2e

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// peakRSS reads the process's peak resident set (VmHWM) from /proc, in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/<pid>/status")
	return 0
}

// TestLoginBurstMemory: 200 logins of one user at once, from one address,
// with the production argon2id costs (19 MiB each) and the default login
// limits. The hashing semaphore lets a few run at a time, so the process
// stays well under 300 MB. Only failures count toward the limits, so none
// is refused with 429. Every login gets an answer: 200, or 503 with
// Retry-After if it waited auth.hash_wait for a hashing slot in vain. How
// many wait that long depends on the machine, not on the server, so the
// test gives them a long wait (20 s: normally every login succeeds) and
// asserts only that the refusals are the documented 503, and that logins
// do succeed. The wait stays under the client's 30 s timeout and the
// server's 30 s write timeout, so that a waiting login is answered.
func TestLoginBurstMemory(t *testing.T) {
	p := start(t, "USERHUB_AUTH_HASH_WAIT=20s", "USERHUB_API_ANONYMOUS_RATE_LIMIT=0") // a burst of logins from one address: the login path, not the API rate limit, is under test
	p.setup(t)
	const logins = 200
	start := time.Now()
	counts := loginBurst(p, logins, func(int) string { return "kim" })
	elapsed := time.Since(start)
	peak := peakRSS(t, p.cmd.Process.Pid)
	t.Logf("%d parallel logins in %v: statuses %v, peak RSS %.1f MB", logins, elapsed.Round(time.Millisecond), counts, float64(peak)/(1<<20))
	wantLoggedIn(t, counts, logins)
	if peak >= 300<<20 {
		t.Errorf("peak RSS %.1f MB, want under 300 MB", float64(peak)/(1<<20))
	}
}

// TestLoginBurstManyUsers: 200 users logging in at once from one address
// (an office behind one NAT at nine): none is refused by the per-address
// limit, which counts failures only, and a login from that address
// afterwards works.
func TestLoginBurstManyUsers(t *testing.T) {
	p := start(t, "USERHUB_AUTH_HASH_WAIT=20s", "USERHUB_API_ANONYMOUS_RATE_LIMIT=0") // a burst of logins from one address: the login path, not the API rate limit, is under test
	admin := p.setup(t)
	const users = 200
	for i := range users {
		resp, body := doWith(t, admin, "POST", p.base+"/api/v1/users", jsonCT,
			fmt.Sprintf(`{"name":"user%03d","password":%q}`, i, adminPassword))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create user%03d: %s %s", i, resp.Status, body)
		}
	}
	counts := loginBurst(p, users, func(i int) string { return fmt.Sprintf("user%03d", i) })
	t.Logf("%d parallel logins of %d users: statuses %v", users, users, counts)
	wantLoggedIn(t, counts, users)
	if resp := apiLoginAs(t, p.base, "kim"); resp.StatusCode != http.StatusOK {
		t.Fatalf("a login from the same address afterwards: %s", resp.Status)
	}
}

// wantLoggedIn checks that each of n right logins was answered 200, or
// 503 with Retry-After (a hashing slot not free in time), and some 200.
func wantLoggedIn(t *testing.T, counts map[int]int, n int) {
	t.Helper()
	if counts[200]+counts[503] != n {
		t.Errorf("statuses %v, want each login answered 200, or 503 with Retry-After (%d: no answer, %d: 503 without Retry-After)", counts, noAnswer, bare503)
	}
	if counts[200] == 0 {
		t.Errorf("no login succeeded: %v", counts)
	}
}

// apiLoginAs logs name in with adminPassword, with a fresh client.
func apiLoginAs(t *testing.T, base, name string) *http.Response {
	t.Helper()
	resp, _ := do(t, "POST", base+"/api/v1/login", jsonCT, `{"name":"`+name+`","password":"`+adminPassword+`"}`)
	return resp
}

// Keys of loginBurst's counts that are not HTTP statuses.
const (
	noAnswer = 0    // the request got no answer
	bare503  = -503 // a 503 without Retry-After, which tells a client nothing about when to come back
)

// loginBurst sends n logins at once, login i as name(i) with
// adminPassword, and counts the answers by status; a request that got no
// answer counts under noAnswer, a 503 without Retry-After under bare503
// (and not under 503).
func loginBurst(p *proc, n int, name func(i int) string) map[int]int {
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			client := newClient()
			resp, err := client.Post(p.base+"/api/v1/login", jsonCT, strings.NewReader(`{"name":"`+name(i)+`","password":"`+adminPassword+`"}`))
			if err != nil {
				statuses[i] = noAnswer
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
			if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
				statuses[i] = bare503
			}
		})
	}
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	return counts
}
