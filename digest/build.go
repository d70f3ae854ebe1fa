package digest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/digestbot/digestbot/articles"
)

// Store is what building editions needs from storage; *store.Store
// implements it (docs/architecture.md).
type Store interface {
	// SelectArticles returns the articles that are not hidden and were
	// ingested in (after, upTo], newest ingested first, at most limit.
	SelectArticles(ctx context.Context, ingestedAfter, ingestedUpTo time.Time, limit int) ([]articles.Article, error)
	FeedWeights(ctx context.Context) (map[int64]float64, error)
	// CreateEdition stores e unless its (newsletter, date) exists: then it
	// returns the stored one and created=false.
	CreateEdition(ctx context.Context, e Edition) (Edition, bool, error)
	GetEditionByDate(ctx context.Context, newsletter, date string) (Edition, error)
	LatestEdition(ctx context.Context, newsletter string) (Edition, error)
}

// DateLayout is the layout of an edition's newsletter date.
const DateLayout = "2006-01-02"

// Defaults for Options fields left zero where zero has no meaning of its own.
const (
	DefaultMaxAge      = 36 * time.Hour // newsletter.max_age
	DefaultSelectLimit = 20000          // articles read for one edition
	firstWindow        = 24 * time.Hour // the first edition looks back this far
)

// ErrEmpty is returned by Build when nothing new arrived and empty editions
// are skipped (newsletter.skip_empty).
var ErrEmpty = errors.New("no new articles")

// Options are the newsletter settings building uses.
type Options struct {
	Newsletter string         // edition key; DefaultNewsletter when empty
	Title      string         // newsletter.title
	Location   *time.Location // newsletter.timezone; UTC when nil
	Sections   []string       // newsletter.sections, in display order
	MaxItems   int            // newsletter.max_items; 0: no cap
	// MaxAge keeps only articles published at most this long before the
	// edition's time; 0 means no age limit. Config turns an absent
	// newsletter.max_age into DefaultMaxAge.
	MaxAge    time.Duration
	SkipEmpty bool // newsletter.skip_empty: no edition when nothing is new
	// SelectLimit caps the articles read for one edition (the newest ingested
	// are kept); 0 means DefaultSelectLimit.
	SelectLimit int
}

// Builder builds editions: it selects the window's articles, clusters and
// ranks them and stores the result, one edition per newsletter date.
type Builder struct {
	Options
	Store Store
	Now   func() time.Time // injected clock; time.Now when nil
	Log   *slog.Logger

	stems Stems // kept across builds: a day's window repeats yesterday's words
}

// NewBuilder returns a Builder over s; log may be nil.
func NewBuilder(s Store, o Options, log *slog.Logger) *Builder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Builder{Options: o, Store: s, Now: time.Now, Log: log}
}

func (b *Builder) now() time.Time {
	if b.Now == nil {
		return time.Now()
	}
	return b.Now()
}

func (b *Builder) newsletter() string {
	if b.Newsletter == "" {
		return DefaultNewsletter
	}
	return b.Newsletter
}

func (b *Builder) location() *time.Location {
	if b.Location == nil {
		return time.UTC
	}
	return b.Location
}

// Date returns the newsletter date of t: its calendar date in the
// newsletter's time zone.
func (b *Builder) Date(t time.Time) string {
	return t.In(b.location()).Format(DateLayout)
}

// Build returns the edition of a newsletter date (YYYY-MM-DD), building and
// storing it first when it does not exist yet. created reports whether this
// call stored it. An edition that exists is returned as stored, never built
// again: the store's unique (newsletter, date) key decides between racing
// builders, so a DST double run, a second instance or a restart cannot make
// two. With SkipEmpty and nothing new, nothing is stored and the error wraps
// ErrEmpty.
func (b *Builder) Build(ctx context.Context, date string) (Edition, bool, error) {
	if _, err := time.Parse(DateLayout, date); err != nil {
		return Edition{}, false, fmt.Errorf("digest: build %q: bad date: %w", date, err)
	}
	nl := b.newsletter()
	e, err := b.Store.GetEditionByDate(ctx, nl, date)
	switch {
	case err == nil:
		return e, false, nil
	case !errors.Is(err, ErrNotFound):
		return Edition{}, false, fmt.Errorf("digest: build %s: %w", date, err)
	}

	e, err = b.compose(ctx, date, b.now())
	if err != nil {
		return Edition{}, false, fmt.Errorf("digest: build %s: %w", date, err)
	}
	if len(e.Items) == 0 && b.SkipEmpty {
		b.Log.InfoContext(ctx, "digest: nothing new, no edition",
			slog.String("date", date),
			slog.Time("cutoff_from", e.CutoffFrom), slog.Time("cutoff_to", e.CutoffTo))
		return Edition{}, false, fmt.Errorf("digest: build %s: %w", date, ErrEmpty)
	}
	stored, created, err := b.Store.CreateEdition(ctx, e)
	if err != nil {
		return Edition{}, false, fmt.Errorf("digest: build %s: store: %w", date, err)
	}
	if created {
		b.Log.InfoContext(ctx, "digest: edition built",
			slog.String("date", date),
			slog.Int64("edition_id", stored.ID), slog.Int("items", len(stored.Items)),
			slog.Time("cutoff_from", stored.CutoffFrom), slog.Time("cutoff_to", stored.CutoffTo))
	}
	return stored, created, nil
}

