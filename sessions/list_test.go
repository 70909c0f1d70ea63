package sessions

import (
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

func TestDevice(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0":                                                                 "Firefox, Linux",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0":          "Edge, Windows",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15":                     "Safari, macOS",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36":                  "Chrome, Android",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0 Mobile/15E148 Safari/604.1": "Chrome, iOS",
		"curl/8.5.0":           "curl",
		"Go-http-client/1.1":   "Go program",
		"":                     "",
		"SomethingUnheardOf/1": "",
	} {
		if got := Device(ua); got != want {
			t.Errorf("Device(%q) = %q, want %q", ua, got, want)
		}
	}
}

// TestListEntryUserAgent: what the list keeps of a User-Agent is valid
// UTF-8 (PostgreSQL refuses anything else) of at most 512 bytes, cut
// between characters.
func TestListEntryUserAgent(t *testing.T) {
	m := &Manager{}
	for _, ua := range []string{"curl/8\xff\xfe", strings.Repeat("가", 300), "Firefox/128.0"} {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("GET", "/", nil)
		c.Request.Header.Set("User-Agent", ua)
		got := m.listEntry(c, record{}).UserAgent
		if !utf8.ValidString(got) || len(got) > 512 || !strings.HasPrefix(ua, got) && !strings.HasPrefix(got, "curl/8") {
			t.Errorf("User-Agent %q kept as %q", ua, got)
		}
	}
}
