package middleware

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// RequestObserver is told of every request: when it begins, and once it
// is answered, by route template (Gin's c.FullPath(), "/api/v1/users/:id",
// never the raw path, so that ids do not become series), method and
// status. The metrics package implements it; this one stays free of it.
type RequestObserver interface {
	Started()
	Finished(route, method string, status int, elapsed time.Duration)
}

// Unmatched is the route of a request no route took (404, 405): one label
// value, whatever path the client sent.
const Unmatched = "unmatched"

// Observe reports every request to o. It goes before recovery, so a panic
// is seen as the 500 that recovery answers.
func Observe(o RequestObserver) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		o.Started()
		defer func() { // deferred: a panic recovery passes on still ends the request
			route := c.FullPath()
			if route == "" {
				route = Unmatched
			}
			o.Finished(route, knownMethod(c.Request.Method), c.Writer.Status(), time.Since(start))
		}()
		c.Next()
	}
}

// knownMethod is the method, or "OTHER" for one HTTP does not define:
// a client must not make series by inventing methods.
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}
