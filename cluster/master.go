// Package cluster is userhub's cluster mode: a master process that owns the
// listening sockets and supervises worker processes serving on them.
//
// A Go process already uses every core, so workers are about isolation and
// uptime, not speed: a worker that crashes takes only its own requests with
// it and is replaced, and SIGHUP replaces the workers one by one with the
// binary and configuration now on disk, without a refused or failed request
// (the listening sockets stay open in the master throughout).
//
// The master serves nothing. It hands each worker the sockets (inherited
// file descriptors), a pipe on which the worker says it is ready, and a
// pipe the master holds open for the worker's life: closing it asks the
// worker to finish its requests and exit, and when the master dies the
// kernel closes it too, so no worker outlives its master.
//
// Handing sockets down as inherited descriptors is Unix-only
// (spawn_unix.go); on Windows, Available says cluster mode is unavailable.
package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"userhub/server"
)

// Spec says how to start a worker.
type Spec struct {
	// Path is the binary. It is read at every start, so a new binary put
	// at this path is what a reload runs.
	Path string
	// Args come before the worker command: the flags that name the config.
	Args []string
	Env  []string
	// Sockets are handed to every worker, in this order.
	Sockets []server.Socket
	// Secret is written to every worker on a pipe of its own, read once at
	// start: it is never on disk, in a worker's arguments or in its
	// environment, and dies with the master (the TLS ticket seed).
	Secret []byte
	// WorkerSocket, if set, makes each new worker a socket of its own,
	// handed down after Sockets: how the master reaches one worker (the
	// admin listener gathers each worker's metrics over it). release is
	// called once that worker has exited.
	WorkerSocket func(slot int) (own server.Socket, release func(), err error)
	// The workers' standard files: stdin is usually /dev/null; stdout and
	// stderr are the master's, so all logs go to one place.
	Stdin, Stdout, Stderr *os.File
}

// Crash policy: a worker that dies before it said it was ready failed at
// start-up; it is restarted after a growing delay (up to maxRestartDelay).
// After maxStartFailures such deaths within failureWindow the master gives
// up, unless other workers are serving: then it keeps them, and keeps
// trying. A worker that dies after it was ready is replaced at once.
const (
	failureWindow    = time.Minute
	maxStartFailures = 5
	maxRestartDelay  = 30 * time.Second
	readyTimeout     = 30 * time.Second
)

// Master supervises the workers.
type Master struct {
	// Reloaded, if set, is told how each reload ended: done, or why it
	// stopped with the old workers serving. It must not block.
	Reloaded func(done bool, why string)

	spec            Spec
	n               int
	log             *slog.Logger
	shutdownTimeout time.Duration
	drainDelay      time.Duration // server.drain_delay, for a stop by SIGTERM

	slots      []*worker            // the serving worker of each slot, nil while it restarts
	live       map[*worker]struct{} // every running worker: serving, starting, retiring
	exits      chan *worker
	restarts   chan int
	failures   []time.Time // recent deaths at start-up
	stopping   bool
	generation int // reloads done, for the log
}

// worker is one worker process.
type worker struct {
	slot     int
	proc     *os.Process
	started  time.Time
	life     *os.File      // the master's end of the life pipe
	ready    chan struct{} // closed when the worker says it serves
	exited   chan struct{} // closed when the process has exited
	state    *os.ProcessState
	retiring bool // replaced by a reload, or stopping: its exit is expected
}

func (w *worker) pid() int { return w.proc.Pid }

// isReady reports whether the worker has said it serves.
func (w *worker) isReady() bool {
	select {
	case <-w.ready:
		return true
	default:
		return false
	}
}

// New returns a master that keeps n workers running.
func New(spec Spec, n int, shutdownTimeout, drainDelay time.Duration, log *slog.Logger) *Master {
	return &Master{
		spec: spec, n: n, log: log, shutdownTimeout: shutdownTimeout, drainDelay: drainDelay,
		slots:    make([]*worker, n),
		live:     map[*worker]struct{}{},
		exits:    make(chan *worker, 4*n+4),
		restarts: make(chan int, n),
	}
}

// ErrCrashLoop is returned when workers keep dying at start-up.
var ErrCrashLoop = errors.New("workers keep failing at start-up")

