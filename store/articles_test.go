package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
)

func TestUpsertArticleInsertAndRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := must[articles.Feed](t)(s.UpsertFeed(ctx, articles.Feed{URL: "https://a.example/rss", Name: "A"}))
		in := articles.Article{
			URL: "https://a.example/1", GUID: "g1", FeedID: f.ID, Source: "A Daily", Title: "Title", Lead: "Lead.",
			Byline: "Jo", ImageURL: "https://a.example/1.jpg", Section: "world", PublishedAt: t0, IngestedAt: t0.Add(time.Hour),
			ContentHash: "h1", Pinned: true, Priority: 3,
		}
		a, created, err := s.UpsertArticle(ctx, in)
		check(t, err)
		if !created || a.ID == 0 {
			t.Fatalf("created=%v id=%d", created, a.ID)
		}
		got := must[articles.Article](t)(s.GetArticle(ctx, a.ID))
		want := in
		want.ID = a.ID
		if !eqTime(got.PublishedAt, in.PublishedAt) || !eqTime(got.IngestedAt, in.IngestedAt) {
			t.Errorf("times %v %v", got.PublishedAt, got.IngestedAt)
		}
		got.PublishedAt, got.IngestedAt, want.PublishedAt, want.IngestedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if got != want {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}

		// No link, no feed, no dates: NULLs read back as zero values, and
		// IngestedAt defaults to now.
		before := time.Now().Add(-time.Second)
		b, created, err := s.UpsertArticle(ctx, articles.Article{Title: "No link 1"})
		check(t, err)
		c, created2, err := s.UpsertArticle(ctx, articles.Article{Title: "No link 2"})
		check(t, err)
		if !created || !created2 || b.ID == c.ID {
			t.Fatalf("articles without URL must not collide: %+v %+v", b, c)
		}
		b = must[articles.Article](t)(s.GetArticle(ctx, b.ID))
		if b.URL != "" || b.GUID != "" || b.FeedID != 0 || !b.PublishedAt.IsZero() || b.IngestedAt.Before(before) {
			t.Errorf("no-link article %+v", b)
		}

		if _, err := s.GetArticle(ctx, 12345); !errors.Is(err, articles.ErrNotFound) {
			t.Errorf("GetArticle unknown: %v", err)
		}
		if n := must[int](t)(s.CountArticles(ctx)); n != 3 {
			t.Errorf("count %d", n)
		}
	})
}

