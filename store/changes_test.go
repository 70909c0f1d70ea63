package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"userhub/cachedstore"
	"userhub/models"
	"userhub/store"
)

// TestChangesReachOtherInstances: two instances on one PostgreSQL
// database, each with its read cache and its ChangeSignal. Every kind of
// change made on one (and one made on the database without any cache, as
// another program would) is announced to the other, whose cache then
// answers the new data; after the listening connection is cut, the signal
// listens again and changes still arrive. The lag is logged, not
// asserted: the test asserts that the notification arrived.
func TestChangesReachOtherInstances(t *testing.T) {
	opt := store.PostgresTestOptions(t)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	instance := func() (*store.Store, *store.ChangeSignal, *cachedstore.Store) {
		s := open(t, opt)
		signal, err := s.ListenForChanges(log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(signal.Close)
		return s, signal, cachedstore.New(s, signal)
	}
	dbA, _, a := instance()
	_, signalB, b := instance()
	waitFor(t, "B listening", signalB.Listening)

	kim, err := a.CreateUser(ctx, models.NewUser{Name: "kim", Role: models.RoleAdmin, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	lee, err := a.CreateUser(ctx, models.NewUser{Name: "lee", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	// seen waits until B's signal moves on after change, then checks what
	// B's cache answers.
	var slowest time.Duration
	seen := func(what string, change func() error, check func() bool) {
		t.Helper()
		waitFor(t, "B listening", signalB.Listening)
		check() // B reads, and caches, the data as it was
		before := signalB.Generation()
		began := time.Now()
		if err := change(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		waitFor(t, what+": the notification on B", func() bool { return signalB.Generation() != before })
		slowest = max(slowest, time.Since(began))
		if !check() {
			t.Errorf("%s: B's cache answers the old data after the notification", what)
		}
	}
	name, admin, yes := "park", models.RoleAdmin, true
	seen("a rename", func() error { _, err := a.UpdateUser(ctx, lee.ID, models.UserChange{Name: &name}); return err },
		func() bool { u, _ := b.User(ctx, lee.ID); return u.Name == "park" })
	seen("a role change", func() error { _, err := a.UpdateUser(ctx, lee.ID, models.UserChange{Role: &admin}); return err },
		func() bool { u, _ := b.User(ctx, lee.ID); return u.Role == models.RoleAdmin })
	seen("a suspension", func() error { _, err := a.UpdateUser(ctx, lee.ID, models.UserChange{Suspended: &yes}); return err },
		func() bool { u, _ := b.User(ctx, lee.ID); return u.Suspended })
	seen("sessions ended", func() error { _, err := a.EndSessions(ctx, kim.ID); return err },
		func() bool { u, _ := b.User(ctx, kim.ID); return u.SessionVersion == kim.SessionVersion+1 })
	seen("a logout", func() error { _, err := a.RevokeSession(ctx, "sid-1", time.Now().Add(time.Hour)); return err },
		func() bool { revoked, _ := b.SessionRevoked(ctx, "sid-1"); return revoked })
	seen("a write by another program", func() error {
		other := "jung"
		_, err := dbA.UpdateUser(ctx, lee.ID, models.UserChange{Name: &other}) // no cache, no local signal
		return err
	}, func() bool { u, _ := b.User(ctx, lee.ID); return u.Name == "jung" })
	seen("a deletion", func() error { return a.DeleteUser(ctx, lee.ID, nil) },
		func() bool { _, err := b.User(ctx, lee.ID); return err == models.ErrNotFound })
	t.Logf("the slowest change reached the other instance in %v", slowest.Round(time.Microsecond))

	// Cut B's listening connection: it listens again, and changes arrive.
	admin2, err := sql.Open("pgx", opt.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer admin2.Close()
	var cut int
	if err := admin2.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE query = 'LISTEN userhub_changes' AND pid <> pg_backend_pid()`).Scan(&cut); err != nil || cut == 0 {
		t.Fatalf("cut the listening connections: %d, %v", cut, err)
	}
	other := "choi"
	seen("a rename after the listener was cut", func() error { _, err := a.UpdateUser(ctx, kim.ID, models.UserChange{Name: &other}); return err },
		func() bool { u, _ := b.User(ctx, kim.ID); return u.Name == "choi" })
	waitFor(t, "B listening again", signalB.Listening)
	again := "cha"
	seen("a rename once listening again", func() error { _, err := a.UpdateUser(ctx, kim.ID, models.UserChange{Name: &again}); return err },
		func() bool { u, _ := b.User(ctx, kim.ID); return u.Name == "cha" })
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
	}
}

// TestSharedSecret: instances sharing a PostgreSQL database that start at
// once agree on one secret, the first stored; it stays.
func TestSharedSecret(t *testing.T) {
	opt := store.PostgresTestOptions(t)
	ctx := context.Background()
	var stores []*store.Store
	for range 4 {
		stores = append(stores, open(t, opt))
	}
	got := make([][]byte, len(stores))
	errs := make([]error, len(stores))
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() { got[i], errs[i] = s.SharedSecret(ctx, "session", []byte{byte(i + 1), 2, 3}) })
	}
	wg.Wait()
	for i := range stores {
		if errs[i] != nil || !bytes.Equal(got[i], got[0]) || len(got[i]) != 3 {
			t.Fatalf("instance %d: %x, %v; instance 0: %x", i, got[i], errs[i], got[0])
		}
	}
	if again, err := stores[0].SharedSecret(ctx, "session", []byte("another")); err != nil || !bytes.Equal(again, got[0]) {
		t.Errorf("asked again: %x, %v; want %x", again, err, got[0])
	}
}
