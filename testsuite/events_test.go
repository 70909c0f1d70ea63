package main

import (
	"bytes"
	"strings"
	"testing"
)

// A canned `go test -json` stream: one package passes with a skipped
// suite, another fails in a subtest.
const stream = `{"Action":"run","Package":"userhub/store","Test":"TestContract"}
{"Action":"run","Package":"userhub/store","Test":"TestContract/PostgreSQL"}
{"Action":"output","Package":"userhub/store","Test":"TestContract/PostgreSQL","Output":"=== RUN   TestContract/PostgreSQL\n"}
{"Action":"output","Package":"userhub/store","Test":"TestContract/PostgreSQL","Output":"    internal_test.go:51: PostgreSQL suite skipped: set USERHUB_TEST_POSTGRES_DSN\n"}
{"Action":"output","Package":"userhub/store","Test":"TestContract/PostgreSQL","Output":"--- SKIP: TestContract/PostgreSQL (0.00s)\n"}
{"Action":"skip","Package":"userhub/store","Test":"TestContract/PostgreSQL"}
{"Action":"pass","Package":"userhub/store","Test":"TestContract/SQLite"}
{"Action":"pass","Package":"userhub/store","Test":"TestContract"}
{"Action":"output","Package":"userhub/store","Output":"ok  \tuserhub/store\t1.2s\n"}
{"Action":"pass","Package":"userhub/store"}
{"Action":"output","Package":"userhub/handlers","Test":"TestSeedRoutes/create","Output":"=== RUN   TestSeedRoutes/create\n"}
{"Action":"output","Package":"userhub/handlers","Test":"TestSeedRoutes/create","Output":"    users_test.go:40: status 500, want 201\n"}
{"Action":"fail","Package":"userhub/handlers","Test":"TestSeedRoutes/create"}
{"Action":"output","Package":"userhub/handlers","Test":"TestSeedRoutes","Output":"--- FAIL: TestSeedRoutes (0.01s)\n"}
{"Action":"fail","Package":"userhub/handlers","Test":"TestSeedRoutes"}
{"Action":"output","Package":"userhub/handlers","Output":"FAIL\n"}
{"Action":"output","Package":"userhub/handlers","Output":"FAIL\tuserhub/handlers\t0.3s\n"}
{"Action":"fail","Package":"userhub/handlers"}
`

func TestReadEventsAndSummary(t *testing.T) {
	var out bytes.Buffer
	res := readEvents(strings.NewReader(stream), &out)
	complete := res.summary(&out, []suite{
		{"TestContract/SQLite", "nothing: always runs"},
		{"TestContract/PostgreSQL", "PostgreSQL"},
		{"TestSeedRoutes", "nothing"},
		{"TestRenamed", "Chromium"},
	})
	got := out.String()
	for _, want := range []string{
		"ok  \tuserhub/store\t1.2s\n",
		"users_test.go:40: status 500, want 201", // a failing subtest's output is shown
		"FAIL\tuserhub/handlers\t0.3s\n",
		"ran      TestContract/SQLite",
		"SKIPPED  TestContract/PostgreSQL                PostgreSQL suite skipped: set USERHUB_TEST_POSTGRES_DSN",
		"FAILED   TestSeedRoutes",
		"MISSING  TestRenamed",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"=== RUN", "--- SKIP"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("output has %q:\n%s", unwanted, got)
		}
	}
	if complete {
		t.Error("a skipped and a missing suite, and the run is said complete")
	}
}
