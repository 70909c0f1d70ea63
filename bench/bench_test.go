package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", []time.Duration{7}, 0.99, 7},
		{"p50 of 1..100", hundred, 0.50, 50 * time.Millisecond},
		{"p99 of 1..100", hundred, 0.99, 99 * time.Millisecond},
		{"p100 of 1..100", hundred, 1, 100 * time.Millisecond},
		{"p50 of 3", []time.Duration{1, 2, 3}, 0.50, 2},
		{"p99 of 3", []time.Duration{1, 2, 3}, 0.99, 3},
		{"tiny p", []time.Duration{1, 2, 3}, 0.0001, 1},
	}
	for _, tt := range tests {
		if got := percentile(tt.sorted, tt.p); got != tt.want {
			t.Errorf("%s: percentile(%v) = %v, want %v", tt.name, tt.p, got, tt.want)
		}
	}
}

func TestMedianPicksTheMiddleRunByThroughput(t *testing.T) {
	run := func(requests int, p50 time.Duration) result {
		return result{requests: requests, elapsed: time.Second, p50: p50}
	}
	got := median([]result{run(300, 3), run(100, 1), run(200, 2)})
	if got.requests != 200 || got.p50 != 2 {
		t.Errorf("median of 3 = %+v, want the 200 req/s run with its own p50", got)
	}
	if got := median([]result{run(300, 3), run(100, 1)}); got.requests != 100 {
		t.Errorf("median of 2 = %d req/s, want the lower middle, 100", got.requests)
	}
	if got := median(nil); got.requests != 0 {
		t.Errorf("median of none = %+v, want the zero result", got)
	}
}

func TestRPSAndRatio(t *testing.T) {
	r := result{requests: 30000, elapsed: 2 * time.Second}
	if got := r.rps(); got != 15000 {
		t.Errorf("rps = %v, want 15000", got)
	}
	if got := (result{requests: 5}).rps(); got != 0 {
		t.Errorf("rps without elapsed time = %v, want 0", got)
	}
	if got := ratio(5000, 20000); got != 0.25 {
		t.Errorf("ratio = %v, want 0.25", got)
	}
	if got := ratio(5000, 0); got != 0 {
		t.Errorf("ratio to nothing = %v, want 0", got)
	}
}

func TestFmtLatency(t *testing.T) {
	for d, want := range map[time.Duration]string{
		ms(0.4512):  "0.45ms",
		ms(2.3):     "2.30ms",
		ms(12.345):  "12.3ms",
		ms(150.4):   "150ms",
		0:           "0.00ms",
		time.Second: "1000ms",
	} {
		if got := fmtLatency(d); got != want {
			t.Errorf("fmtLatency(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestWriteTable(t *testing.T) {
	rows := []result{
		{path: "/about", target: "baseline", requests: 30000, elapsed: time.Second, p50: ms(0.45), p99: ms(1.9), cpu: 600 * time.Millisecond},
		{path: "/about", target: "userhub", requests: 15000, elapsed: time.Second, p50: ms(0.9), p99: ms(3.8), cpu: -1,
			errors: 2, firstErr: "status 500 Internal Server Error", ratio: 0.5, compared: true},
	}
	var out bytes.Buffer
	if err := writeTable(&out, rows); err != nil {
		t.Fatal(err)
	}
	want := `path    server    req/s  p50     p99     cpu/req  requests  errors  ratio
/about  baseline  30000  0.45ms  1.90ms  20.0µs   30000     0
/about  userhub   15000  0.90ms  3.80ms  -        15000     2       0.50
/about userhub: 2 errors, the first: status 500 Internal Server Error
`
	if got := out.String(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}

func TestCheckUsers(t *testing.T) {
	if err := checkUsers([]byte(`{"1":"a","2":"b"}`), 2); err != nil {
		t.Errorf("two users, want 2: %v", err)
	}
	if err := checkUsers([]byte(`{"1":"a"}`), 2); err == nil {
		t.Error("one user, want 2: no error")
	}
	if err := checkUsers([]byte(`[]`), 0); err == nil {
		t.Error("not an object: no error")
	}
}

// TestLoadCountsErrors drives an in-process server (no child process):
// wrong bodies and statuses are errors, and a run stops at -n.
func TestLoadCountsErrors(t *testing.T) {
	body := []byte(`{"1":"user001"}` + "\n")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users", staticHandler(http.Header{"Content-Type": {"application/json"}}, body))
	mux.HandleFunc("GET /other", staticHandler(http.Header{"Content-Type": {"application/json"}}, []byte("{}")))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tg := newTarget("test", srv.URL, 4)

	sc := &scenario{path: "/users", body: body}
	r := load(t.Context(), tg, sc, 4, 50, 5*time.Second)
	if r.requests != 50 || r.errors != 0 {
		t.Errorf("GET /users: %d ok, %d errors (%s), want 50 ok", r.requests, r.errors, r.firstErr)
	}
	if r.p50 <= 0 || r.p99 < r.p50 {
		t.Errorf("GET /users: p50 %v, p99 %v", r.p50, r.p99)
	}

	r = load(t.Context(), tg, &scenario{path: "/other", body: body}, 4, 10, 5*time.Second)
	if r.requests != 0 || r.errors != 10 || !strings.Contains(r.firstErr, "body differs") {
		t.Errorf("GET /other: %d ok, %d errors (%s), want 10 body errors", r.requests, r.errors, r.firstErr)
	}
	r = load(t.Context(), tg, &scenario{path: "/missing", body: body}, 4, 10, 5*time.Second)
	if r.errors != 10 || !strings.Contains(r.firstErr, "404") {
		t.Errorf("GET /missing: %d errors (%s), want 10 404s", r.errors, r.firstErr)
	}
}

func TestProcessCPU(t *testing.T) {
	if processCPU(0) != -1 {
		t.Error("pid 0 has a CPU time")
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	if cpu := processCPU(os.Getpid()); cpu < 0 {
		t.Errorf("own CPU time %v", cpu)
	}
}

func TestClusterCost(t *testing.T) {
	var out bytes.Buffer
	writeClusterCost(&out, []result{
		{path: "/users", target: "userhub", requests: 1000, elapsed: time.Second, cpu: 50 * time.Millisecond},
		{path: "/users", target: "cluster", requests: 960, elapsed: time.Second, cpu: 52 * time.Millisecond},
	})
	if got, want := out.String(), "cluster on /users: 0.96 × the req/s of one process (cost +4.0%), CPU per request +8.3%\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestBackendRatios(t *testing.T) {
	var out bytes.Buffer
	writeBackendRatios(&out, []result{
		{path: "/users", target: "userhub", requests: 1000, elapsed: time.Second},
		{path: "/users", target: "cluster", requests: 900, elapsed: time.Second},
		{path: "/users", target: "pg-cookie", requests: 850, elapsed: time.Second},
		{path: "/users", target: "pg-redis", requests: 800, elapsed: time.Second},
	})
	want := "pg-cookie on /users: 0.85 × the req/s of SQLite + cookie sessions\npg-redis on /users: 0.80 × the req/s of SQLite + cookie sessions\n"
	if got := out.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