// Run starts the workers and supervises them until ctx ends (SIGTERM or
// SIGINT: the workers drain, and Run returns nil) or they keep crashing
// (ErrCrashLoop). A value on reload replaces them one by one. When ctx
// ended with server.ErrTerminated, the workers get SIGTERM too, and
// lame-duck together before they stop (server.drain_delay); hurry closing
// meanwhile ends that (the master closes their life pipes).
func (m *Master) Run(ctx context.Context, reload <-chan os.Signal, hurry <-chan struct{}) error {
	m.log.Info("cluster master starting", "workers", m.n, "binary", m.spec.Path)
	for i := range m.n {
		if err := m.startSlot(i); err != nil {
			m.stopAll()
			return err
		}
	}
	for {
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), server.ErrTerminated) {
				m.terminateAll(hurry)
			} else {
				m.stopAll()
			}
			return nil
		case w := <-m.exits:
			if err := m.exited(w); err != nil {
				m.stopAll()
				return err
			}
		case slot := <-m.restarts:
			if m.slots[slot] == nil {
				if err := m.startSlot(slot); err != nil {
					m.log.Error("worker not restarted", "slot", slot, "error", err)
					m.scheduleRestart(slot, time.Second)
				}
			}
		case <-reload:
			if err := m.rollingReload(ctx); err != nil {
				m.stopAll()
				return err
			}
		}
	}
}

// startSlot starts a worker into slot.
func (m *Master) startSlot(slot int) error {
	w, err := m.spawn(slot)
	if err != nil {
		return err
	}
	m.slots[slot] = w
	go func() {
		select {
		case <-w.ready:
			m.log.Info("worker ready", "slot", slot, "worker_pid", w.pid())
		case <-w.exited:
		}
	}()
	return nil
}

// spawn starts a worker process into slot and watches it. The worker gets
// the sockets as descriptors 3, 4, ..., then the ready pipe, the life
// pipe and the secret pipe: the order cli's worker reads them in.
func (m *Master) spawn(slot int) (*worker, error) {
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer readyW.Close()
	lifeR, lifeW, err := os.Pipe()
	if err != nil {
		readyR.Close()
		return nil, err
	}
	defer lifeR.Close()
	secretR, err := secretPipe(m.spec.Secret)
	if err != nil {
		readyR.Close()
		lifeW.Close()
		return nil, err
	}
	defer secretR.Close()
	sockets, handedDown, release, err := m.workerSockets(slot)
	if err != nil {
		readyR.Close()
		lifeW.Close()
		return nil, err
	}
	defer handedDown()
	names := make([]string, len(sockets))
	for i, s := range sockets {
		names[i] = s.Name
	}
	argv := append(append([]string{m.spec.Path}, m.spec.Args...), "worker", "-sockets", strings.Join(names, ","))
	spec := m.spec
	spec.Sockets = sockets
	proc, err := startProcess(spec, argv, m.workerEnv(), readyW, lifeR, secretR)
	if err != nil {
		readyR.Close()
		lifeW.Close()
		release()
		return nil, err
	}
	w := &worker{slot: slot, proc: proc, started: time.Now(), life: lifeW, ready: make(chan struct{}), exited: make(chan struct{})}
	m.live[w] = struct{}{}
	m.log.Info("worker started", "slot", slot, "worker_pid", w.pid())
	go func() {
		line, _ := bufio.NewReader(readyR).ReadString('\n')
		readyR.Close()
		if strings.TrimSpace(line) == "ready" {
			close(w.ready)
		}
	}()
	go func() {
		w.state, _ = proc.Wait()
		release()
		lifeW.Close()
		close(w.exited)
		m.exits <- w
	}()
	return w, nil
}

// secretPipe returns the read end of a pipe holding secret, and closed
// behind it: the worker reads it to the end. A secret is a few dozen
// bytes, far less than a pipe holds, so the write does not wait.
func secretPipe(secret []byte) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	_, err = w.Write(secret)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("the secret pipe: %w", err)
	}
	return r, nil
}

// workerEnv is the workers' environment: the master's, and, unless it sets
// GOMAXPROCS, a share of the CPUs for each worker, so that N workers do not
// run N times as many scheduler threads (and garbage collectors) as there
// are CPUs, each thinking the machine is its own.
func (m *Master) workerEnv() []string {
	for _, kv := range m.spec.Env {
		if strings.HasPrefix(kv, "GOMAXPROCS=") {
			return m.spec.Env
		}
	}
	share := max(1, (runtime.GOMAXPROCS(0)+m.n-1)/m.n) // the CPUs this process may use
	return append(slices.Clone(m.spec.Env), "GOMAXPROCS="+strconv.Itoa(share))
}

