package sessions

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gsessions "github.com/gorilla/sessions"

	"userhub/config"
	"userhub/models"
	"userhub/outage"
	"userhub/store/storetest"
)

func TestSecretIsMadeOnceAndKept(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	secrets := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range secrets {
		wg.Go(func() {
			var err error
			if secrets[i], err = Secret(context.Background(), cfg, nil, slog.New(slog.DiscardHandler)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, s := range secrets[1:] {
		if !bytes.Equal(s, secrets[0]) || len(s) != 32 {
			t.Fatalf("processes starting at once got different secrets")
		}
	}
	fi, err := os.Stat(filepath.Join(cfg.DataDir, SecretFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v, %v", fi, err)
	}
	again, _ := Secret(context.Background(), cfg, nil, slog.New(slog.DiscardHandler))
	if !bytes.Equal(again, secrets[0]) {
		t.Fatal("a restart gets another secret: everyone would be logged out")
	}
	entries, _ := os.ReadDir(cfg.DataDir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}

	cfg.Session.Secret = "configured-secret-of-at-least-32-chars"
	if s, _ := Secret(context.Background(), cfg, nil, slog.New(slog.DiscardHandler)); string(s) != cfg.Session.Secret {
		t.Fatal("the configured secret is not used")
	}
}

func TestCorruptSecretFileIsReported(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	os.WriteFile(filepath.Join(cfg.DataDir, SecretFile), []byte("not hex"), 0o600)
	if _, err := Secret(context.Background(), cfg, nil, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a corrupt secret file was accepted")
	}
}

func TestKeysAreIndependent(t *testing.T) {
	hash, block, err := Keys([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil || len(hash) != 32 || len(block) != 32 || bytes.Equal(hash, block) {
		t.Fatalf("keys %x %x, %v", hash, block, err)
	}
	hash2, _, _ := Keys([]byte("0123456789abcdef0123456789abcdeF"))
	if bytes.Equal(hash, hash2) {
		t.Fatal("different secrets give the same key")
	}
}

// redisAddr returns the Redis for tests, or skips.
func redisAddr(t *testing.T) string {
	addr := os.Getenv("USERHUB_TEST_REDIS_ADDR")
	if addr == "" {
		t.Skip("Redis suite skipped: set USERHUB_TEST_REDIS_ADDR (e.g. 127.0.0.1:6379)")
	}
	return addr
}

func TestRedisCounterContract(t *testing.T) {
	addr := redisAddr(t)
	storetest.RunCounter(t, func(t *testing.T) (models.Counter, models.Counter) {
		cfg := config.Default().Session
		cfg.RedisAddr = addr
		prefix := "userhub-test:" + rand.Text() + ":" // this test's keys only
		a, b := newPool(cfg), newPool(cfg)
		t.Cleanup(func() { a.Close(); b.Close() })
		watch := outage.New("redis", slog.New(slog.DiscardHandler))
		return redisCounter{a, prefix, watch}, redisCounter{b, prefix, watch}
	})
}

func TestOpenRedis(t *testing.T) {
	cfg := config.Default().Session
	cfg.Store = "redis"
	cfg.RedisAddr = redisAddr(t)
	b, err := Open(cfg, []byte("0123456789abcdef0123456789abcdef"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Counter == nil || b.Ping == nil || b.Ping(t.Context()) != nil {
		t.Fatal("the Redis backend has no counter or does not answer")
	}
}

func TestOpenUnreachableRedis(t *testing.T) {
	cfg := config.Default().Session
	cfg.Store = "redis"
	cfg.RedisAddr = "127.0.0.1:1" // nothing listens on port 1
	_, err := Open(cfg, []byte("0123456789abcdef0123456789abcdef"), slog.New(slog.DiscardHandler))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("session.redis_addr")) {
		t.Fatalf("unreachable Redis: %v", err)
	}
}

// The cookie store decodes a cookie value once, hands out copies, and
// remembers only cookies that decode.
func TestCookieStoreRemembersDecodedCookies(t *testing.T) {
	store, cookie := savedCookie(t, map[any]any{"uid": int64(7)})
	read := func(value string) (*gsessions.Session, error) {
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(&http.Cookie{Name: "s", Value: value})
		return store.New(req, "s")
	}
	first, err := read(cookie.Value)
	if err != nil || first.Values["uid"] != int64(7) || first.IsNew {
		t.Fatalf("first read: %v, %v", first.Values, err)
	}
	first.Values["uid"] = int64(8) // the caller's copy
	second, err := read(cookie.Value)
	if err != nil || second.Values["uid"] != int64(7) || len(store.decoded) != 1 {
		t.Fatalf("second read: %v, %v (%d remembered)", second.Values, err, len(store.decoded))
	}
	if _, err := read(cookie.Value[:len(cookie.Value)-2] + "xx"); err == nil {
		t.Fatal("a tampered cookie decoded")
	}
	if len(store.decoded) != 1 {
		t.Fatalf("a tampered cookie was remembered")
	}
	// The signature covers the cookie's name: a value remembered under one
	// name is not taken under another (the __Host- cookie is its own).
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "__Host-s", Value: cookie.Value})
	if other, err := store.New(req, "__Host-s"); err == nil && !other.IsNew {
		t.Fatalf("a cookie made as %q was taken as %q: %v", "s", "__Host-s", other.Values)
	}
}

func TestRedisVersion(t *testing.T) {
	for info, ok := range map[string]bool{
		"# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n": true,
		"# Server\r\nredis_version:8.2.1\r\n":                           true,
		"# Server\r\nredis_version:6.2.14\r\n":                          false,
		"# Server\r\nredis_mode:standalone\r\n":                         false,
	} {
		if err := redisVersionOK(info); (err == nil) != ok {
			t.Errorf("%q: %v", info, err)
		}
	}
}

// BenchmarkCookieDecode: every logged-in request brings its cookie; the
// cookie store remembers what it decoded, where gorilla's checks the
// signature and decrypts each time ("decoded anew").
func BenchmarkCookieDecode(b *testing.B) {
	values := map[any]any{}
	record{userID: 7, version: 1, id: "0123456789ABCDEFGHIJKLMNOP", login: time.Now(), seen: time.Now()}.write(values)
	store, cookie := savedCookie(b, values)
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(cookie)
	for name, decode := range map[string]func() (*gsessions.Session, error){
		"remembered":   func() (*gsessions.Session, error) { return store.New(req, "s") },
		"decoded anew": func() (*gsessions.Session, error) { return store.CookieStore.New(req, "s") },
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if s, err := decode(); err != nil || s.Values["uid"] != int64(7) {
					b.Fatalf("%v, %v", s.Values, err)
				}
			}
		})
	}
}

// savedCookie opens the cookie store and returns it with the cookie "s"
// it makes of values.
func savedCookie(tb testing.TB, values map[any]any) (*cookieStore, *http.Cookie) {
	tb.Helper()
	b, err := Open(config.Default().Session, []byte("0123456789abcdef0123456789abcdef"), slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	store := b.Store.(*cookieStore)
	s := gsessions.NewSession(store, "s")
	s.Options = &gsessions.Options{Path: "/", MaxAge: 3600}
	s.Values = values
	rec := httptest.NewRecorder()
	if err := store.Save(httptest.NewRequest("GET", "/", nil), rec, s); err != nil {
		tb.Fatal(err)
	}
	return store, rec.Result().Cookies()[0]
}

// A Redis that does not answer makes the login counter unavailable (503
// with Retry-After), never a server error.
func TestRedisCounterDown(t *testing.T) {
	cfg := config.Default().Session
	cfg.RedisAddr = "127.0.0.1:1" // nothing listens on port 1
	pool := newPool(cfg)
	defer pool.Close()
	var log bytes.Buffer
	counter := redisCounter{pool, "userhub-test:", outage.New("redis", slog.New(slog.NewTextHandler(&log, nil)))}
	for range 3 {
		if _, _, err := counter.Add(t.Context(), "ip:1", 1, time.Minute); !errors.Is(err, models.ErrUnavailable) {
			t.Fatalf("Add with Redis down: %v", err)
		}
	}
	if n := strings.Count(log.String(), "stopped answering"); n != 1 {
		t.Fatalf("%d outage lines for one outage:\n%s", n, log.String())
	}
}

// A window whose TTL is longer than the window can be (set while Redis's
// clock ran ahead) counts as closed.
func TestRedisCounterWindowFromAClockAhead(t *testing.T) {
	cfg := config.Default().Session
	cfg.RedisAddr = redisAddr(t)
	pool := newPool(cfg)
	defer pool.Close()
	prefix := "userhub-test:" + rand.Text() + ":"
	conn := pool.Get()
	_, err := conn.Do("SET", prefix+"ip:1", 25, "PX", (24 * time.Hour).Milliseconds())
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	counter := redisCounter{pool, prefix, outage.New("redis", slog.New(slog.DiscardHandler))}
	if n, _, err := counter.Count(t.Context(), "ip:1", time.Minute); err != nil || n != 0 {
		t.Fatalf("Count of a day-long window: %d, %v", n, err)
	}
	if n, left, err := counter.Add(t.Context(), "ip:1", 1, time.Minute); err != nil || n != 1 || left > time.Minute {
		t.Fatalf("Add to a day-long window: %d, %v left, %v", n, left, err)
	}
}
