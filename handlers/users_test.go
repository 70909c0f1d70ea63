package handlers_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

const problemCT = "application/problem+json"

// asAdmin makes every scenario a request by the admin kim (user 1), who is
// the first user of every fixture (users("kim") when none is given).
func asAdmin(scs []scenario) []scenario {
	for i := range scs {
		if scs[i].as == "" {
			scs[i].as = "kim"
		}
		if scs[i].fixture == nil {
			scs[i].fixture = users("kim")
		}
	}
	return scs
}

func TestSeedRoutes(t *testing.T) {
	long := strings.Repeat("a", 65)
	run(t, asAdmin([]scenario{
		{name: "list is an id->name object in id order", method: "GET", path: "/users", fixture: users("kim", "lee", "김철수"),
			status: 200, wantHeader: map[string]string{"Content-Type": jsonCT, "Link": "", "Cache-Control": "no-store"},
			contains: []string{`{"1":"kim","2":"lee","3":"김철수"}`}, notContains: []string{"role", "password", "argon2"}},
		{name: "list pages with a Link", method: "GET", path: "/users?limit=2", fixture: users("kim", "a", "b"),
			status: 200, contains: []string{`{"1":"kim","2":"a"}`}, wantHeader: map[string]string{"Link": `</users?cursor=Mg&limit=2>; rel="next"`}},
		{name: "list second page", method: "GET", path: "/users?limit=2&cursor=Mg", fixture: users("kim", "a", "b"),
			status: 200, contains: []string{`{"3":"b"}`}, wantHeader: map[string]string{"Link": `</users?cursor=PDM&limit=2>; rel="prev"`}},
		{name: "list limit above 1000", method: "GET", path: "/users?limit=1001", status: 422,
			wantHeader: map[string]string{"Content-Type": problemCT}, contains: []string{`"field":"limit"`}},
		{name: "list bad cursor", method: "GET", path: "/users?cursor=!!!", status: 422, contains: []string{`"field":"cursor"`}},

		{name: "create", method: "POST", path: "/user", header: jsonHeader(), body: `{"name":"lee"}`, status: 201,
			wantHeader: map[string]string{"Location": "/api/v1/users/2", "Content-Type": jsonCT},
			contains:   []string{`"id":2`, `"name":"lee"`, `"role":"member"`, `"created_at"`}, notContains: []string{"password_hash", "argon2", "session"}},
		{name: "create korean", method: "POST", path: "/user", header: jsonHeader(), body: `{"name":"김철수"}`, status: 201,
			contains: []string{`"name":"김철수"`}},
		{name: "create json with charset", method: "POST", path: "/user", header: map[string]string{"Content-Type": "application/json; charset=utf-8"},
			body: `{"name":"lee"}`, status: 201},
		{name: "create duplicate", method: "POST", path: "/user", header: jsonHeader(), body: `{"name":"kim"}`,
			status: 409, wantHeader: map[string]string{"Content-Type": problemCT}, contains: []string{`"code":"name_taken"`, `"status":409`}},
		{name: "create duplicate differing in case", method: "POST", path: "/user", header: jsonHeader(), body: `{"name":"KIM"}`,
			status: 409, contains: []string{`"code":"name_taken"`}},
		{name: "create 65 characters", method: "POST", path: "/user", header: jsonHeader(), body: `{"name":"` + long + `"}`,
			status: 422, wantHeader: map[string]string{"Content-Type": problemCT}, contains: []string{`"field":"name"`, `"code":"too_long"`}},
		{name: "create empty name", method: "POST", path: "/user", header: jsonHeader(), body: `{"name":"  "}`,
			status: 422, contains: []string{`"code":"required"`}},
		{name: "create without name", method: "POST", path: "/user", header: jsonHeader(), body: `{}`,
			status: 422, contains: []string{`"field":"name"`, `"code":"required"`}},
		{name: "create refuses role (no mass assignment)", method: "POST", path: "/user", header: jsonHeader(), body: `{"name":"lee","role":"admin"}`,
			status: 422, contains: []string{`"field":"role"`, `"code":"unknown_field"`}},
		{name: "create wrong type", method: "POST", path: "/user", header: jsonHeader(), body: `{"name":5}`,
			status: 422, contains: []string{`"field":"name"`, `"code":"invalid_type"`}},
		{name: "create malformed json", method: "POST", path: "/user", header: jsonHeader(), body: `{"name":`,
			status: 400, wantHeader: map[string]string{"Content-Type": problemCT}, contains: []string{`"code":"malformed_json"`}},
		{name: "create syntax error", method: "POST", path: "/user", header: jsonHeader(), body: `{name: kim}`,
			status: 400, contains: []string{`"code":"malformed_json"`}},
		{name: "create array body", method: "POST", path: "/user", header: jsonHeader(), body: `["kim"]`,
			status: 400, contains: []string{"must be a JSON object"}},
		{name: "create two objects", method: "POST", path: "/user", header: jsonHeader(), body: `{"name":"a"}{"name":"b"}`,
			status: 400, contains: []string{"after the JSON object"}},
		{name: "create empty body", method: "POST", path: "/user", header: jsonHeader(),
			status: 400, contains: []string{`"code":"empty_body"`}},
		{name: "create text/plain", method: "POST", path: "/user", header: map[string]string{"Content-Type": "text/plain"}, body: "kim",
			status: 415, wantHeader: map[string]string{"Content-Type": problemCT}, contains: []string{`"code":"unsupported_media_type"`}},
		{name: "create form-encoded", method: "POST", path: "/user", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: "name=kim",
			status: 415},
		{name: "create with bytes that are not UTF-8", method: "POST", path: "/user", header: jsonHeader(), body: "{\"name\":\"zz\xff\xfe\"}",
			status: 400, contains: []string{`"code":"invalid_utf8"`}},
		{name: "create 2 MiB", method: "POST", path: "/user", header: jsonHeader(), body: `{"name":"` + strings.Repeat("a", 2<<20) + `"}`,
			status: 413, wantHeader: map[string]string{"Content-Type": problemCT}, contains: []string{`"code":"body_too_large"`}},

		{name: "replace", method: "PUT", path: "/user/2", header: jsonHeader(), body: `{"name":"park"}`, fixture: users("kim", "lee"),
			status: 200, contains: []string{`"id":2`, `"name":"park"`}},
		{name: "replace needs name", method: "PUT", path: "/user/2", header: jsonHeader(), body: `{}`, fixture: users("kim", "lee"),
			status: 422, contains: []string{`"field":"name"`, `"code":"required"`}},
		{name: "replace unknown id", method: "PUT", path: "/user/99", header: jsonHeader(), body: `{"name":"x"}`,
			status: 404, wantHeader: map[string]string{"Content-Type": problemCT}, contains: []string{`"code":"not_found"`}},
		{name: "replace non-numeric id", method: "PUT", path: "/user/abc", header: jsonHeader(), body: `{"name":"x"}`, status: 404},
		{name: "replace to taken name", method: "PUT", path: "/user/2", header: jsonHeader(), body: `{"name":"Kim"}`, fixture: users("kim", "lee"),
			status: 409},
		{name: "patch name", method: "PATCH", path: "/user/1", header: jsonHeader(), body: `{"name":"park"}`,
			status: 200, contains: []string{`"name":"park"`, `"role":"admin"`}},
		{name: "patch role", method: "PATCH", path: "/user/2", header: jsonHeader(), body: `{"role":"admin"}`, fixture: users("kim", "lee"),
			status: 200, contains: []string{`"name":"lee"`, `"role":"admin"`}},
		{name: "patch nothing", method: "PATCH", path: "/user/1", header: jsonHeader(), body: `{}`,
			status: 200, contains: []string{`"name":"kim"`}},
		{name: "patch bad role", method: "PATCH", path: "/user/2", header: jsonHeader(), body: `{"role":"root"}`, fixture: users("kim", "lee"),
			status: 422, contains: []string{`"field":"role"`}},
		{name: "patch demotes the last admin", method: "PATCH", path: "/user/1", header: jsonHeader(), body: `{"role":"member"}`,
			status: 409, contains: []string{`"code":"last_admin"`}},
		{name: "delete", method: "DELETE", path: "/user/2", fixture: users("kim", "lee"), status: 204},
		{name: "delete unknown", method: "DELETE", path: "/user/99", status: 404, contains: []string{`"code":"not_found"`}},
		{name: "delete the last admin", method: "DELETE", path: "/user/1", status: 409, contains: []string{`"code":"last_admin"`}},

		{name: "TRACE /users", method: "TRACE", path: "/users", status: 405,
			wantHeader: map[string]string{"Allow": "GET, HEAD, OPTIONS", "Content-Type": problemCT}, contains: []string{`"code":"method_not_allowed"`}},
		{name: "GET /user/1", method: "GET", path: "/user/1", status: 405, wantHeader: map[string]string{"Allow": "DELETE"}},
		{name: "OPTIONS /users", method: "OPTIONS", path: "/users", status: 204, wantHeader: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{name: "OPTIONS /user/1", method: "OPTIONS", path: "/user/1", status: 204, wantHeader: map[string]string{"Allow": "DELETE, OPTIONS, PATCH, PUT"}},
		{name: "OPTIONS /user", method: "OPTIONS", path: "/user", status: 204, wantHeader: map[string]string{"Allow": "OPTIONS, POST"}},
	}))
}

func TestAPIUsers(t *testing.T) {
	many := []string{"kim"}
	for i := range 6 {
		many = append(many, fmt.Sprintf("user%d", i))
	}
	run(t, asAdmin([]scenario{
		{name: "list", method: "GET", path: "/api/v1/users", fixture: users("kim", "lee"), status: 200,
			contains: []string{`"users":[{"id":1,"name":"kim","role":"admin"`, `"name":"lee","role":"member"`}, notContains: []string{"next_cursor", "password_hash", "argon2"}},
		{name: "list pages", method: "GET", path: "/api/v1/users?limit=3", fixture: users(many...), status: 200,
			contains:    []string{`"name":"user1"`, `"next_cursor":"Mw"`},
			notContains: []string{`"name":"user2"`},
			wantHeader:  map[string]string{"Link": `</api/v1/users?cursor=Mw&limit=3>; rel="next"`}},
		{name: "list follows the cursor", method: "GET", path: "/api/v1/users?limit=3&cursor=Mw", fixture: users(many...), status: 200,
			contains: []string{`"name":"user2"`, `"name":"user4"`}, notContains: []string{`"name":"user1"`}},
		{name: "search by the start of a name", method: "GET", path: "/api/v1/users?q=US&limit=2", fixture: users(many...), status: 200,
			contains:    []string{`"name":"user0"`, `"name":"user1"`, `"next_cursor":"QHVzZXIx"`},
			notContains: []string{`"name":"kim"`, `"name":"user2"`},
			wantHeader:  map[string]string{"Link": `</api/v1/users?cursor=QHVzZXIx&limit=2&q=US>; rel="next"`}},
		{name: "search follows its cursor", method: "GET", path: "/api/v1/users?q=US&limit=2&cursor=QHVzZXIx", fixture: users(many...), status: 200,
			contains: []string{`"name":"user2"`, `"name":"user3"`}, notContains: []string{`"name":"user1"`}},
		{name: "search finds nobody", method: "GET", path: "/api/v1/users?q=zz", fixture: users(many...), status: 200,
			contains: []string{`"users":[]`}, notContains: []string{"next_cursor"}},
		{name: "search with an id cursor", method: "GET", path: "/api/v1/users?q=us&cursor=Mw", status: 422, contains: []string{`"field":"cursor"`}},
		{name: "list says the total", method: "GET", path: "/api/v1/users?limit=2", fixture: users(many...), status: 200,
			contains: []string{`"total":7`}, notContains: []string{"total_is_lower_bound"}},
		{name: "list by role", method: "GET", path: "/api/v1/users?role=admin", fixture: users(many...), status: 200,
			contains: []string{`"name":"kim"`, `"total":1`}, notContains: []string{`"name":"user0"`}},
		{name: "list newest first", method: "GET", path: "/api/v1/users?sort=newest&limit=2", fixture: users(many...), status: 200,
			contains:   []string{`"users":[{"id":7,"name":"user5"`, `"name":"user4"`},
			wantHeader: map[string]string{"Link": `</api/v1/users?cursor=Ng&limit=2&sort=newest>; rel="next"`}},
		{name: "list in name order", method: "GET", path: "/api/v1/users?sort=name&role=member&limit=1", fixture: users("kim", "park", "lee"), status: 200,
			contains: []string{`"users":[{"id":3,"name":"lee"`, `"total":2`}},
		{name: "list links the page before", method: "GET", path: "/api/v1/users?limit=3&cursor=Mw", fixture: users(many...), status: 200,
			contains:   []string{`"prev_cursor":"PDQ"`, `"next_cursor":"Ng"`},
			wantHeader: map[string]string{"Link": `</api/v1/users?cursor=PDQ&limit=3>; rel="prev", </api/v1/users?cursor=Ng&limit=3>; rel="next"`}},
		{name: "list goes back", method: "GET", path: "/api/v1/users?limit=3&cursor=PDQ", fixture: users(many...), status: 200,
			contains: []string{`"users":[{"id":1,"name":"kim"`, `"name":"user1"`, `"next_cursor":"Mw"`}, notContains: []string{"prev_cursor", `"name":"user2"`}},
		{name: "search with a NUL", method: "GET", path: "/api/v1/users?q=a%00", status: 422, contains: []string{`"field":"q"`}},
		{name: "name cursor with a NUL", method: "GET", path: "/api/v1/users?sort=name&cursor=QAA", status: 422, contains: []string{`"field":"cursor"`}},
		{name: "a search keeps the sort for after it", method: "GET", path: "/api/v1/users?q=us&sort=newest&limit=2", fixture: users(many...), status: 200,
			wantHeader: map[string]string{"Link": `</api/v1/users?cursor=QHVzZXIx&limit=2&q=us&sort=newest>; rel="next"`}},
		{name: "list with an unknown sort", method: "GET", path: "/api/v1/users?sort=age", status: 422, contains: []string{`"field":"sort"`, `"code":"invalid_sort"`}},
		{name: "list with an unknown role", method: "GET", path: "/api/v1/users?role=owner", status: 422, contains: []string{`"field":"role"`}},
		{name: "users show last login, suspension and password", method: "GET", path: "/api/v1/users/2", fixture: users("kim", "lee"), status: 200,
			contains: []string{`"has_password":true`, `"suspended":false`, `"last_login_at":null`}},
		{name: "suspend", method: "PATCH", path: "/api/v1/users/2", header: jsonHeader(), body: `{"suspended":true}`, fixture: users("kim", "lee"),
			status: 200, contains: []string{`"name":"lee"`, `"suspended":true`}},
		{name: "suspend oneself", method: "PATCH", path: "/api/v1/users/1", header: jsonHeader(), body: `{"suspended":true}`, fixture: users("kim", "lee"),
			status: 409, contains: []string{`"code":"suspend_self"`}},
		{name: "suspend with a string", method: "PATCH", path: "/api/v1/users/2", header: jsonHeader(), body: `{"suspended":"yes"}`, fixture: users("kim", "lee"), status: 422},
		{name: "a name cursor without a search", method: "GET", path: "/api/v1/users?cursor=QHVzZXIx", status: 422, contains: []string{`"field":"cursor"`}},
		{name: "search too long", method: "GET", path: "/api/v1/users?q=" + strings.Repeat("a", 65), status: 422, contains: []string{`"field":"q"`}},
		{name: "list limit 0", method: "GET", path: "/api/v1/users?limit=0", status: 422, contains: []string{`"field":"limit"`}},
		{name: "list limit 501", method: "GET", path: "/api/v1/users?limit=501", status: 422, contains: []string{"from 1 to 500"}},
		{name: "list limit 500", method: "GET", path: "/api/v1/users?limit=500", status: 200},
		{name: "list bad limit and cursor at once", method: "GET", path: "/api/v1/users?limit=x&cursor=AAAA", status: 422,
			contains: []string{`"field":"limit"`, `"field":"cursor"`}},

		{name: "create with role", method: "POST", path: "/api/v1/users", header: jsonHeader(), body: `{"name":"lee","role":"admin"}`, status: 201,
			wantHeader: map[string]string{"Location": "/api/v1/users/2"}, contains: []string{`"role":"admin"`}},
		{name: "create defaults to member", method: "POST", path: "/api/v1/users", header: jsonHeader(), body: `{"name":"lee"}`, status: 201,
			contains: []string{`"role":"member"`}},
		{name: "create with a password", method: "POST", path: "/api/v1/users", header: jsonHeader(), body: `{"name":"lee","password":"a fine long password"}`,
			status: 201, notContains: []string{"password_hash", "argon2"}},
		{name: "create with a short password", method: "POST", path: "/api/v1/users", header: jsonHeader(), body: `{"name":"lee","password":"short"}`,
			status: 422, contains: []string{`"field":"password"`, `"code":"password_too_short"`}},
		{name: "create with a common password", method: "POST", path: "/api/v1/users", header: jsonHeader(), body: `{"name":"lee","password":"password1234"}`,
			status: 422, contains: []string{`"code":"password_common"`}},
		{name: "create reports every bad field", method: "POST", path: "/api/v1/users", header: jsonHeader(), body: `{"name":"","role":"root","x":1}`,
			status: 422, contains: []string{`"field":"x"`}},
		{name: "create refuses a hash", method: "POST", path: "/api/v1/users", header: jsonHeader(), body: `{"name":"lee","password_hash":"x"}`,
			status: 422, contains: []string{`"field":"password_hash"`, `"code":"unknown_field"`}},

		{name: "get", method: "GET", path: "/api/v1/users/2", fixture: users("kim", "lee"), status: 200, contains: []string{`"id":2`, `"name":"lee"`}},
		{name: "get unknown", method: "GET", path: "/api/v1/users/3", status: 404, wantHeader: map[string]string{"Content-Type": problemCT}},
		{name: "get zero", method: "GET", path: "/api/v1/users/0", status: 404},
		{name: "get huge id", method: "GET", path: "/api/v1/users/99999999999999999999999", status: 404},

		{name: "put", method: "PUT", path: "/api/v1/users/2", header: jsonHeader(), body: `{"name":"park","role":"admin"}`, fixture: users("kim", "lee"),
			status: 200, contains: []string{`"name":"park"`, `"role":"admin"`}},
		{name: "put needs every field", method: "PUT", path: "/api/v1/users/2", header: jsonHeader(), body: `{"name":"park"}`, fixture: users("kim", "lee"),
			status: 422, contains: []string{`"field":"role"`, `"code":"required"`}},
		{name: "patch", method: "PATCH", path: "/api/v1/users/2", header: jsonHeader(), body: `{"name":"park"}`, fixture: users("kim", "lee"),
			status: 200, contains: []string{`"name":"park"`, `"role":"member"`}},
		{name: "patch null keeps the field", method: "PATCH", path: "/api/v1/users/2", header: jsonHeader(), body: `{"name":null,"role":"admin"}`, fixture: users("kim", "lee"),
			status: 200, contains: []string{`"name":"lee"`, `"role":"admin"`}},
		{name: "admin sets another's password", method: "PATCH", path: "/api/v1/users/2", header: jsonHeader(), body: `{"password":"another long password"}`,
			fixture: users("kim", "lee"), status: 200, notContains: []string{"argon2"}},
		{name: "admin sets own password through PATCH", method: "PATCH", path: "/api/v1/users/1", header: jsonHeader(), body: `{"password":"another long password"}`,
			status: 403, contains: []string{"/api/v1/me/password"}},
		{name: "delete", method: "DELETE", path: "/api/v1/users/2", fixture: users("kim", "lee"), status: 204},
		{name: "delete twice", method: "DELETE", path: "/api/v1/users/3", fixture: users("kim", "lee"), status: 404},

		{name: "unknown api path", method: "GET", path: "/api/v1/nope", status: 404,
			wantHeader: map[string]string{"Content-Type": problemCT}, contains: []string{`"instance":"/api/v1/nope"`}},
		{name: "wrong method", method: "POST", path: "/api/v1/users/1", status: 405,
			wantHeader: map[string]string{"Allow": "GET", "Content-Type": problemCT}},
		{name: "OPTIONS", method: "OPTIONS", path: "/api/v1/users/1", status: 204,
			wantHeader: map[string]string{"Allow": "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"}},
	}))
}

// TestAuthorization: who may do what, on the seed routes and the API alike.
// TestWeakPasswords: the weak passwords of the security review (issue 13)
// are refused when an account is made with one.
func TestWeakPasswords(t *testing.T) {
	var scenarios []scenario
	for _, pw := range []string{"aaaaaaaaaaaa", "            ", "abcdefghijkl", "qwertyuiopas", "Password123!", "iloveyou1234", "zyxwvutsrqpo", "abcabcabcabc"} {
		scenarios = append(scenarios, scenario{name: pw, method: "POST", path: "/api/v1/users", header: jsonHeader(),
			body: `{"name":"lee","password":"` + pw + `"}`, status: 422, contains: []string{`"field":"password"`}})
	}
	run(t, asAdmin(scenarios))
}

// TestLookAlikeNamesRefused: beside kim, a name that renders like kim's
// is refused (422) or is kim's name (409), never a second kim.
func TestLookAlikeNamesRefused(t *testing.T) {
	var scenarios []scenario
	for _, tt := range []struct {
		name   string
		status int
	}{
		{"ki\u034fm", 422}, {"kim\ufe0f", 422}, {"kim\u3164", 422}, {"\u115fkim", 422}, {"k\u1160im", 422},
		{"kim\u2800", 422}, {"kіm", 422}, {"ｋｉｍ", 409}, {"кім", 409}, {"KIM", 409},
	} {
		scenarios = append(scenarios, scenario{name: fmt.Sprintf("%+q", tt.name), method: "POST", path: "/api/v1/users", header: jsonHeader(),
			body: `{"name":"` + tt.name + `"}`, fixture: users("kim"), status: tt.status})
	}
	run(t, asAdmin(scenarios))
}

func TestAuthorization(t *testing.T) {
	two := users("kim", "lee") // kim (1) is an admin, lee (2) a member
	three := users("kim", "lee", "park")
	unauth := map[string]string{"Content-Type": problemCT, "WWW-Authenticate": `Cookie realm="userhub"`}
	run(t, []scenario{
		// Anonymous: 401 with WWW-Authenticate, on every API and seed route.
		{name: "anonymous GET /users", method: "GET", path: "/users", fixture: two, status: 401, wantHeader: unauth, contains: []string{`"code":"not_authenticated"`}},
		{name: "anonymous POST /user", method: "POST", path: "/user", header: jsonHeader(), body: `{"name":"x"}`, fixture: two, status: 401, wantHeader: unauth},
		{name: "anonymous PATCH /user/2", method: "PATCH", path: "/user/2", header: jsonHeader(), body: `{"name":"x"}`, fixture: two, status: 401},
		{name: "anonymous DELETE /user/2", method: "DELETE", path: "/user/2", fixture: two, status: 401},
		{name: "anonymous API list", method: "GET", path: "/api/v1/users", fixture: two, status: 401, wantHeader: unauth},
		{name: "anonymous me", method: "GET", path: "/api/v1/me", fixture: two, status: 401},
		{name: "anonymous page", method: "GET", path: "/?cursor=Mg", fixture: two, status: 303,
			wantHeader: map[string]string{"Location": "/login?next=%2F%3Fcursor%3DMg"}},
		{name: "anonymous account page", method: "GET", path: "/account", fixture: two, status: 303, wantHeader: map[string]string{"Location": "/login?next=%2Faccount"}},

		// Members read the list and change their own name, nothing else.
		{name: "member lists", as: "lee", method: "GET", path: "/users", fixture: two, status: 200, contains: []string{`"2":"lee"`}},
		{name: "member reads one", as: "lee", method: "GET", path: "/api/v1/users/1", fixture: two, status: 200},
		{name: "member creates", as: "lee", method: "POST", path: "/user", header: jsonHeader(), body: `{"name":"x"}`, fixture: two,
			status: 403, wantHeader: map[string]string{"Content-Type": problemCT}, contains: []string{`"code":"forbidden"`}},
		{name: "member creates through the API", as: "lee", method: "POST", path: "/api/v1/users", header: jsonHeader(), body: `{"name":"x","role":"admin"}`, fixture: two, status: 403},
		{name: "member renames self", as: "lee", method: "PATCH", path: "/user/2", header: jsonHeader(), body: `{"name":"lee2"}`, fixture: two,
			status: 200, contains: []string{`"name":"lee2"`, `"role":"member"`}},
		{name: "member renames self with PUT", as: "lee", method: "PUT", path: "/user/2", header: jsonHeader(), body: `{"name":"lee2"}`, fixture: two, status: 200},
		{name: "member PUTs self keeping the role", as: "lee", method: "PUT", path: "/api/v1/users/2", header: jsonHeader(), body: `{"name":"lee2","role":"member"}`, fixture: two, status: 200},
		{name: "member makes self admin", as: "lee", method: "PATCH", path: "/user/2", header: jsonHeader(), body: `{"role":"admin"}`, fixture: two,
			status: 403, contains: []string{"only administrators may change roles"}},
		{name: "member makes self admin through the API", as: "lee", method: "PATCH", path: "/api/v1/users/2", header: jsonHeader(), body: `{"name":"x","role":"admin"}`, fixture: two, status: 403},
		{name: "member renames another", as: "lee", method: "PATCH", path: "/user/3", header: jsonHeader(), body: `{"name":"x"}`, fixture: three, status: 403},
		{name: "member renames an admin", as: "lee", method: "PUT", path: "/user/1", header: jsonHeader(), body: `{"name":"x"}`, fixture: two, status: 403},
		{name: "member sets a password with PATCH", as: "lee", method: "PATCH", path: "/api/v1/users/2", header: jsonHeader(), body: `{"password":"a new long password"}`, fixture: two, status: 403},
		{name: "member deletes", as: "lee", method: "DELETE", path: "/user/1", fixture: two, status: 403},
		{name: "member suspends self", as: "lee", method: "PATCH", path: "/api/v1/users/2", header: jsonHeader(), body: `{"suspended":true}`, fixture: three,
			status: 403, contains: []string{"only administrators may suspend"}},
		{name: "member deletes self", as: "lee", method: "DELETE", path: "/api/v1/users/2", fixture: two, status: 403},
		{name: "member sends a hash", as: "lee", method: "PATCH", path: "/user/2", header: jsonHeader(), body: `{"password_hash":"x"}`, fixture: two, status: 422},

		// Authenticated responses are not cached.
		{name: "no-store", as: "lee", method: "GET", path: "/api/v1/me", fixture: two, status: 200,
			wantHeader: map[string]string{"Cache-Control": "no-store"}, contains: []string{`"name":"lee"`}, notContains: []string{"argon2", "session_version"}},
	})
}

// BenchmarkSeedListUsers measures GET /users over 100 users through the
// whole handler chain (no network): logged in, as the route requires
// (session cookie decoded, user and revocation checked), and anonymous,
// the same handler on a public path. The difference is what a session costs.
func BenchmarkSeedListUsers(b *testing.B) {
	names := []string{"kim"}
	for i := range 99 {
		names = append(names, fmt.Sprintf("user%03d", i))
	}
	b.Run("logged-in", func(b *testing.B) {
		bench(b, scenario{as: "kim", method: "GET", path: "/users", fixture: users(names...), status: 200})
	})
	b.Run("anonymous", func(b *testing.B) {
		bench(b, scenario{method: "GET", path: "/public-users", fixture: users(names...), status: 200}, func(a app) {
			engine := a.handler.(*gin.Engine)
			for _, r := range engine.Routes() {
				if r.Method == "GET" && r.Path == "/users" {
					engine.GET("/public-users", r.HandlerFunc)
				}
			}
		})
	})
}

func BenchmarkAbout(b *testing.B) {
	bench(b, scenario{method: "GET", path: "/about", fixture: users("kim"), status: 200})
}

// TestSuspension: a suspended user's open session ends at once, their
// right password is refused with 403 "suspended" (a wrong one stays 401),
// and once restored they log in again, on both session stores.
func TestSuspension(t *testing.T) {
	for storeName, adjust := range sessionStores(t) {
		t.Run(storeName, func(t *testing.T) {
			a := newApp(t, adjust)
			users("kim", "lee")(t, a)
			admin, member := a.login(t, "kim"), a.login(t, "lee")
			get := func(cookie *http.Cookie) int {
				req := httptest.NewRequest("GET", "/api/v1/me", nil)
				req.AddCookie(cookie)
				return a.do(req).Code
			}
			suspend := func(on bool) {
				req := httptest.NewRequest("PATCH", "/api/v1/users/2", strings.NewReader(fmt.Sprintf(`{"suspended":%v}`, on)))
				req.Header.Set("Content-Type", "application/json")
				req.AddCookie(admin)
				if rec := a.do(req); rec.Code != http.StatusOK {
					t.Fatalf("suspended=%v: %d %s", on, rec.Code, rec.Body)
				}
			}
			login := func(password string) *httptest.ResponseRecorder {
				req := httptest.NewRequest("POST", "/api/v1/login", strings.NewReader(`{"name":"lee","password":"`+password+`"}`))
				req.Header.Set("Content-Type", "application/json")
				return a.do(req)
			}
			if code := get(member); code != http.StatusOK {
				t.Fatalf("before suspension: %d", code)
			}
			suspend(true)
			if code := get(member); code != http.StatusUnauthorized {
				t.Errorf("the suspended user's open session: %d, want 401", code)
			}
			if rec := login(testPassword); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), `"code":"suspended"`) || rec.Header().Get("Set-Cookie") != "" {
				t.Errorf("login with the right password: %d %s (Set-Cookie %q), want 403 suspended and no cookie", rec.Code, rec.Body, rec.Header().Get("Set-Cookie"))
			}
			if rec := login("a wrong password, long enough"); rec.Code != http.StatusUnauthorized {
				t.Errorf("login with a wrong password: %d, want 401 (nothing said of the suspension)", rec.Code)
			}
			suspend(false)
			if rec := login(testPassword); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"suspended":false`) {
				t.Errorf("login once restored: %d %s", rec.Code, rec.Body)
			}
			req := httptest.NewRequest("GET", "/api/v1/users/2", nil)
			req.AddCookie(admin)
			if body := a.do(req).Body.String(); strings.Contains(body, `"last_login_at":null`) {
				t.Errorf("after a login, the user's last_login_at is still null: %s", body)
			}
		})
	}
}
