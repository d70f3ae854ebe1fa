package articles

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"time"
)

// DefaultPollInterval is how often a feed is polled when Poller.Interval is 0.
const DefaultPollInterval = 15 * time.Minute

// maxStartJitter bounds how far the first polls are spread after a start.
const maxStartJitter = time.Minute

// FeedStore is what the poller needs from the store (store.Store
// implements it; see docs/architecture.md).
type FeedStore interface {
	ArticleStore
	ListFeeds(ctx context.Context) ([]Feed, error)
	RecordFeedPoll(ctx context.Context, id int64, etag, lastModified string, polledAt time.Time, lastErr string) error
}

// Poller polls every enabled feed on its interval: conditional GET, parse,
// clean, store, and the poll recorded on the feed (validators, time, last
// error). One feed's failure is recorded on that feed and never stops the
// others.
type Poller struct {
	Store    FeedStore
	Fetcher  *Fetcher      // nil: a zero Fetcher
	Interval time.Duration // per feed; 0: DefaultPollInterval
	Log      *slog.Logger
	Now      func() time.Time
	// Observe, when set, is told of every poll of a feed: the articles it
	// stored, or its error (the metrics' feed counters).
	Observe func(feedURL string, stored int, err error)
}

func (p *Poller) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Poller) log() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (p *Poller) interval() time.Duration {
	if p.Interval > 0 {
		return p.Interval
	}
	return DefaultPollInterval
}

// Run polls until ctx is done, then returns nil. The feed list is re-read
// at least once a minute, so feeds added or disabled while it runs are
// picked up. After a start, a feed polled less than an interval ago waits
// for its turn, and the others are spread over up to a minute (a fixed
// offset per feed URL), so a restart does not hit every publisher at once.
func (p *Poller) Run(ctx context.Context) error {
	interval := p.interval()
	jitterSpan := min(interval, maxStartJitter)
	rescan := min(interval, time.Minute)
	next := map[int64]time.Time{}
	log := p.log()
	for {
		feeds, err := p.Store.ListFeeds(ctx)
		if err != nil && ctx.Err() == nil {
			log.ErrorContext(ctx, "poller: list feeds", slog.String("error", err.Error()))
		}
		active := make(map[int64]bool, len(feeds))
		for _, f := range feeds {
			if ctx.Err() != nil {
				return nil
			}
			if !f.Enabled {
				continue
			}
			active[f.ID] = true
			due, ok := next[f.ID]
			if !ok {
				due = p.now().Add(startJitter(f.URL, jitterSpan))
				if !f.LastPolledAt.IsZero() {
					if d := f.LastPolledAt.Add(interval); d.After(due) {
						due = d
					}
				}
				next[f.ID] = due
			}
			if due.After(p.now()) {
				continue
			}
			// PollFeed records and logs its own failure; the loop goes on.
			n, err := p.PollFeed(ctx, f)
			if p.Observe != nil && ctx.Err() == nil {
				p.Observe(f.URL, n, err)
			}
			next[f.ID] = p.now().Add(interval)
		}
		for id := range next {
			if !active[id] {
				delete(next, id)
			}
		}
		wait := rescan
		now := p.now()
		for _, d := range next {
			if w := d.Sub(now); w < wait {
				wait = w
			}
		}
		wait = max(wait, 10*time.Millisecond)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// startJitter is a stable offset in [0, span) derived from the feed URL.
func startJitter(url string, span time.Duration) time.Duration {
	if span <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(url))
	return time.Duration(h.Sum64() % uint64(span))
}

// PollFeed polls one feed now: a conditional GET with the feed's ETag and
// Last-Modified, then parse, clean and upsert, then RecordFeedPoll with the
// new validators and lastErr "" on success. A failure (network, status,
// size cap, malformed feed, store) is recorded as the feed's last error with
// the old validators kept, so the next poll fetches the document again; no
// article is stored from a document that failed to parse, and what was
// stored before is left alone. stored counts the articles upserted.
func (p *Poller) PollFeed(ctx context.Context, f Feed) (stored int, err error) {
	log := p.log().With(slog.Int64("feed_id", f.ID), slog.String("feed_url", f.URL))
	start := p.now()
	record := func(etag, lastModified string, pollErr error) {
		msg := ""
		if pollErr != nil {
			msg = pollErr.Error()
		}
		// Record even when ctx was cancelled mid-poll, but not forever.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if rerr := p.Store.RecordFeedPoll(rctx, f.ID, etag, lastModified, p.now(), msg); rerr != nil {
			log.ErrorContext(ctx, "poller: record poll", slog.String("error", rerr.Error()))
		}
	}
	failed := func(err error) (int, error) {
		var perr *feedParseError
		if !errors.As(err, &perr) { // a parse error names the feed already
			err = fmt.Errorf("articles: poll feed %q: %w", feedName(f), err)
		}
		record(f.ETag, f.LastModified, err)
		level := slog.LevelWarn
		if errors.Is(err, context.Canceled) {
			level = slog.LevelInfo
		}
		log.Log(ctx, level, "poller: poll failed", slog.String("error", err.Error()))
		return 0, err
	}

	fetcher := p.Fetcher
	if fetcher == nil {
		fetcher = &Fetcher{}
	}
	resp, err := fetcher.Fetch(ctx, f.URL, f.ETag, f.LastModified)
	if err != nil {
		return failed(err)
	}
	if resp.NotModified {
		record(resp.ETag, resp.LastModified, nil)
		log.DebugContext(ctx, "poller: not modified")
		return 0, nil
	}
	res, err := ParseFeedResult(resp.Body, f, start)
	if err != nil {
		return failed(err)
	}
	for _, s := range res.Skipped {
		log.InfoContext(ctx, "poller: item skipped", slog.String("guid", s.GUID), slog.String("reason", s.Reason))
	}
	created := 0
	if len(res.Articles) > 0 {
		var out []Article
		out, created, err = p.Store.UpsertArticles(ctx, res.Articles)
		if err != nil {
			return failed(fmt.Errorf("store: %w", err))
		}
		stored = len(out)
	}
	record(resp.ETag, resp.LastModified, nil)
	log.InfoContext(ctx, "poller: polled", slog.Int("stored", stored), slog.Int("created", created),
		slog.Duration("took", p.now().Sub(start)))
	return stored, nil
}

func feedName(f Feed) string {
	if f.Name != "" {
		return f.Name
	}
	return f.URL
}
