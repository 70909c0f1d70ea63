package handlers

import (
	"html/template"
	"strings"
	"testing"
	"time"

	"userhub/models"
)

// rowTemplate is the reference for userRowsHTML: the rows as html/template
// writes them, with its escaping. The two must agree byte for byte.
var rowTemplate = template.Must(template.New("rows").Parse(`{{range .Rows}}
    <tr data-id="{{.ID}}" data-name="{{.Name}}" data-role="{{.Role}}" data-suspended="{{.Suspended}}">
      {{- if $.Admin}}
      <td class="select">{{if not .Me}}<input type="checkbox" class="select-row" aria-label="{{.SelectLabel}}">{{end}}</td>
      {{- end}}
      <td class="name"><span class="name-text">{{.Name}}</span>{{if .Me}} <span class="badge">{{$.L.You}}</span>{{end}} <span class="badge warn" data-badge="no-password"{{if not .NoPassword}} hidden{{end}}>{{$.L.NoPassword}}</span> <span class="badge danger" data-badge="suspended"{{if not .Suspended}} hidden{{end}}>{{$.L.Suspended}}</span></td>
      <td class="role" data-label="{{$.L.ColRole}}">{{.RoleLabel}}</td>
      <td data-label="{{$.L.ColCreated}}"><time datetime="{{.Datetime}}">{{.Created}}</time></td>
      <td data-label="{{$.L.ColLastLogin}}">{{if .LastLoginDatetime}}<time datetime="{{.LastLoginDatetime}}">{{.LastLogin}}</time>{{else}}{{$.L.Never}}{{end}}</td>
      {{- if $.Admin}}
      <td class="actions">
        <div class="row-actions">
          <button type="button" data-action="rename" aria-label="{{.RenameLabel}}">{{$.L.Rename}}</button>
          <button type="button" data-action="role" aria-label="{{.RoleAction}}">{{.RoleButton}}</button>
          {{if not .Me}}<button type="button" data-action="password" aria-label="{{.PasswordLabel}}">{{$.L.SetPassword}}</button>
          <button type="button" data-action="suspend" aria-label="{{.SuspendLabel}}">{{.SuspendButton}}</button>{{end}}
          <button type="button" data-action="delete" class="danger" aria-label="{{.DeleteLabel}}">{{$.L.Delete}}</button>
        </div>
        <p class="row-note ok" role="status"></p>
        <p class="row-note error" role="alert" id="row-error-{{.ID}}"></p>
      </td>
      {{- end}}
    </tr>
{{- end}}`))

// sameAsTemplate checks userRowsHTML against rowTemplate for users named
// names, seen by the first of them, in both languages, as an admin and not.
func sameAsTemplate(t *testing.T, names ...string) {
	t.Helper()
	var users []models.User
	for i, n := range names {
		role := models.RoleMember
		if i%2 == 0 {
			role = models.RoleAdmin
		}
		u := models.User{ID: int64(i + 1), Name: n, Role: role, CreatedAt: time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC), Suspended: i%3 == 1}
		if i%2 == 1 {
			u.PasswordHash = "$argon2id$..."
			u.LastLoginAt = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
		}
		users = append(users, u)
	}
	for _, lang := range []string{"en", "ko"} {
		for _, admin := range []bool{true, false} {
			rows, labels := homeRows(users, 1, lang)
			var want strings.Builder
			if err := rowTemplate.Execute(&want, struct {
				Rows  []homeRow
				L     rowLabels
				Admin bool
			}{rows, labels, admin}); err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for _, row := range userRowsHTML(rows, labels, admin) {
				got.WriteString(string(row))
			}
			if got.String() != want.String() {
				t.Fatalf("%s, admin %v, names %q:\ngot:\n%s\nwant (html/template):\n%s", lang, admin, names, got.String(), want.String())
			}
		}
	}
}

func TestUserRowsAsTheTemplateWritesThem(t *testing.T) {
	sameAsTemplate(t, "kim", "김철수", `<script>alert("x")</script>`, "a&b 'quoted' +plus", "nul\x00byte", "e\u0301 \u2028")
}

// FuzzUserRows: whatever the names, the rows are what html/template writes.
func FuzzUserRows(f *testing.F) {
	f.Add("kim", `"><img src=x onerror=alert(1)>`)
	f.Add("&amp;", "'\x00+")
	f.Fuzz(func(t *testing.T, a, b string) { sameAsTemplate(t, a, b) })
}
