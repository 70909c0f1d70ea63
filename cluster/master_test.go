package cluster

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func testMaster(n int) *Master {
	return New(Spec{}, n, time.Second, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// fakeWorker is a worker record for process pid (no process is started).
func fakeWorker(m *Master, slot int, ready bool) *worker {
	proc, _ := os.FindProcess(os.Getpid())
	w := &worker{slot: slot, proc: proc, started: time.Now(), ready: make(chan struct{}), exited: make(chan struct{})}
	if ready {
		close(w.ready)
	}
	m.slots[slot] = w
	m.live[w] = struct{}{}
	return w
}

// A worker that served and then died is replaced at once; it is not a
// start-up failure.
func TestDeathAfterReadyRestartsAtOnce(t *testing.T) {
	m := testMaster(2)
	w := fakeWorker(m, 0, true)
	fakeWorker(m, 1, true)
	if err := m.exited(w); err != nil {
		t.Fatal(err)
	}
	select {
	case slot := <-m.restarts:
		if slot != 0 {
			t.Fatalf("restart of slot %d", slot)
		}
	case <-time.After(50 * time.Millisecond):
		t.Fatal("no immediate restart")
	}
	if len(m.failures) != 0 || m.slots[0] != nil || len(m.live) != 1 {
		t.Fatalf("failures %d, slot %v, live %d", len(m.failures), m.slots[0], len(m.live))
	}
}

// Workers that die before they are ready: the master gives up after
// maxStartFailures, unless another worker serves.
func TestStartFailures(t *testing.T) {
	for _, serving := range []bool{false, true} {
		m := testMaster(2)
		if serving {
			fakeWorker(m, 1, true)
		}
		var err error
		for i := range maxStartFailures {
			w := fakeWorker(m, 0, false)
			if err = m.exited(w); err != nil && i < maxStartFailures-1 {
				t.Fatalf("gave up after %d failures", i+1)
			}
		}
		if gaveUp := errors.Is(err, ErrCrashLoop); gaveUp == serving {
			t.Errorf("serving=%v: gave up=%v (%v)", serving, gaveUp, err)
		}
	}
}

func TestWorkerEnvSharesTheCPUs(t *testing.T) {
	m := testMaster(2)
	m.spec.Env = []string{"PATH=/bin"}
	env := m.workerEnv()
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "GOMAXPROCS=") }) {
		t.Fatalf("no GOMAXPROCS in %v", env)
	}
	m.spec.Env = []string{"GOMAXPROCS=7"}
	if env := m.workerEnv(); len(env) != 1 || env[0] != "GOMAXPROCS=7" {
		t.Fatalf("the operator's GOMAXPROCS was overridden: %v", env)
	}
}
