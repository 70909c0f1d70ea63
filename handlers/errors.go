package handlers

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"userhub/middleware"
	"userhub/models"
)

// requestError is a client error found in the HTTP layer itself (malformed
// JSON, wrong media type, no such route), as opposed to a domain error.
type requestError struct {
	status int
	code   string // stable machine-readable word, also the translation key suffix
	detail string // English, for the API
}

func (e *requestError) Error() string { return e.detail }

var (
	errNoRoute       = &requestError{http.StatusNotFound, "not_found", "no such page or resource"}
	errMethod        = &requestError{http.StatusMethodNotAllowed, "method_not_allowed", "this method is not allowed here; see the Allow header"}
	errEmptyBody     = &requestError{http.StatusBadRequest, "empty_body", "the request body is empty; send a JSON object"}
	errNotObject     = &requestError{http.StatusBadRequest, "malformed_json", "the request body must be a JSON object"}
	errTrailingData  = &requestError{http.StatusBadRequest, "malformed_json", "unexpected data after the JSON object"}
	errUnsupportedCT = &requestError{http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as JSON with Content-Type: application/json"}
)

// statusClientClosed is nginx's word for a client that went away before
// its answer: nothing is sent, but the access log says what happened.
const statusClientClosed = 499

func errMalformedJSON(detail string) error {
	return &requestError{http.StatusBadRequest, "malformed_json", "malformed JSON: " + detail}
}

// problem is an RFC 9457 problem details body. Type stays "about:blank" (the
// status says what happened); Code is the stable word clients switch on.
// header holds response headers the status calls for (Retry-After,
// WWW-Authenticate).
type problem struct {
	header    map[string]string
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail,omitempty"`
	Instance  string              `json:"instance,omitempty"`
	Code      string              `json:"code"`
	RequestID string              `json:"request_id,omitempty"`
	Errors    []models.FieldError `json:"errors,omitempty"`
}

// problemFor maps any error to what the client is told. Errors not listed
// here are server faults: 500, with nothing of the error in the body.
func problemFor(err error) problem {
	p := problem{Type: "about:blank"}
	var (
		reqErr    *requestError
		valErr    *models.ValidationError
		tooLarge  *http.MaxBytesError
		forbidden *models.ForbiddenError
		throttled *models.ThrottledError
	)
	switch {
	case errors.As(err, &reqErr):
		p.Status, p.Code, p.Detail = reqErr.status, reqErr.code, reqErr.detail
	case errors.As(err, &valErr):
		p.Status, p.Code, p.Detail, p.Errors = http.StatusUnprocessableEntity, "validation_failed", valErr.Error(), valErr.Fields
	case errors.As(err, &tooLarge):
		p.Status, p.Code, p.Detail = http.StatusRequestEntityTooLarge, "body_too_large", "the request body is larger than the limit"
	case errors.Is(err, models.ErrNotFound):
		p.Status, p.Code, p.Detail = http.StatusNotFound, "not_found", "no such user"
	case errors.Is(err, models.ErrNameTaken):
		p.Status, p.Code, p.Detail = http.StatusConflict, "name_taken", "another user already has this name (names ignore case)"
	case errors.Is(err, models.ErrLastAdmin):
		p.Status, p.Code, p.Detail = http.StatusConflict, "last_admin", "this is the only administrator; make another user an administrator first"
	case errors.Is(err, models.ErrNotAuthenticated):
		p.Status, p.Code, p.Detail = http.StatusUnauthorized, "not_authenticated", "log in first: POST /api/v1/login"
		p.header = map[string]string{"WWW-Authenticate": wwwAuthenticate}
	case errors.Is(err, models.ErrBadCredentials):
		p.Status, p.Code, p.Detail = http.StatusUnauthorized, "bad_credentials", "wrong name or password"
		p.header = map[string]string{"WWW-Authenticate": wwwAuthenticate}
	case errors.As(err, &forbidden):
		p.Status, p.Code, p.Detail = http.StatusForbidden, "forbidden", forbidden.Reason
	case errors.As(err, &throttled):
		p.Status, p.Code, p.Detail = http.StatusTooManyRequests, "too_many_attempts", throttled.Error()
		p.header = map[string]string{"Retry-After": strconv.Itoa(int(math.Ceil(throttled.RetryAfter.Seconds())))}
	case errors.Is(err, models.ErrHasherBusy):
		p.Status, p.Code, p.Detail = http.StatusServiceUnavailable, "busy", "too many logins at once; try again in a second"
		p.header = map[string]string{"Retry-After": "1"}
	case errors.Is(err, models.ErrSetupDone):
		p.Status, p.Code, p.Detail = http.StatusNotFound, "not_found", "no such page or resource"
	case errors.Is(err, middleware.ErrCrossOrigin):
		p.Status, p.Code, p.Detail = http.StatusForbidden, "cross_origin", "cross-origin request refused"
	case errors.Is(err, models.ErrUnavailable):
		p.Status, p.Code, p.Detail = http.StatusServiceUnavailable, "unavailable", "a service userhub needs (the database, Redis) does not answer; try again shortly"
		p.header = map[string]string{"Retry-After": "5"}
	case errors.Is(err, context.Canceled):
		p.Status, p.Code, p.Detail = statusClientClosed, "client_closed_request", "the client went away"
	case errors.Is(err, context.DeadlineExceeded):
		p.Status, p.Code, p.Detail = http.StatusServiceUnavailable, "timeout", "the server took too long; try again"
	default:
		p.Status, p.Code, p.Detail = http.StatusInternalServerError, "internal", "something went wrong on our side; the request id identifies it in our logs"
	}
	p.Title = http.StatusText(p.Status)
	if p.Status == statusClientClosed {
		p.Title = "Client Closed Request"
	}
	return p
}

// fail renders err in the route's format and aborts the chain: problem+json
// for API routes, the HTML error page for pages. Server faults are logged
// with the request id; client errors are only in the access log.
func (h *Handlers) fail(c *gin.Context, err error) {
	p := problemFor(err)
	p.Instance = c.Request.URL.Path
	p.RequestID = middleware.GetRequestID(c)
	if p.Status >= 500 && p.Status != http.StatusServiceUnavailable && !errors.Is(err, middleware.ErrPanic) {
		h.log.ErrorContext(c.Request.Context(), "request failed", "error", err, "request_id", p.RequestID,
			"method", c.Request.Method, "path", c.Request.URL.Path)
	}
	for k, v := range p.header {
		c.Header(k, v)
	}
	c.Abort()
	if p.Status == statusClientClosed {
		c.Status(p.Status) // for the access log; nobody reads the body
		return
	}
	if wantsJSON(c.Request) {
		writeJSON(c, p.Status, typeProblem, p)
		return
	}
	h.renderPage(c, p.Status, "error.html", "", errorPage{Problem: p})
}

// wwwAuthenticate names how to authenticate (RFC 9110 11.6.1): a session
// cookie, obtained from the login endpoint. There is no registered scheme
// for cookies; this one says what a client needs to know.
const wwwAuthenticate = `Cookie realm="userhub", login="/api/v1/login"`

// errorPage is what error.html shows.
type errorPage struct {
	Problem problem
}

// wantsJSON tells API routes (the versioned API, the seed's JSON routes,
// the health checks) from pages. It goes by path, not by Accept, so a route
// answers in one format whoever asks.
func wantsJSON(r *http.Request) bool {
	p := r.URL.Path
	return strings.HasPrefix(p, "/api/") || p == "/users" || p == "/user" || strings.HasPrefix(p, "/user/") ||
		p == "/healthz" || p == "/readyz"
}
