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
	RoleLabel, Datetime, Created                                    string
	RenameLabel, RoleAction, RoleButton, PasswordLabel, DeleteLabel string
}

// rowLabels are the words every row shows alike.
type rowLabels struct{ You, Rename, SetPassword, Delete string }

// homeRows translates a page of users into rows for the viewer me, in lang.
func homeRows(users []models.User, me int64, lang string) ([]homeRow, rowLabels) {
	t := func(key string, args ...any) string { return locale.T(lang, key, args...) }
	labels := rowLabels{You: t("users.you"), Rename: t("users.rename"), SetPassword: t("users.set_password"), Delete: t("users.delete")}
	roleLabel := map[models.Role]string{models.RoleAdmin: t("role.admin"), models.RoleMember: t("role.member")}
	makeMember, makeAdmin := t("users.make_member"), t("users.make_admin")
	rows := make([]homeRow, len(users))
	for i, u := range users {
		r := homeRow{
			ID: u.ID, Name: u.Name, Role: u.Role, Me: u.ID == me, RoleLabel: roleLabel[u.Role],
			Datetime: u.CreatedAt.Format(time.RFC3339), Created: u.CreatedAt.Format("2006-01-02 15:04") + " UTC",
			RenameLabel: t("users.rename_named", u.Name), RoleAction: t("users.make_admin_named", u.Name),
			PasswordLabel: t("users.password_named", u.Name), DeleteLabel: t("users.delete_named", u.Name),
			RoleButton: makeAdmin,
		}
		if u.IsAdmin() {
			r.RoleButton, r.RoleAction = makeMember, t("users.make_member_named", u.Name)
		}
		rows[i] = r
	}
	return rows, labels
}

// userRowsHTML writes the rows; admin adds each row's actions.
func userRowsHTML(rows []homeRow, l rowLabels, admin bool) template.HTML {
	// About 1 KB a row with its actions: one allocation, which the
	// builder hands over as the string.
	var b strings.Builder
	b.Grow(1100 * len(rows))
	for _, r := range rows {
		id := strconv.FormatInt(r.ID, 10)
		b.WriteString("\n    <tr data-id=\"")
		b.WriteString(id)
		b.WriteString("\" data-name=\"")
		writeEscaped(&b, r.Name)
		b.WriteString("\" data-role=\"")
		writeEscaped(&b, string(r.Role))
		b.WriteString("\">\n      <td class=\"name\"><span class=\"name-text\">")
		writeEscaped(&b, r.Name)
		b.WriteString("</span>")
		if r.Me {
			b.WriteString(" <span class=\"badge\">")
			writeEscaped(&b, l.You)
			b.WriteString("</span>")
		}
		b.WriteString("</td>\n      <td class=\"role\">")
		writeEscaped(&b, r.RoleLabel)
		b.WriteString("</td>\n      <td><time datetime=\"")
		writeEscaped(&b, r.Datetime)
		b.WriteString("\">")
		writeEscaped(&b, r.Created)
		b.WriteString("</time></td>")
		if admin {
			b.WriteString("\n      <td class=\"actions\">\n        <div class=\"row-actions\">\n          ")
			writeButton(&b, `data-action="rename"`, r.RenameLabel, l.Rename)
			b.WriteString("\n          ")
			writeButton(&b, `data-action="role"`, r.RoleAction, r.RoleButton)
			b.WriteString("\n          ")
			if !r.Me {
				writeButton(&b, `data-action="password"`, r.PasswordLabel, l.SetPassword)
			}
			b.WriteString("\n          ")
			writeButton(&b, `data-action="delete" class="danger"`, r.DeleteLabel, l.Delete)
			b.WriteString("\n        </div>\n        <p class=\"row-note ok\" role=\"status\"></p>\n        <p class=\"row-note error\" role=\"alert\" id=\"row-error-")
			b.WriteString(id)
			b.WriteString("\"></p>\n      </td>")
		}
		b.WriteString("\n    </tr>")
	}
	return template.HTML(b.String())
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
