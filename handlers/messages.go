package handlers

import (
	"html/template"
	"strings"
	"sync"

	"userhub/locale"
)

// The words static/app.js shows are handed to it as data-msg-* attributes
// of the element it works on, written once per language here: as template
// actions, one each, they were half of the home page's actions (see
// BenchmarkHomePage).

// message is one data-msg-NAME attribute and the translation it carries.
type message struct{ name, key string }

// messageSets are the sets a page asks for with {{.Messages "set"}}.
var messageSets = map[string][]message{
	// The user list's own words.
	"users": {
		{"added", "msg.added"}, {"renamed", "msg.renamed"}, {"deleted", "msg.deleted"},
		{"role-now-admin", "msg.role_now_admin"}, {"role-now-member", "msg.role_now_member"},
		{"confirm-make-admin", "msg.confirm_make_admin"}, {"confirm-make-member", "msg.confirm_make_member"},
		{"password-set", "msg.password_set"}, {"confirm-delete", "msg.confirm_delete"}, {"confirm-delete-self", "msg.confirm_delete_self"},
		{"confirm-suspend", "msg.confirm_suspend"}, {"suspended", "msg.suspended"}, {"restored", "msg.restored"},
		{"make-admin", "users.make_admin"}, {"make-member", "users.make_member"},
		{"suspend", "users.suspend"}, {"restore", "users.restore"}, {"suspend-named", "users.suspend_named"}, {"restore-named", "users.restore_named"},
		{"rename-named", "users.rename_named"}, {"make-admin-named", "users.make_admin_named"}, {"make-member-named", "users.make_member_named"},
		{"password-named", "users.password_named"},
		{"delete-named", "users.delete_named"}, {"select-named", "users.select_named"},
		{"save", "users.save"}, {"cancel", "users.cancel"}, {"new-name", "users.new_name"},
		{"new-password", "field.new_password"}, {"password-confirm", "field.password_confirm"}, {"mismatch", "field.password_mismatch"},
		{"role-admin", "role.admin"}, {"role-member", "role.member"},
		{"bulk-selected", "users.bulk_selected"}, {"bulk-none", "msg.bulk_none"}, {"bulk-failed", "msg.bulk_failed"},
		{"confirm-bulk-delete", "msg.confirm_bulk_delete"}, {"confirm-bulk-suspend", "msg.confirm_bulk_suspend"},
		{"bulk-deleted", "msg.bulk_deleted"}, {"bulk-suspended", "msg.bulk_suspended"}, {"bulk-restored", "msg.bulk_restored"},
	},
	// The account page's own words.
	"account": {
		{"renamed", "msg.renamed"}, {"password-changed", "msg.password_changed"}, {"mismatch", "field.password_mismatch"},
	},
	// The passkeys' words (the login page, the security page).
	"passkeys": {
		{"passkey-failed", "msg.passkey_failed"}, {"passkey-cancelled", "msg.passkey_cancelled"},
		{"passkey-working", "msg.passkey_working"}, {"err-invalid_passkey", "msg.passkey_failed"},
		{"err-no_ceremony", "msg.passkey_cancelled"},
	},
	// What the API's error codes mean, for every page that calls it.
	"errors": {
		{"err-name_taken", "field.name_taken"}, {"err-required", "field.required"}, {"err-too_long", "field.too_long"},
		{"err-invalid_characters", "field.invalid_characters"}, {"err-mixed_scripts", "field.mixed_scripts"}, {"err-password_too_short", "field.password_too_short"},
		{"err-password_too_long", "field.password_too_long"}, {"err-password_common", "field.password_common"},
		{"err-password_predictable", "field.password_predictable"}, {"err-password_blank", "field.password_blank"},
		{"err-password_contains_name", "field.password_contains_name"}, {"err-wrong_password", "field.wrong_password"},
		{"err-last_admin", "msg.last_admin"}, {"err-suspended", "msg.account_suspended"}, {"err-suspend_self", "msg.suspend_self"}, {"err-forbidden", "msg.forbidden"}, {"err-not_authenticated", "msg.not_authenticated"},
		{"err-too_many_attempts", "login.throttled"}, {"err-not_found", "msg.not_found"}, {"err-network", "msg.network"},
		{"err-second_factor_enrolment_required", "msg.second_factor_enrolment_required"}, {"err-failed", "msg.failed"},
	},
}

// messageAttrs holds every set's attributes by language and set name.
var messageAttrs = sync.OnceValue(func() map[[2]string]template.HTMLAttr {
	attrs := map[[2]string]template.HTMLAttr{}
	for _, lang := range locale.Languages {
		for set, messages := range messageSets {
			var b strings.Builder
			for _, m := range messages {
				b.WriteString(" data-msg-" + m.name + `="`)
				writeEscaped(&b, locale.T(lang, m.key))
				b.WriteString(`"`)
			}
			attrs[[2]string{lang, set}] = template.HTMLAttr(b.String())
		}
	}
	return attrs
})

// Messages are the data-msg-* attributes of set, in the page's language:
// {{.Messages "users"}} inside the element app.js reads them from.
func (v view) Messages(set string) template.HTMLAttr { return messageAttrs()[[2]string{v.Lang, set}] }
