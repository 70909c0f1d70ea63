package accounts

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"

	"userhub/models"
)

// Password rules (NIST SP 800-63B 3.1.1.2, OWASP ASVS 6.2): a minimum
// length, a generous maximum, any Unicode, no composition rules, and none of
// the most common passwords.
const (
	// MinPasswordFloor is the least minimum length the configuration may set.
	MinPasswordFloor = 8
	// MaxPasswordLength, in characters. Never truncated: argon2id takes
	// input of any length (bcrypt would silently ignore bytes after 72).
	MaxPasswordLength = 256
)

//go:embed passwords/common.txt passwords/breached.txt.gz
var commonFile embed.FS

// commonPasswords is the refused list, lower-cased, loaded on first use.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	f, err := commonFile.Open("passwords/common.txt")
	if err != nil {
		panic(err) // embedded at build time
	}
	defer f.Close()
	set := make(map[string]struct{}, 20000)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			set[line] = struct{}{}
		}
	}
	return set
})

// breachedPasswords is the larger list of passwords seen in breaches
// (passwords/README.md): sorted, lower-cased, one a line, gzipped. It is
// unpacked on first use into one string and the offsets of its lines
// (about 7 MB), and searched by halves.
var breachedPasswords = sync.OnceValue(func() sortedLines {
	f, err := commonFile.Open("passwords/breached.txt.gz")
	if err != nil {
		panic(err) // embedded at build time
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		panic(err)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(zr); err != nil {
		panic(err)
	}
	data := buf.String()
	lines := sortedLines{data: data, starts: make([]uint32, 0, strings.Count(data, "\n"))}
	for i := 0; i < len(data); {
		lines.starts = append(lines.starts, uint32(i))
		end := strings.IndexByte(data[i:], '\n')
		if end < 0 {
			break
		}
		i += end + 1
	}
	return lines
})

// sortedLines is a sorted list of lines in one string.
type sortedLines struct {
	data   string
	starts []uint32
}

func (l sortedLines) line(i int) string {
	s := l.data[l.starts[i]:]
	if end := strings.IndexByte(s, '\n'); end >= 0 {
		return s[:end]
	}
	return s
}

// Has reports whether s is one of the lines.
func (l sortedLines) Has(s string) bool {
	i := sort.Search(len(l.starts), func(i int) bool { return l.line(i) >= s })
	return i < len(l.starts) && l.line(i) == s
}

// isCommon reports whether the lower-cased password is on either list.
func isCommon(lower string) bool {
	if _, ok := commonPasswords()[lower]; ok {
		return true
	}
	return breachedPasswords().Has(lower)
}

// PasswordPolicy checks new passwords.
type PasswordPolicy struct {
	MinLength int // characters; at least MinPasswordFloor
}

// Min is the shortest password allowed, in characters.
func (p PasswordPolicy) Min() int { return max(p.MinLength, MinPasswordFloor) }

// Check validates a new password for the user named name, reporting every
// problem under field. Passwords are compared in NFC, so the same password
// typed on two keyboards is one password.
func (p PasswordPolicy) Check(field, password, name string) error {
	var verr models.ValidationError
	n := utf8.RuneCountInString(password)
	switch {
	case !utf8.ValidString(password):
		verr.Add(field, "invalid_characters", "the password must be valid UTF-8 text")
	case n < p.Min():
		verr.Add(field, "password_too_short", fmt.Sprintf("the password must be at least %d characters (got %d)", p.Min(), n))
	case n > MaxPasswordLength:
		verr.Add(field, "password_too_long", fmt.Sprintf("the password must be at most %d characters", MaxPasswordLength))
	case strings.TrimFunc(password, isBlank) == "":
		verr.Add(field, "password_blank", "the password must not be only spaces")
	default:
		lower := strings.ToLower(norm.NFC.String(password))
		switch {
		case isCommon(lower) || isCommon(strings.TrimFunc(lower, isDecoration)):
			verr.Add(field, "password_common", "this password is one of the most common ones, or one with digits or symbols added; choose another")
		case predictable(lower):
			verr.Add(field, "password_predictable", "the password must not be a repeated, sequential or keyboard run of characters; choose another")
		case name != "" && strings.Contains(lower, strings.ToLower(strings.TrimSpace(name))) && utf8.RuneCountInString(name) >= 3:
			verr.Add(field, "password_contains_name", "the password must not contain the user's name")
		}
	}
	return verr.Err()
}

// isBlank reports whether r shows as nothing: a space, or a character
// that is invisible (a format character such as a zero-width space).
func isBlank(r rune) bool {
	return unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) || r == '\u3164' || r == '\u115f' || r == '\u1160' || r == '\u2800'
}

// isDecoration reports whether r is what people put around a common
// password to pass a policy: digits, punctuation, symbols, spaces.
func isDecoration(r rune) bool {
	return unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsSpace(r)
}

// runs are the sequences people type as runs: the alphabet, the digits,
// the rows of a QWERTY keyboard (row after row) and its columns, and the
// shifted digit row. A step along one, either way, or a repeat, continues
// a run.
var runs = []string{
	"abcdefghijklmnopqrstuvwxyz",
	"01234567890",
	"qwertyuiopasdfghjklzxcvbnm",
	"1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
	"!@#$%^&*()_+",
	"`1234567890-=",
	"qwertyuiop[]\\",
	"asdfghjkl;'",
	"zxcvbnm,./",
}

