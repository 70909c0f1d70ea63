package handlers

import (
	"html/template"
	"strconv"
	"strings"
	"time"

	"userhub/locale"
	"userhub/models"
)

// The user list's rows are written here, in Go, rather than by a
// template: html/template evaluates each field and each escaper through
// reflection, a dozen times a row, which was most of the cost of the home
// page (1.2 ms for 50 rows, against 0.3 ms for the rest of the page; see
// BenchmarkHomePage). What is written is exactly what the row template in
// userrows_test.go renders, byte for byte: a test and a fuzz target compare
// the two, so html/template stays the reference for the escaping.

// homeRow is one user's row, its words translated already.
type homeRow struct {
	ID                                                              int64
	Name                                                            string
	Role                                                            models.Role
	Me                                                              bool // the user looking at the page
	NoPassword, Suspended                                           bool
	RoleLabel, Datetime, Created, LastLoginDatetime, LastLogin      string
	SelectLabel, RenameLabel, RoleAction, RoleButton, PasswordLabel string
	SuspendLabel, SuspendButton, DeleteLabel                        string
}

// rowLabels are the words every row shows alike.
type rowLabels struct {
	You, NoPassword, Suspended, Never, Rename, SetPassword, Delete string
	ColRole, ColCreated, ColLastLogin                              string // for phones, where the header is hidden
}

// homeRows translates a page of users into rows for the viewer me, in lang.
func homeRows(users []models.User, me int64, lang string) ([]homeRow, rowLabels) {
	t := func(key string) string { return locale.T(lang, key) }
	labels := rowLabels{
		You: t("users.you"), NoPassword: t("users.no_password"), Suspended: t("users.suspended"), Never: t("users.never"),
		Rename: t("users.rename"), SetPassword: t("users.set_password"), Delete: t("users.delete"),
		ColRole: t("users.col.role"), ColCreated: t("users.col.created"), ColLastLogin: t("users.col.last_login"),
	}
	roleLabel := map[models.Role]string{models.RoleAdmin: t("role.admin"), models.RoleMember: t("role.member")}
	makeMember, makeAdmin, suspend, restore := t("users.make_member"), t("users.make_admin"), t("users.suspend"), t("users.restore")
	selectNamed, renameNamed := named(t("users.select_named")), named(t("users.rename_named"))
	makeAdminNamed, makeMemberNamed := named(t("users.make_admin_named")), named(t("users.make_member_named"))
	passwordNamed, deleteNamed := named(t("users.password_named")), named(t("users.delete_named"))
	suspendNamed, restoreNamed := named(t("users.suspend_named")), named(t("users.restore_named"))
	rows := make([]homeRow, len(users))
	for i, u := range users {
		r := homeRow{
			ID: u.ID, Name: u.Name, Role: u.Role, Me: u.ID == me, NoPassword: !u.HasPassword(), Suspended: u.Suspended,
			RoleLabel: roleLabel[u.Role], Datetime: u.CreatedAt.Format(time.RFC3339), Created: displayTime(u.CreatedAt),
			SelectLabel: selectNamed(u.Name), RenameLabel: renameNamed(u.Name), RoleAction: makeAdminNamed(u.Name),
			PasswordLabel: passwordNamed(u.Name), DeleteLabel: deleteNamed(u.Name),
			RoleButton: makeAdmin, SuspendButton: suspend, SuspendLabel: suspendNamed(u.Name),
		}
		if u.IsAdmin() {
			r.RoleButton, r.RoleAction = makeMember, makeMemberNamed(u.Name)
		}
		if u.Suspended {
			r.SuspendButton, r.SuspendLabel = restore, restoreNamed(u.Name)
		}
		if !u.LastLoginAt.IsZero() {
			r.LastLoginDatetime, r.LastLogin = u.LastLoginAt.Format(time.RFC3339), displayTime(u.LastLoginAt)
		}
		rows[i] = r
	}
	return rows, labels
}

// named turns a translation with one %s ("Rename %s") into a function
// that puts a name in it: cut once a page, rather than formatted by fmt
// six times a row. A name is text, never a verb: "%" in it stays as it is.
func named(format string) func(name string) string {
	before, after, _ := strings.Cut(format, "%s")
	return func(name string) string { return before + name + after }
}

// displayTime is a time as the page shows it until app.js puts it in the
// reader's time zone.
func displayTime(t time.Time) string { return t.Format("2006-01-02 15:04") + " UTC" }

