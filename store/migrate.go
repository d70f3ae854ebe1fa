package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river/rivermigrate"
)

// migrationsFS holds our numbered migrations, one directory per driver:
// migrations/<driver>/NNNN_name.sql. A migration, once released, is never
// edited: changes go in a new file.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationsFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func (s *Store) migrations() ([]migration, error) {
	dir := path.Join("migrations", s.d.name)
	entries, err := fs.ReadDir(migrationsFS, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("bad migration file name %q (want NNNN_name.sql)", e.Name())
		}
		b, err := fs.ReadFile(migrationsFS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("two migrations numbered %d", ms[i].version)
		}
	}
	return ms, nil
}

const createSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER NOT NULL PRIMARY KEY,
	name       TEXT    NOT NULL,
	applied_at TEXT    NOT NULL
)`

// Migrate brings the schema up to date: our numbered migrations first, each
// in its own transaction with its record in schema_migrations, then River's
// (rivermigrate on the same driver). Running it again is a no-op, and
// several instances may run it at once (see lockMigrations and riverUp).
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := s.migrations()
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	migrator, err := rivermigrate.New(s.river, &rivermigrate.Config{Logger: s.log})
	if err != nil {
		return fmt.Errorf("store: migrate river: %w", err)
	}
	if s.upToDate(ctx, ms, migrator) {
		return nil
	}
	unlock, err := s.d.lockMigrations(ctx, s.db)
	if err != nil {
		return fmt.Errorf("store: migrate: lock: %w", err)
	}
	defer unlock()
	if err := s.applyMigrations(ctx, ms); err != nil {
		return err
	}
	if err := s.riverUp(ctx, migrator); err != nil {
		return fmt.Errorf("store: migrate river: %w", err)
	}
	return nil
}

// riverUp applies River's migrations. River's migrator reads the applied
// versions, then applies each missing one in its own transaction with its
// record. On SQLite, two processes migrating at once can both find a version
// missing: the second one's transaction fails ("table … already exists")
// and rolls back whole, so looking again converges. (PostgreSQL instances
// take turns on the advisory lock instead.)
func (s *Store) riverUp(ctx context.Context, migrator *rivermigrate.Migrator[*sql.Tx]) error {
	const attempts = 5
	for attempt := 1; ; attempt++ {
		res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
		if err == nil {
			for _, v := range res.Versions {
				s.log.InfoContext(ctx, "store: river migration applied", slog.String("driver", s.d.name), slog.Int("version", v.Version))
			}
			return nil
		}
		if s.d.name != SQLite || attempt == attempts {
			return err
		}
		s.log.DebugContext(ctx, "store: river migration collided, looking again", slog.Int("attempt", attempt), slog.Any("error", err))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
		}
	}
}

// upToDate reports whether every migration, ours and River's, is recorded
// as applied: two reads, where applying looks at each migration in turn in
// a transaction of its own and River looks at its tables' columns (on
// PostgreSQL 40 ms of every command's start). On any error it says no, and
// Migrate takes the long way, which also makes the tables.
func (s *Store) upToDate(ctx context.Context, ms []migration, migrator *rivermigrate.Migrator[*sql.Tx]) bool {
	versions := func(query string) map[int]bool {
		vs, err := queryAll(ctx, s.db, func(r interface{ Scan(...any) error }) (int, error) {
			var v int
			err := r.Scan(&v)
			return v, err
		}, query)
		if err != nil {
			return nil
		}
		have := make(map[int]bool, len(vs))
		for _, v := range vs {
			have[v] = true
		}
		return have
	}
	ours := versions(`SELECT version FROM schema_migrations`)
	for _, m := range ms {
		if !ours[m.version] {
			return false
		}
	}
	theirs := versions(`SELECT version FROM river_migration WHERE line = 'main'`)
	for _, v := range migrator.AllVersions() {
		if !theirs[v.Version] {
			return false
		}
	}
	return true
}

// applyMigrations runs each migration that schema_migrations does not list,
// each in its own transaction with its record: both databases have
// transactional DDL, so a failed migration leaves nothing behind, and on
// SQLite the transaction holds the write lock from its start, so two
// instances cannot both find a migration missing.
func (s *Store) applyMigrations(ctx context.Context, ms []migration) error {
	if _, err := s.db.ExecContext(ctx, createSchemaMigrations); err != nil {
		return fmt.Errorf("store: migrate: create schema_migrations: %w", err)
	}
	for _, m := range ms {
		applied := false
		err := s.InTx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, s.now().UTC().Format(sqliteTimeLayout)); err != nil {
				return err
			}
			applied = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("store: migrate %s: %w", m.name, err)
		}
		if applied {
			s.log.InfoContext(ctx, "store: migration applied", slog.String("driver", s.d.name), slog.String("migration", m.name))
		}
	}
	return nil
}