// Preview computes the next edition the way Build would, now, without
// storing it: today's when today has none yet, else the next day's. An
// empty window gives an edition without items (never ErrEmpty), which a
// caller with SkipEmpty may report as "nothing would be sent".
func (b *Builder) Preview(ctx context.Context) (Edition, error) {
	now := b.now()
	date := b.Date(now)
	last, err := b.Store.LatestEdition(ctx, b.newsletter())
	switch {
	case err == nil && last.Date >= date:
		d, perr := time.Parse(DateLayout, last.Date)
		if perr != nil {
			return Edition{}, fmt.Errorf("digest: preview: stored edition %d has bad date %q: %w", last.ID, last.Date, perr)
		}
		date = d.AddDate(0, 0, 1).Format(DateLayout)
	case err != nil && !errors.Is(err, ErrNotFound):
		return Edition{}, fmt.Errorf("digest: preview: %w", err)
	}
	e, err := b.compose(ctx, date, now)
	if err != nil {
		return Edition{}, fmt.Errorf("digest: preview %s: %w", date, err)
	}
	return e, nil
}

// compose builds the edition of date as of now, without storing it.
//
// The window is (previous edition's CutoffTo, now]; the first edition looks
// back 24 hours. Of those, only articles published within MaxAge before now
// count, an article without a date or dated after it was stored counting as
// published when stored. Since that effective date is never after the
// ingestion time, an article ingested before now−MaxAge cannot qualify, so
// the query's lower bound is raised to it: after a long pause the store is
// not asked for weeks of articles only to drop them.
func (b *Builder) compose(ctx context.Context, date string, now time.Time) (Edition, error) {
	nl := b.newsletter()
	from := now.Add(-firstWindow)
	switch last, err := b.Store.LatestEdition(ctx, nl); {
	case err == nil:
		from = last.CutoffTo
	case !errors.Is(err, ErrNotFound):
		return Edition{}, fmt.Errorf("previous edition: %w", err)
	}
	if from.After(now) {
		from = now // a clock step back: an empty window rather than an overlap
	}
	after := from
	var oldest time.Time
	if b.MaxAge > 0 {
		oldest = now.Add(-b.MaxAge)
		if oldest.After(after) {
			after = oldest
		}
	}
	limit := b.SelectLimit
	if limit <= 0 {
		limit = DefaultSelectLimit
	}
	as, err := b.Store.SelectArticles(ctx, after, now, limit)
	if err != nil {
		return Edition{}, fmt.Errorf("select articles: %w", err)
	}
	kept := as[:0:0]
	for _, a := range as {
		if a.Hidden || b.MaxAge > 0 && effectivePublished(a).Before(oldest) {
			continue
		}
		kept = append(kept, a)
	}
	var weights map[int64]float64
	if len(kept) > 0 {
		if weights, err = b.Store.FeedWeights(ctx); err != nil {
			return Edition{}, fmt.Errorf("feed weights: %w", err)
		}
	}
	items := Rank(kept, RankOptions{Sections: b.Sections, MaxItems: b.MaxItems, Weights: weights, Now: now, Stems: &b.stems})
	if len(as) == limit {
		b.Log.WarnContext(ctx, "digest: window truncated to the newest articles",
			slog.String("date", date), slog.Int("limit", limit))
	}
	return Edition{
		Newsletter: nl,
		Date:       date,
		Title:      b.Title,
		CutoffFrom: from,
		CutoffTo:   now,
		Status:     StatusBuilt,
		Items:      items,
		CreatedAt:  now,
	}, nil
}
