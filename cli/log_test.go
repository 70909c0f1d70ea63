package cli

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"userhub/config"
)

// writes records each write the log makes to the process's stderr.
type writes [][]byte

func (w *writes) Write(p []byte) (int, error) {
	*w = append(*w, bytes.Clone(p))
	return len(p), nil
}

// The master and the workers share one stderr: every write must be whole
// lines, small enough for a pipe to keep in one piece, or lines of two
// processes interleave.
func TestLogWritesAreWholeLines(t *testing.T) {
	var w writes
	out := newLogOutput(&w)
	log := newLogger(config.Log{Level: "info", Format: "text"}, out)
	for i := range 500 {
		log.Info("request", "path", strings.Repeat("x", i%300), "i", i)
	}
	log.Info("huge", "body", strings.Repeat("y", 3*logWriteMax))
	out.Close()

	lines := 0
	for _, p := range w {
		if !bytes.HasSuffix(p, []byte("\n")) {
			t.Fatalf("a write ends inside a line: ...%q", p[max(0, len(p)-40):])
		}
		if len(p) > logWriteMax && bytes.Count(p, []byte("\n")) > 1 {
			t.Fatalf("a write of %d bytes (more than %d) holds several lines", len(p), logWriteMax)
		}
		lines += bytes.Count(p, []byte("\n"))
	}
	if lines != 501 {
		t.Fatalf("%d lines written, want 501", lines)
	}
	if len(w) > 100 {
		t.Errorf("%d writes for 501 lines: not batched", len(w))
	}
}

// BenchmarkLogOutput: an access line per request, to a file, as a server
// writes them; "direct" is one write system call per line, without the
// buffer.
func BenchmarkLogOutput(b *testing.B) {
	for _, buffered := range []bool{true, false} {
		name := "buffered"
		if !buffered {
			name = "direct"
		}
		b.Run(name, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "log"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			out := newLogOutput(f)
			defer out.Close()
			var w io.Writer = out
			if !buffered {
				w = f
			}
			log := slog.New(slog.NewTextHandler(w, nil))
			b.ReportAllocs()
			for b.Loop() {
				log.Info("request", "method", "GET", "path", "/users", "status", 200, "bytes", 2400, "ip", "127.0.0.1")
			}
		})
	}
}
