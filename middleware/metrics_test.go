package middleware

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// seen records what Observe reports.
type seen struct {
	mu       sync.Mutex
	inFlight int
	requests []string // "route method status"
}

func (s *seen) Started() { s.mu.Lock(); s.inFlight++; s.mu.Unlock() }

func (s *seen) Finished(route, method string, status int, _ time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight--
	s.requests = append(s.requests, route+" "+method+" "+http.StatusText(status))
}

func TestObserveReportsRouteTemplates(t *testing.T) {
	for _, tt := range []struct {
		name, method, path string
		want               string
	}{
		{"a route with a parameter: its template, not the path", "GET", "/users/42", "/users/:id GET OK"},
		{"a wildcard route", "GET", "/static/app.css", "/static/*path GET OK"},
		{"no route: one label for every path", "GET", "/wp-admin/setup.php", "unmatched GET Not Found"},
		{"a method HTTP does not define", "BREW", "/users/42", "unmatched OTHER Not Found"},
		{"a panic, answered 500 by recovery", "GET", "/panic", "/panic GET Internal Server Error"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &seen{}
			r := gin.New()
			r.Use(Observe(s), Recovery(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), failStatus))
			r.GET("/users/:id", func(c *gin.Context) { c.String(200, c.Param("id")) })
			r.GET("/static/*path", func(c *gin.Context) { c.Status(200) })
			r.GET("/panic", func(*gin.Context) { panic("boom") })
			serve(r, httptest.NewRequest(tt.method, tt.path, nil))
			if len(s.requests) != 1 || s.requests[0] != tt.want || s.inFlight != 0 {
				t.Fatalf("observed %q, %d in flight; want [%q], 0", s.requests, s.inFlight, tt.want)
			}
		})
	}
}
