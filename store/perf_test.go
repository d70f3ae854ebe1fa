package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/subscribers"
)

// BenchmarkLoad measures the bulk paths at production size, on each
// database: 1,000,000 articles through UpsertArticles in chunks, an
// edition's SelectArticles over them, 100,000 subscriptions through
// CreateSubscriptions, and RecordDeliveries in batches of 500. An iteration
// takes a while (run it with -bench Load -benchtime 1x, and
// Load/sqlite or Load/postgres for one database); besides the total, each
// phase is reported as a metric of its own.
func BenchmarkLoad(b *testing.B) {
	for _, db := range []struct {
		name string
		open func(testing.TB) *store.Store
	}{{store.SQLite, storetest.OpenSQLite}, {store.Postgres, storetest.OpenPostgres}} {
		b.Run(db.name, func(b *testing.B) {
			var ph loadPhases
			for b.Loop() {
				b.StopTimer()
				s := db.open(b)
				b.StartTimer()
				load(b, s, &ph)
				ph.n++
			}
			ph.report(b)
		})
	}
}

// loadPhases sums the durations of the phases of load over n iterations.
type loadPhases struct {
	n                                             int
	upsert, selectDay, subscribe, batches, record time.Duration
	recorded                                      int
}

func (ph *loadPhases) report(b *testing.B) {
	n := float64(ph.n)
	b.ReportMetric(ph.upsert.Seconds()/n, "upsert-s/op")
	b.ReportMetric(float64(ph.selectDay.Milliseconds())/n, "select-ms/op")
	b.ReportMetric(ph.subscribe.Seconds()/n, "subscribe-s/op")
	b.ReportMetric(float64(ph.batches.Milliseconds())/n, "batches-ms/op")
	b.ReportMetric(float64(ph.recorded)/ph.record.Seconds(), "recorded/s")
}

func load(b *testing.B, s *store.Store, ph *loadPhases) {
	ctx := context.Background()
	feeds := make([]int64, 20)
	for i := range feeds {
		f, err := s.UpsertFeed(ctx, articles.Feed{URL: fmt.Sprintf("https://feed%d.example/rss", i), Weight: 1})
		check(b, err)
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
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	ph.upsert += time.Since(start)
	b.Logf("UpsertArticles: %d articles in %v", total, time.Since(start))

	day := base.Add(50 * 24 * time.Hour)
	for range 3 {
		start = time.Now()
		got, err := s.SelectArticles(ctx, day, day.Add(24*time.Hour), 0)
		check(b, err)
		w, err := s.FeedWeights(ctx)
		check(b, err)
		ph.selectDay += time.Since(start) / 3
		b.Logf("SelectArticles: %d of a day + %d weights in %v", len(got), len(w), time.Since(start))
	}

	var subs []subscribers.Subscription
	for i := range 100_000 {
		subs = append(subs, subscribers.Subscription{Channel: subscribers.Email, Address: fmt.Sprintf("reader%d@example.com", i),
			Status: subscribers.Active, Source: subscribers.SourceImport})
	}
	start = time.Now()
	n, err := s.CreateSubscriptions(ctx, subs)
	check(b, err)
	ph.subscribe += time.Since(start)
	b.Logf("CreateSubscriptions: %d in %v", n, time.Since(start))

	e, _, err := s.CreateEdition(ctx, digest.Edition{Date: "2026-02-20"})
	check(b, err)
	start = time.Now()
	batches, err := s.SubscriptionBatches(ctx, subscribers.Email, 500)
	check(b, err)
	ph.batches += time.Since(start)
	b.Logf("SubscriptionBatches: %d in %v", len(batches), time.Since(start))
	start = time.Now()
	sent := 0
	for _, r := range batches {
		in, err := s.RecipientsInRange(ctx, subscribers.Email, r[0], r[1])
		check(b, err)
		if _, err := s.RecordedDeliveries(ctx, e.ID, r[0], r[1]); err != nil {
			b.Fatal(err)
		}
		ds := make([]delivery.Delivery, len(in))
		now := time.Now()
		for i, sub := range in {
			ds[i] = delivery.Delivery{EditionID: e.ID, SubscriptionID: sub.ID, Status: digest.DeliverySent, Attempts: 1, SentAt: now}
		}
		check(b, s.RecordDeliveries(ctx, ds))
		sent += len(ds)
	}
	el := time.Since(start)
	ph.record += el
	ph.recorded += sent
	b.Logf("fan-out bookkeeping (read batch, recorded, RecordDeliveries) for %d: %v (%.0f/s)", sent, el, float64(sent)/el.Seconds())
}

// BenchmarkRecordSmallGroups is the fan-out's record path: groups of 32
// sent records (what one record writer commits at a time under load) into
// a store holding 20,000 subscriptions; ns/op is per record (on
// PostgreSQL, the server's time included).
func BenchmarkRecordSmallGroups(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchRecordSmallGroups(b, storetest.OpenSQLite(b)) })
	b.Run("postgres", func(b *testing.B) { benchRecordSmallGroups(b, storetest.OpenPostgres(b)) })
}

