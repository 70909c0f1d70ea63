package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/acme/autocert"
)

// CertCache is autocert's cache with the lock its instances take turns
// ordering under (server.CertStore).
type CertCache interface {
	autocert.Cache
	LockOrders(ctx context.Context) (unlock func(), err error)
}

// RunCertCache is the contract of a CertCache: newCache returns two
// caches on one fresh database (two processes, say); each call, another
// database.
func RunCertCache(t *testing.T, newCache func(t *testing.T) (a, b CertCache)) {
	get := func(t *testing.T, c CertCache, key string) []byte {
		t.Helper()
		data, err := c.Get(ctx, key)
		if err != nil {
			t.Fatalf("Get(%s): %v", key, err)
		}
		return data
	}
	put := func(t *testing.T, c CertCache, key string, data []byte) {
		t.Helper()
		if err := c.Put(ctx, key, data); err != nil {
			t.Fatalf("Put(%s): %v", key, err)
		}
	}
	miss := func(t *testing.T, c CertCache, key string) {
		t.Helper()
		// autocert compares with ==: a wrapped ErrCacheMiss is an error to it.
		if data, err := c.Get(ctx, key); err != autocert.ErrCacheMiss {
			t.Fatalf("Get(%s) = %q, %v; want autocert.ErrCacheMiss itself", key, data, err)
		}
	}
	t.Run("MissIsErrCacheMiss", func(t *testing.T) {
		a, _ := newCache(t)
		miss(t, a, "app.example.test")
		miss(t, a, "acme_account+key")
	})
	t.Run("PutGetReplaceDelete", func(t *testing.T) {
		a, b := newCache(t)
		put(t, a, "app.example.test", []byte("first"))
		if got := get(t, b, "app.example.test"); string(got) != "first" {
			t.Fatalf("the other process reads %q", got)
		}
		put(t, b, "app.example.test", []byte("renewed"))
		if got := get(t, a, "app.example.test"); string(got) != "renewed" {
			t.Fatalf("after a second Put: %q", got)
		}
		if err := a.Delete(ctx, "app.example.test"); err != nil {
			t.Fatal(err)
		}
		miss(t, b, "app.example.test")
		if err := b.Delete(ctx, "app.example.test"); err != nil {
			t.Fatalf("Delete of a key not stored: %v", err)
		}
	})
	t.Run("KeysAreExact", func(t *testing.T) {
		a, _ := newCache(t)
		// Tokens are base64url: case matters. A name's RSA certificate
		// and its challenge certificate are keys of their own.
		keys := []string{"app.example.test", "app.example.test+rsa", "app.example.test+token", "aBc+http-01", "abc+http-01"}
		for _, k := range keys {
			put(t, a, k, []byte("value of "+k))
		}
		for _, k := range keys {
			if got := get(t, a, k); string(got) != "value of "+k {
				t.Errorf("Get(%s) = %q", k, got)
			}
		}
		miss(t, a, "ABC+http-01")
		miss(t, a, "app.example")
	})
	t.Run("BytesRoundTrip", func(t *testing.T) {
		a, b := newCache(t)
		// A certificate chain with its key is a few kilobytes of PEM;
		// every byte value must survive, not only text.
		data := make([]byte, 64<<10)
		for i := range data {
			data[i] = byte(i * 7)
		}
		put(t, a, "blob", data)
		if got := get(t, b, "blob"); !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes, not the %d written", len(got), len(data))
		}
	})
	t.Run("OneHolderOfTheOrderLock", func(t *testing.T) {
		a, b := newCache(t)
		unlock, err := a.LockOrders(ctx)
		if err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		if u, err := b.LockOrders(short); !errors.Is(err, context.DeadlineExceeded) {
			if u != nil {
				u()
			}
			t.Fatalf("the other process took the held lock: %v", err)
		}
		var held atomic.Bool
		got := make(chan error, 1)
		go func() {
			u, err := b.LockOrders(ctx)
			if err == nil {
				held.Store(true)
				u()
			}
			got <- err
		}()
		time.Sleep(100 * time.Millisecond) // a waiter that took it now would show
		if held.Load() {
			t.Fatal("a waiter took the lock while it was held")
		}
		unlock()
		select {
		case err := <-got:
			if err != nil {
				t.Fatalf("the waiter: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the waiter did not get the lock within 20 s of its release")
		}
		// Free again: the waiter let go.
		unlock, err = a.LockOrders(ctx)
		if err != nil {
			t.Fatal(err)
		}
		unlock()
	})
	t.Run("DatabasesHaveLocksOfTheirOwn", func(t *testing.T) {
		a, _ := newCache(t)
		other, _ := newCache(t)
		unlock, err := a.LockOrders(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer unlock()
		short, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		u, err := other.LockOrders(short)
		if err != nil {
			t.Fatalf("another database's lock: %v", err)
		}
		u()
	})
}
