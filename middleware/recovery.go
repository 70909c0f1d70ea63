package middleware

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/gin-gonic/gin"
)

// ErrPanic is what a recovered panic becomes: a 500 for the client, with the
// panic value and stack in the log only.
var ErrPanic = errors.New("internal error")

// Recovery turns a panic in a handler into a 500 answered in the route's
// format, logs the panic with its stack and the request id, and keeps the
// process serving.
func Recovery(log *slog.Logger, fail Fail) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				// The handler chose to drop the connection: let net/http do so.
				panic(v)
			}
			log.Error("panic", "panic", fmt.Sprint(v), "request_id", GetRequestID(c),
				"method", c.Request.Method, "path", c.Request.URL.Path, "stack", string(debug.Stack()))
			if c.Writer.Written() {
				// Too late for a clean error: the status is out. Abort so
				// nothing more is written.
				c.Abort()
				return
			}
			fail(c, ErrPanic)
		}()
		c.Next()
	}
}
