package models

import (
	"errors"
	"strings"
	"testing"
)

func TestNewUserNormalize(t *testing.T) {
	tests := []struct {
		name      string
		in        NewUser
		wantName  string
		wantRole  Role
		wantCodes []string // field:code, empty when valid
	}{
		{"plain", NewUser{Name: "kim"}, "kim", RoleMember, nil},
		{"trimmed", NewUser{Name: "  kim \t"}, "kim", RoleMember, nil},
		{"korean", NewUser{Name: "김철수"}, "김철수", RoleMember, nil},
		{"admin", NewUser{Name: "lee", Role: RoleAdmin}, "lee", RoleAdmin, nil},
		{"64 chars", NewUser{Name: strings.Repeat("가", 64)}, strings.Repeat("가", 64), RoleMember, nil},
		{"nfc", NewUser{Name: "e\u0301"}, "\u00e9", RoleMember, nil},
		{"empty", NewUser{Name: "  "}, "", RoleMember, []string{"name:required"}},
		{"65 chars", NewUser{Name: strings.Repeat("a", 65)}, "", RoleMember, []string{"name:too_long"}},
		{"control", NewUser{Name: "a\x00b"}, "", RoleMember, []string{"name:invalid_characters"}},
		{"bad utf8", NewUser{Name: "a\xffb"}, "", RoleMember, []string{"name:invalid_characters"}},
		{"bad role and name", NewUser{Name: "", Role: "root"}, "", "", []string{"name:required", "role:invalid_role"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.Normalize()
			if len(tt.wantCodes) == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if got.Name != tt.wantName || got.Role != tt.wantRole {
					t.Fatalf("got %q/%q, want %q/%q", got.Name, got.Role, tt.wantName, tt.wantRole)
				}
				return
			}
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("want ValidationError, got %v", err)
			}
			var codes []string
			for _, f := range verr.Fields {
				codes = append(codes, f.Field+":"+f.Code)
			}
			if strings.Join(codes, ",") != strings.Join(tt.wantCodes, ",") {
				t.Fatalf("codes %v, want %v", codes, tt.wantCodes)
			}
		})
	}
}

func TestNameKeyFoldsCase(t *testing.T) {
	for _, pair := range [][2]string{{"Kim", "kIM"}, {"STRASSE", "straße"}, {"É", "e\u0301"}, {" Lee ", "lee"}} {
		if NameKey(pair[0]) != NameKey(pair[1]) {
			t.Errorf("NameKey(%q)=%q != NameKey(%q)=%q", pair[0], NameKey(pair[0]), pair[1], NameKey(pair[1]))
		}
	}
	if NameKey("kim") == NameKey("lee") {
		t.Error("different names share a key")
	}
}

// A Page hands out copies: what a caller does with them does not change it.
func TestPageCannotBeChanged(t *testing.T) {
	p := NewPage([]User{{ID: 1, Name: "kim"}, {ID: 2, Name: "lee"}}, true)
	users := p.Users()
	users[0].Name = "changed"
	for i, u := range p.All() {
		u.Name = "changed"
		if i == 1 && p.Last().ID != 2 {
			t.Fatal("Last is not the last user")
		}
	}
	if got := p.Users(); len(got) != 2 || got[0].Name != "kim" || got[1].Name != "lee" || !p.More || p.Len() != 2 {
		t.Fatalf("page after its users were changed: %+v", got)
	}
	if (Page{}).Last() != (User{}) {
		t.Fatal("an empty page has a last user")
	}
}