// linked reports whether b continues a run after a: the same character,
// or the next or previous one in one of runs, or the next code point
// (αβγ…), or the Hangul syllable with the next initial, or the one after
// it (가나다…, where the double consonants are skipped).
func linked(a, b rune) bool {
	if a == b || b == a+1 || b == a-1 {
		return true
	}
	const syllables, perInitial = 0xAC00, 21 * 28
	if a >= syllables && a <= 0xD7A3 && b >= syllables && b <= 0xD7A3 && (b-a == perInitial || a-b == perInitial || b-a == 2*perInitial || a-b == 2*perInitial) {
		return true
	}
	for _, seq := range runs {
		if i := strings.IndexRune(seq, a); i >= 0 {
			if (i+1 < len(seq) && rune(seq[i+1]) == b) || (i > 0 && rune(seq[i-1]) == b) {
				return true
			}
		}
	}
	return false
}

// predictable reports whether the lower-cased password is made of runs:
// repeated, sequential or keyboard runs of characters (aaaaaaaaaaaa,
// abcdefghijkl, qwertyuiopas, 123456abcdef), or a short piece repeated
// (abcabcabcabc, passwordpassword). Breaks between runs are allowed only
// about one per four characters: a phrase has far more.
func predictable(lower string) bool {
	rs := []rune(lower)
	n := len(rs)
	if n == 0 {
		return true
	}
	// A short piece repeated: the password has a period of at most half
	// its length.
	for p := 1; p <= n/2; p++ {
		periodic := true
		for i := p; i < n && periodic; i++ {
			periodic = rs[i] == rs[i-p]
		}
		if periodic {
			return true
		}
	}
	breaks := 0
	for i := 1; i < n; i++ {
		if !linked(rs[i-1], rs[i]) {
			breaks++
		}
	}
	return breaks*4 < n
}

// Argon2Params are argon2id's cost parameters.
type Argon2Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
}

// DefaultArgon2 is OWASP's minimum recommendation for argon2id: 19 MiB,
// 2 iterations, 1 lane (about 20 ms a hash on a server core).
var DefaultArgon2 = Argon2Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1}

const (
	saltLength = 16
	keyLength  = 32
)

// ErrHasherBusy is returned when no hashing slot became free in time:
// the server is flooded with logins, and the client should retry.
var ErrHasherBusy = errors.New("too many password checks at once")

// Hasher hashes and verifies passwords with argon2id. At most a few hashes
// run at once (each takes MemoryKiB of memory): a burst of logins waits
// for a slot, briefly, instead of exhausting memory.
type Hasher struct {
	Params Argon2Params
	slots  chan struct{}
	wait   time.Duration
	dummy  string // a hash to verify against when there is no user, so both cases take the same time
}

// NewHasher returns a Hasher running at most concurrency hashes at once,
// and letting a caller wait up to wait for a slot.
func NewHasher(p Argon2Params, concurrency int, wait time.Duration) *Hasher {
	h := &Hasher{Params: p, slots: make(chan struct{}, max(concurrency, 1)), wait: wait}
	h.dummy = h.encode(rand.Text(), randomSalt())
	return h
}

func randomSalt() []byte {
	salt := make([]byte, saltLength)
	_, _ = rand.Read(salt) // never fails
	return salt
}

// Acquire takes a hashing slot, or gives up after the hasher's wait
// (ErrHasherBusy). Hash takes its own; Verify runs in its caller's, so
// that what the caller does around it (the login throttle's look and
// count) is bounded by the slots too. The caller gives it back with Release.
func (h *Hasher) Acquire(ctx context.Context) error {
	t := time.NewTimer(h.wait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-t.C:
		return ErrHasherBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Release gives back a slot taken with Acquire.
func (h *Hasher) Release() { <-h.slots }

// Hash returns the PHC string of password:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.Acquire(ctx); err != nil {
		return "", err
	}
	defer h.Release()
	return h.encode(password, randomSalt()), nil
}

func (h *Hasher) encode(password string, salt []byte) string {
	p := h.Params
	key := argon2.IDKey([]byte(norm.NFC.String(password)), salt, p.Iterations, p.MemoryKiB, p.Parallelism, keyLength)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// Verify reports whether password matches the PHC string encoded, in
// constant time, and whether the hash should be replaced because it was
// made with other parameters than h's. The caller holds a slot (Acquire).
// An empty encoded (no user, or a user without a password) is checked
// against a dummy hash, so that the answer takes as long as for a real
// user, and is never a match.
func (h *Hasher) Verify(password, encoded string) (ok, rehash bool, err error) {
	hasHash := encoded != ""
	if !hasHash {
		encoded = h.dummy
	}
	p, salt, key, err := decodeHash(encoded)
	if err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(norm.NFC.String(password)), salt, p.Iterations, p.MemoryKiB, p.Parallelism, uint32(len(key)))
	ok = subtle.ConstantTimeCompare(got, key) == 1 && hasHash
	return ok, ok && p != h.Params, nil
}

// decodeHash parses a PHC argon2id string.
func decodeHash(encoded string) (p Argon2Params, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, errors.New("not an argon2id hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, fmt.Errorf("unsupported argon2 version %q", parts[2])
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Iterations, &p.Parallelism); err != nil {
		return p, nil, nil, fmt.Errorf("argon2id parameters %q: %w", parts[3], err)
	}
	if salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return p, nil, nil, fmt.Errorf("argon2id salt: %w", err)
	}
	if key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(key) < 16 {
		return p, nil, nil, errors.New("argon2id key is malformed")
	}
	return p, salt, key, nil
}
