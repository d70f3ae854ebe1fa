package articles

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSniff(t *testing.T) {
	for file, want := range map[string]Kind{
		"pacific-stripes.rss.xml":   KindFeed,
		"wire-a.rss.xml":            KindFeed,
		"globe-news.atom.xml":       KindFeed,
		"meridian.feed.json":        KindFeed,
		"harborview-herald.rss.xml": KindFeed,
		"hostile.xml":               KindFeed,
		"malformed.xml":             KindFeed,
		"article-page.html":         KindPage,
	} {
		if got := Sniff(readFixture(t, file)); got != want {
			t.Errorf("%s: %s, want %s", file, got, want)
		}
	}
	if got := Sniff(readSeed(t)); got != KindText {
		t.Errorf("seed text: %s", got)
	}
	for in, want := range map[string]Kind{
		"\ufeff  <?xml version=\"1.0\"?><!-- c --><rdf:RDF>":      KindFeed,
		"<?xml version=\"1.0\"?><notafeed/>":                      KindFeed, // refused by the feed parser, with its reason
		"<!DOCTYPE html><p>x":                                     KindPage,
		"<div>fragment</div>":                                     KindPage,
		`{"url":"https://a.example/1","title":"x"}` + "\n":        KindJSONLines,
		`{"version":"https://jsonfeed.org/version/1","items":[]}`: KindFeed,
		"":             KindText,
		"Plain words.": KindText,
	} {
		if got := Sniff([]byte(in)); got != want {
			t.Errorf("Sniff(%q) = %s, want %s", in, got, want)
		}
	}
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestImportFiles(t *testing.T) {
	ctx := context.Background()
	st := newFakeStore()
	im := &Importer{Store: st, Now: func() time.Time { return testNow }}

	// Every fixture feed: 50 articles; again: nothing new.
	total := 0
	for _, ff := range fixtureFeeds {
		stored, err := im.Import(ctx, filepath.Join(fixtureDir, ff.file), ImportOptions{})
		if err != nil {
			t.Fatalf("%s: %v", ff.file, err)
		}
		total += len(stored)
		for _, a := range stored {
			if a.ID == 0 {
				t.Errorf("%s: stored without id: %+v", ff.file, a)
			}
		}
	}
	if total != 50 || st.count() != 50 {
		t.Fatalf("stored %d, store has %d; want 50", total, st.count())
	}
	for _, ff := range fixtureFeeds {
		if _, err := im.Import(ctx, filepath.Join(fixtureDir, ff.file), ImportOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if st.count() != 50 {
		t.Errorf("second import created articles: %d", st.count())
	}

	// The page of the seed is the same article as its feed item.
	stored, err := im.Import(ctx, filepath.Join(fixtureDir, "article-page.html"), ImportOptions{})
	if err != nil || len(stored) != 1 {
		t.Fatalf("page: %v %+v", err, stored)
	}
	if st.count() != 50 {
		t.Errorf("page created a new article: %d", st.count())
	}
	checkSeed(t, "imported page", stored[0])

	// A malformed feed: an error, nothing stored.
	if _, err := im.Import(ctx, filepath.Join(fixtureDir, "malformed.xml"), ImportOptions{}); err == nil || !strings.Contains(err.Error(), "malformed XML") {
		t.Errorf("malformed: %v", err)
	}
	if st.count() != 50 {
		t.Errorf("malformed feed stored articles")
	}

	// Hostile: cleaned, not refused; items without a usable link are left out.
	stored, err = im.Import(ctx, filepath.Join(fixtureDir, "hostile.xml"), ImportOptions{Section: "local"})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 11 { // 15 less 02, 08, 12, 15 (no usable link)
		t.Errorf("hostile: %d stored", len(stored))
	}
	for _, a := range stored {
		if a.Section != "local" || a.URL == "" {
			t.Errorf("hostile: %+v", a)
		}
	}

	// Plain text needs a title.
	seedPath := "../testdata/seed-article.txt"
	if _, err := im.Import(ctx, seedPath, ImportOptions{}); !errors.Is(err, ErrNoTitle) {
		t.Errorf("text without title: %v", err)
	}
	stored, err = im.Import(ctx, seedPath, ImportOptions{Title: "Kim promises Putin full backing", Section: "world"})
	if err != nil || len(stored) != 1 || stored[0].Section != "world" {
		t.Fatalf("text: %v %+v", err, stored)
	}
	checkSeed(t, "imported text", stored[0])

	// JSON lines, with a bad line: nothing stored, the line named.
	n := st.count()
	bad := writeTemp(t, "bad.jsonl", `{"url":"https://j.example/1","title":"One"}`+"\n"+`{"url":`)
	if _, err := im.Import(ctx, bad, ImportOptions{}); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad jsonl: %v", err)
	}
	good := writeTemp(t, "good.jsonl", `{"url":"https://j.example/1","title":"One","lead":"First."}`+"\n"+`{"url":"https://j.example/2","title":"Two"}`+"\n")
	if stored, err := im.Import(ctx, good, ImportOptions{}); err != nil || len(stored) != 2 || st.count() != n+2 {
		t.Errorf("jsonl: %v %d", err, len(stored))
	}

	// A missing file.
	if _, err := im.Import(ctx, filepath.Join(t.TempDir(), "nope.xml"), ImportOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	// A file over the cap.
	small := &Importer{Store: st, MaxFileBytes: 100}
	if _, err := small.Import(ctx, filepath.Join(fixtureDir, "wire-a.rss.xml"), ImportOptions{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("file cap: %v", err)
	}
}

func TestImportURL(t *testing.T) {
	page := readFixture(t, "article-page.html")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	defer srv.Close()
	st := newFakeStore()
	im := &Importer{Store: st, Fetcher: &Fetcher{Client: srv.Client()}, Now: func() time.Time { return testNow }}
	stored, err := im.Import(context.Background(), srv.URL+"/story?utm_source=x", ImportOptions{})
	if err != nil || len(stored) != 1 {
		t.Fatalf("%v %+v", err, stored)
	}
	// The page's own canonical URL wins over where it was fetched from.
	if stored[0].URL != seedURL {
		t.Errorf("URL %q", stored[0].URL)
	}
}
