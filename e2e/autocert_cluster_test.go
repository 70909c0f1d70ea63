//go:build unix

package e2e

import (
	"encoding/json"
	"sync"
	"testing"
)

// TestAutocertCluster: a cluster's workers on one SQLite file order one
// certificate between them, and both serve it.
func TestAutocertCluster(t *testing.T) {
	httpAddr, tlsAddr := freeAddr(t), freeAddr(t)
	acme := startPebble(t, port(freeAddr(t)), port(tlsAddr))
	p := startCluster(t, acme.env(httpAddr, tlsAddr, "app.example.test")...)
	roots := acme.roots(t)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\nPebble:\n%s\nuserhub:\n%s", append(args, acme.log, p.output())...)
	}
	var mu sync.Mutex
	served := map[string]bool{} // serials
	pids := map[int]bool{}
	ask := func() error {
		resp, body, err := fetchAs(tlsAddr, "app.example.test", "/healthz", roots)
		if err != nil {
			return err
		}
		var health struct{ PID int }
		json.Unmarshal(body, &health)
		mu.Lock()
		defer mu.Unlock()
		served[serial(resp)] = true
		pids[health.PID] = true
		return nil
	}
	// Asked at once, on new connections: the kernel hands them to either
	// worker.
	errs := make(chan error, 6)
	var wg sync.WaitGroup
	for range cap(errs) {
		wg.Go(func() { errs <- ask() })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			fail("asked at once: %v", err)
		}
	}
	// Then until both workers have answered (at most 200 connections).
	for i := 0; len(pids) < 2 && i < 200; i++ {
		if err := ask(); err != nil {
			fail("%v", err)
		}
	}
	if len(pids) < 2 {
		fail("every connection reached one worker: %v", pids)
	}
	issued := acme.waitIssued(t, 1)
	if len(issued) != 1 || len(served) != 1 || !served[issued[0]] {
		fail("workers %v served %v; Pebble issued %v; want one certificate, served by both", pids, served, issued)
	}
}
