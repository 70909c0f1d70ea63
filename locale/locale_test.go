package locale

import (
	"strings"
	"testing"
)

func TestTablesAgree(t *testing.T) {
	en, ko := catalog["en"], catalog["ko"]
	for k := range en {
		if _, ok := ko[k]; !ok {
			t.Errorf("ko.json lacks %q", k)
		}
	}
	for k := range ko {
		if _, ok := en[k]; !ok {
			t.Errorf("en.json lacks %q (a Korean string with no English)", k)
		}
	}
	for k := range en {
		if strings.Count(T("en", k), "%") != strings.Count(T("ko", k), "%") {
			t.Errorf("%q: the two languages take different arguments", k)
		}
	}
}

func TestMatch(t *testing.T) {
	tests := []struct{ cookie, accept, want string }{
		{"", "", "en"},
		{"", "ko-KR,ko;q=0.9,en;q=0.8", "ko"},
		{"", "en-US,en;q=0.9,ko;q=0.8", "en"},
		{"", "fr-FR,ko;q=0.5", "ko"},
		{"", "fr-FR", "en"},
		{"", "garbage;;;", "en"},
		{"ko", "en-US", "ko"},
		{"en", "ko-KR", "en"},
		{"xx", "ko", "ko"},
	}
	for _, tt := range tests {
		if got := Match(tt.cookie, tt.accept); got != tt.want {
			t.Errorf("Match(%q, %q) = %q, want %q", tt.cookie, tt.accept, got, tt.want)
		}
	}
}

func TestT(t *testing.T) {
	if got := T("ko", "nav.home"); got == "nav.home" || got == T("en", "nav.home") {
		t.Errorf("Korean nav.home = %q", got)
	}
	if got := T("xx", "nav.home"); got != T("en", "nav.home") {
		t.Errorf("unknown language does not fall back to English: %q", got)
	}
}
