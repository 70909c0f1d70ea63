package handlers

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"userhub/buildinfo"
	"userhub/models"
)

// healthz: GET /healthz -> 200 while the process serves (liveness). It does
// not touch the database, so a database outage does not get the process
// restarted. It names the process that answered: in cluster mode, which
// worker did.
func (h *Handlers) healthz(c *gin.Context) error {
	c.Header("Cache-Control", "no-store") // a cached "ok" would hide an outage
	build := buildinfo.Get()
	writeJSON(c, http.StatusOK, typeJSON, gin.H{"status": "ok", "pid": os.Getpid(), "version": build.Version, "revision": build.Revision})
	return nil
}

// readyz: GET /readyz -> 200 when the database (and Redis, if used)
// answer within a second and the database takes writes; 503 saying which
// does not, and why, otherwise (readiness: take the instance out of
// rotation).
func (h *Handlers) readyz(c *gin.Context) error {
	if h.draining != nil && h.draining() {
		return errDraining
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), time.Second)
	defer cancel()
	for _, name := range slices.Sorted(maps.Keys(h.ready)) {
		if err := h.ready[name](ctx); err != nil {
			h.log.Debug("readiness check failed", "service", name, "error", err) // the outage itself is logged once, where it is seen
			why := "does not answer"
			if errors.Is(err, models.ErrStorageFull) {
				why = "has no room left: writes are refused until there is"
			}
			return &notReady{code: "not_ready", service: name, why: why}
		}
	}
	c.Header("Cache-Control", "no-store")
	writeJSON(c, http.StatusOK, typeJSON, gin.H{"status": "ready", "database": "ok"})
	return nil
}

// notReady says which service the instance is waiting for, and why.
type notReady struct{ code, service, why string }

func (e *notReady) Error() string { return "not ready: the " + e.service + " " + e.why }

// errDraining is /readyz's answer while the server lame-ducks before it
// stops (server.drain_delay): the balancer should send elsewhere.
var errDraining = &notReady{code: "draining", service: "instance", why: "is shutting down: send requests to the other instances"}
