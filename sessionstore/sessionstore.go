// Package sessionstore opens where login sessions live: the cookie store
// (the session signed and encrypted in the cookie; nothing to run) or the
// Redis store (the cookie holds only a signed id), both from
// gin-contrib/sessions, with keys derived from one secret. With Redis, the
// login-throttling counts live there too, over the same connection pool
// (one Redis client in the binary: redigo, which the store is built on).
//
// It knows nothing of users or HTTP routes; middleware.Sessions uses what
// it opens.
package sessionstore

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gin-contrib/sessions"
	ginredis "github.com/gin-contrib/sessions/redis"
	"github.com/gomodule/redigo/redis"
	"github.com/gorilla/securecookie"

	"userhub/config"
	"userhub/models"
)

// SecretFile is where a generated session secret is kept, in the data dir.
const SecretFile = "session.key"

// Secret returns the configured session secret, or the one kept in the
// data directory, creating it (32 random bytes, mode 0600) on first use.
// Several processes may call it at once (cluster workers): one creates the
// file, the others read it.
func Secret(cfg config.Config) ([]byte, error) {
	if cfg.Session.Secret != "" {
		return []byte(cfg.Session.Secret), nil
	}
	path := filepath.Join(cfg.DataDir, SecretFile)
	for range 2 {
		data, err := os.ReadFile(path)
		if err == nil {
			secret, err := hex.DecodeString(strings.TrimSpace(string(data)))
			if err != nil || len(secret) < 32 {
				return nil, fmt.Errorf("%s is not a session secret (64 hex digits); delete it to have a new one made (everyone is logged out)", path)
			}
			return secret, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if err := createSecret(path); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%s: could not be created", path)
}

// createSecret writes a new secret to a temporary file and links it into
// place, so that no process ever reads a half-written secret.
func createSecret(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".session-key-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(hex.EncodeToString(secret) + "\n"); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Link(tmp.Name(), path) // fails with ErrExist if another process won
}

// Keys derives the cookie's authentication (HMAC-SHA256) and encryption
// (AES-256) keys from the secret, each for its own purpose, so that one
// secret in the configuration gives two independent keys.
func Keys(secret []byte) (hashKey, blockKey []byte, err error) {
	if hashKey, err = hkdf.Key(sha256.New, secret, nil, "userhub session cookie authentication", 32); err != nil {
		return nil, nil, err
	}
	if blockKey, err = hkdf.Key(sha256.New, secret, nil, "userhub session cookie encryption", 32); err != nil {
		return nil, nil, err
	}
	return hashKey, blockKey, nil
}

// Backend is an open session store.
type Backend struct {
	Store sessions.Store
	// Counter keeps login-throttling counts in Redis; nil for the cookie
	// store, whose caller keeps them in the database.
	Counter models.Counter
	// Ping checks the store's server (nil for the cookie store).
	Ping  func(context.Context) error
	close func() error
}

// Close releases the store's connections.
func (b *Backend) Close() error {
	if b.close == nil {
		return nil
	}
	return b.close()
}

// Open opens the configured session store.
func Open(cfg config.Session, secret []byte) (*Backend, error) {
	hashKey, blockKey, err := Keys(secret)
	if err != nil {
		return nil, err
	}
	// The signed timestamp inside the cookie must not expire before the
	// session may (securecookie's default is 30 days).
	signedMaxAge := int(cfg.AbsoluteTimeout.Seconds()) + 60
	if cfg.Store != "redis" {
		store := newCookieStore(hashKey, blockKey)
		store.MaxAge(signedMaxAge)
		return &Backend{Store: store}, nil
	}
	pool := newPool(cfg)
	ping := func(ctx context.Context) error {
		conn, err := pool.GetContext(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		_, err = redis.DoContext(conn, ctx, "PING")
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot reach Redis at %s (session.redis_addr): %w", cfg.RedisAddr, err)
	}
	if err := checkRedisVersion(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("session.redis_addr %s: %w", cfg.RedisAddr, err)
	}
	store, err := ginredis.NewStoreWithPool(pool, hashKey, blockKey)
	if err != nil {
		pool.Close()
		return nil, err
	}
	rs, err := ginredis.GetRedisStore(store)
	if err != nil {
		pool.Close()
		return nil, err
	}
	rs.SetMaxAge(signedMaxAge) // the cookie holding the session's id
	rs.SetKeyPrefix(cfg.RedisPrefix + "session:")
	rs.SetSerializer(redisValues{})
	useCodec(rs.Codecs)
	return &Backend{Store: store, Counter: redisCounter{pool, cfg.RedisPrefix + "attempts:"}, Ping: ping, close: pool.Close}, nil
}

// checkRedisVersion refuses a Redis older than 7, at start-up rather than
// at the first failed login: the login counter needs PEXPIRETIME and
// PEXPIRE NX.
func checkRedisVersion(ctx context.Context, pool *redis.Pool) error {
	conn, err := pool.GetContext(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	info, err := redis.String(redis.DoContext(conn, ctx, "INFO", "server"))
	if err != nil {
		return err
	}
	return redisVersionOK(info)
}

// redisVersionOK reads redis_version from INFO's text.
func redisVersionOK(info string) error {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			major, _, _ := strings.Cut(v, ".")
			if n, err := strconv.Atoi(major); err != nil || n < 7 {
				return fmt.Errorf("the server runs Redis %s; userhub needs Redis 7 or later", v)
			}
			return nil
		}
	}
	return errors.New("the server did not say its Redis version (INFO server)")
}

// useCodec makes securecookie codecs encode with valuesCodec.
func useCodec(codecs []securecookie.Codec) {
	for _, c := range codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.SetSerializer(valuesCodec{})
		}
	}
}

