package handlers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"userhub/auth"
	"userhub/models"
)

// Idempotent creates: a client that sends Idempotency-Key with a create
// may send it again (a timeout, a dropped connection) without making a
// second user. The first answer is kept in the database, so every
// instance replays it, for idempotencyTTL.

const idempotencyTTL = 24 * time.Hour

// idempotencyLease is how long a claimed key stays claimed without an
// answer: longer than any request may run (server.write_timeout is at most
// 24 h, but the default is 30 s); after that its process is taken to have
// died (kill -9), and a retry runs.
const idempotencyLease = 2 * time.Minute

var (
	errBadIdempotencyKey = &requestError{http.StatusBadRequest, "invalid_idempotency_key", "Idempotency-Key is 1 to 255 visible ASCII characters"}
	errKeyReused         = &requestError{http.StatusUnprocessableEntity, "idempotency_key_reused", "this Idempotency-Key was sent with another request; use a new key for a new request"}
	errKeyInUse          = &requestError{http.StatusConflict, "idempotency_key_in_use", "a request with this Idempotency-Key is still running; retry when it has answered"}
)

// validKey: 1 to 255 visible ASCII characters (a UUID, say).
func validKey(k string) bool {
	if len(k) == 0 || len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// idempotencyScope is whose keys a principal uses: a token's own, or the
// user's for a session (a retry after logging in again still matches).
func idempotencyScope(p auth.Principal) string {
	if p.Method == auth.MethodToken {
		return "t:" + strconv.FormatInt(p.Token.ID, 10)
	}
	return "u:" + strconv.FormatInt(p.User.ID, 10)
}

// answerRecorder keeps a copy of what the handler writes.
type answerRecorder struct {
	gin.ResponseWriter
	body bytes.Buffer
}

func (r *answerRecorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *answerRecorder) WriteString(s string) (int, error) {
	r.body.WriteString(s)
	return r.ResponseWriter.WriteString(s)
}

// idempotent honours Idempotency-Key on a create: the same key with the
// same request (method, path and body) within 24 hours is answered with
// the first answer (status, Location and body; Idempotent-Replayed: true)
// and creates nothing; with another request, 422; while the first still
// runs, 409. An answer of ours that failed (5xx) is not kept: a retry runs.
func (h *Handlers) idempotent(c *gin.Context) {
	key := c.GetHeader("Idempotency-Key")
	if key == "" || h.idempotency == nil {
		c.Next()
		return
	}
	if !validKey(key) {
		h.fail(c, errBadIdempotencyKey)
		return
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if !errors.As(err, &tooLarge) {
			err = errUnreadableBody
		}
		h.fail(c, err)
		return
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	sum := sha256.New()
	io.WriteString(sum, c.Request.Method+" "+c.Request.URL.Path+"\n")
	sum.Write(body)
	request := sum.Sum(nil)
	scope := idempotencyScope(principal(c))
	ctx := c.Request.Context()
	held, claimed, err := h.idempotency.ClaimIdempotencyKey(ctx, scope, key, request, idempotencyTTL, idempotencyLease)
	switch {
	case err != nil:
		h.fail(c, err)
		return
	case !claimed && !bytes.Equal(held.Request, request):
		h.fail(c, errKeyReused)
		return
	case !claimed && held.Status == 0:
		c.Header("Retry-After", "1")
		h.fail(c, errKeyInUse)
		return
	case !claimed:
		if held.Location != "" {
			c.Header("Location", held.Location)
		}
		c.Header("Idempotent-Replayed", "true")
		contentType := typeJSON
		if held.Status >= 400 {
			contentType = typeProblem
		} else {
			c.Header("ETag", etagOf(held.Body, false)) // the tag of the user as first answered
		}
		writeBody(c, held.Status, contentType, held.Body)
		c.Abort()
		return
	}
	rec := &answerRecorder{ResponseWriter: c.Writer}
	c.Writer = rec
	answered := false
	// Kept even when the client has gone: that is when it will retry.
	ctx = context.WithoutCancel(ctx)
	defer func() {
		if !answered { // the handler panicked: a retry should run again
			h.idempotency.ReleaseIdempotencyKey(ctx, scope, key)
		}
	}()
	c.Next()
	answered = true
	c.Writer = rec.ResponseWriter
	if status := rec.Status(); status >= 500 {
		err = h.idempotency.ReleaseIdempotencyKey(ctx, scope, key)
	} else {
		err = h.idempotency.SaveIdempotentAnswer(ctx, scope, key, models.StoredAnswer{Status: status, Location: rec.Header().Get("Location"), Body: rec.body.Bytes()})
	}
	if err != nil {
		h.log.Warn("idempotency key not recorded: a retry with it will run again", "error", err)
	}
}
