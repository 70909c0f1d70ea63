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
// not their password is right. Only failures count: successful logins are
// never slowed, however many run at once, and one clears the name's
// failures. The counts live in a models.Counter (the database or Redis),
// so every worker and instance enforces one limit.
//
// A burst of parallel guesses could all pass a look at the failures
// before any of them is counted. The service looks once more when an
// attempt holds its hashing slot, right before the password is checked:
// then at most as many attempts as there are slots (per process) are
// between their look and their count, which bounds what a burst gains.
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

// Check refuses an attempt for name from ip, with a
// *models.ThrottledError, when either has failed its limit within the window.
func (t *loginThrottle) Check(ctx context.Context, name, ip string) error {
	var refusal *models.ThrottledError
	for _, k := range t.keys(name, ip) {
		n, left, err := t.Counter.Count(ctx, k.key, t.Window)
		if err != nil {
			return err
		}
		if n >= k.limit {
			wait := max(left, time.Second)
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

// Failed counts a failed attempt for name from ip.
func (t *loginThrottle) Failed(ctx context.Context, name, ip string) error {
	for _, k := range t.keys(name, ip) {
		if _, _, err := t.Counter.Add(ctx, k.key, 1, t.Window); err != nil {
			return err
		}
	}
	return nil
}

// Attempt counts an attempt at a second factor for name from ip before it
// is checked, and refuses it (*models.ThrottledError) when that takes
// either count over its limit: counted first, a burst of guesses in
// parallel cannot all pass one look at the count. undo takes the attempt
// back when it was right: the name's failures are cleared (the login has
// succeeded), and the address's count goes back down by one, so that
// successful logins never slow an office behind one address.
func (t *loginThrottle) Attempt(ctx context.Context, name, ip string) (undo func(context.Context) error, err error) {
	var refusal *models.ThrottledError
	for _, k := range t.keys(name, ip) {
		n, left, err := t.Counter.Add(ctx, k.key, 1, t.Window)
		if err != nil {
			return nil, err
		}
		if n > k.limit {
			wait := max(left, time.Second)
			if refusal == nil || wait > refusal.RetryAfter {
				refusal = &models.ThrottledError{RetryAfter: wait}
			}
		}
	}
	if refusal != nil {
		return nil, refusal
	}
	return func(ctx context.Context) error {
		if _, _, err := t.Counter.Add(ctx, ipKey(ip), -1, t.Window); err != nil {
			return err
		}
		return t.Succeeded(ctx, name)
	}, nil
}

// Succeeded clears the name's failures. The address's stay: one good
// password must not reset the count of an attacker sharing it.
func (t *loginThrottle) Succeeded(ctx context.Context, name string) error {
	return t.Counter.Reset(ctx, nameKey(name))
}

// limitedKey is a count an attempt is checked against, and its limit.
type limitedKey struct {
	key   string
	limit int
}

// keys are the counts of an attempt for name from ip.
func (t *loginThrottle) keys(name, ip string) []limitedKey {
	return []limitedKey{{ipKey(ip), t.PerIP}, {nameKey(name), t.PerName}}
}
