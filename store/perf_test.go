package store_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/subscribers"
)

// TestLoad measures the bulk paths at production size: 1,000,000 articles
// through UpsertArticles in chunks, an edition's SelectArticles over them,
// 100,000 subscriptions through CreateSubscriptions, and RecordDeliveries
// in batches of 500. It takes a while, so it runs only when
// DIGESTBOT_STORE_LOAD=1 (and on PostgreSQL too when it is "all").
func TestLoad(t *testing.T) {
	mode := os.Getenv("DIGESTBOT_STORE_LOAD")
	if mode == "" {
		t.Skip("set DIGESTBOT_STORE_LOAD=1 (SQLite) or =all (both) to measure bulk loads")
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		if s.Driver() == store.Postgres && mode != "all" {
			t.Skip("PostgreSQL load only with DIGESTBOT_STORE_LOAD=all")
		}
		ctx := context.Background()
		feeds := make([]int64, 20)
		for i := range feeds {
			f, err := s.UpsertFeed(ctx, articles.Feed{URL: fmt.Sprintf("https://feed%d.example/rss", i), Weight: 1})
			check(t, err)
			feeds[i] = f.ID
		}
		// 1M articles over ~100 days: 10,000 a day.
		const total, chunk = 1_000_000, 5000
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		start := time.Now()
		batch := make([]articles.Article, 0, chunk)
		for i := range total {
			batch = append(batch, articles.Article{
				URL: fmt.Sprintf("https://news.example/%d/story-about-something-%d", i%20, i), GUID: fmt.Sprint("guid-", i),
				FeedID: feeds[i%20], Source: "Outlet", Title: fmt.Sprintf("Headline number %d about the news of the day", i),
				Lead:    "A lead sentence that says what happened, to whom, and why it matters to readers today.",
				Section: "world", PublishedAt: base.Add(time.Duration(i) * 8640 * time.Millisecond),
				IngestedAt: base.Add(time.Duration(i) * 8640 * time.Millisecond), ContentHash: fmt.Sprint(i),
			})
			if len(batch) == chunk {
				if _, _, err := s.UpsertArticles(ctx, batch); err != nil {
					t.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		t.Logf("UpsertArticles: %d articles in %v", total, time.Since(start))

		day := base.Add(50 * 24 * time.Hour)
		for range 3 {
			start = time.Now()
			got, err := s.SelectArticles(ctx, day, day.Add(24*time.Hour), 0)
			check(t, err)
			w, err := s.FeedWeights(ctx)
			check(t, err)
			t.Logf("SelectArticles: %d of a day + %d weights in %v", len(got), len(w), time.Since(start))
		}

		var subs []subscribers.Subscription
		for i := range 100_000 {
			subs = append(subs, subscribers.Subscription{Channel: subscribers.Email, Address: fmt.Sprintf("reader%d@example.com", i),
				Status: subscribers.Active, Source: subscribers.SourceImport})
		}
		start = time.Now()
		n, err := s.CreateSubscriptions(ctx, subs)
		check(t, err)
		t.Logf("CreateSubscriptions: %d in %v", n, time.Since(start))

		e, _, err := s.CreateEdition(ctx, digest.Edition{Date: "2026-02-20"})
		check(t, err)
		start = time.Now()
		batches, err := s.SubscriptionBatches(ctx, subscribers.Email, 500)
		check(t, err)
		t.Logf("SubscriptionBatches: %d in %v", len(batches), time.Since(start))
		start = time.Now()
		sent := 0
		for _, b := range batches {
			in, err := s.ActiveSubscriptionsInRange(ctx, subscribers.Email, b[0], b[1])
			check(t, err)
			if _, err := s.RecordedDeliveries(ctx, e.ID, b[0], b[1]); err != nil {
				t.Fatal(err)
			}
			ds := make([]delivery.Delivery, len(in))
			now := time.Now()
			for i, sub := range in {
				ds[i] = delivery.Delivery{EditionID: e.ID, SubscriptionID: sub.ID, Status: delivery.StatusSent, Attempts: 1, SentAt: now}
			}
			check(t, s.RecordDeliveries(ctx, ds))
			sent += len(ds)
		}
		el := time.Since(start)
		t.Logf("fan-out bookkeeping (read batch, recorded, RecordDeliveries) for %d: %v (%.0f/s)", sent, el, float64(sent)/el.Seconds())
	})
}
