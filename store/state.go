package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// GetState returns the value stored under key, "" when there is none.
func (s *Store) GetState(ctx context.Context, key string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM state WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: get state %q: %w", key, err)
	}
	return v, nil
}

// SetState stores value under key, replacing what was there.
func (s *Store) SetState(ctx context.Context, key, value string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO state (key, value, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		key, value, s.d.bound(s.now()))
	if err != nil {
		return fmt.Errorf("store: set state %q: %w", key, err)
	}
	return nil
}
