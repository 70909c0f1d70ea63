package e2e

import (
	"fmt"
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
// the process stays well under 300 MB, and every login still succeeds.
func TestLoginBurstMemory(t *testing.T) {
	p := start(t)
	p.setup(t)
	const logins = 100
	statuses := make([]int, logins)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range logins {
		wg.Go(func() {
			resp, _ := do(t, "POST", p.base+"/api/v1/login", jsonCT, `{"name":"kim","password":"`+adminPassword+`"}`)
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	peak := peakRSS(t, p.cmd.Process.Pid)
	t.Logf("%d parallel logins in %v: statuses %v, peak RSS %.1f MB", logins, elapsed.Round(time.Millisecond), counts, float64(peak)/(1<<20))
	if counts[200] != logins {
		t.Errorf("not every login succeeded: %v", counts)
	}
	if peak >= 300<<20 {
		t.Errorf("peak RSS %.1f MB, want under 300 MB", float64(peak)/(1<<20))
	}
}
