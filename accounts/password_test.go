package accounts

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"userhub/models"
)

func TestPasswordPolicy(t *testing.T) {
	p := PasswordPolicy{MinLength: 12}
	tests := []struct {
		password, name, code string // code "" = accepted
	}{
		{"correct horse battery", "kim", ""},
		{"비밀번호는길어야안전합니다", "kim", ""}, // Korean, 13 characters (39 bytes)
		{"산책하는고양이와비오는날", "kim", ""},
		{"tea at five every day", "kim", ""},
		{"coffee at seven every night", "kim", ""},
		{"a long secret phrase", "kim", ""},
		{"839201746352", "kim", ""},
		{"Tr0ub4dor&3-horse", "kim", ""},
		{longPhrase(256), "kim", ""},
		{"short pass", "kim", "password_too_short"},
		{strings.Repeat("가", 11), "kim", "password_too_short"}, // 33 bytes, but 11 characters
		{longPhrase(257), "kim", "password_too_long"},
		// The weak passwords of the security review (issue 13).
		{"aaaaaaaaaaaa", "kim", "password_common"}, // on the breached list, and predictable
		{strings.Repeat(" ", 12), "kim", "password_blank"},
		{"\u3164\u3164\u3164\u3164\u3164\u3164\u3164\u3164\u3164\u3164\u3164\u3164", "kim", "password_blank"}, // Hangul fillers
		{"\u2800\u2800\u2800\u2800\u2800\u2800\u2800\u2800\u2800\u2800\u2800\u2800", "kim", "password_blank"}, // Braille blanks
		{"abcdefghijkl", "kim", "password_common"},                                                            // on the breached list, and predictable
		{"qwertyuiopas", "kim", "password_common"},                                                            // on the breached list, and predictable
		{"Password123!", "kim", "password_common"},
		{"iloveyou1234", "kim", "password_common"},
		{"abcabcabcabc", "kim", "password_predictable"},
		{"1qaz2wsx3edc4rfv", "kim", "password_common"}, // on the breached list, and predictable
		{"123456abcdefg", "kim", "password_predictable"},
		{"zyxwvutsrqpo", "kim", "password_predictable"},
		{strings.Repeat("가", 12), "kim", "password_predictable"},
		{"가나다라마바사아자차카타", "kim", "password_predictable"},
		{"sunshine2024!!", "kim", "password_common"},
		{"trustno1trustno1", "kim", "password_predictable"},
		{"Baseball2024!", "kim", "password_common"},
		{"password1234", "kim", "password_common"},
		{"Qwertyuiop123", "kim", "password_common"}, // case does not matter
		{"kimberly-is-my-name", "Kimberly", "password_contains_name"},
		{"bad\xffutf8-long-enough", "kim", "invalid_characters"},
	}
	for _, tt := range tests {
		err := p.Check("password", tt.password, tt.name)
		var verr *models.ValidationError
		switch {
		case tt.code == "" && err != nil:
			t.Errorf("%q refused: %v", tt.password, err)
		case tt.code != "" && (!errors.As(err, &verr) || verr.Fields[0].Code != tt.code || verr.Fields[0].Field != "password"):
			t.Errorf("%q: %v, want %s", tt.password, err, tt.code)
		}
	}
	// The configured minimum never goes below the floor.
	if err := (PasswordPolicy{MinLength: 4}).Check("password", "abc-def", "kim"); err == nil {
		t.Error("a 7-character password passed a minimum set below the floor")
	}
}

// longPhrase is n characters of text that repeats nothing and runs nowhere.
func longPhrase(n int) string {
	words := []string{"tea", "at", "five", "every", "day", "with", "milk", "and", "honey", "on", "the", "porch"}
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		b.WriteString(words[(i*7)%len(words)])
		b.WriteString(fmt.Sprint(i%10, " "))
	}
	return b.String()[:n]
}

// TestBreachedList: the embedded list unpacks, is sorted, and is found in.
func TestBreachedList(t *testing.T) {
	l := breachedPasswords()
	if len(l.starts) < 400000 {
		t.Fatalf("%d breached passwords, want the whole list", len(l.starts))
	}
	for i := 1; i < len(l.starts); i += 997 {
		if l.line(i-1) >= l.line(i) {
			t.Fatalf("not sorted at %d: %q, %q", i, l.line(i-1), l.line(i))
		}
	}
	for _, s := range []string{l.line(0), l.line(len(l.starts) - 1), "iloveyou1234", "qwertyuiopas"} {
		if !l.Has(s) {
			t.Errorf("%q not found", s)
		}
	}
	for _, s := range []string{"", "correct horse battery staple", l.line(0) + "\x00"} {
		if l.Has(s) {
			t.Errorf("%q found", s)
		}
	}
}

