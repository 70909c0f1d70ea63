package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"userhub/config"
	"userhub/handlers"
	"userhub/models"
	"userhub/store"
)

// audit runs `userhub audit export [-since T]`: the audit log as JSON
// lines, oldest first, each line as GET /api/v1/audit writes an entry.
func (e env) audit(cfg config.Config, log *slog.Logger, opt options, args []string) error {
	if len(args) != 1 || args[0] != "export" {
		return usageError("audit: the subcommand is export [-since T]")
	}
	var since time.Time
	if opt.since != "" {
		var err error
		if since, err = parseSince(opt.since, time.Now()); err != nil {
			return usageError(fmt.Sprintf("-since %q: give a time (2026-12-01T09:00:00Z), a date (2026-12-01) or a duration back from now (24h)", opt.since))
		}
	}
	ctx := context.Background()
	s, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	out := bufio.NewWriter(e.stdout)
	enc := json.NewEncoder(out)
	q := models.AuditQuery{Since: since, Oldest: true, Limit: models.MaxAuditPage}
	for {
		entries, more, err := s.AuditLog(ctx, q)
		if err != nil {
			return err
		}
		for _, entry := range entries {
			if err := enc.Encode(handlers.AuditEntryJSON(entry)); err != nil {
				return err
			}
		}
		if !more {
			return out.Flush()
		}
		q.After = entries[len(entries)-1].ID
	}
}

// parseSince reads -since: RFC 3339, a date (UTC), or a duration back
// from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("not a time, date or duration")
	}
	return now.Add(-d), nil
}

// recordReload records a reload the operator asked for with SIGHUP, once
// it has ended. A failure to record it is logged.
func recordReload(ctx context.Context, s models.AuditStore, log *slog.Logger, details map[string]string) {
	details["signal"] = "SIGHUP"
	e := models.AuditEntry{Action: models.AuditServerReloaded, ActorName: models.OperatorName, Details: details}
	if err := s.RecordAudit(ctx, e); err != nil {
		log.Warn("audit entry not recorded", "action", e.Action, "error", err)
	}
}

// reloadOutcome says how a reload ended, for its audit entry.
func reloadOutcome(done bool, why string) string {
	if done {
		return "done"
	}
	return "stopped; the old ones serve: " + why
}

// pruneAudit removes the audit entries older than retention, after
// first and then every hour, until ctx ends. Every process serving does it
// (they remove the same rows; the second finds none).
func pruneAudit(ctx context.Context, s *store.Store, retention, first time.Duration, log *slog.Logger) {
	if retention <= 0 {
		return
	}
	wait := first
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = time.Hour
		n, err := s.PruneAudit(ctx, time.Now().Add(-retention))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("audit log not pruned; trying again in an hour", "error", err)
		case n > 0:
			log.Info("audit log pruned", "removed", n, "older_than", time.Now().Add(-retention).UTC().Format(time.RFC3339))
		}
	}
}
