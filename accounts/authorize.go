package accounts

import (
	"userhub/auth"
	"userhub/models"
)

// Action is something done to an account, which Authorize allows or not.
type Action string

// The actions on accounts.
const (
	CreateUser  Action = "create user"
	EditUser    Action = "edit user" // any change; its fields may need more
	SetRole     Action = "set role"
	SetPassword Action = "set password" // another's, without knowing the old one
	DeleteUser  Action = "delete user"
	SuspendUser Action = "suspend user" // or restore
	EndSessions Action = "end sessions"
	// ManageTokens: list or revoke the tokens of an account.
	ManageTokens Action = "manage tokens"
	// ReadAudit: read the audit log.
	ReadAudit Action = "read the audit log"
)

// who may do an action.
type who int

const (
	admins        who = iota + 1
	adminsOrSelf      // admins, and the account's own user
	adminsNotSelf     // admins, on accounts other than their own
)

// rules is who may do what, in one table. An action not listed here is
// refused to everyone.
var rules = map[Action]struct {
	who    who
	reason string // told to those refused
}{
	CreateUser:   {admins, "only administrators may add users"},
	EditUser:     {adminsOrSelf, "members may change only their own account"},
	SetRole:      {admins, "only administrators may change roles"},
	SetPassword:  {adminsNotSelf, "change your own password with PUT /api/v1/me/password, which asks for the current one"},
	DeleteUser:   {admins, "only administrators may do this"},
	SuspendUser:  {admins, "only administrators may suspend or restore users"},
	EndSessions:  {adminsOrSelf, "members may end only their own sessions"},
	ManageTokens: {adminsOrSelf, "members may see and revoke only their own tokens"},
	ReadAudit:    {admins, "only administrators may read the audit log"},
}

// Authorize says whether p may do action to the account with id target:
// nil, models.ErrNotAuthenticated, or a *models.ForbiddenError saying why not.
func Authorize(p auth.Principal, action Action, target int64) error {
	if !p.LoggedIn() && p.Method != auth.MethodOperator {
		return models.ErrNotAuthenticated
	}
	rule, ok := rules[action]
	if !ok {
		return &models.ForbiddenError{Reason: "no one may " + string(action)}
	}
	self := p.User.ID != 0 && p.User.ID == target
	allowed := false
	switch rule.who {
	case admins:
		allowed = p.IsAdmin()
	case adminsOrSelf:
		allowed = p.IsAdmin() || self
	case adminsNotSelf:
		allowed = p.IsAdmin() && !self
	}
	if !allowed && p.LacksAdminScope() && (rule.who != adminsNotSelf || !self) {
		return models.ErrNeedsScope(models.ScopeAdmin) // the user may, the token may not
	}
	if !allowed {
		return &models.ForbiddenError{Reason: rule.reason}
	}
	return nil
}
