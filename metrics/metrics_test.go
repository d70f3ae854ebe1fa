package metrics

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestInstruments(t *testing.T) {
	m := New()
	m.Delivered("email", "sent", 2*time.Millisecond)
	m.Delivered("email", "sent", 3*time.Millisecond)
	m.Delivered("email", "bounced", 40*time.Millisecond)
	m.Delivered("telegram", "blocked", -1) // not timed: counted, not observed
	m.FeedPolled("https://a.example/rss", 7, nil)
	m.FeedPolled("https://a.example/rss", 0, errors.New("503"))
	m.EditionBuilt()
	m.HTTPRequest("GET /{$}", 200)
	leading := 1.0
	if err := m.Gauge("digestbot_leader", "leads", func() float64 { return leading }); err != nil {
		t.Fatal(err)
	}
	if err := m.Gauge("digestbot_leader", "twice", func() float64 { return 0 }); err == nil {
		t.Error("a second collector of one name was accepted")
	}

	for _, c := range []struct {
		got, want float64
		what      string
	}{
		{testutil.ToFloat64(m.messages.WithLabelValues("email", "sent")), 2, "email sent"},
		{testutil.ToFloat64(m.messages.WithLabelValues("email", "bounced")), 1, "email bounced"},
		{testutil.ToFloat64(m.messages.WithLabelValues("telegram", "blocked")), 1, "telegram blocked"},
		{testutil.ToFloat64(m.feedArticles.WithLabelValues("https://a.example/rss")), 7, "feed articles"},
		{testutil.ToFloat64(m.feedPolls.WithLabelValues("https://a.example/rss", "error")), 1, "feed errors"},
		{testutil.ToFloat64(m.editions), 1, "editions"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`digestbot_send_duration_seconds_count{channel="email"} 3`,
		`digestbot_send_duration_seconds_bucket{channel="email",le="0.004"} 2`,
		`digestbot_send_duration_seconds_count{channel="telegram"} 0`,
		"digestbot_leader 1",
		`digestbot_http_requests_total{code="200",route="GET /{$}"} 1`,
		"process_resident_memory_bytes ",
		"go_goroutines ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}

// TestNil: a nil *Metrics takes every event and does nothing.
func TestNil(t *testing.T) {
	var m *Metrics
	m.Delivered("email", "sent", time.Millisecond)
	m.FeedPolled("f", 1, nil)
	m.EditionBuilt()
	m.HTTPRequest("r", 200)
	if err := m.Gauge("g", "h", func() float64 { return 1 }); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkDelivered(b *testing.B) {
	m := New()
	for b.Loop() {
		m.Delivered("email", "sent", time.Millisecond)
	}
}
