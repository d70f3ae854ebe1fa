package articles

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// feedServer serves one document with validators and counts requests; its
// content can be swapped mid-test.
type feedServer struct {
	mu           sync.Mutex
	body         []byte
	etag         string
	lastModified string
	hits         atomic.Int64
	conditional  atomic.Int64 // 304s answered
	userAgent    atomic.Value
}

func (s *feedServer) set(body []byte, etag, lastModified string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.etag, s.lastModified = body, etag, lastModified
}

func (s *feedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	s.userAgent.Store(r.UserAgent())
	s.mu.Lock()
	body, etag, lm := s.body, s.etag, s.lastModified
	s.mu.Unlock()
	if etag != "" && r.Header.Get("If-None-Match") == etag ||
		etag == "" && lm != "" && r.Header.Get("If-Modified-Since") == lm {
		s.conditional.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	if lm != "" {
		w.Header().Set("Last-Modified", lm)
	}
	w.Header().Set("Content-Type", "application/rss+xml")
	w.Write(body)
}

func TestFetcher(t *testing.T) {
	fs := &feedServer{}
	fs.set([]byte("hello"), `"v1"`, "Wed, 13 Sep 2023 18:45:12 GMT")
	srv := httptest.NewServer(fs)
	defer srv.Close()
	ctx := context.Background()
	f := &Fetcher{Client: srv.Client(), UserAgent: "digestbot-test"}

	r, err := f.Fetch(ctx, srv.URL+"/feed", "", "")
	if err != nil || string(r.Body) != "hello" || r.ETag != `"v1"` || r.LastModified == "" || r.NotModified {
		t.Fatalf("first fetch: %v %+v", err, r)
	}
	if ua := fs.userAgent.Load(); ua != "digestbot-test" {
		t.Errorf("User-Agent %v", ua)
	}
	r, err = f.Fetch(ctx, srv.URL+"/feed", r.ETag, r.LastModified)
	if err != nil || !r.NotModified || r.Body != nil || r.ETag != `"v1"` {
		t.Fatalf("conditional fetch: %v %+v", err, r)
	}
	// Last-Modified alone.
	fs.set([]byte("hello"), "", "Wed, 13 Sep 2023 18:45:12 GMT")
	r, err = f.Fetch(ctx, srv.URL+"/feed", "", "Wed, 13 Sep 2023 18:45:12 GMT")
	if err != nil || !r.NotModified || r.LastModified != "Wed, 13 Sep 2023 18:45:12 GMT" {
		t.Fatalf("If-Modified-Since: %v %+v", err, r)
	}

	// Size cap: exactly the cap passes, one byte more fails (with and
	// without a Content-Length).
	fs.set(bytes.Repeat([]byte("x"), 100), "", "")
	if r, err := (&Fetcher{Client: srv.Client(), MaxBytes: 100}).Fetch(ctx, srv.URL, "", ""); err != nil || len(r.Body) != 100 {
		t.Errorf("at cap: %v %d", err, len(r.Body))
	}
	if _, err := (&Fetcher{Client: srv.Client(), MaxBytes: 99}).Fetch(ctx, srv.URL, "", ""); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over cap: %v", err)
	}
	chunked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 10 {
			w.Write(bytes.Repeat([]byte("y"), 50))
			w.(http.Flusher).Flush()
		}
	}))
	defer chunked.Close()
	if _, err := (&Fetcher{Client: chunked.Client(), MaxBytes: 120}).Fetch(ctx, chunked.URL, "", ""); !errors.Is(err, ErrTooLarge) {
		t.Errorf("chunked over cap: %v", err)
	}

	// Status errors.
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "gone", http.StatusGone) }))
	defer gone.Close()
	var se *StatusError
	if _, err := (&Fetcher{Client: gone.Client()}).Fetch(ctx, gone.URL, "", ""); !errors.As(err, &se) || se.Code != http.StatusGone {
		t.Errorf("410: %v", err)
	}
	// Only http(s).
	if _, err := f.Fetch(ctx, "file:///etc/passwd", "", ""); !errors.Is(err, ErrBadURL) {
		t.Errorf("file URL: %v", err)
	}
}

func TestFetcherTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("<rss"))
		w.(http.Flusher).Flush()
		select { // a server that stalls mid-body
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	start := time.Now()
	_, err := (&Fetcher{Client: slow.Client(), Timeout: 150 * time.Millisecond}).Fetch(context.Background(), slow.URL, "", "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stalled body: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("timeout took %s", d)
	}
}

