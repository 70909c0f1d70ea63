package handlers_test

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestIdempotentCreates: the same Idempotency-Key with the same create
// makes one user and replays the first answer; with another body it is
// 422; while the first runs, 409; keys are per principal and per route.
func TestIdempotentCreates(t *testing.T) {
	a := newApp(t)
	users("kim")(t, a)
	kim := a.login(t, "kim")
	create := func(path, key, body string) *httptest.ResponseRecorder {
		t.Helper()
		req := jsonReq("POST", path, body, kim)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		return a.do(req)
	}
	first := create("/api/v1/users", "6f1c2a9e-create-park", `{"name":"park"}`)
	if first.Code != http.StatusCreated || first.Header().Get("Idempotent-Replayed") != "" {
		t.Fatalf("the first create: %d %s", first.Code, first.Body)
	}
	again := create("/api/v1/users", "6f1c2a9e-create-park", `{"name":"park"}`)
	if again.Code != http.StatusCreated || again.Body.String() != first.Body.String() || again.Header().Get("ETag") != first.Header().Get("ETag") ||
		again.Header().Get("Location") != first.Header().Get("Location") || again.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("the retry: %d %s (Location %q, replayed %q); want the first answer again",
			again.Code, again.Body, again.Header().Get("Location"), again.Header().Get("Idempotent-Replayed"))
	}
	if n := strings.Count(a.do(get("/api/v1/users", kim)).Body.String(), `"name":"park"`); n != 1 {
		t.Fatalf("%d users named park after a create and its retry", n)
	}
	for _, tt := range []struct {
		what, path, key, body string
		status                int
		code                  string
	}{
		{"the key with another body", "/api/v1/users", "6f1c2a9e-create-park", `{"name":"choi"}`, 422, "idempotency_key_reused"},
		{"the key on another route", "/user", "6f1c2a9e-create-park", `{"name":"park"}`, 422, "idempotency_key_reused"},
		{"another key, same body: a second create", "/api/v1/users", "another-key", `{"name":"park"}`, 409, "name_taken"},
		{"a key with a space", "/api/v1/users", "bad key", `{"name":"lee"}`, 400, "invalid_idempotency_key"},
		{"the seed's create takes keys too", "/user", "seed-key-1", `{"name":"lee"}`, 201, ""},
	} {
		rec := create(tt.path, tt.key, tt.body)
		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.code) {
			t.Errorf("%s: %d %s, want %d %s", tt.what, rec.Code, rec.Body, tt.status, tt.code)
		}
	}
	// A refused first answer is replayed too (it was an answer).
	if rec := create("/api/v1/users", "another-key", `{"name":"park"}`); rec.Code != 409 || rec.Header().Get("Idempotent-Replayed") != "true" ||
		rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("the retry of a refused create: %d %q %q", rec.Code, rec.Header().Get("Idempotent-Replayed"), rec.Header().Get("Content-Type"))
	}
	// While the first request with a key runs, a retry is 409.
	body := `{"name":"jung"}`
	sum := sha256.Sum256([]byte("POST /api/v1/users\n" + body))
	if _, claimed, err := a.db.ClaimIdempotencyKey(context.Background(), "u:1", "running", sum[:], 24*time.Hour, time.Hour); err != nil || !claimed {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	if rec := create("/api/v1/users", "running", body); rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "idempotency_key_in_use") {
		t.Errorf("a retry while the first runs: %d %s, want 409 idempotency_key_in_use", rec.Code, rec.Body)
	}
}
