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
