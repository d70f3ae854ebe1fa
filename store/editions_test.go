package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
)

func TestEditions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		items := []digest.Item{
			{ArticleID: 1, Section: "world", Title: "A <b>&", URL: "https://a.example/1", Lead: "L", Source: "A",
				PublishedAt: t0.UTC(), AlsoIn: []string{"B", "C"}, Pinned: true, Score: 1.5},
			{ArticleID: 2, Section: "sport", Title: "B", Score: 0.25},
		}
		in := digest.Edition{Date: "2026-03-29", Title: "Daily Headlines", CutoffFrom: t0, CutoffTo: t0.Add(24 * time.Hour), Items: items}
		e, created, err := s.CreateEdition(ctx, in)
		check(t, err)
		if !created || e.ID == 0 || e.Newsletter != digest.DefaultNewsletter || e.Status != digest.StatusBuilt ||
			e.CreatedAt.IsZero() || !e.SentAt.IsZero() || !eqTime(e.CutoffFrom, t0) || !eqTime(e.CutoffTo, t0.Add(24*time.Hour)) {
			t.Fatalf("created %v %+v", created, e)
		}
		if !reflect.DeepEqual(e.Items, items) {
			t.Fatalf("items\n got %+v\nwant %+v", e.Items, items)
		}

		// The same date again (a DST double run, a restart): the first one.
		again, created, err := s.CreateEdition(ctx, digest.Edition{Date: "2026-03-29", Title: "other"})
		check(t, err)
		if created || again.ID != e.ID || again.Title != "Daily Headlines" || len(again.Items) != 2 {
			t.Fatalf("second create: created=%v %+v", created, again)
		}
		// Another newsletter may have its own edition that day.
		weekly, created, err := s.CreateEdition(ctx, digest.Edition{Newsletter: "weekly", Date: "2026-03-29"})
		check(t, err)
		if !created || weekly.ID == e.ID || weekly.Items == nil {
			t.Fatalf("weekly: %v %+v", created, weekly)
		}
		e2, _, err := s.CreateEdition(ctx, digest.Edition{Date: "2026-03-30"})
		check(t, err)
		e0, _, err := s.CreateEdition(ctx, digest.Edition{Date: "2026-03-28"})
		check(t, err)

		got := must[digest.Edition](t)(s.GetEdition(ctx, e.ID))
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("get\n got %+v\nwant %+v", got, e)
		}
		got = must[digest.Edition](t)(s.GetEditionByDate(ctx, digest.DefaultNewsletter, "2026-03-29"))
		if got.ID != e.ID {
			t.Fatalf("by date: %d", got.ID)
		}
		got = must[digest.Edition](t)(s.LatestEdition(ctx, digest.DefaultNewsletter))
		if got.ID != e2.ID {
			t.Fatalf("latest: %+v", got)
		}
		list := must[[]digest.Edition](t)(s.ListEditions(ctx, digest.DefaultNewsletter, 0))
		if len(list) != 3 || list[0].ID != e2.ID || list[1].ID != e.ID || list[2].ID != e0.ID {
			t.Fatalf("list: %d", len(list))
		}
		list = must[[]digest.Edition](t)(s.ListEditions(ctx, digest.DefaultNewsletter, 1))
		if len(list) != 1 || list[0].ID != e2.ID {
			t.Fatalf("list limit 1: %d", len(list))
		}

		for name, err := range map[string]error{
			"get":     second(s.GetEdition(ctx, 999)),
			"by date": second(s.GetEditionByDate(ctx, digest.DefaultNewsletter, "2000-01-01")),
			"latest":  second(s.LatestEdition(ctx, "none")),
		} {
			if !errors.Is(err, digest.ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", name, err)
			}
		}
	})
}

func second[T any](_ T, err error) error { return err }

func TestCreateEditionConcurrent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const n = 10
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			created int
			ids     = map[int64]bool{}
		)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				e, c, err := s.CreateEdition(ctx, digest.Edition{Date: "2026-10-25", Title: fmt.Sprint("run ", i)})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				ids[e.ID] = true
				if c {
					created++
				}
			}()
		}
		close(start)
		wg.Wait()
		if created != 1 || len(ids) != 1 {
			t.Fatalf("created %d, distinct ids %d; want exactly one edition", created, len(ids))
		}
	})
}

func TestTransitionEdition(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e, _, err := s.CreateEdition(ctx, digest.Edition{Date: "2026-03-29"})
		check(t, err)
		tr := func(from []string, to string) bool {
			t.Helper()
			ok, err := s.TransitionEdition(ctx, e.ID, from, to)
			check(t, err)
			return ok
		}
		if tr([]string{digest.StatusSending}, digest.StatusSent) {
			t.Fatal("built → sent allowed from [sending]")
		}
		if !tr([]string{digest.StatusBuilt, digest.StatusPaused}, digest.StatusSending) {
			t.Fatal("built → sending refused")
		}
		if tr([]string{digest.StatusBuilt}, digest.StatusSending) {
			t.Fatal("second built → sending allowed: not compare-and-set")
		}
		if got := must[digest.Edition](t)(s.GetEdition(ctx, e.ID)); got.Status != digest.StatusSending || !got.SentAt.IsZero() {
			t.Fatalf("after sending: %+v", got)
		}
		before := time.Now().Add(-time.Second)
		if !tr([]string{digest.StatusSending}, digest.StatusSent) {
			t.Fatal("sending → sent refused")
		}
		if got := must[digest.Edition](t)(s.GetEdition(ctx, e.ID)); got.Status != digest.StatusSent || got.SentAt.Before(before) {
			t.Fatalf("after sent: %+v", got)
		}
		if _, err := s.TransitionEdition(ctx, 999, []string{digest.StatusBuilt}, digest.StatusSending); !errors.Is(err, digest.ErrNotFound) {
			t.Fatalf("unknown id: %v", err)
		}

		// In a caller's transaction: a rollback undoes the transition.
		e2, _, err := s.CreateEdition(ctx, digest.Edition{Date: "2026-03-30"})
		check(t, err)
		boom := errors.New("boom")
		err = s.InTx(ctx, func(tx *sql.Tx) error {
			ok, err := s.TransitionEditionTx(ctx, tx, e2.ID, []string{digest.StatusBuilt}, digest.StatusSending)
			if err != nil || !ok {
				t.Errorf("in tx: %v %v", ok, err)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx returned %v", err)
		}
		if got := must[digest.Edition](t)(s.GetEdition(ctx, e2.ID)); got.Status != digest.StatusBuilt {
			t.Fatalf("rolled back transition kept: %s", got.Status)
		}
		check(t, s.InTx(ctx, func(tx *sql.Tx) error {
			_, err := s.TransitionEditionTx(ctx, tx, e2.ID, []string{digest.StatusBuilt}, digest.StatusSending)
			return err
		}))
		if got := must[digest.Edition](t)(s.GetEdition(ctx, e2.ID)); got.Status != digest.StatusSending {
			t.Fatalf("committed transition lost: %s", got.Status)
		}
	})
}
