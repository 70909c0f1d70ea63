package accounts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"time"

	"userhub/models"
)

// loginThrottle limits failed logins per client address and per account
// name (OWASP ASVS 2.2.1), without letting anyone lock an account from
// afar.
//
//   - An address that has failed PerIP times within Window, on any names,
//     is refused (429) until the window ends. IPv6 addresses count by
//     their /64: one host commonly holds a whole /64.
//   - A name that has failed PerName times within Window is refused (429)
//     from every address that itself failed on that name within the
//     window; an address with no recent failure for the name still gets
//     its password checked. So an attacker hammering one account locks
//     out only themselves, and its owner, typing from elsewhere, logs in.
//     Each further address gets one guess per window before it too is
//     refused, so the guesses an account sees are bounded by PerName per
//     window plus one per distinct attacking address (each of which is
//     itself held to PerIP over all names).
//
// Only failures that were checked count: an attempt refused by either
// limit is not counted again (it guessed nothing), successful logins are
// never slowed, and one clears the name's failures. The counts live in a
// models.Counter (the database or Redis), so every worker and instance
// enforces one limit.
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
func nameKey(name string) string { return "name:" + nameHash(name) }

func nameHash(name string) string {
	sum := sha256.Sum256([]byte(models.NameKey(name)))
	return hex.EncodeToString(sum[:16])
}

// ipKey keys an address's count: an IPv4 address as it is, an IPv6
// address by its /64 (a host, or a home or phone network, is handed a
// whole /64 and picks addresses from it at will). What does not parse is
// taken as it is.
func ipKey(ip string) string { return "ip:" + addressBlock(ip) }

// pairKey keys the failures of one name from one address (block).
func pairKey(name, ip string) string { return "pair:" + nameHash(name) + ":" + addressBlock(ip) }

func addressBlock(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return addr.String()
	}
	return netip.PrefixFrom(addr, 64).Masked().String()
}

// Check refuses an attempt for name from ip, with a
// *models.ThrottledError, when the address has failed its limit within
// the window, or the name has and this address is among those that
// failed on it.
func (t *loginThrottle) Check(ctx context.Context, name, ip string) error {
	var refusal *models.ThrottledError
	refuse := func(left time.Duration) {
		wait := max(left, time.Second)
		if refusal == nil || wait > refusal.RetryAfter {
			refusal = &models.ThrottledError{RetryAfter: wait}
		}
	}
	n, left, err := t.Counter.Count(ctx, ipKey(ip), t.Window)
	if err != nil {
		return err
	}
	if n >= t.PerIP {
		refuse(left)
	}
	n, left, err = t.Counter.Count(ctx, nameKey(name), t.Window)
	if err != nil {
		return err
	}
	if n >= t.PerName {
		mine, myLeft, err := t.Counter.Count(ctx, pairKey(name, ip), t.Window)
		if err != nil {
			return err
		}
		if mine > 0 {
			// Until the first of the two windows ends: the name's (its
			// count falls under the limit) or this address's failures
			// on it (it has none left).
			refuse(min(left, myLeft))
		}
	}
	if refusal != nil {
		return refusal
	}
	return nil
}

// Failed counts a failed attempt for name from ip: against the address,
// the name, and the name from this address.
func (t *loginThrottle) Failed(ctx context.Context, name, ip string) error {
	for _, key := range []string{ipKey(ip), nameKey(name), pairKey(name, ip)} {
		if _, _, err := t.Counter.Add(ctx, key, 1, t.Window); err != nil {
			return err
		}
	}
	return nil
}

// Attempt counts an attempt at a second factor for name from ip before it
// is checked (against the address, the name, and the name from this
// address), and refuses it (*models.ThrottledError) when that takes the
// address or the name over its limit: counted first, a burst of guesses
// in parallel cannot all pass one look at the count. undo takes the
// attempt back when it was right: the name's failures, and this address's
// on it, are cleared (the login has succeeded), and the address's count
// goes back down by one, so that successful logins never slow an office
// behind one address.
func (t *loginThrottle) Attempt(ctx context.Context, name, ip string) (undo func(context.Context) error, err error) {
	var refusal *models.ThrottledError
	for _, k := range []struct {
		key   string
		limit int // 0: counted, not limited on its own
	}{{ipKey(ip), t.PerIP}, {nameKey(name), t.PerName}, {pairKey(name, ip), 0}} {
		n, left, err := t.Counter.Add(ctx, k.key, 1, t.Window)
		if err != nil {
			return nil, err
		}
		if k.limit > 0 && n > k.limit {
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
		return t.Succeeded(ctx, name, ip)
	}, nil
}

// Succeeded clears the name's failures, and this address's on the name.
// The address's own count stays: one good password must not reset the
// count of an attacker sharing it.
func (t *loginThrottle) Succeeded(ctx context.Context, name, ip string) error {
	if err := t.Counter.Reset(ctx, pairKey(name, ip)); err != nil {
		return err
	}
	return t.Counter.Reset(ctx, nameKey(name))
}
