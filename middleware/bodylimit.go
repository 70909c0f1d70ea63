package middleware

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// BodyLimit caps request bodies at limit bytes. A declared Content-Length
// over the limit is refused at once with 413, without reading the body; a
// chunked body is cut off at the limit, and reading past it returns an
// *http.MaxBytesError, which the error renderer maps to 413 as well.
func BodyLimit(limit int64, fail Fail) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > limit {
			fail(c, &http.MaxBytesError{Limit: limit})
			return
		}
		if c.Request.Body != http.NoBody { // most GETs: nothing to limit
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		}
		c.Next()
	}
}
