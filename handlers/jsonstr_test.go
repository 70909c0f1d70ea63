package handlers

import (
	"encoding/json"
	"fmt"
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

// BenchmarkAppendJSONString: the seed's GET /users writes 100 names per
// request; "encoding/json" is what the escaper replaces.
func BenchmarkAppendJSONString(b *testing.B) {
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("user%03d 김철수", i)
	}
	b.Run("appendJSONString", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 4096)
		for b.Loop() {
			buf = buf[:0]
			for _, n := range names {
				buf = appendJSONString(buf, n)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 4096)
		for b.Loop() {
			buf = buf[:0]
			for _, n := range names {
				q, _ := json.Marshal(n)
				buf = append(buf, q...)
			}
		}
	})
}