func benchRecordSmallGroups(b *testing.B, s *store.Store) {
	ctx := context.Background()
	const readers, group = 20_000, 32
	first := seedReaders(b, s, readers)
	var err error
	ds := make([]delivery.Delivery, group)
	var ed digest.Edition
	next := int64(readers)
	b.ResetTimer()
	for i := range b.N {
		if next+group > readers {
			b.StopTimer()
			ed, _, err = s.CreateEdition(ctx, digest.Edition{Date: fmt.Sprintf("2026-%02d-%02d", 1+i%12, 1+i%28), Title: fmt.Sprint(i)})
			check(b, err)
			next = 0
			b.StartTimer()
		}
		if i%group == 0 {
			for j := range ds {
				ds[j] = delivery.Delivery{EditionID: ed.ID, SubscriptionID: first + next + int64(j), Status: "sent", Attempts: 1, SentAt: time.Now()}
			}
			next += group
			check(b, s.RecordDeliveries(ctx, ds))
		}
	}
}

// BenchmarkRecipients is one fan-out batch reading its subscriptions: 2,000
// of a SQLite store holding 20,000 (RecipientsInRange); ns/op is per row.
func BenchmarkRecipients(b *testing.B) {
	ctx := context.Background()
	s := storetest.OpenSQLite(b)
	const readers, batch = 20_000, 2_000
	seedReaders(b, s, readers)
	batches, err := s.SubscriptionBatches(ctx, subscribers.Email, batch)
	check(b, err)
	r := batches[len(batches)/2]
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%batch == 0 {
			in, err := s.RecipientsInRange(ctx, subscribers.Email, r[0], r[1])
			check(b, err)
			if len(in) != batch {
				b.Fatalf("%d recipients, want %d", len(in), batch)
			}
		}
	}
}

// BenchmarkDeliveryStats counts an edition sent to 100,000 readers, one
// of them failed (DeliveryStats: what send-now prints and the admins'
// notice says); ns/op is per count.
func BenchmarkDeliveryStats(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchDeliveryStats(b, storetest.OpenSQLite(b)) })
	b.Run("postgres", func(b *testing.B) { benchDeliveryStats(b, storetest.OpenPostgres(b)) })
}

func benchDeliveryStats(b *testing.B, s *store.Store) {
	ctx := context.Background()
	const readers = 100_000
	first := seedReaders(b, s, readers)
	ed, _, err := s.CreateEdition(ctx, digest.Edition{Date: "2026-03-01", Title: "t"})
	check(b, err)
	ds := make([]delivery.Delivery, readers)
	for j := range ds {
		ds[j] = delivery.Delivery{EditionID: ed.ID, SubscriptionID: first + int64(j), Status: "sent", Attempts: 1, SentAt: time.Now()}
	}
	ds[7].Status = "failed"
	check(b, s.RecordDeliveries(ctx, ds))
	for b.Loop() {
		st, err := s.DeliveryStats(ctx, ed.ID)
		check(b, err)
		if len(st) != 2 || st[0].N != 1 || st[1].N != readers-1 {
			b.Fatalf("stats %v", st)
		}
	}
}

// BenchmarkSubscriptionBatches plans a fan-out over 100,000 active readers:
// their ranges of 1,000 (SubscriptionBatches, the first step of every
// send); ns/op is per plan.
func BenchmarkSubscriptionBatches(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchSubscriptionBatches(b, storetest.OpenSQLite(b)) })
	b.Run("postgres", func(b *testing.B) { benchSubscriptionBatches(b, storetest.OpenPostgres(b)) })
}

func benchSubscriptionBatches(b *testing.B, s *store.Store) {
	const readers = 100_000
	seedReaders(b, s, readers)
	for b.Loop() {
		batches, err := s.SubscriptionBatches(context.Background(), subscribers.Email, 1000)
		check(b, err)
		if len(batches) != readers/1000 {
			b.Fatalf("%d batches", len(batches))
		}
	}
}

// seedReaders adds n active email subscriptions and returns the first's
// id (the others follow it, one by one).
func seedReaders(b *testing.B, s *store.Store, n int) int64 {
	ctx := context.Background()
	subs := make([]subscribers.Subscription, n)
	for i := range subs {
		subs[i] = subscribers.Subscription{Channel: subscribers.Email, Address: fmt.Sprintf("reader%d@example.com", i),
			Status: subscribers.Active, Source: subscribers.SourceImport}
	}
	_, err := s.CreateSubscriptions(ctx, subs)
	check(b, err)
	batches, err := s.SubscriptionBatches(ctx, subscribers.Email, n)
	check(b, err)
	if len(batches) != 1 || batches[0][1]-batches[0][0] != int64(n-1) {
		b.Fatalf("seeded readers: ranges %v, want one of %d consecutive ids", batches, n)
	}
	return batches[0][0]
}
