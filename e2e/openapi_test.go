package e2e

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"

	"userhub/client"
)

// TestOpenAPIClient drives the binary with the client generated from the
// contract (client/): log in, list, create (and retry the create with its
// Idempotency-Key), read with its ETag, change with If-Match (and refused
// with a stale one), delete. newClient's
// transport checks every exchange against the document as well.
func TestOpenAPIClient(t *testing.T) {
	p := start(t)
	p.setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	api, err := client.NewClientWithResponses(p.base, client.WithHTTPClient(newClient()))
	if err != nil {
		t.Fatal(err)
	}

	login, err := api.LoginWithResponse(ctx, client.LoginJSONRequestBody{Name: "kim", Password: adminPassword})
	if err != nil || login.JSON200 == nil || login.JSON200.Role != client.RoleAdmin {
		t.Fatalf("login: %v %s", err, body(login))
	}
	if bad, err := api.LoginWithResponse(ctx, client.LoginJSONRequestBody{Name: "kim", Password: "not the password"}); err != nil ||
		bad.ApplicationproblemJSON401 == nil || bad.ApplicationproblemJSON401.Code != "bad_credentials" {
		t.Fatalf("a wrong password: %v %s", err, body(bad))
	}

	role := client.RoleMember
	password := "tea at five every day"
	key := "create-lee-1"
	newLee := client.CreateUserJSONRequestBody{Name: "lee", Role: &role, Password: &password}
	created, err := api.CreateUserWithResponse(ctx, &client.CreateUserParams{IdempotencyKey: &key}, newLee)
	if err != nil || created.JSON201 == nil || created.HTTPResponse.Header.Get("Location") != "/api/v1/users/2" {
		t.Fatalf("create: %v %s", err, body(created))
	}
	lee := created.JSON201.Id
	if retry, err := api.CreateUserWithResponse(ctx, &client.CreateUserParams{IdempotencyKey: &key}, newLee); err != nil ||
		retry.JSON201 == nil || retry.JSON201.Id != lee || retry.HTTPResponse.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("the create retried with its Idempotency-Key: %v %s", err, body(retry))
	}
	if dup, err := api.CreateUserWithResponse(ctx, nil, client.CreateUserJSONRequestBody{Name: "LEE"}); err != nil ||
		dup.ApplicationproblemJSON409 == nil || dup.ApplicationproblemJSON409.Code != "name_taken" {
		t.Fatalf("a taken name: %v %s", err, body(dup))
	}
	if short := "short"; true {
		bad, err := api.CreateUserWithResponse(ctx, nil, client.CreateUserJSONRequestBody{Name: "park", Password: &short})
		if err != nil || bad.ApplicationproblemJSON422 == nil || bad.ApplicationproblemJSON422.Errors == nil || len(*bad.ApplicationproblemJSON422.Errors) == 0 ||
			(*bad.ApplicationproblemJSON422.Errors)[0].Field != "password" {
			t.Fatalf("a short password: %v %s", err, body(bad))
		}
	}

	limit := 1
	page, err := api.ListUsersWithResponse(ctx, &client.ListUsersParams{Limit: &limit})
	if err != nil || page.JSON200 == nil || page.JSON200.Total != 2 || len(page.JSON200.Users) != 1 || page.JSON200.NextCursor == nil {
		t.Fatalf("list: %v %s", err, body(page))
	}
	next, err := api.ListUsersWithResponse(ctx, &client.ListUsersParams{Limit: &limit, Cursor: page.JSON200.NextCursor})
	if err != nil || next.JSON200 == nil || len(next.JSON200.Users) != 1 || next.JSON200.Users[0].Name != "lee" {
		t.Fatalf("the next page: %v %s", err, body(next))
	}

	got, err := api.GetUserWithResponse(ctx, lee, nil)
	if err != nil || got.JSON200 == nil || got.Headers200 == nil || got.Headers200.ETag == "" {
		t.Fatalf("get: %v %s", err, body(got))
	}
	etag := got.Headers200.ETag
	if same, err := api.GetUserWithResponse(ctx, lee, &client.GetUserParams{IfNoneMatch: &etag}); err != nil || same.StatusCode() != 304 {
		t.Fatalf("get with If-None-Match: %v %s", err, body(same))
	}

	suspend := true
	patched, err := api.PatchUserWithResponse(ctx, lee, &client.PatchUserParams{IfMatch: &etag}, client.PatchUserJSONRequestBody{Suspended: &suspend})
	if err != nil || patched.JSON200 == nil || !patched.JSON200.Suspended || patched.Headers200.ETag == etag {
		t.Fatalf("patch with If-Match: %v %s", err, body(patched))
	}
	stale, err := api.PatchUserWithResponse(ctx, lee, &client.PatchUserParams{IfMatch: &etag}, client.PatchUserJSONRequestBody{Suspended: new(bool)})
	if err != nil || stale.ApplicationproblemJSON412 == nil || stale.ApplicationproblemJSON412.Code != "precondition_failed" {
		t.Fatalf("patch with a stale If-Match: %v %s", err, body(stale))
	}

	etag = patched.Headers200.ETag
	if deleted, err := api.DeleteUserWithResponse(ctx, lee, &client.DeleteUserParams{IfMatch: &etag}); err != nil || deleted.StatusCode() != 204 {
		t.Fatalf("delete: %v %s", err, body(deleted))
	}
	if gone, err := api.GetUserWithResponse(ctx, lee, nil); err != nil || gone.ApplicationproblemJSON404 == nil {
		t.Fatalf("get after delete: %v %s", err, body(gone))
	}

	if out, err := api.LogoutWithResponse(ctx); err != nil || out.StatusCode() != 204 {
		t.Fatalf("logout: %v %s", err, body(out))
	}
	if me, err := api.GetMeWithResponse(ctx); err != nil || me.ApplicationproblemJSON401 == nil || me.Headers401.WWWAuthenticate == "" {
		t.Fatalf("me after logout: %v %s", err, body(me))
	}
}

