package middleware

import (
	"context"
	"time"

	"userhub/models"
)

// LoginThrottle limits failed logins per client IP and per account name
// (OWASP ASVS 2.2.1): once either has failed Limit times within Window,
// further attempts are refused with 429 until the window ends, whether or
// not their password is right. Successful logins are never slowed, and one
// clears the name's count. The counts live in a models.Counter (the
// database or Redis), so every worker and instance enforces one limit.
type LoginThrottle struct {
	Counter models.Counter
	PerName int
	PerIP   int
	Window  time.Duration
}

func nameKey(name string) string { return "name:" + models.NameKey(name) }
func ipKey(ip string) string     { return "ip:" + ip }

// Check returns a *models.ThrottledError if name or ip may not try now.
func (t *LoginThrottle) Check(ctx context.Context, name, ip string) error {
	for _, k := range []struct {
		key   string
		limit int
	}{{ipKey(ip), t.PerIP}, {nameKey(name), t.PerName}} {
		n, resets, err := t.Counter.Count(ctx, k.key)
		if err != nil {
			return err
		}
		if n >= k.limit {
			return &models.ThrottledError{RetryAfter: max(time.Until(resets), time.Second)}
		}
	}
	return nil
}

// Failed counts a failed attempt against both the name and the IP.
func (t *LoginThrottle) Failed(ctx context.Context, name, ip string) error {
	if _, _, err := t.Counter.Add(ctx, ipKey(ip), t.Window); err != nil {
		return err
	}
	_, _, err := t.Counter.Add(ctx, nameKey(name), t.Window)
	return err
}

// Succeeded clears the name's failures (not the IP's: one good password
// must not reset an attacker's count from that address).
func (t *LoginThrottle) Succeeded(ctx context.Context, name string) error {
	return t.Counter.Reset(ctx, nameKey(name))
}
