package accounts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"userhub/models"
)

// loginThrottle limits failed logins per client IP and per account name
// (OWASP ASVS 2.2.1): once either has failed Limit times within Window,
// further attempts are refused with 429 until the window ends, whether or
// not their password is right. Successful logins are never slowed, and one
// clears the name's count. The counts live in a models.Counter (the
// database or Redis), so every worker and instance enforces one limit.
//
// Each attempt is counted BEFORE its password is checked, and taken back
// if it succeeds: checking first and counting failures afterwards would let
// a burst of parallel guesses all pass the check before any was counted.
type loginThrottle struct {
	Counter models.Counter
	PerName int
	PerIP   int
	Window  time.Duration
}

// nameKey keys a name's count by a hash of its folded form: the name is
// whatever the client sent, of any length and bytes, and must not become a
// database key as it is.
func nameKey(name string) string {
	sum := sha256.Sum256([]byte(models.NameKey(name)))
	return "name:" + hex.EncodeToString(sum[:16])
}

func ipKey(ip string) string { return "ip:" + ip }

// Attempt counts a login attempt for name from ip, and refuses it with a
// *models.ThrottledError when either has used up its attempts.
func (t *loginThrottle) Attempt(ctx context.Context, name, ip string) error {
	var refusal *models.ThrottledError
	for _, k := range []struct {
		key   string
		limit int
	}{{ipKey(ip), t.PerIP}, {nameKey(name), t.PerName}} {
		n, resets, err := t.Counter.Add(ctx, k.key, t.Window)
		if err != nil {
			return err
		}
		if n > k.limit {
			wait := max(time.Until(resets), time.Second)
			if refusal == nil || wait > refusal.RetryAfter {
				refusal = &models.ThrottledError{RetryAfter: wait}
			}
		}
	}
	if refusal != nil {
		return refusal
	}
	return nil
}

// Succeeded takes back a successful attempt: it clears the name's failures
// and gives the IP its attempt back (one good password must not reset the
// count of an attacker sharing the address, nor use it up for colleagues
// behind the same NAT).
func (t *loginThrottle) Succeeded(ctx context.Context, name, ip string) error {
	if err := t.Counter.Undo(ctx, ipKey(ip)); err != nil {
		return err
	}
	return t.Counter.Reset(ctx, nameKey(name))
}
