package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/subscribers"
)

type touchArgs struct{ N int }

func (touchArgs) Kind() string { return "store_test_touch" }

// touchWorker writes to our tables, as a delivery job does.
type touchWorker struct {
	river.WorkerDefaults[touchArgs]
	s *store.Store
}

func (w *touchWorker) Work(ctx context.Context, job *river.Job[touchArgs]) error {
	return w.s.SetState(ctx, fmt.Sprint("job_", job.Args.N), "done")
}

// TestConcurrentWritersAndRiver runs River (fetching, completing jobs and
// its maintenance) while several goroutines write through the store and
// insert jobs in our transactions: on SQLite nothing may fail with
// SQLITE_BUSY ("database is locked"), whatever the interleaving.
func TestConcurrentWritersAndRiver(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		workers := river.NewWorkers()
		river.AddWorker(workers, &touchWorker{s: s})
		client, err := river.NewClient(s.RiverDriver(), &river.Config{
			Logger:            storetest.Logger(),
			Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 8}},
			Workers:           workers,
			FetchCooldown:     5 * time.Millisecond,
			FetchPollInterval: 20 * time.Millisecond,
			TestOnly:          true,
		})
		check(t, err)
		completed, stopSub := client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
		defer stopSub()
		check(t, client.Start(ctx))
		defer func() {
			stopCtx, c := context.WithTimeout(context.Background(), 10*time.Second)
			defer c()
			check(t, client.Stop(stopCtx))
		}()

		e, _, err := s.CreateEdition(ctx, digest.Edition{Date: "2026-03-29"})
		check(t, err)
		const writers, rounds = 6, 25
		subIDs := make([][]int64, writers)
		for w := range writers {
			for i := range rounds {
				sub, _, err := s.CreateSubscription(ctx, subscribers.Subscription{Channel: subscribers.Email,
					Address: fmt.Sprintf("w%d-%d@example.com", w, i), Status: subscribers.Active})
				check(t, err)
				subIDs[w] = append(subIDs[w], sub.ID)
			}
		}

		var wg sync.WaitGroup
		errc := make(chan error, writers*rounds*4)
		start := time.Now()
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range rounds {
					n := w*rounds + i
					_, _, err := s.UpsertArticle(ctx, articles.Article{URL: fmt.Sprint("https://a.example/", n), Title: "t"})
					errc <- err
					errc <- s.RecordDeliveries(ctx, []delivery.Delivery{{EditionID: e.ID, SubscriptionID: subIDs[w][i],
						Status: digest.DeliverySent, Attempts: 1, SentAt: time.Now()}})
					// A job inserted in the same transaction as our write.
					errc <- s.InTx(ctx, func(tx *sql.Tx) error {
						if _, err := client.InsertTx(ctx, tx, touchArgs{N: n}, nil); err != nil {
							return err
						}
						_, err := s.TransitionEditionTx(ctx, tx, e.ID, []string{digest.StatusBuilt}, digest.StatusBuilt)
						return err
					})
					_, err = s.SelectArticles(ctx, time.Time{}, time.Time{}, 50)
					errc <- err
				}
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("%d writers × %d rounds of 3 writes: %v", writers, rounds, time.Since(start))

		for done := 0; done < writers*rounds; done++ {
			select {
			case ev := <-completed:
				if ev.Kind != river.EventKindJobCompleted {
					t.Fatalf("job %d: %s: %v", ev.Job.ID, ev.Kind, ev.Job.Errors)
				}
			case <-ctx.Done():
				t.Fatalf("%d of %d jobs completed", done, writers*rounds)
			}
		}
		if v := must[string](t)(s.GetState(ctx, "job_42")); v != "done" {
			t.Fatalf("job_42 state %q", v)
		}
	})
}
