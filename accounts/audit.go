package accounts

import (
	"context"
	"time"

	"userhub/auth"
	"userhub/models"
)

// The audit log. A change carries its entries in the context given to
// the store call that makes it (models.WithAudit), so the two commit
// together; an event that changes nothing in the database (a failed
// login, a logout) is recorded on its own, and a failure to record it is
// logged, not answered: the logout has happened.

// auditEntry is an entry of action by actor on target.
func auditEntry(actor auth.Principal, action string, target models.User, details map[string]string) models.AuditEntry {
	e := models.AuditEntry{Action: action, TargetID: target.ID, TargetName: target.Name, Details: details}
	switch {
	case actor.Method == auth.MethodOperator:
		e.ActorName = models.OperatorName
	case actor.User.ID != 0:
		e.ActorID, e.ActorName = actor.User.ID, actor.User.Name
	}
	return e
}

// audited returns ctx carrying an entry of action by actor on target, for
// the store call that makes the change.
func audited(ctx context.Context, actor auth.Principal, action string, target models.User, details map[string]string) context.Context {
	return models.WithAudit(ctx, auditEntry(actor, action, target, details))
}

// Record writes an entry of action by actor on target, for an event
// outside the database (a logout, a session ended in Redis).
func (s *Service) Record(ctx context.Context, actor auth.Principal, action string, target models.User, details map[string]string) {
	s.record(ctx, auditEntry(actor, action, target, details))
}

func (s *Service) record(ctx context.Context, e models.AuditEntry) {
	if s.audit == nil {
		return
	}
	// The request may have been cancelled (the client left after its
	// logout): the record is still made, within the store's own timeout.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.audit.RecordAudit(ctx, e); err != nil {
		s.log.Error("audit entry not recorded", "action", e.Action, "target", e.TargetName, "error", err)
	}
}

// AuditLog returns a page of the audit log, for an administrator or the
// operator.
func (s *Service) AuditLog(ctx context.Context, actor auth.Principal, q models.AuditQuery) ([]models.AuditEntry, bool, error) {
	if err := Authorize(actor, ReadAudit, 0); err != nil {
		return nil, false, err
	}
	if s.audit == nil {
		return nil, false, nil
	}
	return s.audit.AuditLog(ctx, q)
}
