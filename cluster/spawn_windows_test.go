package cluster

import (
	"context"
	"errors"
	"testing"
)

// On Windows the master refuses at once, with the error that says what to
// do, rather than starting nothing and waiting.
func TestClusterModeRefusedOnWindows(t *testing.T) {
	if err := Available(); !errors.Is(err, errUnavailable) {
		t.Fatalf("Available() = %v, want %v", err, errUnavailable)
	}
	if err := testMaster(1).Run(context.Background(), nil, nil); !errors.Is(err, errUnavailable) {
		t.Fatalf("Run() = %v, want %v", err, errUnavailable)
	}
}
