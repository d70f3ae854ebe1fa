package articles_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/articles/articlestest"
)

// BenchmarkParseFeed10k parses and cleans a generated 10,000-item RSS feed
// (about 1 KB of HTML per description): the ingestion work short of the
// store. go test ./articles -run '^$' -bench ParseFeed10k -benchmem
func BenchmarkParseFeed10k(b *testing.B) {
	const n = 10000
	start := time.Date(2023, 9, 13, 18, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	if err := articlestest.WriteRSS(&buf, n, start); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		arts, err := articles.ParseFeed(data, articles.Feed{ID: 1, URL: "https://bench.example/feed.xml"}, start)
		if err != nil {
			b.Fatal(err)
		}
		if len(arts) != n {
			b.Fatalf("%d articles", len(arts))
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "items/s")
}

// The generated feed cleans like the fixtures: caption out of the lead,
// promo gone, utm_ gone.
func TestGeneratedFeedCleans(t *testing.T) {
	var buf bytes.Buffer
	if err := articlestest.WriteRSS(&buf, 300, time.Date(2023, 9, 13, 18, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	arts, err := articles.ParseFeed(buf.Bytes(), articles.Feed{}, time.Date(2023, 9, 14, 0, 0, 0, 0, time.UTC))
	if err != nil || len(arts) != 300 { // enough items to clean on several goroutines
		t.Fatalf("%v %d", err, len(arts))
	}
	for _, a := range arts {
		if strings.Contains(a.Lead, "gather outside") || strings.Contains(a.Lead, "Sign") || strings.Contains(a.URL, "utm_") {
			t.Errorf("%+v", a)
		}
		if !strings.Contains(a.Lead, "U.S. and its allies") || a.ImageURL == "" {
			t.Errorf("lead %q image %q", a.Lead, a.ImageURL)
		}
	}
}
