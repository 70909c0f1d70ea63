package handlers_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"userhub/locale"
)

// Every string the templates and handlers show goes through the
// translation table: each key they name must be in it.
func TestEveryKeyIsTranslated(t *testing.T) {
	files, _ := filepath.Glob("../templates/*.html")
	goFiles, _ := filepath.Glob("*.go")
	keyInTemplate := regexp.MustCompile(`\.T "([a-z0-9_.]+)"`)
	keyInGo := regexp.MustCompile(`"((?:login|field|msg|error)\.[a-z0-9_]+)"`)
	found := 0
	for _, f := range append(files, goFiles...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		re := keyInTemplate
		if filepath.Ext(f) == ".go" {
			re = keyInGo
		}
		for _, m := range re.FindAllStringSubmatch(string(data), -1) {
			if filepath.Ext(m[1]) == ".html" {
				continue // a template's name, not a key
			}
			found++
			if !locale.Has(m[1]) {
				t.Errorf("%s uses %q, which is not in the translation table", f, m[1])
			}
		}
	}
	if found < 50 {
		t.Fatalf("only %d keys found: the pattern is stale", found)
	}
	// Keys built at run time: roles, error statuses, field codes.
	for _, k := range []string{"role.admin", "role.member", "error.401.title", "error.403.body", "error.429.title", "field.required", "field.password_mismatch"} {
		if !locale.Has(k) {
			t.Errorf("%q is missing", k)
		}
	}
}
