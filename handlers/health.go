package handlers

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"

	"userhub/models"
)

// healthz: GET /healthz -> 200 while the process serves (liveness). It does
// not touch the database, so a database outage does not get the process
// restarted. It names the process that answered: in cluster mode, which
// worker did.
func (h *Handlers) healthz(c *gin.Context) error {
	c.Header("Cache-Control", "no-store") // a cached "ok" would hide an outage
	writeJSON(c, http.StatusOK, typeJSON, gin.H{"status": "ok", "pid": os.Getpid()})
	return nil
}

// readyz: GET /readyz -> 200 when the database answers within a second,
// 503 otherwise (readiness: take the instance out of rotation).
func (h *Handlers) readyz(c *gin.Context) error {
	ctx, cancel := context.WithTimeout(c.Request.Context(), time.Second)
	defer cancel()
	for _, check := range append([]func(context.Context) error{h.store.Ping}, h.ready...) {
		if err := check(ctx); err != nil {
			h.log.Warn("readiness check failed", "error", err)
			return fmt.Errorf("%w: %v", models.ErrUnavailable, err)
		}
	}
	c.Header("Cache-Control", "no-store")
	writeJSON(c, http.StatusOK, typeJSON, gin.H{"status": "ready", "database": "ok"})
	return nil
}
