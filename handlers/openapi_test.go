package handlers_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"userhub/openapi"
)

// documented returns the operations of the contract, as "METHOD /path"
// with gin's :param for {param}.
func documented(t *testing.T) map[string]bool {
	t.Helper()
	body, _ := openapi.JSON()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`\{(\w+)\}`)
	ops := map[string]bool{}
	for path, item := range doc.Paths {
		for method := range item {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			ops[strings.ToUpper(method)+" "+param.ReplaceAllString(path, ":$1")] = true
		}
	}
	return ops
}

// notServedYet are operations the contract names before the server has
// them (a route being written elsewhere; none now). Remove each once it is
// a route: the test says so.
var notServedYet = []string{}

// TestOpenAPICoversEveryRoute: every route of the API, the seed and the
// health checks is in the contract, and everything the contract names is
// a route: the document cannot leave a route out, nor describe one that
// is gone.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	ops := documented(t)
	engine := newApp(t).handler.(*gin.Engine)
	served := map[string]bool{}
	for _, r := range engine.Routes() {
		if r.Method == "HEAD" || r.Method == "OPTIONS" {
			continue // GET's twin, and Allow on every route (the document says so once)
		}
		key := r.Method + " " + r.Path
		served[key] = true
		inScope := r.Path == "/healthz" || r.Path == "/readyz" || r.Path == "/users" || r.Path == "/user" ||
			strings.HasPrefix(r.Path, "/user/") || strings.HasPrefix(r.Path, "/api/v1/")
		if inScope && !ops[key] {
			t.Errorf("%s is a route, but the contract (openapi/openapi.yaml) does not describe it", key)
		}
	}
	for op := range ops {
		switch {
		case slices.Contains(notServedYet, op) && served[op]:
			t.Errorf("%s is served now: take it out of notServedYet", op)
		case !slices.Contains(notServedYet, op) && !served[op]:
			t.Errorf("the contract describes %s, which is not a route", op)
		}
	}
}

// TestOpenAPIServed: the document at /api/v1/openapi.json, public, without
// a session (no cookie set), revalidated by caches; and the reference page.
func TestOpenAPIServed(t *testing.T) {
	want, etag := openapi.JSON()
	run(t, []scenario{
		{name: "the document", method: "GET", path: "/api/v1/openapi.json", status: 200,
			wantHeader: map[string]string{"Content-Type": jsonCT, "ETag": etag, "Cache-Control": "no-cache", "Set-Cookie": ""},
			contains:   []string{`"openapi":"3.1.0"`, `"/api/v1/users/{id}"`, `"bearerAuth"`}},
		{name: "unchanged", method: "GET", path: "/api/v1/openapi.json", header: map[string]string{"If-None-Match": etag}, status: 304},
		{name: "the reference", method: "GET", path: "/api/docs", status: 200,
			wantHeader: map[string]string{"Content-Type": "text/html", "Content-Security-Policy": "script-src 'self'"},
			contains: []string{`data-url="/api/v1/openapi.json"`, `/static/vendor/swagger-ui/swagger-ui-bundle.js?v=`,
				`/static/vendor/swagger-ui/swagger-ui.css?v=`, `/static/api-docs.js?v=`}},
		{name: "the reference for a member", as: "lee", fixture: users("kim", "lee"), method: "GET", path: "/api/docs", status: 200,
			contains: []string{`class="who nav-user"`}},
		{name: "the renderer", method: "GET", path: "/static/vendor/swagger-ui/swagger-ui-bundle.js", status: 200,
			wantHeader: map[string]string{"Content-Type": "javascript"}},
	})
	rec := httptest.NewRecorder()
	newApp(t).handler.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/openapi.json", nil))
	if !bytes.Equal(rec.Body.Bytes(), want) {
		t.Error("the document served is not openapi.JSON()")
	}
}