// body describes a generated client's response for a failure message.
func body(r interface {
	Status() string
	GetBody() []byte
}) string {
	if v := reflect.ValueOf(r); !v.IsValid() || v.IsNil() { // the request failed: err says why
		return ""
	}
	return r.Status() + " " + string(r.GetBody())
}

// TestBrowserAPIDocs: /api/docs draws the reference from the served
// document, under the site's CSP (no inline script or style): the routes
// are there as text, and the browser logged no CSP violation.
func TestBrowserAPIDocs(t *testing.T) {
	b := newBrowser(t)
	p := start(t)
	p.setup(t) // /api/docs is public, and needs no user; a running site has one

	var (
		mu      = make(chan struct{}, 1)
		console []string
	)
	go func() {
		for ev, err := range chromedp.Events(b.ctx, cdplog.EntryAdded) {
			if err != nil {
				return
			}
			mu <- struct{}{}
			console = append(console, string(ev.Entry.Source)+": "+ev.Entry.Text)
			<-mu
		}
	}()
	if _, err := chromedp.Call(b.ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}

	b.do("open the reference",
		chromedp.Navigate(p.base+"/api/docs"),
		waitText("h1", "API reference"),
		// swagger-ui has fetched the document and drawn one block per operation.
		waitJS(`document.querySelectorAll('#api-reference .opblock').length > 10`),
		waitJS(`[...document.querySelectorAll('#api-reference .opblock-summary-path')].some(e => e.innerText.trim() === '/api/v1/users')`),
	)
	text := run(b, "read the page", chromedp.Evaluate[string](`document.getElementById('api-reference').innerText`))
	for _, want := range []string{"/api/v1/users", "/api/v1/users/{id}", "/api/v1/tokens", "/user/{id}", "/healthz"} {
		if !strings.Contains(text, want) {
			t.Errorf("the reference does not show %s", want)
		}
	}
	// The stylesheet applied: swagger-ui's blocks are laid out, not bare.
	if display := run(b, "style", chromedp.Evaluate[string](`getComputedStyle(document.querySelector('#api-reference .opblock-summary')).display`)); display != "flex" {
		t.Errorf("swagger-ui's stylesheet did not apply: .opblock-summary is display %q", display)
	}
	mu <- struct{}{}
	for _, line := range console {
		if strings.Contains(line, "Content Security Policy") {
			t.Errorf("CSP violation: %s", line)
		} else {
			t.Logf("console: %s", line)
		}
	}
	<-mu
}
