// Package locale holds every string the UI shows, in English and Korean, and
// picks the language for a request. Translations are data (one JSON file per
// language, looked up by key); templates and handlers hold no language-
// specific text.
package locale

import (
	"embed"
	"encoding/json"
	"fmt"
	"path"

	"golang.org/x/text/language"
)

//go:embed translations/*.json
var files embed.FS

// Languages are the supported languages; the first is the fallback.
var Languages = []string{"en", "ko"}

// catalog maps language -> key -> text.
var catalog = mustLoad()

func mustLoad() map[string]map[string]string {
	c := map[string]map[string]string{}
	for _, lang := range Languages {
		data, err := files.ReadFile(path.Join("translations", lang+".json"))
		if err != nil {
			panic(err) // embedded at build time: cannot happen in a built binary
		}
		var m map[string]string
		if err := json.Unmarshal(data, &m); err != nil {
			panic(fmt.Sprintf("translations/%s.json: %v", lang, err))
		}
		c[lang] = m
	}
	return c
}

// Supported reports whether lang is one of Languages.
func Supported(lang string) bool {
	for _, l := range Languages {
		if l == lang {
			return true
		}
	}
	return false
}

// Has reports whether key is in the English table.
func Has(key string) bool {
	_, ok := catalog["en"][key]
	return ok
}

// T returns the text for key in lang, formatted with args when given. A key
// missing from lang falls back to English, and a key missing from English
// shows itself (tests make sure neither happens).
func T(lang, key string, args ...any) string {
	s, ok := catalog[lang][key]
	if !ok {
		if s, ok = catalog["en"][key]; !ok {
			s = key
		}
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

var matcher = language.NewMatcher([]language.Tag{language.English, language.Korean})

// Match picks the language for a request: a supported language named in the
// cookie wins, then the Accept-Language header, then English.
func Match(cookie, acceptLanguage string) string {
	if Supported(cookie) {
		return cookie
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return Languages[0]
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return Languages[0]
	}
	return Languages[i]
}
