package sessions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	ginsessions "github.com/gin-contrib/sessions"
	ginredis "github.com/gin-contrib/sessions/redis"
	"github.com/gomodule/redigo/redis"
	"github.com/gorilla/securecookie"

	"userhub/config"
	"userhub/models"
	"userhub/outage"
)

// Backend is an open session store.
type Backend struct {
	Store ginsessions.Store
	// Counter keeps login-throttling counts in Redis; nil for the cookie
	// store, whose caller keeps them in the database.
	Counter models.Counter
	// Ping checks the store's server (nil for the cookie store).
	Ping func(context.Context) error
	// Watch follows the store's server through outages (nil for the
	// cookie store, which has none).
	Watch *outage.Watch
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
func Open(cfg config.Session, secret []byte, log *slog.Logger) (*Backend, error) {
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
	watch := outage.New("redis", log)
	readiness := func(ctx context.Context) error {
		err := ping(ctx)
		if err != nil {
			err = fmt.Errorf("%w: redis: %v", models.ErrUnavailable, err)
		}
		watch.Observe(err)
		return err
	}
	return &Backend{Store: newRecentSessions(store, rs), Counter: redisCounter{pool, cfg.RedisPrefix + "attempts:", watch}, Ping: readiness, Watch: watch, close: pool.Close}, nil
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
