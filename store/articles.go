package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/digestbot/digestbot/articles"
)

const articleColumns = `id, url, guid, feed_id, source, title, lead, byline, image_url, section,
	published_at, ingested_at, content_hash, pinned, hidden, priority`

func scanArticle(row interface{ Scan(...any) error }) (articles.Article, error) {
	var a articles.Article
	err := row.Scan(&a.ID, strCol{&a.URL}, strCol{&a.GUID}, int64Col{&a.FeedID}, &a.Source, &a.Title, &a.Lead,
		&a.Byline, &a.ImageURL, &a.Section, timeCol{&a.PublishedAt}, timeCol{&a.IngestedAt}, &a.ContentHash,
		&a.Pinned, &a.Hidden, &a.Priority)
	return a, err
}

// articleStmts are the statements of an upsert, prepared once per
// transaction so that a bulk import does not parse them per article. They
// read back as few columns as they can: on SQLite, setting up a result row
// costs per column, and a bulk import is mostly lookups that find nothing
// and inserts.
type articleStmts struct {
	lookup, get, insert, update *txStmt
}

func (s *Store) prepareArticleStmts(ctx context.Context, tx *sql.Tx) (*articleStmts, error) {
	var st articleStmts
	var err error
	// Both candidates at once: the row of this feed's guid, and the row of
	// this URL (the planner uses both unique indexes). $1/$2 are NULL when
	// the article has no feed or no guid, which matches nothing.
	if st.lookup, err = s.d.prepare(ctx, tx, `SELECT id, url, feed_id, guid, content_hash FROM articles
		WHERE (feed_id = $1 AND guid = $2) OR url = $3`); err != nil {
		return nil, err
	}
	if st.get, err = s.d.prepare(ctx, tx, `SELECT `+articleColumns+` FROM articles WHERE id = $1`); err != nil {
		return nil, err
	}
	// DO NOTHING without a target covers both unique keys: a concurrent
	// insert of the same article (PostgreSQL; SQLite serializes writers)
	// makes this return no row, and the caller looks again.
	if st.insert, err = s.d.prepare(ctx, tx, `INSERT INTO articles (url, guid, feed_id, source, title, lead, byline,
			image_url, section, published_at, ingested_at, content_hash, pinned, hidden, priority)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		ON CONFLICT DO NOTHING
		RETURNING id`); err != nil {
		return nil, err
	}
	// id, ingested_at, pinned, hidden, priority and source are the
	// editor's and the first ingestion's: never touched here. A NULL
	// argument keeps the stored url, feed_id, guid, section, published_at.
	if st.update, err = s.d.prepare(ctx, tx, `UPDATE articles SET title = $1, lead = $2, byline = $3, image_url = $4,
			section = COALESCE($5, section), published_at = COALESCE($6, published_at), content_hash = $7,
			url = COALESCE($8, url), feed_id = COALESCE($9, feed_id), guid = COALESCE($10, guid)
		WHERE id = $11
		RETURNING `+articleColumns); err != nil {
		return nil, err
	}
	return &st, nil
}

func (st *articleStmts) close() {
	for _, s := range []*txStmt{st.lookup, st.get, st.insert, st.update} {
		s.close()
	}
}

// articleKey is what the lookup reads of a candidate row.
type articleKey struct {
	id              int64
	url, guid, hash string
	feedID          int64
}

