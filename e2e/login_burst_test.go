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

// TestLoginBurstMemory: 100 logins at once, with the production argon2id
// costs (19 MiB each). The hashing semaphore lets a few run at a time, so
// the process stays well under 300 MB. Every login gets an answer: 200, or
// 503 with Retry-After if it waited auth.hash_wait for a hashing slot in
// vain. How many wait that long depends on the machine, not on the server,
// so the test gives them a long wait (20 s: normally every login succeeds)
// and asserts only that the refusals are the documented 503, and that
// logins do succeed. The wait stays under the client's 30 s timeout and
// the server's 30 s write timeout, so that a waiting login is answered.
// The login limits are raised for the test: by default the throttle
// would refuse most of a burst from one address before any hashing, which
// is not what this test measures.
func TestLoginBurstMemory(t *testing.T) {
	p := start(t, "USERHUB_AUTH_LOGIN_LIMIT_PER_NAME=1000", "USERHUB_AUTH_LOGIN_LIMIT_PER_IP=1000",
		"USERHUB_AUTH_HASH_WAIT=20s")
	p.setup(t)
	const logins = 100
	start := time.Now()
	counts := loginBurst(p, logins)
	elapsed := time.Since(start)
	peak := peakRSS(t, p.cmd.Process.Pid)
	t.Logf("%d parallel logins in %v: statuses %v, peak RSS %.1f MB", logins, elapsed.Round(time.Millisecond), counts, float64(peak)/(1<<20))
	if counts[200]+counts[503] != logins {
		t.Errorf("statuses %v, want each login answered 200, or 503 with Retry-After (%d: no answer, %d: 503 without Retry-After)", counts, noAnswer, bare503)
	}
	if counts[200] == 0 {
		t.Errorf("no login succeeded: %v", counts)
	}
	if peak >= 300<<20 {
		t.Errorf("peak RSS %.1f MB, want under 300 MB", float64(peak)/(1<<20))
	}
}

// TestLoginBurstDefaultLimits: with the default limits, a burst from one
// address is partly refused up front (429, before any hashing), and every
// request still gets an answer.
func TestLoginBurstDefaultLimits(t *testing.T) {
	p := start(t)
	p.setup(t)
	counts := loginBurst(p, 100)
	if counts[200] == 0 || counts[200]+counts[429] != 100 {
		t.Fatalf("statuses %v, want some 200 and the rest 429", counts)
	}
	t.Logf("statuses %v", counts)
}

// Keys of loginBurst's counts that are not HTTP statuses.
const (
	noAnswer = 0    // the request got no answer
	bare503  = -503 // a 503 without Retry-After, which tells a client nothing about when to come back
)

// loginBurst sends n logins at once and counts the answers by status; a
// request that got no answer counts under noAnswer, a 503 without
// Retry-After under bare503 (and not under 503).
func loginBurst(p *proc, n int) map[int]int {
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			client := newClient()
			resp, err := client.Post(p.base+"/api/v1/login", jsonCT, strings.NewReader(`{"name":"kim","password":"`+adminPassword+`"}`))
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
