package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/subscribers"
)

// edition stores an edition of date with one item and moves it to status.
func edition(t *testing.T, st *store.Store, date, status, title string) digest.Edition {
	t.Helper()
	ctx := context.Background()
	e, _, err := st.CreateEdition(ctx, digest.Edition{
		Date: date, Title: "Daily Headlines",
		CutoffFrom: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), CutoffTo: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC),
		Items: []digest.Item{{ArticleID: 1, Section: "World", Title: title, URL: "https://news.example/a", Source: "Wire"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{digest.StatusSending, digest.StatusSent} {
		if e.Status == status {
			break
		}
		if _, err := st.TransitionEdition(ctx, e.ID, []string{e.Status}, to); err != nil {
			t.Fatal(err)
		}
		e.Status = to
	}
	return e
}

func TestArchive(t *testing.T) {
	st := storetest.OpenSQLite(t)
	e := newEnv(t, st)
	wantStatus(t, "empty archive", e.get("/archive"), http.StatusOK, "No editions yet")

	edition(t, st, "2026-03-01", digest.StatusSent, "Older <b>story</b>")
	edition(t, st, "2026-03-02", digest.StatusSent, `Summit <script>alert(1)</script> & "quotes"`)
	edition(t, st, "2026-03-03", digest.StatusBuilt, "Not out yet")

	r := e.get("/archive")
	wantStatus(t, "archive", r, http.StatusOK, `href="/archive/2026-03-02"`, "Monday, March 2, 2026", `href="/archive/2026-03-01"`)
	if strings.Index(r.body, "2026-03-02") > strings.Index(r.body, "2026-03-01") {
		t.Error("archive not latest first")
	}
	if strings.Contains(r.body, "2026-03-03") || strings.Contains(r.body, "<script>alert") {
		t.Errorf("archive shows an unsent edition or raw markup:\n%s", r.body)
	}

	r = e.get("/archive/2026-03-02")
	wantStatus(t, "edition", r, http.StatusOK, "Summit &lt;script&gt;alert(1)&lt;/script&gt;")
	if strings.Contains(r.body, "<script>alert") {
		t.Fatalf("edition page unescaped:\n%s", r.body)
	}
	if strings.Contains(r.body, "/unsubscribe/") || strings.Contains(r.body, "/preferences/") {
		t.Error("archive page carries per-reader links")
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("edition CSP %q", csp)
	}
	for path, status := range map[string]int{
		"/archive/2026-03-03": http.StatusNotFound, // built, not sent
		"/archive/2026-02-28": http.StatusNotFound,
		"/archive/2026-02-30": http.StatusNotFound,
		"/archive/yesterday":  http.StatusNotFound,
		"/archive/2026-3-2":   http.StatusNotFound,
	} {
		wantStatus(t, path, e.get(path), status, "<h1>")
	}
}

func TestHealthAndMetrics(t *testing.T) {
	st := storetest.OpenSQLite(t)
	e := newEnv(t, st)
	ctx := context.Background()

	r := e.get("/healthz")
	if r.status != http.StatusOK || strings.TrimSpace(r.body) != "ok" {
		t.Fatalf("healthz: %d %q", r.status, r.body)
	}

	e.signup("m1@example.com")
	e.signup("m2@example.com")
	e.postWith(e.newClient(), e.mail.last(t, "m1@example.com"), "", "")
	ed := edition(t, st, "2026-03-02", digest.StatusSent, "Headline")
	sub := e.sub("m1@example.com")
	if err := st.RecordDeliveries(ctx, []delivery.Delivery{{EditionID: ed.ID, SubscriptionID: sub.ID, Status: digest.DeliverySent, Attempts: 1, SentAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	e.get("/nope")

	r = e.get("/metrics")
	wantStatus(t, "metrics", r, http.StatusOK,
		"# TYPE digestbot_subscriptions gauge\n",
		`digestbot_subscriptions{channel="email",status="active"} 1`+"\n",
		`digestbot_subscriptions{channel="email",status="pending"} 1`+"\n",
		`digestbot_latest_edition_info{date="2026-03-02",status="sent"} 1`,
		`digestbot_latest_edition_deliveries{channel="email",status="sent"} 1`,
		"digestbot_store_up 1\n",
		"# TYPE digestbot_http_requests_total counter\n",
		`digestbot_http_requests_total{code="200",route="POST /subscribe"} 2`,
		`digestbot_http_requests_total{code="200",route="POST /confirm/{token}"} 1`,
		`digestbot_http_requests_total{code="404",route="unmatched"} 1`,
		"# TYPE go_goroutines gauge\n",
	)
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Errorf("metrics content type %q", r.header.Get("Content-Type"))
	}
	if strings.Contains(r.body, e.svc.Token(subscribers.PurposeConfirm, sub.ID)[:20]) {
		t.Error("a token in the metrics")
	}
	// Every sample line is "name{labels} value" or "name value".
	for _, line := range strings.Split(strings.TrimSpace(r.body), "\n") {
		if strings.HasPrefix(line, "# ") {
			continue
		}
		if f := strings.Fields(line); len(f) < 2 || !strings.HasPrefix(f[0], "digestbot_") && !strings.HasPrefix(f[0], "go_") &&
			!strings.HasPrefix(f[0], "process_") && !strings.HasPrefix(f[0], "promhttp_") {
			t.Errorf("bad sample line %q", line)
		}
	}

	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if r = e.get("/healthz"); r.status != http.StatusServiceUnavailable {
		t.Fatalf("healthz with the database closed: %d", r.status)
	}
}

// TestArchiveFeed: the archive as Atom, read back by a real feed parser
// (gofeed, as feed readers parse): sent editions only, latest first, every
// outside string escaped, links to the archive pages.
func TestArchiveFeed(t *testing.T) {
	st := storetest.OpenSQLite(t)
	e := newEnv(t, st)
	edition(t, st, "2026-03-01", digest.StatusSent, "Older <b>story</b>")
	edition(t, st, "2026-03-02", digest.StatusSent, `Summit <script>alert(1)</script> & "quotes"`)
	edition(t, st, "2026-03-03", digest.StatusBuilt, "Not out yet")

	r := e.get("/archive/feed.atom")
	wantStatus(t, "feed", r, http.StatusOK, `<feed xmlns="http://www.w3.org/2005/Atom">`)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/atom+xml") {
		t.Errorf("content type %q", ct)
	}
	f, err := gofeed.NewParser().ParseString(r.body)
	if err != nil {
		t.Fatalf("gofeed: %v\n%s", err, r.body)
	}
	if f.FeedType != "atom" || f.Title != "Daily Headlines" || len(f.Items) != 2 {
		t.Fatalf("feed %s %q with %d entries, want atom, 2 entries:\n%s", f.FeedType, f.Title, len(f.Items), r.body)
	}
	first := f.Items[0]
	if !strings.HasSuffix(first.Link, "/archive/2026-03-02") || !strings.Contains(first.Title, "Monday, March 2, 2026") {
		t.Errorf("first entry %q → %q", first.Title, first.Link)
	}
	if !strings.Contains(first.Content, `Summit &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quotes&#34;`) ||
		!strings.Contains(first.Content, `<a href="https://news.example/a">`) || strings.Contains(first.Content, "<script>") {
		t.Errorf("first entry's content, as a reader would render it:\n%s", first.Content)
	}
	if strings.Contains(r.body, "Not out yet") || strings.Contains(r.body, "<script>") {
		t.Errorf("feed shows an unsent edition or raw markup:\n%s", r.body)
	}
	if page := e.get("/archive"); !strings.Contains(page.body, `type="application/atom+xml"`) {
		t.Error("the archive page does not announce its feed")
	}
}
