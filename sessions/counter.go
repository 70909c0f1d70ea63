package sessions

import (
	"context"
	"fmt"
	"time"

	"github.com/gomodule/redigo/redis"

	"userhub/models"
	"userhub/outage"
)

// redisCounter implements models.Counter with one key per counted thing,
// expiring with its window.
type redisCounter struct {
	pool   *redis.Pool
	prefix string // of every key
	watch  *outage.Watch
}

// do runs fn on a pooled connection. Any error is Redis not answering (or
// answering nonsense): unavailable, never the client's fault.
func (r redisCounter) do(ctx context.Context, fn func(redis.Conn) error) error {
	conn, err := r.pool.GetContext(ctx)
	if err == nil {
		err = fn(conn)
		conn.Close()
	}
	if err != nil {
		err = fmt.Errorf("%w: redis: %v", models.ErrUnavailable, err)
	}
	r.watch.Observe(err)
	return err
}

// Windows are Redis keys that expire with them; how long one has left is
// the key's TTL, on Redis's own clock, so the clocks of the machines
// running userhub do not matter. A TTL longer than the window plus
// models.MaxClockSkew (set while Redis's clock ran ahead) counts as closed.

// addScript records ARGV[3] events: a window that counts as closed is
// dropped, then INCRBY, and the expiry set by the window's first event only. It
// answers the count and the milliseconds left.
var addScript = redis.NewScript(1, `local ttl = redis.call("PTTL", KEYS[1])
if ttl > tonumber(ARGV[2]) then redis.call("DEL", KEYS[1]) end
local n = redis.call("INCRBY", KEYS[1], ARGV[3])
redis.call("PEXPIRE", KEYS[1], ARGV[1], "NX")
return {n, redis.call("PTTL", KEYS[1])}`)

// countScript answers the count and the milliseconds left of an open window.
var countScript = redis.NewScript(1, `local ttl = redis.call("PTTL", KEYS[1])
if ttl <= 0 or ttl > tonumber(ARGV[1]) then return {0, 0} end
return {tonumber(redis.call("GET", KEYS[1])), ttl}`)

// Add implements models.Counter, atomically (PEXPIRE NX needs Redis 7).
func (r redisCounter) Add(ctx context.Context, key string, events int, window time.Duration) (n int, left time.Duration, err error) {
	err = r.do(ctx, func(c redis.Conn) error {
		n, left, err = countAndTTL(addScript.DoContext(ctx, c, r.prefix+key, window.Milliseconds(), latestTTL(window), events))
		return err
	})
	return n, left, err
}

// Count implements models.Counter.
func (r redisCounter) Count(ctx context.Context, key string, window time.Duration) (n int, left time.Duration, err error) {
	err = r.do(ctx, func(c redis.Conn) error {
		n, left, err = countAndTTL(countScript.DoContext(ctx, c, r.prefix+key, latestTTL(window)))
		return err
	})
	return n, left, err
}

// latestTTL is the most a sound clock leaves of a window, in milliseconds.
func latestTTL(window time.Duration) int64 {
	return (window + models.MaxClockSkew).Milliseconds()
}

// countAndTTL reads a script's {count, milliseconds left}.
func countAndTTL(reply any, err error) (int, time.Duration, error) {
	values, err := redis.Int64s(reply, err)
	if err != nil || len(values) != 2 {
		return 0, 0, fmt.Errorf("counter reply %v: %v", reply, err)
	}
	return int(values[0]), time.Duration(values[1]) * time.Millisecond, nil
}

// Reset implements models.Counter.
func (r redisCounter) Reset(ctx context.Context, key string) error {
	return r.do(ctx, func(c redis.Conn) error {
		_, err := c.Do("DEL", r.prefix+key)
		return err
	})
}