func TestPollFeed(t *testing.T) {
	fs := &feedServer{}
	fs.set(readFixture(t, "pacific-stripes.rss.xml"), `"v1"`, "Wed, 13 Sep 2023 18:45:12 GMT")
	srv := httptest.NewServer(fs)
	defer srv.Close()

	feed := Feed{ID: 1, URL: srv.URL + "/headlines.rss", Name: "Pacific Stripes Daily", Section: "military", Enabled: true}
	st := newFakeStore(feed)
	clock := testNow
	p := &Poller{Store: st, Fetcher: &Fetcher{Client: srv.Client()}, Now: func() time.Time { return clock }}
	ctx := context.Background()

	n, err := p.PollFeed(ctx, feed)
	if err != nil || n != 10 || st.count() != 10 {
		t.Fatalf("first poll: %d %v, %d stored", n, err, st.count())
	}
	f := st.feed(1)
	if f.ETag != `"v1"` || f.LastModified != "Wed, 13 Sep 2023 18:45:12 GMT" || f.LastError != "" || !f.LastPolledAt.Equal(testNow) {
		t.Errorf("recorded poll: %+v", f)
	}
	for _, a := range st.all() {
		if a.FeedID != 1 || a.Source != "Pacific Stripes Daily" {
			t.Errorf("article %+v", a)
		}
	}

	// Second poll with the recorded validators: 304, nothing parsed.
	clock = clock.Add(time.Hour)
	n, err = p.PollFeed(ctx, st.feed(1))
	if err != nil || n != 0 || fs.conditional.Load() != 1 {
		t.Fatalf("304 poll: %d %v (304s: %d)", n, err, fs.conditional.Load())
	}
	if f := st.feed(1); f.ETag != `"v1"` || !f.LastPolledAt.Equal(clock) || f.LastError != "" {
		t.Errorf("after 304: %+v", f)
	}

	// The feed breaks: the error is recorded, old validators kept, stored
	// articles untouched.
	fs.set(readFixture(t, "malformed.xml"), `"v2"`, "")
	before := st.all()
	n, err = p.PollFeed(ctx, st.feed(1))
	if err == nil || n != 0 {
		t.Fatalf("malformed poll: %d %v", n, err)
	}
	f = st.feed(1)
	if !strings.Contains(f.LastError, "malformed XML") || !strings.Contains(f.LastError, "Pacific Stripes Daily") || f.ETag != `"v1"` {
		t.Errorf("recorded failure: %+v", f)
	}
	if st.count() != len(before) {
		t.Errorf("articles changed: %d → %d", len(before), st.count())
	}

	// Fixed again: polled in full (the old ETag no longer matches), the
	// same articles updated in place, the error cleared.
	fs.set(readFixture(t, "pacific-stripes.rss.xml"), `"v3"`, "")
	n, err = p.PollFeed(ctx, st.feed(1))
	if err != nil || n != 10 || st.count() != 10 {
		t.Fatalf("recovered poll: %d %v, %d stored", n, err, st.count())
	}
	if f := st.feed(1); f.LastError != "" || f.ETag != `"v3"` {
		t.Errorf("after recovery: %+v", f)
	}
}

func TestPollFeedSizeCapAndTimeout(t *testing.T) {
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte(" "), 4096))
	}))
	defer big.Close()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)

	feeds := []Feed{{ID: 1, URL: big.URL, Enabled: true}, {ID: 2, URL: slow.URL, Enabled: true}}
	st := newFakeStore(feeds...)
	p := &Poller{Store: st, Fetcher: &Fetcher{MaxBytes: 1024, Timeout: 100 * time.Millisecond}, Now: func() time.Time { return testNow }}
	if _, err := p.PollFeed(context.Background(), feeds[0]); !errors.Is(err, ErrTooLarge) {
		t.Errorf("size cap: %v", err)
	}
	if f := st.feed(1); !strings.Contains(f.LastError, "size cap") {
		t.Errorf("size cap not recorded: %q", f.LastError)
	}
	if _, err := p.PollFeed(context.Background(), feeds[1]); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout: %v", err)
	}
	if f := st.feed(2); f.LastError == "" || f.LastPolledAt.IsZero() {
		t.Errorf("timeout not recorded: %+v", f)
	}
}

// Run polls every enabled feed again and again; a failing feed never stops
// the others, and a disabled feed is never fetched.
func TestPollerRun(t *testing.T) {
	good := &feedServer{}
	good.set(readFixture(t, "wire-a.rss.xml"), "", "")
	goodSrv := httptest.NewServer(good)
	defer goodSrv.Close()
	var badHits, offHits atomic.Int64
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		badHits.Add(1)
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer bad.Close()
	off := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { offHits.Add(1) }))
	defer off.Close()

	st := newFakeStore(
		Feed{ID: 1, URL: bad.URL + "/a", Enabled: true},
		Feed{ID: 2, URL: goodSrv.URL + "/b", Enabled: true},
		Feed{ID: 3, URL: off.URL + "/c", Enabled: false},
	)
	p := &Poller{Store: st, Interval: 40 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	deadline := time.Now().Add(5 * time.Second)
	for good.hits.Load() < 3 || badHits.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("not polled enough: good %d, bad %d", good.hits.Load(), badHits.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
	if offHits.Load() != 0 {
		t.Errorf("disabled feed fetched %d times", offHits.Load())
	}
	if st.count() != 10 {
		t.Errorf("stored %d articles from the good feed, want 10", st.count())
	}
	if f := st.feed(1); !strings.Contains(f.LastError, "500") {
		t.Errorf("bad feed error: %q", f.LastError)
	}
	if f := st.feed(2); f.LastError != "" {
		t.Errorf("good feed error: %q", f.LastError)
	}
}

func TestPollerRunSurvivesListErrors(t *testing.T) {
	st := newFakeStore()
	st.failList = fmt.Errorf("database is locked")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := (&Poller{Store: st, Interval: 20 * time.Millisecond}).Run(ctx); err != nil {
		t.Errorf("Run: %v", err)
	}
	// A failed list is retried on the next rescan, not given up on.
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.lists < 2 {
		t.Errorf("feed list read %d times in 100ms, want retries", st.lists)
	}
}

func TestStartJitter(t *testing.T) {
	span := time.Minute
	a, b := startJitter("https://a.example/feed", span), startJitter("https://b.example/feed", span)
	if a < 0 || a >= span || b < 0 || b >= span || a == b {
		t.Errorf("jitter %s %s", a, b)
	}
	if startJitter("https://a.example/feed", span) != a {
		t.Error("jitter not stable")
	}
}
