package store

import (
	"context"
	"database/sql"
	"fmt"
)

// CheckMigrations reports whether the database's schema is the one this
// binary expects: every numbered migration it embeds is recorded in
// schema_migrations and none newer is (a newer binary migrated it, and this
// one would misread it). /readyz calls it.
func (s *Store) CheckMigrations(ctx context.Context) error {
	ms, err := s.migrations()
	if err != nil {
		return fmt.Errorf("store: check migrations: %w", err)
	}
	want := ms[len(ms)-1].version
	var n int
	var got sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &got); err != nil {
		return fmt.Errorf("store: check migrations: %w", err)
	}
	switch {
	case !got.Valid:
		return fmt.Errorf("store: schema not migrated (run digestbot migrate)")
	case int(got.Int64) > want:
		return fmt.Errorf("store: schema at version %d is newer than this binary's %d", got.Int64, want)
	case int(got.Int64) < want || n < len(ms):
		return fmt.Errorf("store: schema at version %d (%d of %d migrations), this binary expects %d (run digestbot migrate)", got.Int64, n, len(ms), want)
	}
	return nil
}

// CountJobs counts the River jobs that are not finished, by kind and state
// (available, scheduled, retryable, running, pending): the delivery work
// queued for every instance.
func (s *Store) CountJobs(ctx context.Context) (map[[2]string]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT kind, state, COUNT(*) FROM river_job
		WHERE state IN ('available', 'scheduled', 'retryable', 'running', 'pending') GROUP BY kind, state`)
	if err != nil {
		return nil, fmt.Errorf("store: count jobs: %w", err)
	}
	defer rows.Close()
	out := make(map[[2]string]int64)
	for rows.Next() {
		var kind, state string
		var n int64
		if err := rows.Scan(&kind, &state, &n); err != nil {
			return nil, fmt.Errorf("store: count jobs: %w", err)
		}
		out[[2]string{kind, state}] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: count jobs: %w", err)
	}
	return out, nil
}
