package store_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
)

// TestMigrate migrates an empty database from two instances at once, then
// again: every run after the first is a no-op, and River's tables are there.
func TestMigrate(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]func(t *testing.T) string{
		store.SQLite: func(t *testing.T) string {
			// A file: URI in directories that do not exist yet.
			return "file:" + filepath.Join(dir, "a", "b", "digest.db") + "?_pragma=cache_size(-4000)"
		},
		store.Postgres: func(t *testing.T) string { return storetest.PostgresDSN(t) },
	}
	for _, driver := range []string{store.SQLite, store.Postgres} {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			dsn := cases[driver](t)
			open := func() *store.Store {
				s, err := store.Open(ctx, driver, dsn, storetest.Logger())
				check(t, err)
				t.Cleanup(func() { check(t, s.Close()) })
				return s
			}
			s1, s2 := open(), open()
			if s1.Driver() != driver {
				t.Fatalf("Driver() = %q", s1.Driver())
			}
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, s := range []*store.Store{s1, s2} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = s.Migrate(ctx)
				}()
			}
			wg.Wait()
			check(t, errs[0])
			check(t, errs[1])
			check(t, s1.Migrate(ctx))

			var n int
			check(t, s1.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n))
			files, _ := os.ReadDir(filepath.Join("migrations", driver))
			if n != len(files) || n == 0 {
				t.Fatalf("schema_migrations has %d rows, %d files", n, len(files))
			}
			for _, table := range []string{"feeds", "articles", "editions", "subscriptions", "deliveries", "state",
				"river_job", "river_leader", "river_queue"} {
				if err := s1.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
					t.Errorf("table %s: %v", table, err)
				}
			}
			check(t, s1.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM river_migration`).Scan(&n))
			if n == 0 {
				t.Error("no River migrations recorded")
			}
			if s1.RiverDriver() == nil {
				t.Fatal("no River driver")
			}
		})
	}
}

func TestOpenSQLiteSettings(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, dsn := range []string{
		filepath.Join(dir, "new", "dir", "d.db"),
		"file:" + filepath.Join(dir, "uri", "d.db") + "?_pragma=cache_size(-4000)",
		"file://" + filepath.Join(dir, "uri2", "d.db"),
	} {
		s, err := store.Open(ctx, store.SQLite, dsn, nil)
		check(t, err)
		// Every connection of the pool, not just the first, has the settings.
		var conns []*sql.Conn
		for range 3 {
			c, err := s.DB().Conn(ctx)
			check(t, err)
			conns = append(conns, c)
			var mode string
			var fk, busy, sync int
			check(t, c.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode))
			check(t, c.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk))
			check(t, c.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy))
			check(t, c.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync))
			if mode != "wal" || fk != 1 || busy < 1000 || sync != 1 {
				t.Fatalf("%s: journal_mode=%s foreign_keys=%d busy_timeout=%d synchronous=%d", dsn, mode, fk, busy, sync)
			}
		}
		for _, c := range conns {
			check(t, c.Close())
		}
		check(t, s.Close())
	}
	for _, sub := range []string{"new/dir/d.db", "uri/d.db", "uri2/d.db"} {
		if _, err := os.Stat(filepath.Join(dir, sub)); err != nil {
			t.Errorf("database file: %v", err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := store.Open(ctx, "mysql", "x", nil); err == nil {
		t.Error("unknown driver accepted")
	}
	if _, err := store.Open(ctx, store.SQLite, "", nil); err == nil {
		t.Error("empty sqlite dsn accepted")
	}
	if _, err := store.Open(ctx, store.Postgres, "postgres://nobody@127.0.0.1:1/none?connect_timeout=2", nil); err == nil {
		t.Error("unreachable postgres accepted")
	}
}
