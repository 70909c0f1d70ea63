package handlers

import (
	"encoding/json"
	"testing"
)

// appendJSONString must write what encoding/json writes.
func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{
		"", "kim", "김철수", `quote"back\slash`, "<script>&</script>", "tab\tnl\ncr\r", "\x00\x01\x1f\x7f",
		"line\u2028para\u2029", "bad\xffutf8", "emoji 👩‍💻", "é and e\u0301",
	} {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("kim")
	f.Add("<\u2028\xff>")
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	})
}
