package handlers_test

import (
	"fmt"
	"strings"
	"testing"
)

const problemCT = "application/problem+json"

func TestSeedRoutes(t *testing.T) {
	long := strings.Repeat("a", 65)
	run(t, []scenario{
		{name: "list empty", method: "GET", path: "/users", status: 200,
			wantHeader: map[string]string{"Content-Type": jsonCT, "Link": ""}, contains: []string{"{}"}},
		{name: "list is an id->name object in id order", method: "GET", path: "/users", fixture: users("kim", "lee", "김철수"),
			status: 200, contains: []string{`{"1":"kim","2":"lee","3":"김철수"}`}, notContains: []string{"role", "password"}},
		{name: "list pages with a Link", method: "GET", path: "/users?limit=2", fixture: users("a", "b", "c"),
			status: 200, contains: []string{`{"1":"a","2":"b"}`}, wantHeader: map[string]string{"Link": `rel="next"`}},
		{name: "list second page", method: "GET", path: "/users?limit=2&cursor=Mg", fixture: users("a", "b", "c"),
			status: 200, contains: []string{`{"3":"c"}`}, wantHeader: map[string]string{"Link": ""}},
		{name: "list limit above 1000", method: "GET", path: "/users?limit=1001", status: 422,
			wantHeader: map[string]string{"Content-Type": problemCT}, contains: []string{`"field":"limit"`}},
		{name: "list bad cursor", method: "GET", path: "/users?cursor=!!!", status: 422, contains: []string{`"field":"cursor"`}},

		{name: "create", method: "POST", path: "/user", header: jsonHeader(), body: `{"name":"kim"}`, status: 201,
			wantHeader: map[string]string{"Location": "/api/v1/users/1", "Content-Type": jsonCT},
			contains:   []string{`"id":1`, `"name":"kim"`, `"role":"member"`, `"created_at"`}, notContains: []string{"password", "session"}},
		{name: "create korean", method: "POST", path: "/user", header: jsonHeader(), body: `{"name":"김철수"}`, status: 201,
			contains: []string{`"name":"김철수"`}},
		{name: "create json with charset", method: "POST", path: "/user", header: map[string]string{"Content-Type": "application/json; charset=utf-8"},
			body: `{"name":"kim"}`, status: 201},
		{name: "create duplicate", method: "POST", path: "/user", header: jsonHeader(), body: `{"name":"kim"}`, fixture: users("kim"),
			status: 409, wantHeader: map[string]string{"Content-Type": problemCT}, contains: []string{`"code":"name_taken"`, `"status":409`}},
		{name: "create duplicate differing in case", method: "POST", path: "/user", header: jsonHeader(), body: `{"name":"KIM"}`, fixture: users("kim"),
			status: 409, contains: []string{`"code":"name_taken"`}},
		{name: "create 65 characters", method: "POST", path: "/user", header: jsonHeader(), body: `{"name":"` + long + `"}`,
			status: 422, wantHeader: map[string]string{"Content-Type": problemCT}, contains: []string{`"field":"name"`, `"code":"too_long"`}},
		{name: "create empty name", method: "POST", path: "/user", header: jsonHeader(), body: `{"name":"  "}`,
			status: 422, contains: []string{`"code":"required"`}},
		{name: "create without name", method: "POST", path: "/user", header: jsonHeader(), body: `{}`,
			status: 422, contains: []string{`"field":"name"`, `"code":"required"`}},
		{name: "create refuses role (no mass assignment)", method: "POST", path: "/user", header: jsonHeader(), body: `{"name":"kim","role":"admin"}`,
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
		{name: "create 2 MiB", method: "POST", path: "/user", header: jsonHeader(), body: `{"name":"` + strings.Repeat("a", 2<<20) + `"}`,
			status: 413, wantHeader: map[string]string{"Content-Type": problemCT}, contains: []string{`"code":"body_too_large"`}},

		{name: "replace", method: "PUT", path: "/user/1", header: jsonHeader(), body: `{"name":"park"}`, fixture: users("kim"),
			status: 200, contains: []string{`"id":1`, `"name":"park"`}},
		{name: "replace needs name", method: "PUT", path: "/user/1", header: jsonHeader(), body: `{}`, fixture: users("kim"),
			status: 422, contains: []string{`"field":"name"`, `"code":"required"`}},
		{name: "replace unknown id", method: "PUT", path: "/user/99", header: jsonHeader(), body: `{"name":"x"}`,
			status: 404, wantHeader: map[string]string{"Content-Type": problemCT}, contains: []string{`"code":"not_found"`}},
		{name: "replace non-numeric id", method: "PUT", path: "/user/abc", header: jsonHeader(), body: `{"name":"x"}`, status: 404},
		{name: "replace to taken name", method: "PUT", path: "/user/2", header: jsonHeader(), body: `{"name":"Kim"}`, fixture: users("kim", "lee"),
			status: 409},
		{name: "patch name", method: "PATCH", path: "/user/1", header: jsonHeader(), body: `{"name":"park"}`, fixture: users("kim"),
			status: 200, contains: []string{`"name":"park"`, `"role":"admin"`}},
		{name: "patch role", method: "PATCH", path: "/user/2", header: jsonHeader(), body: `{"role":"admin"}`, fixture: users("kim", "lee"),
			status: 200, contains: []string{`"name":"lee"`, `"role":"admin"`}},
		{name: "patch nothing", method: "PATCH", path: "/user/1", header: jsonHeader(), body: `{}`, fixture: users("kim"),
			status: 200, contains: []string{`"name":"kim"`}},
		{name: "patch bad role", method: "PATCH", path: "/user/1", header: jsonHeader(), body: `{"role":"root"}`, fixture: users("kim"),
			status: 422, contains: []string{`"field":"role"`}},
		{name: "patch demotes the last admin", method: "PATCH", path: "/user/1", header: jsonHeader(), body: `{"role":"member"}`, fixture: users("kim"),
			status: 409, contains: []string{`"code":"last_admin"`}},
		{name: "delete", method: "DELETE", path: "/user/2", fixture: users("kim", "lee"), status: 204},
		{name: "delete unknown", method: "DELETE", path: "/user/99", status: 404, contains: []string{`"code":"not_found"`}},
		{name: "delete the last admin", method: "DELETE", path: "/user/1", fixture: users("kim"), status: 409},

		{name: "TRACE /users", method: "TRACE", path: "/users", status: 405,
			wantHeader: map[string]string{"Allow": "GET, HEAD, OPTIONS", "Content-Type": problemCT}, contains: []string{`"code":"method_not_allowed"`}},
		{name: "GET /user/1", method: "GET", path: "/user/1", status: 405, wantHeader: map[string]string{"Allow": "DELETE"}},
		{name: "OPTIONS /users", method: "OPTIONS", path: "/users", status: 204, wantHeader: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{name: "OPTIONS /user/1", method: "OPTIONS", path: "/user/1", status: 204, wantHeader: map[string]string{"Allow": "DELETE, OPTIONS, PATCH, PUT"}},
		{name: "OPTIONS /user", method: "OPTIONS", path: "/user", status: 204, wantHeader: map[string]string{"Allow": "OPTIONS, POST"}},
	})
}

func TestAPIUsers(t *testing.T) {
	many := make([]string, 7)
	for i := range many {
		many[i] = fmt.Sprintf("user%d", i)
	}
	run(t, []scenario{
		{name: "list", method: "GET", path: "/api/v1/users", fixture: users("kim", "lee"), status: 200,
			contains: []string{`"users":[{"id":1,"name":"kim","role":"admin"`, `"name":"lee","role":"member"`}, notContains: []string{"next_cursor", "password"}},
		{name: "list empty is an empty array", method: "GET", path: "/api/v1/users", status: 200, contains: []string{`"users":[]`}},
		{name: "list pages", method: "GET", path: "/api/v1/users?limit=3", fixture: users(many...), status: 200,
			contains:    []string{`"name":"user2"`, `"next_cursor":"Mw"`},
			notContains: []string{`"name":"user3"`},
			wantHeader:  map[string]string{"Link": `</api/v1/users?cursor=Mw&limit=3>; rel="next"`}},
		{name: "list follows the cursor", method: "GET", path: "/api/v1/users?limit=3&cursor=Mw", fixture: users(many...), status: 200,
			contains: []string{`"name":"user3"`, `"name":"user5"`}, notContains: []string{`"name":"user2"`}},
		{name: "list limit 0", method: "GET", path: "/api/v1/users?limit=0", status: 422, contains: []string{`"field":"limit"`}},
		{name: "list limit 501", method: "GET", path: "/api/v1/users?limit=501", status: 422, contains: []string{"from 1 to 500"}},
		{name: "list limit 500", method: "GET", path: "/api/v1/users?limit=500", status: 200},
		{name: "list bad limit and cursor at once", method: "GET", path: "/api/v1/users?limit=x&cursor=AAAA", status: 422,
			contains: []string{`"field":"limit"`, `"field":"cursor"`}},

		{name: "create with role", method: "POST", path: "/api/v1/users", header: jsonHeader(), body: `{"name":"kim","role":"admin"}`, status: 201,
			wantHeader: map[string]string{"Location": "/api/v1/users/1"}, contains: []string{`"role":"admin"`}},
		{name: "create defaults to member", method: "POST", path: "/api/v1/users", header: jsonHeader(), body: `{"name":"kim"}`, status: 201,
			contains: []string{`"role":"member"`}},
		{name: "create reports every bad field", method: "POST", path: "/api/v1/users", header: jsonHeader(), body: `{"name":"","role":"root","x":1}`,
			status: 422, contains: []string{`"field":"x"`}},
		{name: "create unknown and valid fields", method: "POST", path: "/api/v1/users", header: jsonHeader(), body: `{"name":"kim","password_hash":"x"}`,
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
		{name: "delete", method: "DELETE", path: "/api/v1/users/2", fixture: users("kim", "lee"), status: 204},
		{name: "delete twice", method: "DELETE", path: "/api/v1/users/3", fixture: users("kim", "lee"), status: 404},

		{name: "unknown api path", method: "GET", path: "/api/v1/nope", status: 404,
			wantHeader: map[string]string{"Content-Type": problemCT}, contains: []string{`"instance":"/api/v1/nope"`}},
		{name: "wrong method", method: "POST", path: "/api/v1/users/1", status: 405,
			wantHeader: map[string]string{"Allow": "GET", "Content-Type": problemCT}},
		{name: "OPTIONS", method: "OPTIONS", path: "/api/v1/users/1", status: 204,
			wantHeader: map[string]string{"Allow": "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"}},
	})
}

// BenchmarkSeedListUsers measures GET /users over 100 users through the
// whole handler chain (no network).
func BenchmarkSeedListUsers(b *testing.B) {
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("user%03d", i)
	}
	bench(b, scenario{method: "GET", path: "/users", fixture: users(names...), status: 200})
}

func BenchmarkAbout(b *testing.B) {
	bench(b, scenario{method: "GET", path: "/about", status: 200})
}