func TestUpsertArticleDedupe(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		fa := must[articles.Feed](t)(s.UpsertFeed(ctx, articles.Feed{URL: "https://a.example/rss"}))
		fb := must[articles.Feed](t)(s.UpsertFeed(ctx, articles.Feed{URL: "https://b.example/rss"}))
		up := func(a articles.Article) (articles.Article, bool) {
			t.Helper()
			out, created, err := s.UpsertArticle(ctx, a)
			check(t, err)
			return out, created
		}

		first, _ := up(articles.Article{FeedID: fa.ID, GUID: "g1", URL: "https://a.example/1", Title: "v1",
			Section: "world", IngestedAt: t0, ContentHash: "h1"})
		// The editor pins, hides and boosts it.
		p, h, pr := true, true, 5
		must[articles.Article](t)(s.UpdateArticle(ctx, first.ID, articles.Patch{Pinned: &p, Hidden: &h, Priority: &pr}))

		// Same feed and guid, new URL, title and time: updated in place.
		second, created := up(articles.Article{FeedID: fa.ID, GUID: "g1", URL: "https://a.example/1-moved", Title: "v2",
			Lead: "lead", IngestedAt: t0.Add(time.Hour), PublishedAt: t0, ContentHash: "h2"})
		if created || second.ID != first.ID {
			t.Fatalf("guid dedupe: created=%v id %d vs %d", created, second.ID, first.ID)
		}
		if second.Title != "v2" || second.Lead != "lead" || second.URL != "https://a.example/1-moved" ||
			second.Section != "world" || !eqTime(second.IngestedAt, t0) || !second.Pinned || !second.Hidden ||
			second.Priority != 5 || !eqTime(second.PublishedAt, t0) {
			t.Fatalf("updated in place: %+v", second)
		}

		// Same guid in another feed is another article.
		other, created := up(articles.Article{FeedID: fb.ID, GUID: "g1", URL: "https://b.example/1", Title: "b"})
		if !created || other.ID == first.ID {
			t.Fatalf("guid is per feed: %+v", other)
		}

		// Same canonical URL without guid (an editor's /post): same article.
		byURL, created := up(articles.Article{URL: "https://a.example/1-moved", Title: "v3"})
		if created || byURL.ID != first.ID || byURL.Title != "v3" || byURL.FeedID != fa.ID || byURL.GUID != "g1" {
			t.Fatalf("url dedupe: created=%v %+v", created, byURL)
		}
		// Same URL with a new guid of another feed: still the same article.
		byURL2, created := up(articles.Article{FeedID: fb.ID, GUID: "g9", URL: "https://a.example/1-moved", Title: "v4"})
		if created || byURL2.ID != first.ID || byURL2.FeedID != fa.ID || byURL2.GUID != "g1" {
			t.Fatalf("url dedupe across feeds: created=%v %+v", created, byURL2)
		}

		// A guid update whose new URL belongs to another article keeps its own URL.
		taken, created := up(articles.Article{FeedID: fa.ID, GUID: "g1", URL: "https://b.example/1", Title: "v5"})
		if created || taken.ID != first.ID || taken.URL != "https://a.example/1-moved" || taken.Title != "v5" {
			t.Fatalf("url not free: created=%v %+v", created, taken)
		}

		// An article posted by URL first adopts the feed's identity when the
		// feed brings it, so the next poll finds it by guid even if the URL changes.
		posted, _ := up(articles.Article{URL: "https://a.example/2", Title: "posted"})
		adopted, created := up(articles.Article{FeedID: fa.ID, GUID: "g2", URL: "https://a.example/2", Title: "from feed"})
		if created || adopted.ID != posted.ID || adopted.FeedID != fa.ID || adopted.GUID != "g2" {
			t.Fatalf("adopt: %+v", adopted)
		}
		again, created := up(articles.Article{FeedID: fa.ID, GUID: "g2", URL: "https://a.example/2?utm=x", Title: "again"})
		if created || again.ID != posted.ID {
			t.Fatalf("after adopt: %+v", again)
		}

		// Same content hash: nothing written.
		same, created := up(articles.Article{FeedID: fa.ID, GUID: "g1", Title: "ignored", ContentHash: "h2"})
		if created || same.ID != first.ID {
			t.Fatalf("same hash: %+v", same)
		}
		changed, _ := up(articles.Article{FeedID: fa.ID, GUID: "g1", Title: "v6", ContentHash: "h3"})
		if changed.Title != "v6" {
			t.Fatalf("new hash not written: %+v", changed)
		}
		// Same content in a section of its own (an editor re-posting it):
		// the section is written.
		moved, _ := up(articles.Article{FeedID: fa.ID, GUID: "g1", Title: "v6", Section: "local", ContentHash: "h3"})
		if moved.Section != "local" || moved.Title != "v6" {
			t.Fatalf("section of a same-content update: %+v", moved)
		}

		if n := must[int](t)(s.CountArticles(ctx)); n != 3 {
			t.Errorf("count %d, want 3", n)
		}
	})
}

func TestUpsertArticles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := must[articles.Feed](t)(s.UpsertFeed(ctx, articles.Feed{URL: "https://a.example/rss"}))
		var batch []articles.Article
		for i := range 50 {
			batch = append(batch, articles.Article{FeedID: f.ID, GUID: fmt.Sprint("g", i), URL: fmt.Sprint("https://a.example/", i),
				Title: fmt.Sprint("t", i), IngestedAt: t0.Add(time.Duration(i) * time.Minute)})
		}
		// A duplicate inside the batch is deduplicated against the row just written.
		batch = append(batch, articles.Article{FeedID: f.ID, GUID: "g3", URL: "https://a.example/3", Title: "t3 again"})
		stored, created, err := s.UpsertArticles(ctx, batch)
		check(t, err)
		if created != 50 || len(stored) != 51 || stored[50].ID != stored[3].ID || stored[50].Title != "t3 again" {
			t.Fatalf("created %d, stored %d", created, len(stored))
		}
		// Again: nothing new.
		_, created, err = s.UpsertArticles(ctx, batch)
		check(t, err)
		if created != 0 {
			t.Fatalf("second import created %d", created)
		}
		// All or nothing: a bad article (unknown feed) rolls back the batch.
		bad := []articles.Article{{URL: "https://a.example/new", Title: "new"}, {FeedID: 9999, GUID: "x", Title: "bad"}}
		if _, _, err := s.UpsertArticles(ctx, bad); err == nil {
			t.Fatal("unknown feed accepted")
		}
		if n := must[int](t)(s.CountArticles(ctx)); n != 50 {
			t.Fatalf("count %d after failed batch, want 50", n)
		}
		if st, n, err := s.UpsertArticles(ctx, nil); err != nil || n != 0 || len(st) != 0 {
			t.Fatalf("empty batch: %v %d %v", st, n, err)
		}

		// ListArticles pages by id, newest first, hidden ones included.
		h := true
		must[articles.Article](t)(s.UpdateArticle(ctx, stored[49].ID, articles.Patch{Hidden: &h}))
		page := must[[]articles.Article](t)(s.ListArticles(ctx, 0, 20))
		if len(page) != 20 || page[0].ID != stored[49].ID || page[19].ID != stored[30].ID {
			t.Fatalf("page 1: %d items, first %d", len(page), page[0].ID)
		}
		page = must[[]articles.Article](t)(s.ListArticles(ctx, page[19].ID, 100))
		if len(page) != 30 || page[0].ID != stored[29].ID || page[29].ID != stored[0].ID {
			t.Fatalf("page 2: %d items", len(page))
		}
	})
}