func newPool(cfg config.Session) *redis.Pool {
	return &redis.Pool{
		MaxIdle:     32,
		IdleTimeout: 4 * time.Minute,
		DialContext: func(ctx context.Context) (redis.Conn, error) {
			return redis.DialContext(ctx, "tcp", cfg.RedisAddr,
				redis.DialPassword(cfg.RedisPassword),
				redis.DialDatabase(cfg.RedisDB),
				redis.DialConnectTimeout(2*time.Second),
				redis.DialReadTimeout(2*time.Second),
				redis.DialWriteTimeout(2*time.Second))
		},
		TestOnBorrow: func(c redis.Conn, idleSince time.Time) error {
			if time.Since(idleSince) < time.Minute {
				return nil
			}
			_, err := c.Do("PING")
			return err
		},
	}
}

// redisCounter implements models.Counter with one key per counted thing,
// expiring with its window.
type redisCounter struct {
	pool   *redis.Pool
	prefix string // of every key
}

func (r redisCounter) do(ctx context.Context, fn func(redis.Conn) error) error {
	conn, err := r.pool.GetContext(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return fn(conn)
}

// Count implements models.Counter.
func (r redisCounter) Count(ctx context.Context, key string) (n int, resets time.Time, err error) {
	err = r.do(ctx, func(c redis.Conn) error {
		c.Send("MULTI")
		c.Send("GET", r.prefix+key)
		c.Send("PEXPIRETIME", r.prefix+key)
		reply, err := redis.Values(c.Do("EXEC"))
		if err != nil {
			return err
		}
		if reply[0] == nil {
			return nil
		}
		if n, err = redis.Int(reply[0], nil); err != nil {
			return err
		}
		resets, err = expiry(reply[1])
		return err
	})
	return n, resets, err
}

// Add implements models.Counter: INCR, and an expiry set only by the first
// event (NX), in one transaction. PEXPIRETIME and NX need Redis 7.
func (r redisCounter) Add(ctx context.Context, key string, window time.Duration) (n int, resets time.Time, err error) {
	err = r.do(ctx, func(c redis.Conn) error {
		c.Send("MULTI")
		c.Send("INCR", r.prefix+key)
		c.Send("PEXPIRE", r.prefix+key, window.Milliseconds(), "NX")
		c.Send("PEXPIRETIME", r.prefix+key)
		reply, err := redis.Values(c.Do("EXEC"))
		if err != nil {
			return err
		}
		if n, err = redis.Int(reply[0], nil); err != nil {
			return err
		}
		resets, err = expiry(reply[2])
		return err
	})
	return n, resets, err
}

// expiry reads PEXPIRETIME's answer: the absolute expiry in unix
// milliseconds, the same for every process that asks.
func expiry(reply any) (time.Time, error) {
	ms, err := redis.Int64(reply, nil)
	if err != nil || ms < 0 {
		return time.Time{}, fmt.Errorf("counter expiry %v: %v", reply, err)
	}
	return time.UnixMilli(ms), nil
}

// undoScript decrements a count that exists and is above zero, atomically.
var undoScript = redis.NewScript(1, `local n = tonumber(redis.call("GET", KEYS[1]))
if n and n > 0 then return redis.call("DECR", KEYS[1]) end
return 0`)

// Undo implements models.Counter.
func (r redisCounter) Undo(ctx context.Context, key string) error {
	return r.do(ctx, func(c redis.Conn) error {
		_, err := undoScript.DoContext(ctx, c, r.prefix+key)
		return err
	})
}

// Reset implements models.Counter.
func (r redisCounter) Reset(ctx context.Context, key string) error {
	return r.do(ctx, func(c redis.Conn) error {
		_, err := c.Do("DEL", r.prefix+key)
		return err
	})
}
