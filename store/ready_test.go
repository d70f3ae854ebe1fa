package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
)

func TestCheckMigrations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if err := s.CheckMigrations(ctx); err != nil {
			t.Fatalf("migrated store: %v", err)
		}
		// A newer binary's migration recorded: this binary must say so.
		if _, err := s.DB().ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', 'now')`); err != nil {
			t.Fatal(err)
		}
		if err := s.CheckMigrations(ctx); err == nil || !strings.Contains(err.Error(), "newer than this binary") {
			t.Fatalf("future schema: %v", err)
		}
		if _, err := s.DB().ExecContext(ctx, `DELETE FROM schema_migrations`); err != nil {
			t.Fatal(err)
		}
		if err := s.CheckMigrations(ctx); err == nil || !strings.Contains(err.Error(), "digestbot migrate") {
			t.Fatalf("unmigrated schema: %v", err)
		}
	})
}
