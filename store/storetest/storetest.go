// Package storetest gives tests a real, migrated store on both databases:
// a fresh SQLite file, and a fresh database on a throwaway PostgreSQL server
// that the test binary starts on first use and removes when it ends.
//
// A package whose tests use PostgreSQL calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { storetest.Main(m) }
//
// and then runs each store test on both databases with Each:
//
//	storetest.Each(t, func(t *testing.T, s *store.Store) { ... })
package storetest

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/digestbot/digestbot/store"
)

// Each runs fn as two subtests, "sqlite" and "postgres", each on a fresh
// migrated store that is closed when the subtest ends. The postgres subtest
// is skipped, saying why, when no PostgreSQL binaries are installed.
func Each(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	t.Run(store.SQLite, func(t *testing.T) { fn(t, OpenSQLite(t)) })
	t.Run(store.Postgres, func(t *testing.T) { fn(t, OpenPostgres(t)) })
}

// Logger is the logger the stores of this package log to. It discards: a
// River client of a test may still log after its test has ended, when
// writing to the test's log would panic.
func Logger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// SQLitePath returns the path of a new, empty SQLite database file in the
// test's temporary directory (created by store.Open).
func SQLitePath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "digestbot.db")
}

// OpenSQLite returns a store on a fresh migrated SQLite file, closed when
// the test ends.
func OpenSQLite(t testing.TB) *store.Store {
	t.Helper()
	return open(t, store.SQLite, SQLitePath(t), true)
}

// OpenPostgres returns a store on a fresh migrated PostgreSQL database,
// closed (and the database dropped) when the test ends. It skips the test
// when no PostgreSQL binaries are installed.
func OpenPostgres(t testing.TB) *store.Store {
	t.Helper()
	return open(t, store.Postgres, server.database(t, true), false)
}

// PostgresDSN returns the DSN of a fresh, empty (not migrated) PostgreSQL
// database, dropped when the test ends: for tests that configure the whole
// program, or test migrations. It skips the test when no PostgreSQL
// binaries are installed.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	return server.database(t, false)
}

func open(t testing.TB, driver, dsn string, migrate bool) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, driver, dsn, Logger())
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("storetest: %v", err)
		}
	})
	if migrate {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("storetest: %v", err)
		}
	}
	return s
}
