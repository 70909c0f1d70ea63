package handlers_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"userhub/buildinfo"
	"userhub/metrics"
)

// TestMetricsCountRouteTemplates: the request metrics name the route
// template (never the path a client sent, so ids make no series), the
// method and the status class; the public handler has no /metrics.
func TestMetricsCountRouteTemplates(t *testing.T) {
	m := metrics.New(metrics.Sources{Build: buildinfo.Info{Version: "v1.2.3", Revision: "abc"}})
	a := newApp(t)
	a.requests = m
	a.handler = a.build(t, a.store)
	users("kim", "lee")(t, a)
	cookie := a.login(t, "kim")

	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/api/v1/users/1", 200},
		{"GET", "/api/v1/users/2", 200},
		{"GET", "/api/v1/users/999", 404},
		{"GET", "/metrics", 404},          // the public listener has no metrics
		{"GET", "/debug/pprof/", 404},     // nor the profiler
		{"GET", "/no/such/page/123", 404}, // unmatched, whatever the path
		{"DELETE", "/healthz", 405},
	} {
		req := httptest.NewRequest(tt.method, tt.path, nil)
		req.AddCookie(cookie)
		if rec := a.do(req); rec.Code != tt.status {
			t.Fatalf("%s %s: %d, want %d", tt.method, tt.path, rec.Code, tt.status)
		}
	}

	body := scrape(t, m)
	for _, want := range []string{
		`userhub_http_requests_total{method="GET",route="/api/v1/users/:id",status="2xx"} 2`,
		`userhub_http_requests_total{method="GET",route="/api/v1/users/:id",status="4xx"} 1`,
		`userhub_http_requests_total{method="POST",route="/api/v1/login",status="2xx"} 1`,
		`userhub_http_requests_total{method="GET",route="unmatched",status="4xx"} 3`,
		`userhub_http_requests_total{method="DELETE",route="unmatched",status="4xx"} 1`,
		`userhub_http_request_duration_seconds_count{method="GET",route="/api/v1/users/:id"} 3`,
		`userhub_http_requests_in_flight 0`,
		`userhub_build_info{revision="abc",version="v1.2.3"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the metrics lack %s", want)
		}
	}
	for _, path := range []string{"/api/v1/users/1", "/api/v1/users/999", "/no/such/page"} {
		if strings.Contains(body, `"`+path) {
			t.Errorf("a raw path made a series: %s", path)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
}

// scrape returns what the admin handler's /metrics answers, as text.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	metrics.Handler(m.Gatherer()).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}
