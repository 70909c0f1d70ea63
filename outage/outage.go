// Package outage tells the log when a service userhub needs (the
// database, Redis) stops answering and when it answers again: one line
// each, not one per failed request, however many requests an outage fails.
package outage

import (
	"errors"
	"log/slog"
	"sync/atomic"

	"userhub/models"
)

// Watch follows one service through the outcomes of the calls made to it.
type Watch struct {
	service string
	log     *slog.Logger
	down    atomic.Bool
}

// New returns a Watch of service ("database", "redis") logging to log.
func New(service string, log *slog.Logger) *Watch {
	return &Watch{service: service, log: log}
}

// Observe records the outcome of a call: an error wrapping
// models.ErrUnavailable means the service is down (said once, as a
// warning, with that first error), anything else that it answers (said
// once, when it was down).
func (w *Watch) Observe(err error) {
	if errors.Is(err, models.ErrUnavailable) {
		if w.down.CompareAndSwap(false, true) {
			w.log.Warn(w.service+" stopped answering; requests that need it get 503 until it answers again", "error", err)
		}
		return
	}
	if w.down.Load() && w.down.CompareAndSwap(true, false) {
		w.log.Info(w.service + " answers again")
	}
}

// Down reports whether the last outcome was an outage.
func (w *Watch) Down() bool { return w.down.Load() }