func TestUpdateArticle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, _, err := s.UpsertArticle(ctx, articles.Article{URL: "https://a.example/1", Title: "T", Section: "world"})
		check(t, err)
		yes, no, prio, sec := true, false, -2, "sport"
		got := must[articles.Article](t)(s.UpdateArticle(ctx, a.ID, articles.Patch{Pinned: &yes, Priority: &prio, Section: &sec}))
		if !got.Pinned || got.Hidden || got.Priority != -2 || got.Section != "sport" || got.Title != "T" {
			t.Fatalf("patched %+v", got)
		}
		got = must[articles.Article](t)(s.UpdateArticle(ctx, a.ID, articles.Patch{Pinned: &no, Hidden: &yes}))
		if got.Pinned || !got.Hidden || got.Priority != -2 {
			t.Fatalf("patched %+v", got)
		}
		got = must[articles.Article](t)(s.UpdateArticle(ctx, a.ID, articles.Patch{}))
		if got.ID != a.ID || !got.Hidden {
			t.Fatalf("empty patch %+v", got)
		}
		if _, err := s.UpdateArticle(ctx, 999, articles.Patch{Pinned: &yes}); !errors.Is(err, articles.ErrNotFound) {
			t.Errorf("unknown id: %v", err)
		}
		if _, err := s.UpdateArticle(ctx, 999, articles.Patch{}); !errors.Is(err, articles.ErrNotFound) {
			t.Errorf("unknown id, empty patch: %v", err)
		}
	})
}

func TestSelectArticles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		var batch []articles.Article
		for i := range 10 {
			batch = append(batch, articles.Article{URL: fmt.Sprint("https://a.example/", i), Title: fmt.Sprint(i),
				IngestedAt: t0.Add(time.Duration(i) * time.Hour)})
		}
		stored, _, err := s.UpsertArticles(ctx, batch)
		check(t, err)
		h := true
		must[articles.Article](t)(s.UpdateArticle(ctx, stored[5].ID, articles.Patch{Hidden: &h}))

		ids := func(as []articles.Article) []int64 {
			var out []int64
			for _, a := range as {
				out = append(out, a.ID)
			}
			return out
		}
		want := func(is ...int) []int64 {
			var out []int64
			for _, i := range is {
				out = append(out, stored[i].ID)
			}
			return out
		}
		// (after, upTo]: article 2 is excluded, 7 included; 5 is hidden.
		got := must[[]articles.Article](t)(s.SelectArticles(ctx, t0.Add(2*time.Hour), t0.Add(7*time.Hour), 0))
		if fmt.Sprint(ids(got)) != fmt.Sprint(want(7, 6, 4, 3)) {
			t.Fatalf("window: %v, want %v", ids(got), want(7, 6, 4, 3))
		}
		got = must[[]articles.Article](t)(s.SelectArticles(ctx, t0.Add(2*time.Hour), t0.Add(7*time.Hour), 2))
		if fmt.Sprint(ids(got)) != fmt.Sprint(want(7, 6)) {
			t.Fatalf("limit: %v", ids(got))
		}
		// Zero after: from the beginning; zero upTo: no upper bound.
		got = must[[]articles.Article](t)(s.SelectArticles(ctx, time.Time{}, time.Time{}, 0))
		if len(got) != 9 || got[0].ID != stored[9].ID || got[8].ID != stored[0].ID {
			t.Fatalf("all: %v", ids(got))
		}
		if got[0].Title != "9" || !eqTime(got[0].IngestedAt, t0.Add(9*time.Hour)) || got[0].URL != "https://a.example/9" {
			t.Fatalf("columns: %+v", got[0])
		}
	})
}

// TestUpsertArticleConcurrent: two pollers (instances) storing the same new
// article at once make one article.
func TestUpsertArticleConcurrent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := must[articles.Feed](t)(s.UpsertFeed(ctx, articles.Feed{URL: "https://a.example/rss"}))
		const n = 8
		ids := make([]int64, n)
		created := make([]bool, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				a, c, err := s.UpsertArticle(ctx, articles.Article{FeedID: f.ID, GUID: "g", URL: "https://a.example/1",
					Title: fmt.Sprint("v", i)})
				ids[i], created[i], errs[i] = a.ID, c, err
			}()
		}
		close(start)
		wg.Wait()
		nCreated := 0
		for i := range n {
			check(t, errs[i])
			if ids[i] != ids[0] {
				t.Fatalf("ids %v", ids)
			}
			if created[i] {
				nCreated++
			}
		}
		if nCreated != 1 {
			t.Fatalf("created %d times", nCreated)
		}
	})
}
