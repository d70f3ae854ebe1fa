package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/riverqueue/river/rivermigrate"
)

// Migrate skips its work when upToDate says every migration, ours and
// River's, is recorded; a missing record of either sends it the long way.
// (Migrate's running again over a whole schema is TestMigrate's.)
func TestUpToDate(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, SQLite, filepath.Join(t.TempDir(), "d.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ms, err := s.migrations()
	if err != nil {
		t.Fatal(err)
	}
	migrator, err := rivermigrate.New(s.river, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.upToDate(ctx, ms, migrator) {
		t.Fatal("a new database is up to date")
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if !s.upToDate(ctx, ms, migrator) {
		t.Fatal("a migrated database is not up to date")
	}
	for _, q := range []string{
		`DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)`,
		`DELETE FROM river_migration WHERE version = (SELECT MAX(version) FROM river_migration)`,
	} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
		if s.upToDate(ctx, ms, migrator) {
			t.Errorf("up to date after %s", q)
		}
	}
}
