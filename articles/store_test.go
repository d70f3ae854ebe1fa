package articles_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
)

// The real store is what Importer and Poller are written against.
var _ articles.FeedStore = (*store.Store)(nil)

func TestMain(m *testing.M) { storetest.Main(m) }

var storeNow = time.Date(2023, 9, 14, 6, 0, 0, 0, time.UTC)

const fixtures = "../testdata/feeds"

var fixtureFiles = []string{"pacific-stripes.rss.xml", "wire-a.rss.xml", "globe-news.atom.xml", "meridian.feed.json", "harborview-herald.rss.xml"}

// Importing the fixture feeds into a real store: 50 articles; again,
// nothing new; the seed's page joins its feed item.
func TestImportIntoStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		im := &articles.Importer{Store: s, Now: func() time.Time { return storeNow }}
		for round := range 2 {
			for _, f := range fixtureFiles {
				if _, err := im.Import(ctx, filepath.Join(fixtures, f), articles.ImportOptions{}); err != nil {
					t.Fatalf("round %d: %s: %v", round, f, err)
				}
			}
			if n, err := s.CountArticles(ctx); err != nil || n != 50 {
				t.Fatalf("round %d: %d articles (%v), want 50", round, n, err)
			}
		}

		stored, err := im.Import(ctx, filepath.Join(fixtures, "article-page.html"), articles.ImportOptions{})
		if err != nil || len(stored) != 1 {
			t.Fatalf("page: %v %+v", err, stored)
		}
		if n, _ := s.CountArticles(ctx); n != 50 {
			t.Errorf("the page made a new article: %d", n)
		}
		seed, err := s.GetArticle(ctx, stored[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(seed.Lead, "SEOUL — North Korean leader Kim Jong Un called his country’s relations with Russia his top priority") ||
			seed.URL != "https://stripes.example/theaters/asia_pacific/2023-09-13/kim-jong-un-putin-vostochny-cosmodrome-11283746.html" {
			t.Errorf("seed as stored: %+v", seed)
		}

		// Malformed: refused, nothing stored; hostile: cleaned and stored.
		if _, err := im.Import(ctx, filepath.Join(fixtures, "malformed.xml"), articles.ImportOptions{}); err == nil {
			t.Error("malformed feed imported")
		}
		if _, err := im.Import(ctx, filepath.Join(fixtures, "hostile.xml"), articles.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.CountArticles(ctx); n != 61 {
			t.Errorf("%d articles after hostile.xml, want 61", n)
		}
	})
}

// Polling a feed into the real store: dedupe by (feed, guid), validators
// and the last error recorded on the feed, nothing lost on a broken poll.
func TestPollIntoStore(t *testing.T) {
	var body atomic.Value
	body.Store([]byte(nil))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Write(body.Load().([]byte))
	}))
	defer srv.Close()
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(fixtures, name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}

	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f, err := s.UpsertFeed(ctx, articles.Feed{URL: srv.URL + "/wire-a.xml", Name: "Wire-A", Section: "world", Weight: 1, Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		p := &articles.Poller{Store: s, Fetcher: &articles.Fetcher{Client: srv.Client()}, Now: func() time.Time { return storeNow }}

		body.Store(read("wire-a.rss.xml"))
		if n, err := p.PollFeed(ctx, f); err != nil || n != 10 {
			t.Fatalf("poll: %d %v", n, err)
		}
		f, _ = s.GetFeed(ctx, f.ID)
		if f.ETag != `"v1"` || f.LastError != "" || f.LastPolledAt.IsZero() {
			t.Errorf("feed after poll: %+v", f)
		}
		// 304 with the recorded ETag.
		if n, err := p.PollFeed(ctx, f); err != nil || n != 0 {
			t.Errorf("304 poll: %d %v", n, err)
		}
		// Broken feed under a new ETag: recorded, nothing lost.
		body.Store(read("malformed.xml"))
		f.ETag = ""
		if _, err := p.PollFeed(ctx, f); err == nil {
			t.Error("malformed poll succeeded")
		}
		f, _ = s.GetFeed(ctx, f.ID)
		if !strings.Contains(f.LastError, "malformed XML") {
			t.Errorf("last error %q", f.LastError)
		}
		if n, _ := s.CountArticles(ctx); n != 10 {
			t.Errorf("%d articles after the broken poll, want 10", n)
		}
		// Fixed: the same ten, updated in place.
		body.Store(read("wire-a.rss.xml"))
		if n, err := p.PollFeed(ctx, f); err != nil || n != 10 {
			t.Fatalf("poll again: %d %v", n, err)
		}
		if n, _ := s.CountArticles(ctx); n != 10 {
			t.Errorf("%d articles after re-poll, want 10", n)
		}
		f, _ = s.GetFeed(ctx, f.ID)
		if f.LastError != "" {
			t.Errorf("error not cleared: %q", f.LastError)
		}
	})
}
