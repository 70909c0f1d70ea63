package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"userhub/models"
)

// BenchmarkMillionUsers: over 1,000,000 users, the first page, a page
// 900,000 users deep (by cursor) and a prefix search, on each database,
// straight on the store (the read cache would answer from memory). It
// reports the p50 and p99 of each, in microseconds:
//
//	go test -run '^$' -bench MillionUsers -benchtime 2000x ./store/
//
// Seeding a million users takes the database itself (a generated series),
// not a million requests.
func BenchmarkMillionUsers(b *testing.B) {
	const users = 1_000_000
	backends := []struct {
		name string
		opt  func(tb testing.TB) Options
	}{
		{"SQLite", func(tb testing.TB) Options {
			return Options{Driver: "sqlite", DSN: filepath.Join(tb.TempDir(), "million.db")}
		}},
		{"PostgreSQL", PostgresTestOptions},
	}
	for _, backend := range backends {
		b.Run(backend.name, func(b *testing.B) {
			s := openWith(b, backend.opt(b))
			ctx := context.Background()
			start := time.Now()
			if err := seedUsers(ctx, s, users); err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: %d users seeded in %v", backend.name, users, time.Since(start).Round(time.Millisecond))
			// The counts' triggers saw the rows inserted in one statement.
			all, errAll := s.CountUsers(ctx, models.Filter{})
			admins, errAdmins := s.CountUsers(ctx, models.Filter{Role: models.RoleAdmin})
			if all != users || admins != users/1000 || errAll != nil || errAdmins != nil {
				b.Fatalf("after seeding: %d users (%v), %d admins (%v); want %d and %d", all, errAll, admins, errAdmins, users, users/1000)
			}
			for _, op := range []struct {
				name string
				q    models.ListQuery
			}{
				{"first page, newest", models.ListQuery{Order: models.OrderNewest, Limit: 50}},
				{"page 900000 deep", models.ListQuery{After: 900_000, Limit: 50}},
				{"page 900000 deep, backward", models.ListQuery{After: 900_000, Backward: true, Limit: 50}},
				{"prefix search", models.ListQuery{Filter: models.Filter{Prefix: "USER0123"}, Limit: 50}},
				{"by name, 900000 deep", models.ListQuery{Order: models.OrderName, AfterName: "user0900000", Limit: 50}},
				{"admins only, deep", models.ListQuery{Filter: models.Filter{Role: models.RoleAdmin}, After: 900_000, Limit: 50}},
				{"count all", models.ListQuery{}},
				{"count a prefix", models.ListQuery{Filter: models.Filter{Prefix: "user01"}}},
			} {
				b.Run(op.name, func(b *testing.B) {
					times := make([]time.Duration, 0, b.N)
					for b.Loop() {
						began := time.Now()
						var n int
						var err error
						if op.q.Limit == 0 {
							n, err = s.CountUsers(ctx, op.q.Filter)
						} else {
							var p models.Page
							p, err = s.ListUsers(ctx, op.q)
							n = p.Len()
						}
						times = append(times, time.Since(began))
						if err != nil || n == 0 {
							b.Fatalf("%+v: %d users, %v", op.q, n, err)
						}
					}
					slices.Sort(times)
					b.ReportMetric(float64(times[len(times)/2].Microseconds()), "p50-µs")
					b.ReportMetric(float64(times[len(times)*99/100].Microseconds()), "p99-µs")
				})
			}
		})
	}
}

// seedUsers inserts n users named user0000001 and on, every thousandth an
// admin, in one statement that the database generates the rows of.
func seedUsers(ctx context.Context, s *Store, n int) error {
	query := `WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < $1)
		INSERT INTO users (name, name_key, role, password_hash, created_at, updated_at)
		SELECT printf('user%07d', x), printf('user%07d', x), CASE WHEN x % 1000 = 0 THEN 'admin' ELSE 'member' END, '', 0, 0 FROM seq`
	if s.dialect.name == "postgres" {
		query = `INSERT INTO users (name, name_key, role, password_hash, created_at, updated_at)
		SELECT 'user' || lpad(x::text, 7, '0'), 'user' || lpad(x::text, 7, '0'), CASE WHEN x % 1000 = 0 THEN 'admin' ELSE 'member' END, '', 0, 0 FROM generate_series(1, $1) x`
	}
	if _, err := s.write.ExecContext(ctx, query, n); err != nil {
		return fmt.Errorf("seed %d users: %w", n, err)
	}
	if s.dialect.name == "postgres" {
		_, err := s.write.ExecContext(ctx, "ANALYZE users")
		return err
	}
	return nil
}
