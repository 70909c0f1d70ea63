package handlers

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"userhub/models"
)

// FuzzDecodeJSON: whatever the body, decoding answers a client error
// (400, 413, 415, 422) or fills the fields with valid UTF-8; it never
// panics. The corpus is in testdata/fuzz/FuzzDecodeJSON.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{`{"name":"kim","role":"admin"}`, `{"name":"zz\xff"}`, `{"name":null}`, `[1]`, `{"a":1}{}`, ``, `{"name":"\ud800"}`} {
		f.Add(seed)
	}
	gin.SetMode(gin.ReleaseMode)
	f.Fuzz(func(t *testing.T, body string) {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("POST", "/", strings.NewReader(body))
		c.Request.Header.Set("Content-Type", "application/json")
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 1<<16)
		var in struct {
			Name *string      `json:"name" required:"true"`
			Role *models.Role `json:"role"`
		}
		err := decodeJSON(c, &in)
		var (
			reqErr   *requestError
			valErr   *models.ValidationError
			tooLarge *http.MaxBytesError
		)
		switch {
		case err == nil:
			if in.Name == nil || !utf8.ValidString(*in.Name) || (in.Role != nil && !utf8.ValidString(string(*in.Role))) {
				t.Fatalf("%q decoded to name %v, role %v", body, in.Name, in.Role)
			}
		case errors.As(err, &reqErr), errors.As(err, &valErr), errors.As(err, &tooLarge):
		default:
			t.Fatalf("%q: %v is not a client error", body, err)
		}
	})
}
