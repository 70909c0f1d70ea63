package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// event is one line of `go test -json` (test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// run is what the events said.
type run struct {
	outcome map[string]string // test name -> "pass", "fail" or "skip"
	why     map[string]string // a skipped test's last line of output: its skip message
}

// readEvents reads test2json events from r and writes what a person wants
// to see to w: each package's result line, and the whole output of a test
// that failed (or of a package that failed outside its tests).
func readEvents(r io.Reader, w io.Writer) *run {
	res := &run{outcome: map[string]string{}, why: map[string]string{}}
	output := map[string][]string{} // package + test -> its output lines, until it ends
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Fprintln(w, sc.Text()) // not an event: build errors and the like
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			if e.Test == "" {
				// Package-level lines: "ok", "FAIL", "?", and what a
				// package prints outside its tests.
				if !strings.HasPrefix(e.Output, "=== ") && !strings.HasPrefix(e.Output, "PASS") && e.Output != "FAIL\n" {
					fmt.Fprint(w, e.Output)
				}
				continue
			}
			output[key] = append(output[key], e.Output)
		case "pass", "fail", "skip":
			if e.Test == "" {
				continue
			}
			res.outcome[e.Test] = e.Action
			if e.Action == "skip" {
				res.why[e.Test] = skipMessage(output[key])
			}
			if e.Action == "fail" {
				for _, line := range output[key] {
					if !strings.HasPrefix(line, "=== ") {
						fmt.Fprint(w, line)
					}
				}
			}
			delete(output, key)
		}
	}
	return res
}

// skipMessage is the message a test skipped with: the last line it
// logged, without the file:line prefix.
func skipMessage(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "--- SKIP") || strings.HasPrefix(line, "=== ") {
			continue
		}
		if _, msg, ok := strings.Cut(line, ": "); ok && strings.Contains(line[:strings.Index(line, ": ")], ".go:") {
			return msg
		}
		return line
	}
	return "no reason given"
}

// summary writes, for each optional suite, whether it ran, and reports
// whether all of them did.
func (res *run) summary(w io.Writer, suites []suite) (complete bool) {
	fmt.Fprintln(w, "\noptional suites:")
	complete = true
	for _, s := range suites {
		switch res.outcome[s.test] {
		case "pass":
			fmt.Fprintf(w, "  ran      %-38s (%s)\n", s.test, s.needs)
		case "fail":
			fmt.Fprintf(w, "  FAILED   %-38s (%s)\n", s.test, s.needs)
		case "skip":
			fmt.Fprintf(w, "  SKIPPED  %-38s %s\n", s.test, res.why[s.test])
			complete = false
		default:
			fmt.Fprintf(w, "  MISSING  %-38s (not run: a -run filter, or the test was renamed)\n", s.test)
			complete = false
		}
	}
	return complete
}
