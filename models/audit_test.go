package models

import (
	"context"
	"testing"
)

// The entries in a context are the last WithAudit's, each with the
// context's origin where it has none: a context handed on cannot make a
// store write an earlier change's entries again.
func TestWithAudit(t *testing.T) {
	ctx := WithAuditOrigin(context.Background(), AuditOrigin{ClientIP: "192.0.2.7", RequestID: "r1"})
	first := WithAudit(ctx, AuditEntry{Action: AuditUserCreated})
	second := WithAudit(first, AuditEntry{Action: AuditUserDeleted}, AuditEntry{Action: AuditLogout, ClientIP: "198.51.100.1"})
	got := PendingAudit(second)
	if len(got) != 2 || got[0].Action != AuditUserDeleted || got[0].ClientIP != "192.0.2.7" || got[0].RequestID != "r1" || got[1].ClientIP != "198.51.100.1" {
		t.Fatalf("pending: %+v", got)
	}
	if p := PendingAudit(first); len(p) != 1 || p[0].Action != AuditUserCreated {
		t.Fatalf("the first context changed: %+v", p)
	}
	if p := PendingAudit(context.Background()); len(p) != 0 {
		t.Fatalf("a bare context: %+v", p)
	}
}
