package handlers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"userhub/accounts"
	"userhub/locale"
	"userhub/middleware"
	"userhub/models"
	"userhub/sessions"
	"userhub/sso"
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
	errNoRoute        = &requestError{http.StatusNotFound, "not_found", "no such page or resource"}
	errMethod         = &requestError{http.StatusMethodNotAllowed, "method_not_allowed", "this method is not allowed here; see the Allow header"}
	errEmptyBody      = &requestError{http.StatusBadRequest, "empty_body", "the request body is empty; send a JSON object"}
	errNotObject      = &requestError{http.StatusBadRequest, "malformed_json", "the request body must be a JSON object"}
	errTrailingData   = &requestError{http.StatusBadRequest, "malformed_json", "unexpected data after the JSON object"}
	errUnsupportedCT  = &requestError{http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as JSON with Content-Type: application/json"}
	errNotUTF8        = &requestError{http.StatusBadRequest, "invalid_utf8", "the request body must be UTF-8 text"}
	errUnreadableBody = &requestError{http.StatusBadRequest, "unreadable_body", "the request body could not be read to its end"}
)

// statusClientClosed is nginx's word for a client that went away before
// its answer: nothing is sent, but the access log says what happened.
const statusClientClosed = 499

func errMalformedJSON(detail string) error {
	return &requestError{http.StatusBadRequest, "malformed_json", "malformed JSON: " + detail}
}

// problem is an RFC 9457 problem details body. Type stays "about:blank" (the
// status says what happened); Code is the stable word clients switch on.
type problem struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail,omitempty"`
	Instance  string              `json:"instance,omitempty"`
	Code      string              `json:"code"`
	RequestID string              `json:"request_id,omitempty"`
	Errors    []models.FieldError `json:"errors,omitempty"`
	// retryAfter, in seconds, is sent as Retry-After when above zero.
	retryAfter int
}

