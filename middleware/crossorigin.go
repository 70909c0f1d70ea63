package middleware

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
)

// ErrCrossOrigin is a state-changing browser request from another origin.
var ErrCrossOrigin = errors.New("cross-origin request refused")

// CrossOrigin is the CSRF guard: net/http's CrossOriginProtection refuses a
// non-GET/HEAD/OPTIONS request that a browser marks as cross-site
// (Sec-Fetch-Site) or whose Origin names another host. Requests with
// neither header (curl, programs) pass. It runs inside the engine, after
// the request id and the access log, so a refusal is logged and answered
// in the route's format like every other error.
func CrossOrigin(trustedOrigins []string, exempt func(*http.Request) bool, fail Fail) (gin.HandlerFunc, error) {
	cop := http.NewCrossOriginProtection()
	for _, o := range trustedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, err
		}
	}
	return func(c *gin.Context) {
		if err := cop.Check(c.Request); err != nil && !exempt(c.Request) {
			fail(c, ErrCrossOrigin)
			return
		}
		c.Next()
	}, nil
}
