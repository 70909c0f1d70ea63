package middleware

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/gin-gonic/gin"

	"userhub/models"
)

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-Id"

const requestIDKey = "request_id"

// RequestID gives every request an id, taken from X-Request-Id when a proxy
// sent a sane one (so one id follows the request through every hop) and
// generated otherwise. The id is echoed in the response header and in
// every log line and error body about the request.
func RequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(RequestIDHeader)
		if !saneRequestID(id) {
			id = newRequestID()
		}
		c.Set(requestIDKey, id)
		c.Header(RequestIDHeader, id)
		c.Next()
	}
}

// GetRequestID returns the request's id ("" outside RequestID).
func GetRequestID(c *gin.Context) string {
	return c.GetString(requestIDKey)
}

// saneRequestID accepts 1 to 64 characters of [A-Za-z0-9._:-]: enough for
// UUIDs and trace ids, and nothing that could forge a log line or header.
func saneRequestID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '.', b == '_', b == ':', b == '-':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand.Read documents it)
	return hex.EncodeToString(b[:])
}

// AuditOrigin puts the request's client address and id in its context,
// for the audit entries of the changes it makes (models.WithAudit). It
// runs after RequestID.
func AuditOrigin() gin.HandlerFunc {
	return func(c *gin.Context) {
		o := models.AuditOrigin{ClientIP: c.ClientIP(), RequestID: GetRequestID(c)}
		c.Request = c.Request.WithContext(models.WithAuditOrigin(c.Request.Context(), o))
		c.Next()
	}
}