// errorTable maps the errors the layers below return to what the client
// is told. The first row whose error matches (errors.Is) wins.
var errorTable = []struct {
	err        error
	status     int
	code       string
	detail     string
	retryAfter int // seconds
}{
	{models.ErrNotFound, http.StatusNotFound, "not_found", "no such user", 0},
	{models.ErrNoToken, http.StatusNotFound, "not_found", "no such token", 0},
	{sessions.ErrNoSession, http.StatusNotFound, "not_found", "no such session: it has ended, or is not yours", 0},
	{models.ErrBadToken, http.StatusUnauthorized, "invalid_token", models.ErrBadToken.Error(), 0},
	{models.ErrPreconditionFailed, http.StatusPreconditionFailed, "precondition_failed", models.ErrPreconditionFailed.Error(), 0},
	{models.ErrNameTaken, http.StatusConflict, "name_taken", "another user already has this name (names ignore case)", 0},
	{models.ErrLastAdmin, http.StatusConflict, "last_admin", "this is the only administrator; make another user an administrator first", 0},
	{models.ErrSuspended, http.StatusForbidden, "suspended", "this account is suspended: an administrator can restore it", 0},
	{models.ErrSuspendSelf, http.StatusConflict, "suspend_self", "you cannot suspend your own account; another administrator can", 0},
	{models.ErrNotAuthenticated, http.StatusUnauthorized, "not_authenticated", "log in first: POST /api/v1/login", 0},
	{models.ErrBadCredentials, http.StatusUnauthorized, "bad_credentials", "wrong name or password", 0},
	{models.ErrSecondFactorRequired, http.StatusUnauthorized, "second_factor_required", models.ErrSecondFactorRequired.Error(), 0},
	{models.ErrBadSecondFactor, http.StatusUnauthorized, "invalid_second_factor", "wrong, expired or already used code (an app's code works once)", 0},
	{models.ErrEnrolmentRequired, http.StatusForbidden, "second_factor_enrolment_required", models.ErrEnrolmentRequired.Error(), 0},
	{models.ErrTOTPEnabled, http.StatusConflict, "totp_enabled", models.ErrTOTPEnabled.Error(), 0},
	{models.ErrNoTOTP, http.StatusNotFound, "no_totp", models.ErrNoTOTP.Error(), 0},
	{models.ErrNoPasskey, http.StatusNotFound, "not_found", "no such passkey", 0},
	{accounts.ErrBadPasskey, http.StatusUnauthorized, "invalid_passkey", accounts.ErrBadPasskey.Error(), 0},
	{accounts.ErrPasskeysOff, http.StatusNotFound, "passkeys_off", accounts.ErrPasskeysOff.Error(), 0},
	{sessions.ErrNoCeremony, http.StatusBadRequest, "no_ceremony", sessions.ErrNoCeremony.Error(), 0},
	{sso.ErrUnavailable, http.StatusServiceUnavailable, "oidc_unavailable", "the sign-in provider does not answer; try again later", 0},
	{sso.ErrBadState, http.StatusBadRequest, "oidc_state", sso.ErrBadState.Error(), 0},
	{sso.ErrCodeRefused, http.StatusBadRequest, "oidc_code", sso.ErrCodeRefused.Error(), 0},
	{sso.ErrBadNonce, http.StatusBadRequest, "oidc_nonce", sso.ErrBadNonce.Error(), 0},
	{sso.ErrBadToken, http.StatusBadRequest, "oidc_token", sso.ErrBadToken.Error(), 0},
	{sso.ErrDenied, http.StatusForbidden, "oidc_denied", sso.ErrDenied.Error(), 0},
	{models.ErrNoOIDCLink, http.StatusForbidden, "oidc_not_linked", "no account here is linked to this sign-in; ask an administrator", 0},
	{models.ErrOIDCLinkTaken, http.StatusConflict, "oidc_link_taken", models.ErrOIDCLinkTaken.Error(), 0},
	{accounts.ErrLastWayIn, http.StatusConflict, "last_way_in", accounts.ErrLastWayIn.Error(), 0},
	{accounts.ErrPasswordLoginOff, http.StatusForbidden, "password_login_off", accounts.ErrPasswordLoginOff.Error(), 0},
	{accounts.ErrOIDCOff, http.StatusNotFound, "not_found", "no such page or resource", 0},
	{models.ErrSetupDone, http.StatusNotFound, "not_found", "no such page or resource", 0},
	{middleware.ErrCrossOrigin, http.StatusForbidden, "cross_origin", "cross-origin request refused", 0},
	{accounts.ErrHasherBusy, http.StatusServiceUnavailable, "busy", "too many logins at once; try again in a second", 1},
	{models.ErrWriteUncertain, http.StatusServiceUnavailable, "outcome_unknown", "the database did not confirm the change in time, and may have made it: look before trying again", 5},
	{models.ErrUnavailable, http.StatusServiceUnavailable, "unavailable", "a service userhub needs (the database, Redis) does not answer; try again shortly", 5},
	{context.Canceled, statusClientClosed, "client_closed_request", "the client went away", 0},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "timeout", "the server took too long; try again", 0},
}

// problemFor maps any error to what the client is told: the errors that
// carry their own details first, then the table. Anything else is a
// server fault: 500, with nothing of the error in the body.
func problemFor(err error) problem {
	p := problem{Type: "about:blank"}
	var (
		reqErr    *requestError
		valErr    *models.ValidationError
		tooLarge  *http.MaxBytesError
		forbidden *models.ForbiddenError
		throttled *models.ThrottledError
		limited   *models.RateLimitedError
		unready   *notReady
	)
	switch {
	case errors.As(err, &reqErr):
		p.Status, p.Code, p.Detail = reqErr.status, reqErr.code, reqErr.detail
	case errors.As(err, &valErr):
		p.Status, p.Code, p.Detail, p.Errors = http.StatusUnprocessableEntity, "validation_failed", valErr.Error(), valErr.Fields
	case errors.As(err, &tooLarge):
		p.Status, p.Code, p.Detail = http.StatusRequestEntityTooLarge, "body_too_large", "the request body is larger than the limit"
	case errors.As(err, &forbidden):
		p.Status, p.Code, p.Detail = http.StatusForbidden, "forbidden", forbidden.Reason
		if forbidden.Scope != "" {
			p.Code = "insufficient_scope"
		}
	case errors.As(err, &unready):
		p.Status, p.Code, p.Detail, p.retryAfter = http.StatusServiceUnavailable, unready.code, unready.Error(), 5
	case errors.As(err, &limited):
		p.Status, p.Code, p.Detail = http.StatusTooManyRequests, "rate_limited", limited.Error()
		p.retryAfter = max(1, int(math.Ceil(limited.RetryAfter.Seconds())))
	case errors.As(err, &throttled):
		p.Status, p.Code, p.Detail = http.StatusTooManyRequests, "too_many_attempts", throttled.Error()
		p.retryAfter = int(math.Ceil(throttled.RetryAfter.Seconds()))
	default:
		p.Status, p.Code, p.Detail = http.StatusInternalServerError, "internal", "something went wrong on our side; the request id identifies it in our logs"
		for _, row := range errorTable {
			if errors.Is(err, row.err) {
				p.Status, p.Code, p.Detail, p.retryAfter = row.status, row.code, row.detail, row.retryAfter
				break
			}
		}
	}
	p.Title = http.StatusText(p.Status)
	if p.Status == statusClientClosed {
		p.Title = "Client Closed Request"
	}
	return p
}

