package auth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"userhub/auth"
	"userhub/models"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// credential is a fake credential: it proves p when the request carries
// header, fails with err, or proves nothing.
type credential struct {
	header    string
	p         auth.Principal
	err       error
	challenge string
}

func (c credential) Principal(ctx *gin.Context) (auth.Principal, bool, error) {
	if c.err != nil {
		return auth.Principal{}, false, c.err
	}
	return c.p, ctx.GetHeader(c.header) != "", nil
}

func (c credential) Challenge() string { return c.challenge }

// failStatus answers 401/403/503 with the error's kind, as handlers' fail would.
func failStatus(c *gin.Context, err error) {
	var forbidden *models.ForbiddenError
	switch {
	case errors.Is(err, models.ErrNotAuthenticated):
		c.AbortWithStatus(http.StatusUnauthorized)
	case errors.As(err, &forbidden):
		c.AbortWithStatus(http.StatusForbidden)
	default:
		c.AbortWithStatus(http.StatusServiceUnavailable)
	}
}

// TestRequireLooksOnlyAtThePrincipal: whatever credential made the
// principal, and in whatever order the credentials are tried, the gates
// decide on the principal alone; a login still waiting for its second
// factor is not logged in.
func TestRequireLooksOnlyAtThePrincipal(t *testing.T) {
	admin := auth.Principal{User: models.User{ID: 1, Name: "kim", Role: models.RoleAdmin}, Method: auth.MethodSession}
	member := auth.Principal{User: models.User{ID: 2, Name: "lee", Role: models.RoleMember}, Method: "token"}
	pending := admin
	pending.SecondFactorPending = true
	a := auth.New(failStatus,
		credential{header: "X-Admin", p: admin, challenge: `Cookie realm="x"`},
		credential{header: "X-Member", p: member, challenge: `Bearer realm="x"`},
		credential{header: "X-Pending", p: pending},
	)
	if got := a.Challenge(); got != `Cookie realm="x", Bearer realm="x"` {
		t.Errorf("challenge %q", got)
	}
	r := gin.New()
	r.Use(a.Authenticate())
	ok := func(c *gin.Context) { c.Status(http.StatusOK) }
	r.GET("/open", ok)
	r.GET("/page", auth.RequireLogin(failStatus, true), ok)
	r.GET("/api", auth.RequireLogin(failStatus, false), ok)
	r.GET("/admin", auth.RequireLogin(failStatus, false), auth.RequireAdmin(failStatus), ok)
	for _, tt := range []struct {
		header, path string
		status       int
		cacheControl string
	}{
		{"", "/open", 200, ""},
		{"", "/api", 401, ""},
		{"", "/page", 303, ""},
		{"X-Admin", "/admin", 200, "no-store"},
		{"X-Member", "/api", 200, "no-store"},
		{"X-Member", "/admin", 403, "no-store"},
		{"X-Pending", "/api", 401, "no-store"},
		{"X-Pending", "/page", 303, "no-store"},
		{"X-Pending", "/admin", 401, "no-store"},
	} {
		req := httptest.NewRequest("GET", tt.path, nil)
		if tt.header != "" {
			req.Header.Set(tt.header, "1")
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		if rec.Code != tt.status || rec.Header().Get("Cache-Control") != tt.cacheControl {
			t.Errorf("%s %s: %d, Cache-Control %q; want %d, %q", tt.header, tt.path, rec.Code, rec.Header().Get("Cache-Control"), tt.status, tt.cacheControl)
		}
	}

	// A credential that cannot be checked now is not the client's fault.
	broken := gin.New()
	broken.Use(auth.New(failStatus, credential{err: models.ErrUnavailable}).Authenticate())
	broken.GET("/open", ok)
	rec := httptest.NewRecorder()
	broken.ServeHTTP(rec, httptest.NewRequest("GET", "/open", nil))
	if rec.Code != 503 {
		t.Errorf("a credential store down: %d", rec.Code)
	}
}
