package metrics

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"userhub/accounts"
	"userhub/buildinfo"
)

// get asks h for path and returns the status and the body.
func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

func TestSeries(t *testing.T) {
	for _, tt := range []struct {
		name     string
		src      Sources
		record   func(m *Metrics)
		want     []string
		wantNone []string
	}{
		{
			name: "requests by status class, and latency",
			record: func(m *Metrics) {
				m.Started()
				m.Finished("/users/:id", "GET", 204, time.Millisecond)
				m.Started()
				m.Finished("/users/:id", "GET", 503, time.Second)
				m.Started() // still in flight
			},
			want: []string{
				`userhub_http_requests_total{method="GET",route="/users/:id",status="2xx"} 1`,
				`userhub_http_requests_total{method="GET",route="/users/:id",status="5xx"} 1`,
				`userhub_http_request_duration_seconds_bucket{method="GET",route="/users/:id",le="1"} 2`,
				`userhub_http_requests_in_flight 1`,
			},
		},
		{
			name: "logins by outcome, every outcome shown",
			record: func(m *Metrics) {
				m.Login(accounts.LoginOK)
				m.Login(accounts.LoginThrottled)
				m.Login(accounts.LoginThrottled)
			},
			want: []string{
				`userhub_logins_total{outcome="ok"} 1`,
				`userhub_logins_total{outcome="throttled"} 2`,
				`userhub_logins_total{outcome="bad_credentials"} 0`,
				`userhub_logins_total{outcome="second_factor_pending"} 0`,
			},
		},
		{
			name: "sessions, pools, cache and build",
			src: Sources{
				Build:        buildinfo.Info{Version: "v1.0.0", Revision: "f00"},
				LiveSessions: func(context.Context, time.Time) (int, error) { return 7, nil },
				Pools: func() map[string]sql.DBStats {
					return map[string]sql.DBStats{"read": {MaxOpenConnections: 4, InUse: 1}, "write": {MaxOpenConnections: 1}}
				},
				Cache: func() (uint64, uint64) { return 10, 3 },
			},
			want: []string{
				`userhub_sessions_active 7`,
				`go_sql_max_open_connections{db_name="read"} 4`,
				`go_sql_in_use_connections{db_name="read"} 1`,
				`go_sql_max_open_connections{db_name="write"} 1`,
				`userhub_cache_hits_total 10`,
				`userhub_cache_misses_total 3`,
				`userhub_build_info{revision="f00",version="v1.0.0"} 1`,
				`go_build_info{`,
				`process_cpu_seconds_total`,
			},
		},
		{
			name: "a session count that fails is left out of the scrape",
			src: Sources{
				LiveSessions: func(context.Context, time.Time) (int, error) { return 0, errors.New("database down") },
			},
			want:     []string{`userhub_build_info`},
			wantNone: []string{`userhub_sessions_active`},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := New(tt.src)
			if tt.record != nil {
				tt.record(m)
			}
			code, body := get(t, Handler(m.Gatherer()), "/metrics")
			if code != 200 {
				t.Fatalf("/metrics: %d %s", code, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("missing %s", w)
				}
			}
			for _, w := range tt.wantNone {
				if strings.Contains(body, w) {
					t.Errorf("unexpected %s", w)
				}
			}
			if t.Failed() {
				t.Log(body)
			}
		})
	}
}

func TestAdminHandler(t *testing.T) {
	h := Handler(New(Sources{}).Gatherer())
	for _, tt := range []struct {
		path     string
		status   int
		contains string
	}{
		{"/metrics", 200, "userhub_http_requests_in_flight"},
		{"/debug/pprof/", 200, "goroutine"},
		{"/debug/pprof/cmdline", 200, ""},
		{"/", 404, ""},
		{"/healthz", 404, ""},
	} {
		code, body := get(t, h, tt.path)
		if code != tt.status || !strings.Contains(body, tt.contains) {
			t.Errorf("%s: %d, want %d with %q", tt.path, code, tt.status, tt.contains)
		}
	}
}

func TestStatusClass(t *testing.T) {
	for status, want := range map[int]string{200: "2xx", 204: "2xx", 308: "3xx", 404: "4xx", 499: "4xx", 500: "5xx", 503: "5xx", 101: "1xx", 0: "other", 999: "other"} {
		if got := statusClass(status); got != want {
			t.Errorf("statusClass(%d) = %q, want %q", status, got, want)
		}
	}
}