// setHeaders sends the headers p's status calls for.
func (h *Handlers) setHeaders(c *gin.Context, p problem) {
	if p.retryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(p.retryAfter))
	}
	if p.Status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", h.challenge)
	}
}

// fail renders err in the route's format and aborts the chain: problem+json
// for JSON routes, the HTML error page for pages. Server faults are logged
// with the request id; client errors are only in the access log.
func (h *Handlers) fail(c *gin.Context, err error) {
	p := problemFor(err)
	p.Instance = c.Request.URL.Path
	p.RequestID = middleware.GetRequestID(c)
	if p.Status >= 500 && p.Status != http.StatusServiceUnavailable && !errors.Is(err, middleware.ErrPanic) {
		h.log.ErrorContext(c.Request.Context(), "request failed", "error", err, "request_id", p.RequestID,
			"method", c.Request.Method, "path", c.Request.URL.Path)
	}
	h.setHeaders(c, p)
	c.Abort()
	if p.Status == statusClientClosed {
		c.Status(p.Status) // for the access log; nobody reads the body
		return
	}
	if h.answersJSON(c.Request.URL.Path) {
		writeJSON(c, p.Status, typeProblem, p)
		return
	}
	if err := h.renderPage(c, p.Status, "error.html", "", errorPage{Problem: p}); err != nil {
		// The error page itself failed: plain text, so this cannot loop.
		h.log.ErrorContext(c.Request.Context(), "error page failed", "error", err, "request_id", p.RequestID)
		writeBody(c, http.StatusInternalServerError, typeText, []byte("internal error\n"))
	}
}

// handle adapts a handler that returns an error to gin: the error is
// answered by fail.
func (h *Handlers) handle(fn func(*gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := fn(c); err != nil {
			h.fail(c, err)
		}
	}
}

// errorPage is what error.html shows.
type errorPage struct {
	Problem problem
}

// Title and Body are the translation keys of the page's words: the
// error's own (error.<code>.title) when it has some, else its status's.
func (e errorPage) Title() string { return e.key("title") }

func (e errorPage) Body() string { return e.key("body") }

func (e errorPage) key(part string) string {
	if k := "error." + e.Problem.Code + "." + part; locale.Has(k) {
		return k
	}
	return fmt.Sprintf("error.%d.%s", e.Problem.Status, part)
}

// format is how a group of routes answers errors.
type format int

const (
	asHTML format = iota // the HTML error page
	asJSON               // problem+json
)

// group returns a route group at prefix (of the engine) whose routes, and
// any unknown path below prefix, answer errors in f. Pages are the rest.
func (h *Handlers) group(r *gin.Engine, prefix string, f format, mw ...gin.HandlerFunc) *gin.RouterGroup {
	g := r.Group(prefix, mw...)
	if f == asJSON {
		h.jsonPrefixes = append(h.jsonPrefixes, g.BasePath())
	}
	return g
}

// answersJSON reports whether path lies in a group that answers JSON.
func (h *Handlers) answersJSON(path string) bool {
	for _, prefix := range h.jsonPrefixes {
		if path == prefix || strings.HasPrefix(path, prefix+"/") {
			return true
		}
	}
	return false
}
