package cli

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"userhub/config"
)

// logFlushInterval is how long an info line may wait in the buffer.
const logFlushInterval = 100 * time.Millisecond

// logOutput buffers log lines and writes them out every logFlushInterval,
// and at once after a warning or an error. A busy server then makes one
// write system call per batch instead of one per request: with a line per
// request, that call cost as much as the rest of serving a small page. A
// crash can lose at most the last interval's info lines; warnings and
// errors (a recovered panic among them) are out before the call returns.
//
// Every write is whole lines of at most logWriteMax bytes: in cluster mode
// the master and the workers share one stderr, and a pipe keeps writes up
// to that size in one piece, so lines of two processes never interleave.
type logOutput struct {
	mu   sync.Mutex
	w    io.Writer
	buf  []byte
	done chan struct{}
	wg   sync.WaitGroup
}

// logWriteMax is PIPE_BUF on Linux: the largest write a pipe keeps whole.
const logWriteMax = 4096

func newLogOutput(w io.Writer) *logOutput {
	o := &logOutput{w: w, buf: make([]byte, 0, logWriteMax), done: make(chan struct{})}
	o.wg.Go(func() {
		tick := time.NewTicker(logFlushInterval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				o.Flush()
			case <-o.done:
				return
			}
		}
	})
	return o
}

// Write takes one record (slog writes each in one call, newline included).
func (o *logOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.buf)+len(p) > logWriteMax {
		o.flushLocked()
	}
	if len(p) > logWriteMax { // a record too long to stay whole anyway
		return o.w.Write(p)
	}
	o.buf = append(o.buf, p...)
	return len(p), nil
}

// Flush writes out what is buffered.
func (o *logOutput) Flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.flushLocked()
}

func (o *logOutput) flushLocked() {
	if len(o.buf) > 0 {
		_, _ = o.w.Write(o.buf) // nowhere to report a failure to write the log
		o.buf = o.buf[:0]
	}
}

// Close stops the flusher and writes out the rest.
func (o *logOutput) Close() {
	close(o.done)
	o.wg.Wait()
	o.Flush()
}

// flushOnWarn writes the buffer out after every record at warn level or above.
type flushOnWarn struct {
	slog.Handler
	out *logOutput
}

func (h flushOnWarn) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		h.out.Flush()
	}
	return err
}

func (h flushOnWarn) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushOnWarn{h.Handler.WithAttrs(attrs), h.out}
}

func (h flushOnWarn) WithGroup(name string) slog.Handler {
	return flushOnWarn{h.Handler.WithGroup(name), h.out}
}

// newLogger builds the process logger over out. Every line carries the
// pid, so the lines of several processes (cluster workers) can be told
// apart.
func newLogger(c config.Log, out *logOutput) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(out, opts)
	if c.Format == "json" {
		h = slog.NewJSONHandler(out, opts)
	}
	return slog.New(flushOnWarn{h, out}).With("pid", os.Getpid())
}
