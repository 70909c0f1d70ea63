package store

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// changesChannel is the channel migration 0007's triggers notify.
const changesChannel = "userhub_changes"

// ChangeSignal tells an instance's read cache (cachedstore) that the data
// in a PostgreSQL database changed, whichever instance or program changed
// it: every committed write to users or revoked sessions notifies
// userhub_changes (migration 0007), and the signal listens on a connection
// of its own, moving its generation on at each notification. While that
// connection is down the generation moves on at every look, so the cache
// keeps nothing and every read goes to the database; once listening again,
// it moves on once more, dropping what was read meanwhile.
//
// So a change is seen by every instance as soon as its notification
// arrives (a few milliseconds on a LAN) and, whatever happens to the
// notification, within the cache's maximum age (cachedstore.maxAge): a
// listening connection that died without a word keeps the cache at most
// that stale.
type ChangeSignal struct {
	n      atomic.Uint64
	up     atomic.Bool
	cancel context.CancelFunc
	done   chan struct{}
}

// ListenForChanges starts a ChangeSignal on s, a PostgreSQL store. Close
// stops it.
func (s *Store) ListenForChanges(log *slog.Logger) (*ChangeSignal, error) {
	if s.pgConfig == nil {
		return nil, errors.New("change notifications need PostgreSQL")
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &ChangeSignal{cancel: cancel, done: make(chan struct{})}
	go c.listen(ctx, s.pgConfig, log)
	return c, nil
}

// Generation implements cachedstore.Signal.
func (c *ChangeSignal) Generation() uint64 {
	if !c.up.Load() {
		return c.n.Add(1) // not listening: nothing may be kept
	}
	return c.n.Load()
}

// Changed implements cachedstore.Signal: this instance's own writes are
// seen at once, before their notification comes back.
func (c *ChangeSignal) Changed() { c.n.Add(1) }

// Listening reports whether the signal hears the database's notifications.
func (c *ChangeSignal) Listening() bool { return c.up.Load() }

// Close stops listening.
func (c *ChangeSignal) Close() {
	c.cancel()
	<-c.done
}

// listen keeps a listening connection, reconnecting with a backoff. It
// logs once when it stops hearing and once when it hears again, not at
// every retry of an outage.
func (c *ChangeSignal) listen(ctx context.Context, cfg *pgx.ConnConfig, log *slog.Logger) {
	defer close(c.done)
	const first, most = 100 * time.Millisecond, 5 * time.Second
	wait, quiet, firstTry := first, false, true
	for {
		heard, err := c.session(ctx, cfg, func() {
			if quiet {
				log.Info("listening to the database's change notifications again")
			}
			quiet = false
		})
		c.up.Store(false)
		if ctx.Err() != nil {
			return
		}
		if heard {
			wait = first
		}
		if !quiet {
			msg := "not listening to the database's change notifications: reading uncached until back"
			if firstTry && !heard {
				msg = "cannot listen to the database's change notifications yet: reading uncached until it can"
			}
			log.Warn(msg, "error", err)
			quiet = true
		}
		firstTry = false
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, most)
	}
}

// session connects, listens (then calls listening) and counts
// notifications until the connection fails; heard reports whether it got
// as far as listening.
func (c *ChangeSignal) session(ctx context.Context, cfg *pgx.ConnConfig, listening func()) (heard bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, cfg.Copy())
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+changesChannel); err != nil {
		return false, err
	}
	c.n.Add(1) // what changed while not listening is unknown
	c.up.Store(true)
	listening()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return true, err
		}
		c.n.Add(1)
	}
}
