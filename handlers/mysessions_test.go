package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestMySessions: after two logins the list shows two sessions, the
// request's own marked current, each with its browser and address;
// ending the other makes its cookie 401 at once; "end all others" leaves
// only the request's own; on both session stores.
func TestMySessions(t *testing.T) {
	for storeName, adjust := range sessionStores(t) {
		t.Run(storeName, func(t *testing.T) {
			a := newApp(t, adjust)
			users("kim", "lee")(t, a)
			login := func(ua, ip string) *http.Cookie {
				req := jsonReq("POST", "/api/v1/login", `{"name":"kim","password":"`+testPassword+`"}`)
				req.Header.Set("User-Agent", ua)
				req.RemoteAddr = ip + ":5000"
				rec := a.do(req)
				if rec.Code != http.StatusOK {
					t.Fatalf("login: %d %s", rec.Code, rec.Body)
				}
				return sessionCookie(t, rec)
			}
			laptop := login("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "198.51.100.7")
			phone := login("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1", "203.0.113.9")
			lee := a.login(t, "lee")
			type entry struct {
				ID      string `json:"id"`
				Current bool   `json:"current"`
				IP      string `json:"ip"`
				Device  string `json:"device"`
			}
			list := func(cookie *http.Cookie) []entry {
				t.Helper()
				rec := a.do(get("/api/v1/me/sessions", cookie))
				var out struct{ Sessions []entry }
				if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
					t.Fatalf("GET /api/v1/me/sessions: %d %s", rec.Code, rec.Body)
				}
				return out.Sessions
			}
			got := list(laptop)
			if len(got) != 2 || got[0].Current || !got[1].Current || got[0].Device != "Safari, iOS" || got[1].Device != "Firefox, Linux" ||
				got[0].IP != "203.0.113.9" || got[1].IP != "198.51.100.7" {
				t.Fatalf("kim's sessions, seen from the laptop: %+v", got)
			}
			if n := len(list(lee)); n != 1 {
				t.Errorf("lee sees %d sessions, want only lee's own", n)
			}
			// lee cannot end kim's session; an unknown id is 404.
			for _, c := range []*http.Cookie{lee, laptop} {
				req := httptest.NewRequest("DELETE", "/api/v1/me/sessions/nope", nil)
				req.AddCookie(c)
				if rec := a.do(req); rec.Code != http.StatusNotFound {
					t.Errorf("DELETE an unknown session: %d, want 404", rec.Code)
				}
			}
			req := httptest.NewRequest("DELETE", "/api/v1/me/sessions/"+got[0].ID, nil)
			req.AddCookie(lee)
			if rec := a.do(req); rec.Code != http.StatusNotFound {
				t.Errorf("lee ending kim's session: %d, want 404", rec.Code)
			}
			// The laptop ends the phone's session: its cookie is 401 at once.
			req = httptest.NewRequest("DELETE", "/api/v1/me/sessions/"+got[0].ID, nil)
			req.AddCookie(laptop)
			if rec := a.do(req); rec.Code != http.StatusNoContent {
				t.Fatalf("end the phone's session: %d %s", rec.Code, rec.Body)
			}
			if rec := a.do(get("/api/v1/me", phone)); rec.Code != http.StatusUnauthorized {
				t.Errorf("the phone's cookie after its session ended: %d, want 401", rec.Code)
			}
			if rec := a.do(get("/api/v1/me", laptop)); rec.Code != http.StatusOK {
				t.Errorf("the laptop's own session: %d, want 200", rec.Code)
			}
			// End all others: two more logins, then only the laptop's is left.
			other1, other2 := login("curl/8.5.0", "192.0.2.10"), login("", "192.0.2.11")
			req = httptest.NewRequest("DELETE", "/api/v1/me/sessions", nil)
			req.AddCookie(laptop)
			if rec := a.do(req); rec.Code != http.StatusBadRequest {
				t.Errorf("DELETE /api/v1/me/sessions without others=true: %d, want 400", rec.Code)
			}
			req = httptest.NewRequest("DELETE", "/api/v1/me/sessions?others=true", nil)
			req.AddCookie(laptop)
			if rec := a.do(req); rec.Code != http.StatusNoContent {
				t.Fatalf("end all others: %d %s", rec.Code, rec.Body)
			}
			for _, c := range []*http.Cookie{other1, other2} {
				if rec := a.do(get("/api/v1/me", c)); rec.Code != http.StatusUnauthorized {
					t.Errorf("another session after 'end all others': %d, want 401", rec.Code)
				}
			}
			if got := list(laptop); len(got) != 1 || !got[0].Current {
				t.Errorf("after ending all others: %+v", got)
			}
			// The page says so in words.
			page := a.do(get("/account/sessions", laptop)).Body.String()
			if !strings.Contains(page, "Firefox, Linux") || !strings.Contains(page, "This session") || strings.Contains(page, `id="end-others"`) {
				t.Errorf("the sessions page:\n%s", page)
			}
		})
	}
}
