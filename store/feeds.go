package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/digestbot/digestbot/articles"
)

const feedColumns = `id, url, name, section, weight, etag, last_modified, last_polled_at, last_error, enabled`

func scanFeed(row interface{ Scan(...any) error }) (articles.Feed, error) {
	var f articles.Feed
	err := row.Scan(&f.ID, &f.URL, &f.Name, &f.Section, &f.Weight, &f.ETag, &f.LastModified,
		timeCol{&f.LastPolledAt}, &f.LastError, &f.Enabled)
	return f, err
}

// UpsertFeed adds the feed with f.URL, or updates its name, section and
// weight and enables it again; its poll state (ETag, Last-Modified, last
// poll and error) is kept. A zero weight is stored as 1, the neutral weight.
func (s *Store) UpsertFeed(ctx context.Context, f articles.Feed) (articles.Feed, error) {
	if f.URL == "" {
		return articles.Feed{}, errors.New("store: upsert feed: empty url")
	}
	if f.Weight == 0 {
		f.Weight = 1
	}
	row := s.db.QueryRowContext(ctx, `INSERT INTO feeds (url, name, section, weight, enabled, created_at)
		VALUES ($1, $2, $3, $4, TRUE, $5)
		ON CONFLICT (url) DO UPDATE SET name = excluded.name, section = excluded.section,
			weight = excluded.weight, enabled = TRUE
		RETURNING `+feedColumns,
		f.URL, f.Name, f.Section, f.Weight, s.d.bound(s.now()))
	out, err := scanFeed(row)
	if err != nil {
		return articles.Feed{}, fmt.Errorf("store: upsert feed: %w", err)
	}
	return out, nil
}

// ListFeeds returns every feed, enabled or not, by id.
func (s *Store) ListFeeds(ctx context.Context) ([]articles.Feed, error) {
	out, err := queryAll(ctx, s.db, scanFeed, `SELECT `+feedColumns+` FROM feeds ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: list feeds: %w", err)
	}
	return out, nil
}

// GetFeed returns the feed id, or an error wrapping articles.ErrNotFound.
func (s *Store) GetFeed(ctx context.Context, id int64) (articles.Feed, error) {
	f, err := scanFeed(s.db.QueryRowContext(ctx, `SELECT `+feedColumns+` FROM feeds WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return articles.Feed{}, fmt.Errorf("store: get feed %d: %w", id, articles.ErrNotFound)
	}
	if err != nil {
		return articles.Feed{}, fmt.Errorf("store: get feed %d: %w", id, err)
	}
	return f, nil
}

// DeleteFeed removes the feed; its articles stay, with no feed.
func (s *Store) DeleteFeed(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM feeds WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("store: delete feed %d: %w", id, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return fmt.Errorf("store: delete feed %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: delete feed %d: %w", id, articles.ErrNotFound)
	}
	return nil
}

// RecordFeedPoll stores the outcome of a poll: the validators for the next
// conditional request, when it happened, and its error ("" for success).
func (s *Store) RecordFeedPoll(ctx context.Context, id int64, etag, lastModified string, polledAt time.Time, lastErr string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE feeds SET etag = $1, last_modified = $2, last_polled_at = $3, last_error = $4
		WHERE id = $5`, etag, lastModified, s.d.time(polledAt), lastErr, id)
	if err != nil {
		return fmt.Errorf("store: record feed poll %d: %w", id, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return fmt.Errorf("store: record feed poll %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: record feed poll %d: %w", id, articles.ErrNotFound)
	}
	return nil
}

// FeedWeights returns every feed's ranking weight by feed id.
func (s *Store) FeedWeights(ctx context.Context) (map[int64]float64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, weight FROM feeds`)
	if err != nil {
		return nil, fmt.Errorf("store: feed weights: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]float64)
	for rows.Next() {
		var id int64
		var w float64
		if err := rows.Scan(&id, &w); err != nil {
			return nil, fmt.Errorf("store: feed weights: %w", err)
		}
		out[id] = w
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: feed weights: %w", err)
	}
	return out, nil
}