// TestPredictable: runs are found whether or not a list has them.
func TestPredictable(t *testing.T) {
	tests := []struct {
		password    string
		predictable bool
	}{
		{"aaaaaaaaaaaa", true},
		{"abcdefghijkl", true},
		{"qwertyuiopas", true},
		{"1qaz2wsx3edc4rfv", true},
		{"zyxwvutsrqpo", true},
		{"mnbvcxzlkjhg", true},
		{"987654321098", true},
		{"abcd1234wxyz", true},
		{"xyzxyzxyzxyz", true},
		{"가나다라마바사아자차카타", true},
		{strings.Repeat("한", 12), true},
		{"correct horse battery staple", false},
		{"tea at five every day", false},
		{"산책하는고양이와비오는날", false},
		{"839201746352", false},
		{"김철수의비밀번호입니다", false},
	}
	for _, tt := range tests {
		if got := predictable(tt.password); got != tt.predictable {
			t.Errorf("predictable(%q) = %v, want %v", tt.password, got, tt.predictable)
		}
	}
}

func fastHasher(concurrency int, wait time.Duration) *Hasher {
	// Small parameters keep the test fast; the format and logic are the same.
	return NewHasher(Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}, concurrency, wait)
}

func TestHashAndVerify(t *testing.T) {
	ctx := context.Background()
	h := fastHasher(2, time.Second)
	long := strings.Repeat("long password ", 20) // 280 bytes: beyond bcrypt's 72
	hash, err := h.Hash(ctx, long)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`).MatchString(hash) {
		t.Fatalf("not a PHC string: %s", hash)
	}
	if again, _ := h.Hash(ctx, long); again == hash {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for _, tt := range []struct {
		password string
		ok       bool
	}{
		{long, true},
		{long + "x", false},            // not truncated
		{long[:72], false},             // not truncated
		{strings.ToUpper(long), false}, //
		{"", false},
	} {
		ok, rehash, err := h.Verify(tt.password, hash)
		if err != nil || ok != tt.ok || rehash {
			t.Errorf("Verify(%.20q...) = %v, %v, %v; want %v", tt.password, ok, rehash, err, tt.ok)
		}
	}

	// NFC: é typed as one code point or as e + combining accent is one password.
	composed, _ := h.Hash(ctx, "caf\u00e9 au lait!")
	if ok, _, _ := h.Verify("cafe\u0301 au lait!", composed); !ok {
		t.Error("the decomposed form of a password does not match")
	}

	// No hash (no such user): never a match, and no error.
	if ok, _, err := h.Verify("anything", ""); ok || err != nil {
		t.Errorf("empty hash: %v, %v", ok, err)
	}
	if _, _, err := h.Verify("x", "$bcrypt$nonsense"); err == nil {
		t.Error("a malformed hash verified without error")
	}
}

func TestRehashWhenParametersChange(t *testing.T) {
	ctx := context.Background()
	old := fastHasher(1, time.Second)
	hash, _ := old.Hash(ctx, "a long enough password")
	stronger := NewHasher(Argon2Params{MemoryKiB: 128, Iterations: 2, Parallelism: 1}, 1, time.Second)
	ok, rehash, err := stronger.Verify("a long enough password", hash)
	if !ok || !rehash || err != nil {
		t.Fatalf("verify with new parameters: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
	if _, rehash, _ := stronger.Verify("wrong password here", hash); rehash {
		t.Error("a wrong password asks for a rehash")
	}
}

func TestHasherBoundsConcurrency(t *testing.T) {
	h := fastHasher(1, 20*time.Millisecond)
	if err := h.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The only slot is taken: the next caller gives up after its wait.
	start := time.Now()
	if _, err := h.Hash(context.Background(), "a long enough password"); !errors.Is(err, ErrHasherBusy) {
		t.Fatalf("want ErrHasherBusy, got %v", err)
	}
	if waited := time.Since(start); waited < 20*time.Millisecond {
		t.Fatalf("gave up after %v", waited)
	}
	h.Release()
	if _, err := h.Hash(context.Background(), "a long enough password"); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

func TestDefaultParametersMeetOWASP(t *testing.T) {
	if p := DefaultArgon2; p.MemoryKiB < 19*1024 || p.Iterations < 2 || p.Parallelism < 1 {
		t.Fatalf("%+v is below OWASP's argon2id minimum", p)
	}
}