// exited handles a worker's exit: expected (stopping, replaced) or a death
// to recover from by starting a replacement.
func (m *Master) exited(w *worker) error {
	delete(m.live, w)
	w.life.Close() // nothing more to say to it (closed already unless it died)
	code, signal := exitStatus(w.state)
	uptime := time.Since(w.started).Round(time.Millisecond)
	attrs := []any{"slot", w.slot, "worker_pid", w.pid(), "code", code, "uptime", uptime}
	if signal != "" {
		attrs = append(attrs, "signal", signal) // as the seed's cluster master prints code and signal
	}
	if w.retiring || m.stopping {
		m.log.Info("worker exited", attrs...)
		return nil
	}
	m.log.Warn("worker died", attrs...)
	if m.slots[w.slot] != w {
		return nil
	}
	m.slots[w.slot] = nil
	delay := time.Duration(0)
	if !w.isReady() {
		now := time.Now()
		m.failures = append(m.failures, now)
		for len(m.failures) > 0 && now.Sub(m.failures[0]) > failureWindow {
			m.failures = m.failures[1:]
		}
		n := len(m.failures)
		if n >= maxStartFailures {
			if !m.anyServing() {
				return fmt.Errorf("%w: %d workers exited before they were ready in the last %v (the last: code %d%s); not restarting them",
					ErrCrashLoop, n, failureWindow, code, signalText(signal))
			}
			m.log.Error("workers keep failing at start-up (the binary or configuration on disk?); the others go on serving",
				"failures", n, "window", failureWindow)
		}
		delay = min(100*time.Millisecond<<min(n-1, 16), maxRestartDelay)
	}
	m.scheduleRestart(w.slot, delay)
	return nil
}

// anyServing reports whether some slot has a worker that serves.
func (m *Master) anyServing() bool {
	for _, w := range m.slots {
		if w != nil && w.isReady() {
			return true
		}
	}
	return false
}

func (m *Master) scheduleRestart(slot int, delay time.Duration) {
	time.AfterFunc(delay, func() { m.restarts <- slot })
}

// exitStatus is the exit code and the signal that ended a process.
func exitStatus(s *os.ProcessState) (code int, signal string) {
	if s == nil {
		return -1, ""
	}
	if ws, ok := s.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -1, ws.Signal().String()
	}
	return s.ExitCode(), ""
}

func signalText(signal string) string {
	if signal == "" {
		return ""
	}
	return ", signal " + signal
}

// rollingReload replaces the workers one at a time: start a new one (the
// binary and configuration now on disk), wait until it serves, then let the
// old one finish its requests and exit. If a new worker does not start,
// the reload stops there and the old workers go on serving.
func (m *Master) rollingReload(ctx context.Context) error {
	m.generation++
	m.log.Info("reload: replacing the workers one by one", "reload", m.generation)
	for slot := range m.slots {
		if ctx.Err() != nil {
			return nil // stopping: stopAll takes over
		}
		old := m.slots[slot]
		if old == nil {
			continue // restarting anyway, from the binary on disk
		}
		next, err := m.spawn(slot)
		if err != nil {
			m.log.Error("reload stopped: cannot start a new worker; the old workers keep serving", "error", err)
			m.reloaded(false, "cannot start a new worker: "+err.Error())
			return nil
		}
		if reason, err := m.awaitReady(ctx, next); reason != "" || err != nil {
			next.retiring = true
			if ctx.Err() != nil {
				next.life.Close() // it may serve already: let it finish, like the others
				return err
			}
			next.proc.Kill()
			if err != nil {
				return err
			}
			m.log.Error("reload stopped: the new worker did not start; the old workers keep serving",
				"worker_pid", next.pid(), "reason", reason)
			m.reloaded(false, "the new worker did not start: "+reason)
			return nil
		}
		m.log.Info("worker ready", "slot", slot, "worker_pid", next.pid(), "replaces", old.pid())
		m.slots[slot] = next
		if err := m.retire(ctx, old); err != nil {
			return err
		}
	}
	m.log.Info("reload done", "reload", m.generation)
	m.reloaded(true, "")
	return nil
}

