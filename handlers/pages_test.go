package handlers_test

import (
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

const htmlCT = "text/html; charset=utf-8"

func TestPages(t *testing.T) {
	run(t, []scenario{
		{name: "home lists users newest first", method: "GET", path: "/", fixture: users("kim", "lee"), status: 200,
			wantHeader:  map[string]string{"Content-Type": htmlCT, "Content-Language": "en"},
			contains:    []string{"<h1>Users</h1>", `data-id="2" data-name="lee"`, `id="add-user"`, `/static/users.js?v=`, `data-action="rename"`, `data-action="delete"`},
			notContains: []string{"<script>", "style="}},
		{name: "home orders newest first", method: "GET", path: "/", fixture: users("first", "second"), status: 200,
			contains: []string{`data-name="second"`}},
		{name: "home escapes names", method: "GET", path: "/", fixture: users(`<script>alert(1)</script>`), status: 200,
			contains: []string{"&lt;script&gt;alert(1)&lt;/script&gt;"}, notContains: []string{"<script>alert(1)"}},
		{name: "home empty", method: "GET", path: "/", status: 200, contains: []string{"No users yet"}},
		{name: "home in Korean", method: "GET", path: "/", header: map[string]string{"Accept-Language": "ko-KR,ko;q=0.9"}, status: 200,
			wantHeader: map[string]string{"Content-Language": "ko"}, contains: []string{`<html lang="ko">`, "<h1>사용자</h1>", "사용자 추가"}},
		{name: "language cookie wins", method: "GET", path: "/about", header: map[string]string{"Accept-Language": "ko", "Cookie": "lang=en"}, status: 200,
			contains: []string{"About userhub"}},
		{name: "home bad cursor is the HTML error page", method: "GET", path: "/?cursor=zz", status: 422,
			wantHeader: map[string]string{"Content-Type": htmlCT}, contains: []string{"Invalid input"}},
		{name: "about", method: "GET", path: "/about", status: 200, contains: []string{"About userhub", `aria-current="page">About`}},
		{name: "HEAD about", method: "HEAD", path: "/about", status: 200},
		{name: "404 page in the layout", method: "GET", path: "/nowhere", status: 404,
			wantHeader: map[string]string{"Content-Type": htmlCT}, contains: []string{"Page not found", `class="site-nav"`, "Request ID:"}},
		{name: "404 page in Korean", method: "GET", path: "/nowhere", header: map[string]string{"Accept-Language": "ko"}, status: 404,
			contains: []string{"페이지를 찾을 수 없음"}},
		{name: "405 on a page", method: "POST", path: "/about", status: 405,
			wantHeader: map[string]string{"Allow": "GET, HEAD", "Content-Type": htmlCT}},
	})
}

func TestHealth(t *testing.T) {
	run(t, []scenario{
		{name: "healthz", method: "GET", path: "/healthz", status: 200,
			wantHeader: map[string]string{"Content-Type": jsonCT}, contains: []string{`"status":"ok"`}},
		{name: "readyz", method: "GET", path: "/readyz", status: 200, contains: []string{`"status":"ready"`}},
		{name: "HEAD healthz", method: "HEAD", path: "/healthz", status: 200},
	})
}

func TestStatic(t *testing.T) {
	run(t, []scenario{
		{name: "css", method: "GET", path: "/static/app.css", status: 200,
			wantHeader: map[string]string{"Content-Type": "text/css", "ETag": `W/"`, "Cache-Control": "max-age=3600"}},
		{name: "js", method: "GET", path: "/static/users.js", status: 200,
			wantHeader: map[string]string{"Content-Type": "javascript"}, contains: []string{"fetch("}},
		{name: "favicon", method: "GET", path: "/favicon.ico", status: 200, wantHeader: map[string]string{"Content-Type": "image/x-icon"}},
		{name: "missing", method: "GET", path: "/static/nope.css", status: 404},
		{name: "no traversal", method: "GET", path: "/static/../go.mod", status: 404},
		{name: "If-None-Match *", method: "GET", path: "/static/app.css", header: map[string]string{"If-None-Match": "*"}, status: 304},
		{name: "other etag", method: "GET", path: "/static/app.css", header: map[string]string{"If-None-Match": `"nope"`}, status: 200},
	})
}

// TestStaticRevalidation fetches a file, then asks again with its ETag.
func TestStaticRevalidation(t *testing.T) {
	a := newApp(t)
	first := httptest.NewRecorder()
	a.handler.ServeHTTP(first, httptest.NewRequest("GET", "/static/app.css", nil))
	etag := first.Header().Get("ETag")
	if first.Code != 200 || etag == "" {
		t.Fatalf("first fetch: %d, ETag %q", first.Code, etag)
	}
	again := httptest.NewRequest("GET", "/static/app.css", nil)
	again.Header.Set("If-None-Match", etag)
	second := httptest.NewRecorder()
	a.handler.ServeHTTP(second, again)
	if second.Code != 304 || second.Body.Len() != 0 || second.Header().Get("ETag") != etag {
		t.Fatalf("revalidation: %d, %d bytes, ETag %q", second.Code, second.Body.Len(), second.Header().Get("ETag"))
	}

	// The page links each file with its version: that URL may be cached for good.
	home := httptest.NewRecorder()
	a.handler.ServeHTTP(home, httptest.NewRequest("GET", "/", nil))
	link := regexp.MustCompile(`/static/app\.css\?v=[0-9a-f]+`).FindString(home.Body.String())
	versioned := httptest.NewRecorder()
	a.handler.ServeHTTP(versioned, httptest.NewRequest("GET", link, nil))
	if cc := versioned.Header().Get("Cache-Control"); link == "" || !strings.Contains(cc, "immutable") {
		t.Fatalf("versioned %q: Cache-Control %q", link, cc)
	}
}
