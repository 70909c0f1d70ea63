package store

import (
	"context"
	"errors"
	"testing"

	"userhub/models"
)

// TestNameKeysMigration: users stored under the earlier versions' name
// keys are found after the migration name_keys, by their names as typed
// and by what now counts as the same name; two users whose names now
// count as one are both still found by their exact names.
func TestNameKeysMigration(t *testing.T) {
	ctx := context.Background()
	for _, b := range []struct {
		name string
		opt  func(testing.TB) Options
	}{
		{"SQLite", func(t testing.TB) Options { return Options{Driver: "sqlite", DSN: t.TempDir() + "/u.db"} }},
		{"PostgreSQL", PostgresTestOptions},
	} {
		t.Run(b.name, func(t *testing.T) {
			opt := b.opt(t)
			s := openWith(t, opt)
			// A database as an earlier version left it: names it accepted,
			// under its keys, and the migration not yet applied.
			names := []string{"kim", "кім", "ｂｏｂ", "Straße", "Lee Min"}
			for _, name := range names {
				if _, err := s.write.ExecContext(ctx,
					"INSERT INTO users (name, name_key, role, password_hash, created_at, updated_at) VALUES ($1, $2, 'member', '', 1, 1)",
					name, models.LegacyNameKey(name)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.write.ExecContext(ctx, "DELETE FROM schema_migrations WHERE name = 'name_keys'"); err != nil {
				t.Fatal(err)
			}
			applied, err := s.Migrate(ctx)
			if err != nil || len(applied) != 1 || applied[0].Name != "name_keys" {
				t.Fatalf("migrate: %v, %v", applied, err)
			}
			for _, tt := range []struct{ lookup, want string }{
				{"kim", "kim"}, {"KIM", "kim"},
				{"кім", "кім"},                 // its new key is kim's: kept the old one, found by its exact name
				{"bob", "ｂｏｂ"}, {"ｂｏｂ", "ｂｏｂ"}, // rekeyed: now found as bob too
				{"STRASSE", "Straße"}, {"straße", "Straße"},
				{"lee min", "Lee Min"},
			} {
				u, err := s.UserByName(ctx, tt.lookup)
				if err != nil || u.Name != tt.want {
					t.Errorf("UserByName(%q) = %q, %v; want %q", tt.lookup, u.Name, err, tt.want)
				}
			}
			// New names are checked against the new keys.
			if _, err := s.CreateUser(ctx, models.NewUser{Name: "BOB"}); !errors.Is(err, models.ErrNameTaken) {
				t.Errorf("creating BOB beside ｂｏｂ: %v, want the name taken", err)
			}
		})
	}
}
