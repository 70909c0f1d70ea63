package models

import (
	"context"
	"time"
)

// Audit actions: what an audit entry records.
const (
	AuditSetup       = "setup"        // the first administrator was made
	AuditLogin       = "login"        // a login succeeded
	AuditLoginFailed = "login.failed" // a wrong name, password or second factor
	AuditLogout      = "logout"
	// AuditSessionEnded: one session ended from its user's list;
	// AuditSessionsEnded: every session of a user ("log out everywhere").
	AuditSessionEnded  = "session.ended"
	AuditSessionsEnded = "sessions.ended"

	AuditUserCreated     = "user.created"
	AuditUserRenamed     = "user.renamed"
	AuditUserRoleChanged = "user.role_changed"
	AuditUserPasswordSet = "user.password_set" // by an administrator or the operator
	AuditUserSuspended   = "user.suspended"
	AuditUserUnsuspended = "user.unsuspended"
	AuditUserDeleted     = "user.deleted"
	AuditPasswordChanged = "password.changed" // by its user

	AuditTokenCreated       = "token.created"
	AuditTokenRevoked       = "token.revoked"
	AuditTOTPEnabled        = "totp.enabled"
	AuditTOTPDisabled       = "totp.disabled"
	AuditPasskeyAdded       = "passkey.added"
	AuditPasskeyRemoved     = "passkey.removed"
	AuditSecondFactorsReset = "second_factors.reset"
	// AuditServerReloaded: the operator had the server reload (SIGHUP):
	// a cluster's workers (the configuration and binary read anew), or
	// the certificate files.
	AuditServerReloaded = "server.reloaded"
	// AuditOIDCLinked, AuditOIDCUnlinked: an account linked to (unlinked
	// from) a subject of the single sign-on provider.
	AuditOIDCLinked   = "oidc.linked"
	AuditOIDCUnlinked = "oidc.unlinked"
)

// AuditActions are the actions in the order the audit page offers them.
var AuditActions = []string{
	AuditLogin, AuditLoginFailed, AuditLogout, AuditSessionEnded, AuditSessionsEnded, AuditSetup,
	AuditUserCreated, AuditUserRenamed, AuditUserRoleChanged, AuditUserPasswordSet,
	AuditUserSuspended, AuditUserUnsuspended, AuditUserDeleted, AuditPasswordChanged,
	AuditTokenCreated, AuditTokenRevoked, AuditTOTPEnabled, AuditTOTPDisabled,
	AuditPasskeyAdded, AuditPasskeyRemoved, AuditSecondFactorsReset, AuditServerReloaded, AuditOIDCLinked, AuditOIDCUnlinked,
}

// OperatorName is the actor of what is done at the command line or by a
// signal.
const OperatorName = "(operator)"

// AuditEntry is one line of the audit log: who did what to whom, from
// where. It never holds a password, a code or a token: Details says what
// changed in words and names (a new name, a role, a token's name).
type AuditEntry struct {
	ID     int64
	At     time.Time
	Action string
	// ActorID is 0 where nobody was logged in (a failed login, the first
	// run) or for the operator at the command line; ActorName says which.
	ActorID   int64
	ActorName string
	// TargetID is 0 where the target is no account (a failed login's
	// unknown name); TargetName is the name then.
	TargetID   int64
	TargetName string
	ClientIP   string
	RequestID  string
	Details    map[string]string
}

// AuditOrigin is where a request came from, as its audit entries say.
type AuditOrigin struct {
	ClientIP, RequestID string
}

type originKey struct{}
type pendingKey struct{}

// WithAuditOrigin returns ctx carrying o, for the audit entries of the
// changes made under it.
func WithAuditOrigin(ctx context.Context, o AuditOrigin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// AuditOriginOf returns the origin WithAuditOrigin put in ctx (zero if none).
func AuditOriginOf(ctx context.Context) AuditOrigin {
	o, _ := ctx.Value(originKey{}).(AuditOrigin)
	return o
}

// WithAudit returns ctx carrying entries (in place of any it carried)
// for the store to write in the transaction of the change made with it,
// so that the change and its record commit together or not at all. Give
// it only to the one call that makes the change (each write transaction
// under ctx writes them). The entries take their origin from ctx where it
// is not set, and their time from the transaction; a change that makes or
// removes a user fills in the target's id and name where they are missing.
func WithAudit(ctx context.Context, entries ...AuditEntry) context.Context {
	pending := make([]AuditEntry, len(entries))
	for i, e := range entries {
		pending[i] = e.From(ctx)
	}
	return context.WithValue(ctx, pendingKey{}, pending)
}

// From returns e with the origin in ctx where e has none.
func (e AuditEntry) From(ctx context.Context) AuditEntry {
	o := AuditOriginOf(ctx)
	if e.ClientIP == "" {
		e.ClientIP = o.ClientIP
	}
	if e.RequestID == "" {
		e.RequestID = o.RequestID
	}
	return e
}

// PendingAudit returns the entries WithAudit put in ctx.
func PendingAudit(ctx context.Context) []AuditEntry {
	p, _ := ctx.Value(pendingKey{}).([]AuditEntry)
	return p
}

// AuditQuery selects audit entries: every filter set must hold. Pages run
// newest first, each starting below Before (an entry id; 0: the newest);
// with Oldest, oldest first, above After (the export).
type AuditQuery struct {
	Actor, Target string // names, as recorded
	Action        string
	Since, Until  time.Time // Since <= At < Until; zero: unbounded
	Before, After int64
	Oldest        bool
	Limit         int
}

// MaxAuditPage is the largest page of audit entries one call returns.
const MaxAuditPage = 1000

// AuditStore keeps the audit log.
type AuditStore interface {
	// RecordAudit writes entries on their own (events that change
	// nothing in the database: a failed login, a logout).
	RecordAudit(ctx context.Context, entries ...AuditEntry) error
	// AuditLog returns up to q.Limit entries and whether more follow.
	AuditLog(ctx context.Context, q AuditQuery) (entries []AuditEntry, more bool, err error)
	// PruneAudit removes the entries older than before, and says how many.
	PruneAudit(ctx context.Context, before time.Time) (int64, error)
}
