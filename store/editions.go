package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/digestbot/digestbot/digest"
)

const editionColumns = `id, newsletter, date, title, cutoff_from, cutoff_to, status, items, created_at, sent_at`

func scanEdition(row interface{ Scan(...any) error }) (digest.Edition, error) {
	var e digest.Edition
	var items []byte
	if err := row.Scan(&e.ID, &e.Newsletter, &e.Date, &e.Title, timeCol{&e.CutoffFrom}, timeCol{&e.CutoffTo},
		&e.Status, &items, timeCol{&e.CreatedAt}, timeCol{&e.SentAt}); err != nil {
		return digest.Edition{}, err
	}
	if err := json.Unmarshal(items, &e.Items); err != nil {
		return digest.Edition{}, fmt.Errorf("edition %d items: %w", e.ID, err)
	}
	return e, nil
}

// CreateEdition stores e unless its newsletter already has an edition for
// e.Date: then that one is returned, with created=false. The unique key
// (newsletter, date) decides, so this holds across a DST double run, a
// restart, and several instances racing. Empty Newsletter and Status mean
// digest.DefaultNewsletter and digest.StatusBuilt; a zero CreatedAt is now.
func (s *Store) CreateEdition(ctx context.Context, e digest.Edition) (digest.Edition, bool, error) {
	if e.Newsletter == "" {
		e.Newsletter = digest.DefaultNewsletter
	}
	if e.Status == "" {
		e.Status = digest.StatusBuilt
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = s.now()
	}
	items := e.Items
	if items == nil {
		items = []digest.Item{} // "[]", not "null"
	}
	b, err := json.Marshal(items)
	if err != nil {
		return digest.Edition{}, false, fmt.Errorf("store: create edition %s: items: %w", e.Date, err)
	}
	out, err := scanEdition(s.db.QueryRowContext(ctx, `INSERT INTO editions (newsletter, date, title, cutoff_from,
			cutoff_to, status, items, created_at, sent_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (newsletter, date) DO NOTHING
		RETURNING `+editionColumns,
		e.Newsletter, e.Date, e.Title, s.d.time(e.CutoffFrom), s.d.time(e.CutoffTo), e.Status, string(b),
		s.d.bound(e.CreatedAt), s.d.time(e.SentAt)))
	if err == nil {
		return out, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return digest.Edition{}, false, fmt.Errorf("store: create edition %s: %w", e.Date, err)
	}
	// DO NOTHING returned no row: the day's edition exists (PostgreSQL waits
	// for a concurrent inserter to commit before deciding, so it is visible).
	out, err = s.GetEditionByDate(ctx, e.Newsletter, e.Date)
	if err != nil {
		return digest.Edition{}, false, fmt.Errorf("store: create edition %s: %w", e.Date, err)
	}
	return out, false, nil
}

// GetEdition returns the edition id, or an error wrapping digest.ErrNotFound.
func (s *Store) GetEdition(ctx context.Context, id int64) (digest.Edition, error) {
	e, err := scanEdition(s.db.QueryRowContext(ctx, `SELECT `+editionColumns+` FROM editions WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return digest.Edition{}, fmt.Errorf("store: get edition %d: %w", id, digest.ErrNotFound)
	}
	if err != nil {
		return digest.Edition{}, fmt.Errorf("store: get edition %d: %w", id, err)
	}
	return e, nil
}

// GetEditionByDate returns the newsletter's edition of date (YYYY-MM-DD), or
// an error wrapping digest.ErrNotFound.
func (s *Store) GetEditionByDate(ctx context.Context, newsletter, date string) (digest.Edition, error) {
	e, err := scanEdition(s.db.QueryRowContext(ctx, `SELECT `+editionColumns+` FROM editions
		WHERE newsletter = $1 AND date = $2`, newsletter, date))
	if errors.Is(err, sql.ErrNoRows) {
		return digest.Edition{}, fmt.Errorf("store: get edition %s %s: %w", newsletter, date, digest.ErrNotFound)
	}
	if err != nil {
		return digest.Edition{}, fmt.Errorf("store: get edition %s %s: %w", newsletter, date, err)
	}
	return e, nil
}

// LatestEdition returns the newsletter's edition with the latest date, or an
// error wrapping digest.ErrNotFound when it has none.
func (s *Store) LatestEdition(ctx context.Context, newsletter string) (digest.Edition, error) {
	e, err := scanEdition(s.db.QueryRowContext(ctx, `SELECT `+editionColumns+` FROM editions
		WHERE newsletter = $1 ORDER BY date DESC LIMIT 1`, newsletter))
	if errors.Is(err, sql.ErrNoRows) {
		return digest.Edition{}, fmt.Errorf("store: latest edition %s: %w", newsletter, digest.ErrNotFound)
	}
	if err != nil {
		return digest.Edition{}, fmt.Errorf("store: latest edition %s: %w", newsletter, err)
	}
	return e, nil
}

// ListEditions returns up to limit (≤ 0: all) editions of the newsletter,
// latest date first.
func (s *Store) ListEditions(ctx context.Context, newsletter string, limit int) ([]digest.Edition, error) {
	out, err := queryAll(ctx, s.db, scanEdition, `SELECT `+editionColumns+` FROM editions
		WHERE newsletter = $1 ORDER BY date DESC LIMIT $2`, newsletter, noLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("store: list editions %s: %w", newsletter, err)
	}
	return out, nil
}

// TransitionEdition moves the edition to status to if its status is one of
// from (compare-and-set), and reports whether it did; moving to sent also
// sets sent_at. Empty from matches any status. An unknown id is an error
// wrapping digest.ErrNotFound.
func (s *Store) TransitionEdition(ctx context.Context, id int64, from []string, to string) (bool, error) {
	return s.transitionEdition(ctx, s.db, id, from, to)
}

// TransitionEditionTx is TransitionEdition inside tx, so that the fan-out
// jobs can be inserted in the same transaction that marks the edition as
// sending (SPEC §5).
func (s *Store) TransitionEditionTx(ctx context.Context, tx *sql.Tx, id int64, from []string, to string) (bool, error) {
	return s.transitionEdition(ctx, tx, id, from, to)
}

func (s *Store) transitionEdition(ctx context.Context, q querier, id int64, from []string, to string) (bool, error) {
	args := []any{to, id}
	query := `UPDATE editions SET status = $1`
	if to == digest.StatusSent {
		args = append(args, s.d.bound(s.now()))
		query += `, sent_at = $3`
	}
	query += ` WHERE id = $2`
	if len(from) > 0 {
		query += ` AND status IN (` + numbered(len(args)+1, len(from)) + `)`
		for _, f := range from {
			args = append(args, f)
		}
	}
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return false, fmt.Errorf("store: transition edition %d to %s: %w", id, to, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return false, fmt.Errorf("store: transition edition %d to %s: %w", id, to, err)
	}
	if n > 0 {
		return true, nil
	}
	var exists int
	err = q.QueryRowContext(ctx, `SELECT COUNT(*) FROM editions WHERE id = $1`, id).Scan(&exists)
	if err != nil {
		return false, fmt.Errorf("store: transition edition %d to %s: %w", id, to, err)
	}
	if exists == 0 {
		return false, fmt.Errorf("store: transition edition %d to %s: %w", id, to, digest.ErrNotFound)
	}
	return false, nil
}
