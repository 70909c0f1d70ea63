package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestConditionalRequests: a user's strong ETag answers If-None-Match with
// 304; a change or deletion with an If-Match that no longer matches is 412
// problem+json and changes nothing; with the current tag (or "*") it is
// made and answers the new tag; the list has a weak ETag and 304s too.
func TestConditionalRequests(t *testing.T) {
	a := newApp(t)
	users("kim", "lee")(t, a)
	admin := a.login(t, "kim")
	send := func(method, path, body string, header ...string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		req.AddCookie(admin)
		return a.do(req)
	}

	first := send("GET", "/api/v1/users/2", "")
	tag := first.Header().Get("ETag")
	if first.Code != http.StatusOK || !strings.HasPrefix(tag, `"`) || !strings.HasSuffix(tag, `"`) {
		t.Fatalf("GET lee: %d, ETag %q; want 200 with a strong ETag", first.Code, tag)
	}
	if again := send("GET", "/api/v1/users/2", ""); again.Header().Get("ETag") != tag {
		t.Errorf("the same user read twice has ETags %q and %q", tag, again.Header().Get("ETag"))
	}
	for _, inm := range []string{tag, "W/" + tag, `"other", ` + tag, "*"} {
		rec := send("GET", "/api/v1/users/2", "", "If-None-Match", inm)
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 || rec.Header().Get("ETag") != tag {
			t.Errorf("If-None-Match %s: %d %q (ETag %q), want 304, no body, the ETag", inm, rec.Code, rec.Body, rec.Header().Get("ETag"))
		}
	}
	if rec := send("GET", "/api/v1/users/2", "", "If-None-Match", `"other"`); rec.Code != http.StatusOK || rec.Body.Len() == 0 {
		t.Errorf("If-None-Match with another tag: %d, want 200 with the user", rec.Code)
	}

	// A change made with the tag read: 200 and a new tag.
	renamed := send("PATCH", "/api/v1/users/2", `{"name":"lee2"}`, "If-Match", tag)
	newTag := renamed.Header().Get("ETag")
	if renamed.Code != http.StatusOK || newTag == "" || newTag == tag {
		t.Fatalf("PATCH with the current If-Match: %d %s, ETag %q; want 200 and a new ETag", renamed.Code, renamed.Body, newTag)
	}
	if got := send("GET", "/api/v1/users/2", "").Header().Get("ETag"); got != newTag {
		t.Errorf("GET after the change has ETag %q, the change answered %q", got, newTag)
	}
	// Another client still holding the old tag: every change is refused.
	for _, tt := range []struct{ method, body string }{
		{"PATCH", `{"name":"lost"}`},
		{"PUT", `{"name":"lost","role":"member"}`},
		{"DELETE", ""},
	} {
		rec := send(tt.method, "/api/v1/users/2", tt.body, "If-Match", tag)
		if rec.Code != http.StatusPreconditionFailed || rec.Header().Get("Content-Type") != "application/problem+json" ||
			!strings.Contains(rec.Body.String(), `"code":"precondition_failed"`) {
			t.Errorf("%s with a stale If-Match: %d %s %s, want 412 problem+json precondition_failed",
				tt.method, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
	}
	// A weak tag never matches If-Match (strong comparison).
	if rec := send("PATCH", "/api/v1/users/2", `{"name":"lost"}`, "If-Match", "W/"+newTag); rec.Code != http.StatusPreconditionFailed {
		t.Errorf("PATCH with a weak If-Match: %d, want 412", rec.Code)
	}
	if rec := send("GET", "/api/v1/users/2", ""); !strings.Contains(rec.Body.String(), `"name":"lee2"`) {
		t.Errorf("after the refused changes: %s, want lee2 unchanged", rec.Body)
	}
	// "*" matches any user that exists; an unknown one is 404.
	if rec := send("PATCH", "/api/v1/users/2", `{"name":"lee3"}`, "If-Match", "*"); rec.Code != http.StatusOK {
		t.Errorf("PATCH with If-Match *: %d, want 200", rec.Code)
	}
	if rec := send("PATCH", "/api/v1/users/99", `{"name":"x"}`, "If-Match", "*"); rec.Code != http.StatusNotFound {
		t.Errorf("PATCH of an unknown user with If-Match *: %d, want 404", rec.Code)
	}
	current := send("GET", "/api/v1/users/2", "").Header().Get("ETag")
	if rec := send("DELETE", "/api/v1/users/2", "", "If-Match", current); rec.Code != http.StatusNoContent {
		t.Errorf("DELETE with the current If-Match: %d %s, want 204", rec.Code, rec.Body)
	}

	// The list: a weak ETag, 304 while nothing changes, 200 after a change.
	list := send("GET", "/api/v1/users", "")
	listTag := list.Header().Get("ETag")
	if list.Code != http.StatusOK || !strings.HasPrefix(listTag, `W/"`) {
		t.Fatalf("GET the list: %d, ETag %q; want a weak ETag", list.Code, listTag)
	}
	if rec := send("GET", "/api/v1/users", "", "If-None-Match", listTag); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("the list with its If-None-Match: %d, want 304", rec.Code)
	}
	send("POST", "/api/v1/users", `{"name":"park"}`)
	if rec := send("GET", "/api/v1/users", "", "If-None-Match", listTag); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "park") {
		t.Errorf("the list after a create, with the old If-None-Match: %d, want 200 with park", rec.Code)
	}
}
