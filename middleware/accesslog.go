package middleware

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// AccessLog writes one line per request once it is answered: method, path,
// status, size, duration, client address and request id. Server errors are
// logged at error level, so they stand out, but not 503: a service that
// does not answer is told once, when it stops, not once per request.
// Query strings are left out, as they may carry tokens or personal data.
func AccessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelInfo
		if status >= 500 && status != http.StatusServiceUnavailable {
			level = slog.LevelError
		}
		if !log.Enabled(c.Request.Context(), level) {
			return
		}
		attrs := []slog.Attr{
			slog.String("method", c.Request.Method),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", status),
			slog.Int("bytes", max(c.Writer.Size(), 0)),
			slog.Duration("duration", time.Since(start)),
			slog.String("ip", c.ClientIP()),
			slog.String("proto", c.Request.Proto),
			slog.String("request_id", GetRequestID(c)),
		}
		if user, ok := c.Get(LogUserKey); ok {
			attrs = append(attrs, slog.Any("user", user))
		}
		log.LogAttrs(c.Request.Context(), level, "request", attrs...)
	}
}

// LogUserKey is the context key under which authentication stores the name
// of the user making the request, for the access log.
const LogUserKey = "log_user"
