package e2e

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeExample is one command of a ```sh block in the README (or in a
// page of docs/ that goes on from it).
type readmeExample struct {
	file    string // README.md, docs/api.md
	line    int    // the line the command starts on
	command string // as written; a continued command keeps its backslash-newlines
	// expect is the trailing comment split at "; ": each part is a
	// three-digit HTTP status or text the output must contain.
	expect []string
}

// walkthrough are the files whose ```sh blocks make one walkthrough, in
// the order they run: the README's first steps, then the API reference,
// which goes on from where they end (kim logged in, with the cookie in jar).
var walkthrough = []string{"README.md", "docs/api.md"}

// TestREADMEExamples runs every ```sh block of the README and then of
// docs/api.md, in order, exactly as written, against one fresh userhub, and
// checks each answer against the comment that ends its command. The
// convention:
//
//   - Only blocks whose info string is "sh" run; examples that need
//     certificates, other ports or other processes are ```console.
//   - Each command (a line, or lines continued with a trailing backslash)
//     runs with bash in one working directory, so `jar` is a file there, and
//     must exit 0. http://127.0.0.1:8080 and http://localhost:8080 become
//     the test server's address; bin/userhub is the built binary, working
//     on the server's data directory.
//   - A trailing `# ...` comment is split at "; ". A part of three digits is
//     the HTTP status: the last status line the command printed (curl -i)
//     must show it. Any other part is text the command's output must
//     contain (http://127.0.0.1:8080 in it rewritten as above).
func TestREADMEExamples(t *testing.T) {
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the README's examples need %s: %v", tool, err)
		}
	}
	var examples []readmeExample
	for _, file := range walkthrough {
		some := readmeExamples(t, file)
		if len(some) == 0 {
			t.Fatalf("%s has no ```sh examples", file)
		}
		t.Logf("%d commands from %s", len(some), file)
		examples = append(examples, some...)
	}

	p := start(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(binary, filepath.Join(dir, "bin", "userhub")); err != nil {
		t.Fatal(err)
	}
	local := strings.NewReplacer("http://127.0.0.1:8080", p.base, "http://localhost:8080", p.base)

	for _, ex := range examples {
		stdout, stderr, err := runExample(dir, p.dataDir, local.Replace(ex.command))
		if err != nil {
			t.Errorf("%s:%d: %v\n%s\nstdout:\n%s\nstderr:\n%s", ex.file, ex.line, err, ex.command, stdout, stderr)
			continue
		}
		for _, want := range ex.expect {
			if problem := checkAnswer(stdout, local.Replace(want)); problem != "" {
				t.Errorf("%s:%d: the comment says %q, but %s\n%s\noutput:\n%s", ex.file, ex.line, want, problem, ex.command, stdout)
			}
		}
	}
}

// readmeExamples returns the commands of the ```sh blocks of file (a path
// from the repository's root), in order; blank lines and whole-line
// comments are skipped.
func readmeExamples(t *testing.T, file string) []readmeExample {
	t.Helper()
	f, err := os.Open(filepath.Join("..", filepath.FromSlash(file)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		examples        []readmeExample
		inBlock, isSh   bool
		pending         []string // the lines of a command continued with a backslash
		pendingLine, no int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		no++
		line := sc.Text()
		if fence, ok := strings.CutPrefix(strings.TrimSpace(line), "```"); ok {
			if inBlock && len(pending) > 0 {
				t.Fatalf("%s:%d: the block ends inside a continued command", file, no)
			}
			if !inBlock {
				isSh = strings.TrimSpace(fence) == "sh"
			}
			inBlock = !inBlock
			continue
		}
		if !inBlock || !isSh {
			continue
		}
		if len(pending) == 0 {
			if s := strings.TrimSpace(line); s == "" || strings.HasPrefix(s, "#") {
				continue
			}
			pendingLine = no
		}
		pending = append(pending, line)
		if strings.HasSuffix(strings.TrimRight(line, " \t"), `\`) {
			continue
		}
		ex := readmeExample{file: file, line: pendingLine, command: strings.Join(pending, "\n")}
		if _, comment := cutComment(line); comment != "" {
			for part := range strings.SplitSeq(comment, "; ") {
				if part = strings.TrimSpace(part); part != "" {
					ex.expect = append(ex.expect, part)
				}
			}
		}
		examples = append(examples, ex)
		pending = nil
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return examples
}

// cutComment splits a shell line at the `#` that starts its comment (one
// at the start of a word, outside quotes), as bash reads it.
func cutComment(line string) (code, comment string) {
	var quote byte
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return line[:i], strings.TrimSpace(line[i+1:])
		}
	}
	return line, ""
}

// runExample runs command with bash in dir, with bin/userhub's data in
// dataDir, and returns what it printed.
func runExample(dir, dataDir, command string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", "set -o pipefail\n"+command)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "USERHUB_DATA_DIR=" + dataDir}
	// A command that hangs (a server started by mistake) is killed with
	// everything it started, not only bash.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

var (
	statusWant = regexp.MustCompile(`^[1-5][0-9][0-9]$`)
	statusLine = regexp.MustCompile(`(?m)^HTTP/[0-9.]+ ([0-9]{3})`)
)

// checkAnswer says what in output contradicts want (a status or a text),
// or "" when nothing does.
func checkAnswer(output, want string) string {
	if !statusWant.MatchString(want) {
		if !strings.Contains(output, want) {
			return "the output does not contain it"
		}
		return ""
	}
	lines := statusLine.FindAllStringSubmatch(output, -1)
	if len(lines) == 0 {
		return "the output shows no status line (use curl -i)"
	}
	if got := lines[len(lines)-1][1]; got != want {
		return "the status is " + got
	}
	return ""
}
