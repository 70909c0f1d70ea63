// Package openapitest checks HTTP exchanges against the contract,
// openapi/openapi.yaml, with libopenapi-validator: the handler tests run
// every request they make through Check, the e2e tests every request over
// the wire through Transport. For tests only: it must not be imported by
// the server (the binary carries the document, not a validator).
package openapitest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
	"github.com/pb33f/libopenapi-validator/paths"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"github.com/pb33f/libopenapi/orderedmap"

	"userhub/openapi"
)

// Checker checks requests and responses against a document. It is safe
// for concurrent use.
type Checker struct {
	doc       *v3.Document
	validator validator.Validator
	options   *config.ValidationOptions
}

// New builds a Checker for the OpenAPI document doc.
func New(doc []byte) (*Checker, error) {
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("read the document: %w", err)
	}
	model, err := d.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("build the document's model: %w", err)
	}
	// Formats (date-time, int64) are checked too: a time the server spells
	// wrongly is a drift like any other.
	opts := []config.Option{config.WithFormatAssertions()}
	c := &Checker{doc: &model.Model, validator: validator.NewValidatorFromV3Model(&model.Model, opts...)}
	c.options = config.NewValidationOptions(opts...)
	return c, nil
}

var (
	contractOnce sync.Once
	contract     *Checker
	contractErr  error
)

// Contract is the Checker for userhub's own document, built once.
func Contract() (*Checker, error) {
	contractOnce.Do(func() { contract, contractErr = New(openapi.YAML) })
	return contract, contractErr
}

// InScope reports whether the contract speaks of req's path: the JSON API,
// the seed's routes and the health checks (not pages, static files, nor
// /api/docs, a page). HEAD (GET without a body) and OPTIONS (204 with
// Allow, on every route) are left to the handler tests.
func InScope(req *http.Request) bool {
	if req.Method == http.MethodHead || req.Method == http.MethodOptions {
		return false
	}
	p := req.URL.Path
	return p == "/healthz" || p == "/readyz" || p == "/users" || p == "/user" ||
		strings.HasPrefix(p, "/user/") || strings.HasPrefix(p, "/api/v1/")
}

// Check checks one exchange: the response always, and the request (its
// parameters, body and credentials) when the server accepted it (2xx): a
// request the server refused may be meant to be wrong. reqBody is the
// request's body as sent; resp's body is read and put back. A route the
// document does not name must answer 404 or 405 (problem+json). It
// returns nil for a request out of scope.
func (c *Checker) Check(req *http.Request, reqBody []byte, resp *http.Response) error {
	if !InScope(req) {
		return nil
	}
	body, err := readBody(resp)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("%s %s answered %d", req.Method, req.URL.RequestURI(), resp.StatusCode)
	bodyText := func() string { return fmt.Sprintf("\nresponse body: %.2000s", body) }

	pathItem, _, specPath := paths.FindPath(withBody(req, reqBody), c.doc, c.options)
	var op *v3.Operation
	if pathItem != nil {
		op = helpers.ExtractOperation(req, pathItem)
	}
	if op == nil {
		ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed) && ct == "application/problem+json" {
			return nil
		}
		return fmt.Errorf("openapi: %s, but the document has no operation %s %s%s", what, req.Method, req.URL.Path, bodyText())
	}

	var problems []string
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if ok, errs := c.validator.ValidateHttpRequestSync(withBody(req, reqBody)); !ok {
			problems = append(problems, describe("request", errs)...)
		}
	}
	decoded := &http.Response{StatusCode: resp.StatusCode, Header: resp.Header.Clone(), Body: io.NopCloser(bytes.NewReader(body)), Request: req}
	decoded.Header.Del("Content-Encoding")
	if ok, errs := c.validator.GetResponseBodyValidator().ValidateResponseBodyWithPathItem(withBody(req, reqBody), decoded, pathItem, specPath); !ok {
		problems = append(problems, describe("response", errs)...)
	}
	if documented := documentedResponse(op, resp.StatusCode); documented != nil && orderedmap.Len(documented.Content) == 0 && len(body) > 0 {
		problems = append(problems, "response: a body, where the document says there is none")
	}
	if len(problems) > 0 {
		return fmt.Errorf("openapi: %s, which does not match the document (%s):\n  %s%s", what, specPath, strings.Join(problems, "\n  "), bodyText())
	}
	return nil
}

// documentedResponse is the response op documents for status, nil when it
// falls to default or is not documented.
func documentedResponse(op *v3.Operation, status int) *v3.Response {
	if op.Responses == nil || op.Responses.Codes == nil {
		return nil
	}
	r, _ := op.Responses.Codes.Get(fmt.Sprint(status))
	return r
}

// describe turns the validator's errors into lines a person reads.
func describe(side string, errs []*verrors.ValidationError) []string {
	var lines []string
	for _, e := range errs {
		line := side + ": " + e.Message
		if e.Reason != "" && e.Reason != e.Message {
			line += ": " + e.Reason
		}
		for _, s := range e.SchemaValidationErrors {
			where := s.FieldPath
			if where == "" {
				where = s.KeywordLocation
			}
			line += fmt.Sprintf("\n    - %s (at %s)", s.Reason, where)
		}
		lines = append(lines, line)
	}
	return lines
}

// withBody returns req with a fresh reader over body (validating reads it).
func withBody(req *http.Request, body []byte) *http.Request {
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return r
}

// readBody reads resp's body, puts it back for the caller, and returns it
// decompressed.
func readBody(resp *http.Response) ([]byte, error) {
	if resp.Body == nil {
		return nil, nil
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("openapi: read the response body: %w", err)
	}
	if resp.Header.Get("Content-Encoding") != "gzip" {
		return raw, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("openapi: gunzip the response body: %w", err)
	}
	return io.ReadAll(zr)
}

// ReadRequestBody reads req's body and puts it back, for Check.
func ReadRequestBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	req.Body = io.NopCloser(bytes.NewReader(body))
	return body, err
}

// Transport is an http.RoundTripper that checks every exchange in scope
// against the contract; a mismatch is the round trip's error, so the
// request fails in the test that made it, saying why. Only userhub's own
// answers are checked, which carry X-Request-Id: not those of the
// HTTP-to-HTTPS redirector in front of the routes, nor a proxy's (HAProxy
// answers 503 itself while no instance is up).
type Transport struct {
	Base    http.RoundTripper
	Checker *Checker
}

// RoundTrip sends req through Base and checks the exchange.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !InScope(req) {
		return t.Base.RoundTrip(req)
	}
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		sent := req.Clone(req.Context())
		sent.Body = io.NopCloser(bytes.NewReader(body))
		sent.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		req = sent
	}
	resp, err := t.Base.RoundTrip(req)
	if err != nil || resp.Header.Get("X-Request-Id") == "" {
		return resp, err
	}
	if err := t.Checker.Check(req, body, resp); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp, nil
}