// upsert stores one article with the prepared statements (see UpsertArticle).
func (s *Store) upsertArticle(ctx context.Context, st *articleStmts, a articles.Article, now time.Time) (articles.Article, bool, error) {
	byGUID := a.FeedID != 0 && a.GUID != ""
	var feedArg, guidArg any
	if byGUID {
		feedArg, guidArg = a.FeedID, a.GUID
	}
	// Two rounds at most: the second only after a concurrent insert won.
	for range 2 {
		var guidRow, urlRow *articleKey
		rows, err := st.lookup.QueryContext(ctx, feedArg, guidArg, nullString(a.URL))
		if err != nil {
			return articles.Article{}, false, err
		}
		for rows.Next() {
			var k articleKey
			if err := rows.Scan(&k.id, strCol{&k.url}, int64Col{&k.feedID}, strCol{&k.guid}, &k.hash); err != nil {
				rows.Close()
				return articles.Article{}, false, err
			}
			if byGUID && k.feedID == a.FeedID && k.guid == a.GUID {
				guidRow = &k
			} else {
				urlRow = &k
			}
		}
		if err := rows.Close(); err != nil {
			return articles.Article{}, false, err
		}
		if err := rows.Err(); err != nil {
			return articles.Article{}, false, err
		}

		found := guidRow
		if found == nil {
			found = urlRow
		}
		if found == nil {
			if a.IngestedAt.IsZero() {
				a.IngestedAt = now
			}
			err := st.insert.QueryRowContext(ctx, nullString(a.URL), nullString(a.GUID),
				nullInt64(a.FeedID), a.Source, a.Title, a.Lead, a.Byline, a.ImageURL, a.Section,
				s.d.time(a.PublishedAt), s.d.bound(a.IngestedAt), a.ContentHash, a.Pinned, a.Hidden, a.Priority).Scan(&a.ID)
			if errors.Is(err, sql.ErrNoRows) {
				continue // lost a race with an insert of the same article
			}
			if err != nil {
				return articles.Article{}, false, err
			}
			// As it reads back: times in UTC to the microsecond.
			a.PublishedAt, a.IngestedAt = normTime(a.PublishedAt), normTime(a.IngestedAt)
			return a, true, nil
		}

		// Same content: nothing to write (ContentHash exists to skip these),
		// unless the article comes with a section of its own (an editor
		// posting it again into another section).
		if a.ContentHash != "" && a.ContentHash == found.hash {
			out, err := scanArticle(st.get.QueryRowContext(ctx, found.id))
			if err != nil || a.Section == "" || a.Section == out.Section {
				return out, false, err
			}
		}
		// The URL moves with the update only when no other article has it.
		var urlArg any
		if a.URL != "" && a.URL != found.url && (urlRow == nil || urlRow.id == found.id) {
			urlArg = a.URL
		}
		// An article first stored without a feed (an editor's /post) adopts
		// the feed's identity, so the next poll finds it by guid.
		var setFeed, setGUID any
		if byGUID && found.feedID == 0 && found.guid == "" {
			setFeed, setGUID = a.FeedID, a.GUID
		}
		out, err := scanArticle(st.update.QueryRowContext(ctx, a.Title, a.Lead, a.Byline, a.ImageURL,
			nullString(a.Section), s.d.time(a.PublishedAt), a.ContentHash, urlArg, setFeed, setGUID, found.id))
		if err != nil {
			return articles.Article{}, false, err
		}
		return out, false, nil
	}
	return articles.Article{}, false, errors.New("article changed concurrently; try again")
}

// UpsertArticle stores a, deduplicated by (FeedID, GUID) when both are set,
// and by canonical URL: an article found either way is updated in place
// (title, lead, byline, image, section and published time when given,
// content hash, and its URL when no other article has it), keeping its id,
// ingestion time, pinned, hidden and priority. An update whose ContentHash
// equals the stored one writes nothing. created is true on insert; a zero
// IngestedAt is now.
func (s *Store) UpsertArticle(ctx context.Context, a articles.Article) (articles.Article, bool, error) {
	var (
		out     articles.Article
		created bool
	)
	err := s.InTx(ctx, func(tx *sql.Tx) error {
		st, err := s.prepareArticleStmts(ctx, tx)
		if err != nil {
			return err
		}
		defer st.close()
		out, created, err = s.upsertArticle(ctx, st, a, s.now())
		return err
	})
	if err != nil {
		return articles.Article{}, false, fmt.Errorf("store: upsert article %q: %w", a.URL, err)
	}
	return out, created, nil
}