func (m *Master) reloaded(done bool, why string) {
	if m.Reloaded != nil {
		m.Reloaded(done, why)
	}
}

// awaitReady waits for w to say it serves, handling other workers' exits
// meanwhile. It returns why w did not become ready ("" if it did), or an
// error from handling another exit.
func (m *Master) awaitReady(ctx context.Context, w *worker) (string, error) {
	timeout := time.NewTimer(readyTimeout)
	defer timeout.Stop()
	for {
		select {
		case <-w.ready:
			return "", nil
		case <-w.exited:
			code, signal := exitStatus(w.state)
			return fmt.Sprintf("it exited with code %d%s (its own log says why)", code, signalText(signal)), nil
		case <-timeout.C:
			return fmt.Sprintf("not ready after %v", readyTimeout), nil
		case <-ctx.Done():
			return "shutting down", nil
		case other := <-m.exits:
			if other == w {
				// w's own exit: the case above reports it.
				go func() { m.exits <- other }()
				<-w.exited
				continue
			}
			if err := m.exited(other); err != nil {
				return "", err
			}
		}
	}
}

// retire asks w to finish its requests and exit (it closes its listeners
// at once, so new connections go to the other workers), and waits for it.
func (m *Master) retire(ctx context.Context, w *worker) error {
	w.retiring = true
	w.life.Close()
	limit := time.NewTimer(m.shutdownTimeout + 5*time.Second)
	defer limit.Stop()
	for {
		select {
		case <-w.exited:
			// Its exit event is still queued; exited() logs it.
			return nil
		case <-limit.C:
			m.log.Warn("worker did not finish in time; killing it", "worker_pid", w.pid())
			w.proc.Kill()
		case other := <-m.exits:
			if err := m.exited(other); err != nil {
				return err
			}
			if other == w {
				return nil
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// stopAll asks every worker to finish its requests and exit, and waits up
// to the shutdown timeout (and a little) before killing the rest.
func (m *Master) stopAll() { m.stopWorkers(false, nil) }

// terminateAll sends every worker SIGTERM, so that they lame-duck for
// drain_delay (their /readyz answers 503 while they go on serving) before
// they stop; it waits for that too. A worker that gets SIGTERM from a
// service manager as well (the whole process group) takes it the same way.
// When hurry closes, it closes their life pipes: they stop draining.
func (m *Master) terminateAll(hurry <-chan struct{}) { m.stopWorkers(true, hurry) }

func (m *Master) stopWorkers(terminate bool, hurry <-chan struct{}) {
	m.stopping = true
	// Close the master's copies of the sockets first: when the last worker
	// closes its own, the sockets are gone, and connections that reach
	// them after that are refused rather than left waiting in a backlog
	// nobody accepts from.
	for _, s := range m.spec.Sockets {
		s.Listener.Close()
	}
	// Every running worker: serving, starting, or finishing after a reload.
	// A worker told to stop by SIGTERM keeps its life pipe open until it
	// exits: closing it would stop it without the lame-duck period.
	var live []*worker
	for w := range m.live {
		if terminate && !w.retiring {
			w.proc.Signal(syscall.SIGTERM)
		} else {
			w.life.Close()
		}
		w.retiring = true
		live = append(live, w)
	}
	limit := m.shutdownTimeout + 5*time.Second
	if terminate {
		limit += m.drainDelay
	}
	m.log.Info("stopping the workers", "workers", len(live), "timeout", m.shutdownTimeout)
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for _, w := range live {
		for waiting := true; waiting; {
			select {
			case <-w.exited:
				waiting = false
			case <-hurry:
				hurry = nil // closed: take it once
				for _, x := range live {
					x.life.Close()
				}
			case <-deadline.C: // fires once: the others are killed too
				for _, x := range live {
					select {
					case <-x.exited:
					default:
						m.log.Warn("worker did not finish in time; killing it", "worker_pid", x.pid())
						x.proc.Kill()
					}
				}
				<-w.exited
				waiting = false
			}
		}
	}
	for {
		select {
		case w := <-m.exits:
			m.exited(w)
		default:
			m.log.Info("cluster master stopped")
			return
		}
	}
}
