package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// prometheusBin is Debian's Prometheus (apt-get install prometheus).
const prometheusBin = "/usr/bin/prometheus"

// startPrometheus runs a throwaway Prometheus that scrapes target every
// second, and returns its HTTP API's base URL.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	if _, err := os.Stat(prometheusBin); err != nil {
		t.Skipf("needs Prometheus at %s (Debian: apt-get install prometheus): %v", prometheusBin, err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: userhub
    static_configs:
      - targets: [%q]
`, target)), 0o600)
	addr := freeAddr(t)
	cmd := exec.Command(prometheusBin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr)
	log := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = &lockedWriter{p: &log.p}, &lockedWriter{p: &log.p}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("prometheus output:\n%s", log.String())
		}
	})
	return "http://" + addr
}

// promSeries is one series of a query's answer: its labels, and its
// value as [time, "value"].
type promSeries struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`
}

// queryUntil asks Prometheus for query until ok accepts the answer, while
// traffic (called before every try) keeps requests coming; it fails the test
// after a deadline.
func queryUntil(t *testing.T, prom, query string, traffic func(), ok func([]promSeries) bool) []promSeries {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second) // scrapes every second; a busy machine
	var last string
	for {
		traffic()
		resp, err := http.Get(prom + "/api/v1/query?query=" + url.QueryEscape(query))
		if err == nil {
			var answer struct {
				Status string `json:"status"`
				Data   struct {
					Result []promSeries `json:"result"`
				} `json:"data"`
			}
			err = json.NewDecoder(resp.Body).Decode(&answer)
			resp.Body.Close()
			last = fmt.Sprintf("%s %+v %v", resp.Status, answer, err)
			if err == nil && answer.Status == "success" && ok(answer.Data.Result) {
				return answer.Data.Result
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus never answered %s as wanted; last: %s", query, last)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestMetricsScrapedByPrometheus: a real Prometheus scrapes the admin
// listener and stores the request counter by route template (not the
// raw path), the public listener has no /metrics, and in cluster mode one
// scrape target holds the series of both workers, a killed worker's
// replacement going on under its slot's label.
func TestMetricsScrapedByPrometheus(t *testing.T) {
	if _, err := os.Stat(prometheusBin); err != nil {
		t.Skipf("needs Prometheus at %s (Debian: apt-get install prometheus): %v", prometheusBin, err)
	}
	for _, tt := range []struct {
		name    string
		workers int
	}{
		{"single", 0},
		{"cluster", 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			admin := freeAddr(t)
			env := []string{"USERHUB_ADMIN_ADDR=" + admin}
			var p *proc
			if tt.workers > 0 {
				p = startCluster(t, env...)
			} else {
				p = start(t, env...)
			}
			c := p.setup(t)

			if resp, _ := do(t, "GET", p.base+"/metrics", "", ""); resp.StatusCode != http.StatusNotFound {
				t.Fatalf("public /metrics: %s, want 404", resp.Status)
			}
			if resp, _ := do(t, "GET", p.base+"/debug/pprof/", "", ""); resp.StatusCode != http.StatusNotFound {
				t.Fatalf("public /debug/pprof/: %s, want 404", resp.Status)
			}
			if resp, body := do(t, "GET", "http://"+admin+"/debug/pprof/", "", ""); resp.StatusCode != http.StatusOK || !strings.Contains(body, "goroutine") {
				t.Fatalf("admin /debug/pprof/: %s", resp.Status)
			}

			// New connections each time, so that every worker gets some.
			fresh := &http.Client{Jar: c.Jar, Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
			traffic := func() {
				for i := range 20 {
					resp, err := fresh.Get(fmt.Sprintf("%s/api/v1/users/%d", p.base, 1+i%2)) // 200 and 404
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
				}
			}
			query := `sum by (route, status, worker) (userhub_http_requests_total{job="userhub",route="/api/v1/users/:id"})`
			prom := startPrometheus(t, admin)
			want := max(tt.workers, 1)
			queryUntil(t, prom, query, traffic, func(rs []promSeries) bool {
				workers := map[string]bool{}
				statuses := map[string]bool{}
				for _, r := range rs {
					workers[r.Metric["worker"]] = true
					statuses[r.Metric["status"]] = true
				}
				return len(workers) == want && statuses["2xx"] && statuses["4xx"]
			})
			raw := queryUntil(t, prom, `count(userhub_http_requests_total{route=~"/api/v1/users/[0-9]+"}) or vector(0)`, func() {}, func([]promSeries) bool { return true })
			if len(raw) != 1 || len(raw[0].Metric) != 0 {
				t.Fatalf("raw paths as routes: %+v", raw)
			}
			if tt.workers == 0 {
				return
			}

			// A worker killed: its replacement serves under the same slot,
			// and its series reach Prometheus under worker="1" again.
			pid := p.waitWorkers(t, 2)[1]
			before := queryUntil(t, prom, `process_start_time_seconds{worker="1"}`, func() {}, func(rs []promSeries) bool { return len(rs) == 1 })
			started := before[0].Value[1] // the killed worker's; its replacement's is later
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for p.readyWorkers()[1] == pid {
				if time.Now().After(deadline) {
					t.Fatalf("slot 1 not replaced:\n%s", p.output())
				}
				time.Sleep(50 * time.Millisecond)
			}
			queryUntil(t, prom, fmt.Sprintf(`sum by (worker) (userhub_http_requests_total{route="/api/v1/users/:id"})
				and on (worker) (process_start_time_seconds{worker="1"} > %s or process_start_time_seconds{worker="0"})`, started),
				traffic, func(rs []promSeries) bool { return len(rs) == 2 })
		})
	}
}
