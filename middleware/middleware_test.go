package middleware

import (
	"bytes"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// failStatus is a Fail that answers with a status per error kind, so the
// middleware can be tested without the real renderer.
func failStatus(c *gin.Context, err error) {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		c.AbortWithStatus(http.StatusRequestEntityTooLarge)
	case errors.Is(err, ErrCrossOrigin):
		c.AbortWithStatus(http.StatusForbidden)
	default:
		c.AbortWithStatus(http.StatusInternalServerError)
	}
}

func serve(r *gin.Engine, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	return rec
}

func TestSaneRequestID(t *testing.T) {
	for id, want := range map[string]bool{
		"abc": true, "A-b_c.d:e": true, strings.Repeat("x", 64): true,
		"": false, strings.Repeat("x", 65): false, "a b": false, "a\r\nb": false, "ü": false, "a/b": false,
	} {
		if saneRequestID(id) != want {
			t.Errorf("saneRequestID(%q) = %v", id, !want)
		}
	}
	if a, b := newRequestID(), newRequestID(); a == b || !saneRequestID(a) {
		t.Errorf("generated ids %q %q", a, b)
	}
}

func TestBodyLimit(t *testing.T) {
	r := gin.New()
	r.Use(BodyLimit(10, failStatus))
	r.POST("/", func(c *gin.Context) {
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(c.Request.Body); err != nil {
			failStatus(c, err)
			return
		}
		c.String(200, "%d", buf.Len())
	})
	for _, tt := range []struct {
		body    string
		chunked bool
		status  int
	}{
		{"0123456789", false, 200},
		{"0123456789x", false, 413},
		{"0123456789", true, 200},
		{"0123456789x", true, 413},
	} {
		req := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
		if tt.chunked {
			req.ContentLength = -1
		}
		if rec := serve(r, req); rec.Code != tt.status {
			t.Errorf("%d bytes chunked=%v: %d, want %d", len(tt.body), tt.chunked, rec.Code, tt.status)
		}
	}
}

func TestRecoveryKeepsServing(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	r := gin.New()
	r.Use(RequestID(), Recovery(log, failStatus))
	r.GET("/panic", func(c *gin.Context) { panic("kaboom") })
	r.GET("/late", func(c *gin.Context) { c.String(200, "half"); panic("after writing") })
	r.GET("/ok", func(c *gin.Context) { c.String(200, "ok") })

	if rec := serve(r, httptest.NewRequest("GET", "/panic", nil)); rec.Code != 500 {
		t.Fatalf("panic: %d", rec.Code)
	}
	if rec := serve(r, httptest.NewRequest("GET", "/late", nil)); rec.Code != 200 || rec.Body.String() != "half" {
		t.Fatalf("panic after the status was sent: %d %q", rec.Code, rec.Body)
	}
	if rec := serve(r, httptest.NewRequest("GET", "/ok", nil)); rec.Code != 200 {
		t.Fatalf("after panics: %d", rec.Code)
	}
	if !strings.Contains(logs.String(), "panic=kaboom") || !strings.Contains(logs.String(), "stack=") {
		t.Fatalf("log: %s", logs.String())
	}
}

func TestRecoveryLetsAbortHandlerThrough(t *testing.T) {
	r := gin.New()
	r.Use(Recovery(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), failStatus))
	r.GET("/", func(c *gin.Context) { panic(http.ErrAbortHandler) })
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler to reach net/http", v)
		}
	}()
	serve(r, httptest.NewRequest("GET", "/", nil))
}

func TestSecurityHeaders(t *testing.T) {
	r := gin.New()
	r.Use(SecurityHeaders())
	r.GET("/", func(c *gin.Context) { c.String(200, "x") })
	rec := serve(r, httptest.NewRequest("GET", "/", nil))
	for k := range securityHeaders {
		if rec.Header().Get(k) == "" {
			t.Errorf("%s missing", k)
		}
	}
	if csp := rec.Header().Get("Content-Security-Policy"); strings.Contains(csp, "unsafe") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
}

func TestHSTSOnlyOverTLS(t *testing.T) {
	r := gin.New()
	r.Use(HSTS(31536000, true))
	r.GET("/", func(c *gin.Context) { c.String(200, "x") })
	plain := serve(r, httptest.NewRequest("GET", "/", nil))
	if h := plain.Header().Get("Strict-Transport-Security"); h != "" {
		t.Errorf("HSTS over plain HTTP: %q", h)
	}
	req := httptest.NewRequest("GET", "https://example.com/", nil)
	req.TLS = &tls.ConnectionState{}
	if h := serve(r, req).Header().Get("Strict-Transport-Security"); h != "max-age=31536000; includeSubDomains" {
		t.Errorf("HSTS over TLS: %q", h)
	}
}
