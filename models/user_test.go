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

// TestLookAlikeNames: a name that renders like kim's is refused, or is
// kim's name (the same key, so taken); names in one script, Korean ones
// and Hangul with Latin stay accepted, and distinct.
func TestLookAlikeNames(t *testing.T) {
	kim := NameKey("kim")
	tests := []struct {
		name, in string
		code     string // refused with this code, or "" for accepted
		same     bool   // accepted, and kim's key
	}{
		{"combining grapheme joiner", "ki\u034fm", "invalid_characters", false},
		{"variation selector", "kim\ufe0f", "invalid_characters", false},
		{"variation selector 17", "ki\U000E0100m", "invalid_characters", false},
		{"Hangul filler", "kim\u3164", "invalid_characters", false},
		{"Hangul choseong filler", "\u115fkim", "invalid_characters", false},
		{"Hangul jungseong filler", "k\u1160im", "invalid_characters", false},
		{"Braille blank", "kim\u2800", "invalid_characters", false},
		{"zero-width space", "ki\u200bm", "invalid_characters", false},
		{"Cyrillic і among Latin", "kіm", "mixed_scripts", false},
		{"Greek ο among Latin", "kοm", "mixed_scripts", false},
		{"fullwidth", "ｋｉｍ", "", true},
		{"all Cyrillic look-alike", "кім", "", true},
		{"upper case", "KIM", "", true},
		{"Korean", "김철수", "", false},
		{"Hangul and Latin", "김kim", "", false},
		{"Russian", "Иван", "", false},
		{"Greek", "Σωκράτης", "", false},
		{"two words", "Maria Santos", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewUser{Name: tt.in}.Normalize()
			var verr *ValidationError
			switch {
			case tt.code != "":
				if !errors.As(err, &verr) || verr.Fields[0].Code != tt.code {
					t.Fatalf("%q: %v, want %s", tt.in, err, tt.code)
				}
			case err != nil:
				t.Fatalf("%q refused: %v", tt.in, err)
			case (NameKey(got.Name) == kim) != tt.same:
				t.Fatalf("%q (stored as %q) has key %q; kim's is %q; want the same: %v", tt.in, got.Name, NameKey(got.Name), kim, tt.same)
			}
		})
	}
}

// TestNameKeyKeepsLatinKeys: for names of Latin letters, Hangul and other
// scripts without look-alikes, the key is what it was before (the
// migration rewrites only the others).
func TestNameKeyKeepsLatinKeys(t *testing.T) {
	for _, name := range []string{"kim", "Kim Lee", "STRASSE", "josé", "김철수", "김kim", "user-1_x.y", "O'Brien"} {
		if NameKey(name) != LegacyNameKey(name) {
			t.Errorf("NameKey(%q) = %q, was %q", name, NameKey(name), LegacyNameKey(name))
		}
	}
}
