package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
)

func TestFeeds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f1 := must[articles.Feed](t)(s.UpsertFeed(ctx, articles.Feed{URL: "https://a.example/rss", Name: "A", Section: "world", Weight: 1.5}))
		if f1.ID == 0 || f1.Name != "A" || f1.Section != "world" || f1.Weight != 1.5 || !f1.Enabled {
			t.Fatalf("inserted %+v", f1)
		}
		f2 := must[articles.Feed](t)(s.UpsertFeed(ctx, articles.Feed{URL: "https://b.example/rss", Name: "B"}))
		if f2.Weight != 1 {
			t.Errorf("zero weight stored as %v, want 1", f2.Weight)
		}

		check(t, s.RecordFeedPoll(ctx, f1.ID, `"etag"`, "Sun, 29 Mar 2026 00:00:00 GMT", t0, "timeout"))
		got := must[articles.Feed](t)(s.GetFeed(ctx, f1.ID))
		if got.ETag != `"etag"` || got.LastModified == "" || !eqTime(got.LastPolledAt, t0) || got.LastError != "timeout" {
			t.Fatalf("after poll %+v", got)
		}
		if got.LastPolledAt.Location().String() != "UTC" {
			t.Errorf("LastPolledAt in %v, want UTC", got.LastPolledAt.Location())
		}

		// Upsert by URL updates name/section/weight and keeps the poll state.
		up := must[articles.Feed](t)(s.UpsertFeed(ctx, articles.Feed{URL: "https://a.example/rss", Name: "A2", Section: "sport", Weight: 2}))
		if up.ID != f1.ID || up.Name != "A2" || up.Section != "sport" || up.Weight != 2 || up.ETag != `"etag"` ||
			!eqTime(up.LastPolledAt, t0) || up.LastError != "timeout" {
			t.Fatalf("after upsert %+v", up)
		}

		list := must[[]articles.Feed](t)(s.ListFeeds(ctx))
		if len(list) != 2 || list[0].ID != f1.ID || list[1].ID != f2.ID {
			t.Fatalf("list %+v", list)
		}
		w := must[map[int64]float64](t)(s.FeedWeights(ctx))
		if w[f1.ID] != 2 || w[f2.ID] != 1 || len(w) != 2 {
			t.Fatalf("weights %v", w)
		}

		// Deleting a feed keeps its articles, without a feed.
		a, _, err := s.UpsertArticle(ctx, articles.Article{FeedID: f1.ID, GUID: "g1", URL: "https://a.example/1", Title: "T"})
		check(t, err)
		check(t, s.DeleteFeed(ctx, f1.ID))
		a = must[articles.Article](t)(s.GetArticle(ctx, a.ID))
		if a.FeedID != 0 || a.GUID != "g1" {
			t.Fatalf("article after feed delete %+v", a)
		}

		if _, err := s.GetFeed(ctx, f1.ID); !errors.Is(err, articles.ErrNotFound) {
			t.Errorf("GetFeed deleted: %v", err)
		}
		if err := s.DeleteFeed(ctx, f1.ID); !errors.Is(err, articles.ErrNotFound) {
			t.Errorf("DeleteFeed twice: %v", err)
		}
		if err := s.RecordFeedPoll(ctx, 999, "", "", t0, ""); !errors.Is(err, articles.ErrNotFound) {
			t.Errorf("RecordFeedPoll unknown: %v", err)
		}
	})
}
