package handlers_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"userhub/models"
)

const htmlCT = "text/html; charset=utf-8"

func TestPages(t *testing.T) {
	ko := map[string]string{"Accept-Language": "ko-KR,ko;q=0.9"}
	run(t, []scenario{
		{name: "home lists users newest first, with admin controls", as: "kim", method: "GET", path: "/", fixture: users("kim", "lee"), status: 200,
			wantHeader: map[string]string{"Content-Type": htmlCT, "Content-Language": "en", "Cache-Control": "no-store"},
			contains: []string{"<h1>Users</h1>", `Hello, <span class="who">kim</span>`, `data-id="2" data-name="lee"`, `id="add-user"`,
				`/static/app.js?v=`, `data-action="rename"`, `data-action="role"`, `data-action="password"`, `data-action="delete"`, `id="logout"`},
			notContains: []string{"<script>", "style="}},
		{name: "home orders newest first", as: "kim", method: "GET", path: "/", fixture: users("kim", "second"), status: 200,
			contains: []string{`<tr data-id="2" data-name="second" data-role="member" data-suspended="false">`}},
		{name: "member sees no admin controls", as: "lee", method: "GET", path: "/", fixture: users("kim", "lee"), status: 200,
			contains:    []string{`data-name="lee"`, "To change your own name or password", `href="/account"`},
			notContains: []string{`id="add-user"`, `data-action="rename"`, `data-action="delete"`, `data-action="role"`}},
		{name: "home escapes names", as: "kim", method: "GET", path: "/", fixture: users("kim", `<script>alert(1)</script>`), status: 200,
			contains: []string{"&lt;script&gt;alert(1)&lt;/script&gt;"}, notContains: []string{"<script>alert(1)"}},
		{name: "home in Korean greets as the seed does", as: "kim", method: "GET", path: "/", header: ko, fixture: users("kim"), status: 200,
			wantHeader: map[string]string{"Content-Language": "ko"},
			contains:   []string{`<html lang="ko">`, "<h1>사용자</h1>", `<span class="who">kim</span>님 안녕하세요`, "사용자 추가", "로그아웃"}},
		{name: "language cookie wins", method: "GET", path: "/about", header: map[string]string{"Accept-Language": "ko", "Cookie": "lang=en"}, fixture: users("kim"), status: 200,
			contains: []string{"About userhub"}},
		{name: "home with a bad cursor starts the list over", as: "kim", method: "GET", path: "/?cursor=zz", fixture: users("kim"), status: 303,
			wantHeader: map[string]string{"Location": "/"}},
		{name: "home with an unknown sort starts the list over", as: "kim", method: "GET", path: "/?sort=age", fixture: users("kim"), status: 303,
			wantHeader: map[string]string{"Location": "/"}},
		{name: "home with a NUL in the search starts the list over", as: "kim", method: "GET", path: "/?q=%00", fixture: users("kim"), status: 303,
			wantHeader: map[string]string{"Location": "/"}},
		{name: "home with a NUL in a name cursor starts the list over", as: "kim", method: "GET", path: "/?sort=name&cursor=QAA", fixture: users("kim"), status: 303,
			wantHeader: map[string]string{"Location": "/"}},
		{name: "home back at the start shows the first page itself", as: "kim", method: "GET", path: "/?sort=oldest&limit=10&cursor=PDM", fixture: users(elevenNames()...), status: 303,
			wantHeader: map[string]string{"Location": "/?limit=10&sort=oldest"}},
		{name: "home on a page emptied meanwhile offers the first page", as: "kim", method: "GET", path: "/?sort=oldest&cursor=OTk", fixture: users("kim", "lee"), status: 200,
			contains:    []string{"No users on this page any more", `<a href="/?sort=oldest">First page</a>`},
			notContains: []string{`rel="next"`, `rel="prev"`}},
		{name: "home offers a page size typed by hand", as: "kim", method: "GET", path: "/?limit=7", fixture: users("kim"), status: 200,
			contains: []string{`<option value="7" selected>7</option><option value="10">10</option>`}},
		{name: "home counts the users", as: "kim", method: "GET", path: "/", fixture: users("kim", "lee", "park"), status: 200,
			contains: []string{`<p id="count" class="count" role="status">3 users</p>`, `<th scope="col">Last login</th>`, `id="select-all"`}},
		{name: "home counts in Korean", as: "kim", method: "GET", path: "/", header: ko, fixture: users("kim", "lee"), status: 200,
			contains: []string{`role="status">사용자 2명</p>`, "마지막 로그인"}},
		{name: "home searches by the start of a name", as: "kim", method: "GET", path: "/?q=PA", fixture: users("kim", "lee", "park", "pat"), status: 200,
			contains:    []string{`value="PA"`, `data-name="park"`, `data-name="pat"`, "2 users", `id="sort-hint">`},
			notContains: []string{`data-name="lee"`, `id="sort-hint" hidden`}},
		{name: "home filters by role", as: "kim", method: "GET", path: "/?role=member", fixture: users("kim", "lee"), status: 200,
			contains:    []string{`data-name="lee"`, `<option value="member" selected>`, "1 user<"},
			notContains: []string{`data-name="kim"`}},
		{name: "home says when nothing matches", as: "kim", method: "GET", path: "/?q=zz", fixture: users("kim"), status: 200,
			contains: []string{`<p id="empty" class="muted">No user matches.`, "0 users"}},
		{name: "home pages keep the filters", as: "kim", method: "GET", path: "/?limit=10&sort=name", fixture: users(elevenNames()...), status: 200,
			contains:    []string{`<option value="10" selected>`, `href="/?cursor=QHVzZXIwOA&amp;limit=10&amp;sort=name" rel="next"`},
			notContains: []string{`rel="prev"`}},
		{name: "home links the page before", as: "kim", method: "GET", path: "/?limit=10&sort=name&cursor=QHVzZXIwOA", fixture: users(elevenNames()...), status: 200,
			contains:    []string{`data-name="user09"`, `href="/?limit=10&amp;sort=name">First page</a>`, `rel="prev">Previous page</a>`},
			notContains: []string{`rel="next"`, `data-name="user08"`}},
		{name: "home marks who has no password and who is suspended", as: "kim", method: "GET", path: "/", fixture: func(t testing.TB, a app) {
			users("kim", "lee")(t, a)
			if _, err := a.db.CreateUser(context.Background(), models.NewUser{Name: "nopass"}); err != nil {
				t.Fatal(err)
			}
			yes := true
			if _, err := a.db.UpdateUser(context.Background(), 2, models.UserChange{Suspended: &yes}); err != nil {
				t.Fatal(err)
			}
		}, status: 200, contains: []string{
			`data-name="nopass" data-role="member" data-suspended="false"`, `<span class="badge warn" data-badge="no-password">No password</span>`,
			`data-name="lee" data-role="member" data-suspended="true"`, `<span class="badge danger" data-badge="suspended">Suspended</span>`,
			`data-action="suspend" aria-label="Restore lee">Restore</button>`}},
		{name: "account page", as: "lee", method: "GET", path: "/account", fixture: users("kim", "lee"), status: 200,
			contains: []string{"Your account", `id="account-name"`, `id="account-password"`, `autocomplete="current-password"`, "At least 12 characters"}},
		{name: "about before setup goes to setup", method: "GET", path: "/about", status: 303, wantHeader: map[string]string{"Location": "/setup"}},
		{name: "about for visitors", method: "GET", path: "/about", fixture: users("kim"), status: 200,
			contains: []string{"About userhub", `aria-current="page">About`, `href="/login"`}, notContains: []string{"logout"}},
		{name: "about for a logged-in user", as: "kim", method: "GET", path: "/about", fixture: users("kim"), status: 200,
			contains: []string{`class="who nav-user"`, `>kim</span>`, `id="logout"`}},
		{name: "HEAD about", method: "HEAD", path: "/about", fixture: users("kim"), status: 200},
		{name: "404 page in the layout", method: "GET", path: "/nowhere", status: 404,
			wantHeader: map[string]string{"Content-Type": htmlCT}, contains: []string{"Page not found", `class="site-nav"`, "Request ID:"}},
		{name: "404 page in Korean", method: "GET", path: "/nowhere", header: ko, status: 404,
			contains: []string{"페이지를 찾을 수 없음"}},
		{name: "405 on a page", method: "POST", path: "/about", status: 405,
			wantHeader: map[string]string{"Allow": "GET, HEAD", "Content-Type": htmlCT}},
		{name: "language switch", method: "POST", path: "/lang", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			body: "lang=ko&next=%2Fabout", status: 303,
			wantHeader: map[string]string{"Location": "/about", "Set-Cookie": "lang=ko; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax"}},
		{name: "language switch stays local", method: "POST", path: "/lang", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			body: "lang=en&next=https://evil.example/", status: 303, wantHeader: map[string]string{"Location": "/"}},
		{name: "language switch on the login page keeps where login leads", method: "POST", path: "/lang", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			body: "lang=ko&next=" + url.QueryEscape("/login?next=%2Faccount"), status: 303, wantHeader: map[string]string{"Location": "/login?next=%2Faccount"}},
		{name: "unknown language", method: "POST", path: "/lang", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			body: "lang=fr", status: 422},
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
		{name: "js", method: "GET", path: "/static/app.js", status: 200,
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
	first := a.do(httptest.NewRequest("GET", "/static/app.css", nil))
	etag := first.Header().Get("ETag")
	if first.Code != 200 || etag == "" {
		t.Fatalf("first fetch: %d, ETag %q", first.Code, etag)
	}
	again := httptest.NewRequest("GET", "/static/app.css", nil)
	again.Header.Set("If-None-Match", etag)
	second := a.do(again)
	if second.Code != 304 || second.Body.Len() != 0 || second.Header().Get("ETag") != etag {
		t.Fatalf("revalidation: %d, %d bytes, ETag %q", second.Code, second.Body.Len(), second.Header().Get("ETag"))
	}

	// Pages link each file with its version: that URL may be cached for good.
	users("kim")(t, a)
	about := a.do(httptest.NewRequest("GET", "/about", nil))
	link := regexp.MustCompile(`/static/app\.css\?v=[0-9a-f]+`).FindString(about.Body.String())
	versioned := a.do(httptest.NewRequest("GET", link, nil))
	if cc := versioned.Header().Get("Cache-Control"); link == "" || !strings.Contains(cc, "immutable") {
		t.Fatalf("versioned %q: Cache-Control %q", link, cc)
	}
}

// BenchmarkHomePage renders the user list with its 50 rows, logged in as
// an admin (every row with its controls), through the whole handler chain.
func BenchmarkHomePage(b *testing.B) {
	names := []string{"kim"}
	for i := range 59 {
		names = append(names, fmt.Sprintf("user%03d", i))
	}
	bench(b, scenario{as: "kim", method: "GET", path: "/", fixture: users(names...), status: 200})
}

// elevenNames are kim and user00 to user09: eleven users, in name order
// kim, user00, ...; newest first user09, ...
func elevenNames() []string {
	names := []string{"kim"}
	for i := range 10 {
		names = append(names, fmt.Sprintf("user%02d", i))
	}
	return names
}
