package outage

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"userhub/models"
)

func TestOneLinePerOutage(t *testing.T) {
	var log bytes.Buffer
	w := New("database", slog.New(slog.NewTextHandler(&log, nil)))
	down := fmt.Errorf("%w: connection refused", models.ErrUnavailable)
	for _, err := range []error{nil, down, down, down, models.ErrNotFound, nil, down, errors.New("a bug")} {
		w.Observe(err)
	}
	out := log.String()
	if n := strings.Count(out, "stopped answering"); n != 2 {
		t.Errorf("%d outage lines for two outages:\n%s", n, out)
	}
	if n := strings.Count(out, "msg=\"database answers again\""); n != 2 {
		t.Errorf("%d recovery lines for two recoveries:\n%s", n, out)
	}
	if !strings.Contains(out, "level=WARN") || strings.Contains(out, "level=ERROR") || !strings.Contains(out, "connection refused") {
		t.Errorf("log:\n%s", out)
	}
	if w.Down() {
		t.Error("down after a call that answered")
	}
}