// UpsertArticles stores as like UpsertArticle, all in one transaction (all
// or nothing), and returns them as stored, in order, with how many were new.
// For a large import, call it with chunks of a few thousand.
func (s *Store) UpsertArticles(ctx context.Context, as []articles.Article) ([]articles.Article, int, error) {
	if len(as) == 0 {
		return nil, 0, nil
	}
	stored := make([]articles.Article, 0, len(as))
	created := 0
	now := s.now()
	err := s.InTx(ctx, func(tx *sql.Tx) error {
		st, err := s.prepareArticleStmts(ctx, tx)
		if err != nil {
			return err
		}
		defer st.close()
		for i, a := range as {
			out, c, err := s.upsertArticle(ctx, st, a, now)
			if err != nil {
				return fmt.Errorf("article %d (%q): %w", i, a.URL, err)
			}
			stored = append(stored, out)
			if c {
				created++
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: upsert articles: %w", err)
	}
	return stored, created, nil
}

// GetArticle returns the article id, or an error wrapping articles.ErrNotFound.
func (s *Store) GetArticle(ctx context.Context, id int64) (articles.Article, error) {
	a, err := scanArticle(s.db.QueryRowContext(ctx, `SELECT `+articleColumns+` FROM articles WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return articles.Article{}, fmt.Errorf("store: get article %d: %w", id, articles.ErrNotFound)
	}
	if err != nil {
		return articles.Article{}, fmt.Errorf("store: get article %d: %w", id, err)
	}
	return a, nil
}

// ListArticles returns up to limit articles, hidden ones included, newest id
// first, with ids below beforeID (0: from the newest).
func (s *Store) ListArticles(ctx context.Context, beforeID int64, limit int) ([]articles.Article, error) {
	if beforeID <= 0 {
		beforeID = 1<<63 - 1
	}
	out, err := queryAll(ctx, s.db, scanArticle, `SELECT `+articleColumns+` FROM articles WHERE id < $1 ORDER BY id DESC LIMIT $2`,
		beforeID, noLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("store: list articles: %w", err)
	}
	return out, nil
}

// UpdateArticle applies an editor's patch and returns the article as stored.
func (s *Store) UpdateArticle(ctx context.Context, id int64, p articles.Patch) (articles.Article, error) {
	var sets []string
	var args []any
	add := func(col string, v any) {
		args = append(args, v)
		sets = append(sets, fmt.Sprintf("%s = $%d", col, len(args)))
	}
	if p.Pinned != nil {
		add("pinned", *p.Pinned)
	}
	if p.Hidden != nil {
		add("hidden", *p.Hidden)
	}
	if p.Priority != nil {
		add("priority", *p.Priority)
	}
	if p.Section != nil {
		add("section", *p.Section)
	}
	if len(sets) == 0 {
		return s.GetArticle(ctx, id)
	}
	args = append(args, id)
	a, err := scanArticle(s.db.QueryRowContext(ctx, `UPDATE articles SET `+strings.Join(sets, ", ")+
		fmt.Sprintf(` WHERE id = $%d RETURNING `, len(args))+articleColumns, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return articles.Article{}, fmt.Errorf("store: update article %d: %w", id, articles.ErrNotFound)
	}
	if err != nil {
		return articles.Article{}, fmt.Errorf("store: update article %d: %w", id, err)
	}
	return a, nil
}

// selectColumns are what an edition build needs: every column but guid (a
// feed's private id) and hidden (always false here).
const selectColumns = `id, url, feed_id, source, title, lead, byline, image_url, section,
	published_at, ingested_at, content_hash, pinned, priority`

// SelectArticles returns the candidates of an edition: articles not hidden,
// ingested in (ingestedAfter, ingestedUpTo], newest ingested first, at most
// limit (≤ 0: all). A zero ingestedUpTo means no upper bound. Feed weights
// come separately from FeedWeights. GUID is not read (left empty).
func (s *Store) SelectArticles(ctx context.Context, ingestedAfter, ingestedUpTo time.Time, limit int) ([]articles.Article, error) {
	if ingestedUpTo.IsZero() {
		ingestedUpTo = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	}
	// Served by articles_ingested_at (ingested_at, id): a backward range
	// scan that stops at limit.
	rows, err := s.db.QueryContext(ctx, `SELECT `+selectColumns+` FROM articles
		WHERE ingested_at > $1 AND ingested_at <= $2 AND NOT hidden
		ORDER BY ingested_at DESC, id DESC LIMIT $3`,
		s.d.bound(ingestedAfter), s.d.bound(ingestedUpTo), noLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("store: select articles: %w", err)
	}
	defer rows.Close()
	var out []articles.Article
	for rows.Next() {
		var a articles.Article
		if err := rows.Scan(&a.ID, strCol{&a.URL}, int64Col{&a.FeedID}, &a.Source, &a.Title, &a.Lead,
			&a.Byline, &a.ImageURL, &a.Section, timeCol{&a.PublishedAt}, timeCol{&a.IngestedAt}, &a.ContentHash,
			&a.Pinned, &a.Priority); err != nil {
			return nil, fmt.Errorf("store: select articles: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: select articles: %w", err)
	}
	return out, nil
}

// CountArticles returns how many articles are stored, hidden ones included.
func (s *Store) CountArticles(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM articles`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count articles: %w", err)
	}
	return n, nil
}