// userRowsHTML writes the rows, one string each; admin adds each row's
// selection box and actions. The rows share one allocation (about 1.6 KB
// a row, written once into a builder and cut), and the page template
// prints them one by one: fmt, which prints a template's values, copies
// each into a buffer it reuses only up to 64 KB, which the whole table is
// not.
func userRowsHTML(rows []homeRow, l rowLabels, admin bool) []template.HTML {
	var b strings.Builder
	b.Grow(1700 * len(rows))
	ends := make([]int, len(rows))
	for i, r := range rows {
		id := strconv.FormatInt(r.ID, 10)
		b.WriteString("\n    <tr data-id=\"")
		b.WriteString(id)
		b.WriteString("\" data-name=\"")
		writeEscaped(&b, r.Name)
		b.WriteString("\" data-role=\"")
		writeEscaped(&b, string(r.Role))
		b.WriteString("\" data-suspended=\"")
		b.WriteString(strconv.FormatBool(r.Suspended))
		b.WriteString("\">")
		if admin {
			b.WriteString("\n      <td class=\"select\">")
			if !r.Me {
				b.WriteString("<input type=\"checkbox\" class=\"select-row\" aria-label=\"")
				writeEscaped(&b, r.SelectLabel)
				b.WriteString("\">")
			}
			b.WriteString("</td>")
		}
		b.WriteString("\n      <td class=\"name\"><span class=\"name-text\">")
		writeEscaped(&b, r.Name)
		b.WriteString("</span>")
		if r.Me {
			b.WriteString(" <span class=\"badge\">")
			writeEscaped(&b, l.You)
			b.WriteString("</span>")
		}
		writeBadge(&b, `class="badge warn" data-badge="no-password"`, r.NoPassword, l.NoPassword)
		writeBadge(&b, `class="badge danger" data-badge="suspended"`, r.Suspended, l.Suspended)
		b.WriteString("</td>\n      <td class=\"role\" data-label=\"")
		writeEscaped(&b, l.ColRole)
		b.WriteString("\">")
		writeEscaped(&b, r.RoleLabel)
		b.WriteString("</td>\n      <td data-label=\"")
		writeEscaped(&b, l.ColCreated)
		b.WriteString("\"><time datetime=\"")
		writeEscaped(&b, r.Datetime)
		b.WriteString("\">")
		writeEscaped(&b, r.Created)
		b.WriteString("</time></td>\n      <td data-label=\"")
		writeEscaped(&b, l.ColLastLogin)
		b.WriteString("\">")
		if r.LastLoginDatetime != "" {
			b.WriteString("<time datetime=\"")
			writeEscaped(&b, r.LastLoginDatetime)
			b.WriteString("\">")
			writeEscaped(&b, r.LastLogin)
			b.WriteString("</time>")
		} else {
			writeEscaped(&b, l.Never)
		}
		b.WriteString("</td>")
		if admin {
			b.WriteString("\n      <td class=\"actions\">\n        <div class=\"row-actions\">\n          ")
			writeButton(&b, `data-action="rename"`, r.RenameLabel, l.Rename)
			b.WriteString("\n          ")
			writeButton(&b, `data-action="role"`, r.RoleAction, r.RoleButton)
			b.WriteString("\n          ")
			if !r.Me {
				writeButton(&b, `data-action="password"`, r.PasswordLabel, l.SetPassword)
				b.WriteString("\n          ")
				writeButton(&b, `data-action="suspend"`, r.SuspendLabel, r.SuspendButton)
			}
			b.WriteString("\n          ")
			writeButton(&b, `data-action="delete" class="danger"`, r.DeleteLabel, l.Delete)
			b.WriteString("\n        </div>\n        <p class=\"row-note ok\" role=\"status\"></p>\n        <p class=\"row-note error\" role=\"alert\" id=\"row-error-")
			b.WriteString(id)
			b.WriteString("\"></p>\n      </td>")
		}
		b.WriteString("\n    </tr>")
		ends[i] = b.Len()
	}
	all := b.String()
	html := make([]template.HTML, len(rows))
	start := 0
	for i, end := range ends {
		html[i] = template.HTML(all[start:end])
		start = end
	}
	return html
}

// writeBadge writes a badge, hidden unless shown (app.js shows and hides it).
func writeBadge(b *strings.Builder, attrs string, shown bool, text string) {
	b.WriteString(" <span ")
	b.WriteString(attrs)
	if !shown {
		b.WriteString(" hidden")
	}
	b.WriteString(">")
	writeEscaped(b, text)
	b.WriteString("</span>")
}

// writeButton writes a row's button: attrs as they are, label and text escaped.
func writeButton(b *strings.Builder, attrs, label, text string) {
	b.WriteString(`<button type="button" `)
	b.WriteString(attrs)
	b.WriteString(` aria-label="`)
	writeEscaped(b, label)
	b.WriteString(`">`)
	writeEscaped(b, text)
	b.WriteString("</button>")
}

// writeEscaped writes s escaped as html/template escapes text and quoted
// attribute values.
func writeEscaped(b *strings.Builder, s string) {
	start := 0
	for i := 0; i < len(s); i++ {
		var rep string
		switch s[i] {
		case 0:
			rep = "\uFFFD"
		case '"':
			rep = "&#34;"
		case '&':
			rep = "&amp;"
		case '\'':
			rep = "&#39;"
		case '+':
			rep = "&#43;"
		case '<':
			rep = "&lt;"
		case '>':
			rep = "&gt;"
		default:
			continue
		}
		b.WriteString(s[start:i])
		b.WriteString(rep)
		start = i + 1
	}
	b.WriteString(s[start:])
}
