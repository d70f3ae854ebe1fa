package web_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/publish"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/subscribers"
	"github.com/digestbot/digestbot/web"
)

// importer stands in for articles.Importer: a URL becomes one article
// titled after it.
type importer struct{ st *store.Store }

func (i importer) Import(ctx context.Context, src string, opts articles.ImportOptions) ([]articles.Article, error) {
	switch {
	case strings.Contains(src, "unreachable"):
		return nil, errors.New("fetch: connection refused")
	case strings.Contains(src, "missing"):
		return nil, fmt.Errorf("articles: import: %w", &articles.StatusError{URL: src, Code: 404, Status: "404 Not Found"})
	case strings.Contains(src, "empty"):
		return nil, nil
	}
	stored, _, err := i.st.UpsertArticles(ctx, []articles.Article{{URL: src, Title: "Fetched " + src, Section: opts.Section, Source: "Web"}})
	return stored, err
}

// builder stands in for digest.Builder: an empty edition per date, or
// digest.ErrEmpty when told there is nothing new.
type builder struct {
	st    *store.Store
	empty bool
}

func (b *builder) Date(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func (b *builder) Build(ctx context.Context, date string) (digest.Edition, bool, error) {
	if b.empty {
		return digest.Edition{}, false, fmt.Errorf("digest: build %s: %w", date, digest.ErrEmpty)
	}
	return b.st.CreateEdition(ctx, digest.Edition{Date: date, Title: "Daily Headlines"})
}

// fanout stands in for delivery.Fanout: Start marks a built edition sending.
type fanout struct{ st *store.Store }

func (f fanout) Start(ctx context.Context, id int64) (bool, error) {
	return f.st.TransitionEdition(ctx, id, []string{digest.StatusBuilt}, digest.StatusSending)
}

func (e *env) api(method, path, token, body string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return e.do(http.DefaultClient, req)
}

func wantJSON(t *testing.T, what string, r response, status int, v any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: content type %q", what, ct)
	}
	if v == nil {
		v = new(map[string]any)
	}
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("%s: %v in %s", what, err, r.body)
	}
}

func wantAPIError(t *testing.T, what string, r response, status int, contains string) {
	t.Helper()
	var body struct {
		Error string `json:"error"`
	}
	wantJSON(t, what, r, status, &body)
	if !strings.Contains(body.Error, contains) {
		t.Fatalf("%s: error %q, want it to contain %q", what, body.Error, contains)
	}
}

func TestAdminAuth(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	wantAPIError(t, "no token", e.api("GET", "/api/v1/stats", "", ""), http.StatusUnauthorized, "bearer token")
	wantAPIError(t, "wrong token", e.api("GET", "/api/v1/stats", "wrong", ""), http.StatusUnauthorized, "bearer token")
	wantAPIError(t, "prefix of token", e.api("GET", "/api/v1/stats", adminToken[:5], ""), http.StatusUnauthorized, "bearer token")
	r := e.api("GET", "/api/v1/stats", "", "")
	if r.header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/stats", nil)
	req.Header.Set("Authorization", "Basic "+adminToken)
	if r := e.do(http.DefaultClient, req); r.status != http.StatusUnauthorized {
		t.Errorf("Basic scheme: %d", r.status)
	}
	wantJSON(t, "good token", e.api("GET", "/api/v1/stats", adminToken, ""), http.StatusOK, nil)
	wantAPIError(t, "unknown endpoint", e.api("GET", "/api/v1/nope", adminToken, ""), http.StatusNotFound, "")

	off := newEnv(t, storetest.OpenSQLite(t), func(c *web.Config, _ *web.Deps) { c.AdminToken = "" })
	wantAPIError(t, "disabled", off.api("GET", "/api/v1/stats", "", ""), http.StatusForbidden, "admin API disabled")
	wantAPIError(t, "disabled, any token", off.api("POST", "/api/v1/subscribers", "x", `{}`), http.StatusForbidden, "admin API disabled")

	// Guessing is rate limited.
	lim := newEnv(t, storetest.OpenSQLite(t), func(c *web.Config, _ *web.Deps) { c.RateBurst, c.RateEvery = 3, time.Minute })
	for range 3 {
		lim.api("GET", "/api/v1/stats", "guess", "")
	}
	wantAPIError(t, "guessing", lim.api("GET", "/api/v1/stats", "guess", ""), http.StatusTooManyRequests, "Too many")
	wantJSON(t, "right token while limited", lim.api("GET", "/api/v1/stats", adminToken, ""), http.StatusOK, nil)
}

func TestAdminArticles(t *testing.T) {
	st := storetest.OpenSQLite(t)
	e := newEnv(t, st, func(_ *web.Config, d *web.Deps) { d.Importer = importer{st} })

	var a struct {
		ID       int64  `json:"id"`
		URL      string `json:"url"`
		Title    string `json:"title"`
		Section  string `json:"section"`
		Pinned   bool   `json:"pinned"`
		Hidden   bool   `json:"hidden"`
		Priority int    `json:"priority"`
	}
	var posted struct {
		Articles []struct {
			ID          int64  `json:"id"`
			URL         string `json:"url"`
			Title       string `json:"title"`
			Lead        string `json:"lead"`
			Section     string `json:"section"`
			PublishedAt string `json:"published_at"`
		} `json:"articles"`
	}
	wantJSON(t, "post url", e.api("POST", "/api/v1/articles", adminToken, `{"url":"https://news.example/story","section":"World"}`), http.StatusCreated, &posted)
	if len(posted.Articles) != 1 || posted.Articles[0].ID == 0 || posted.Articles[0].Title != "Fetched https://news.example/story" || posted.Articles[0].Section != "World" {
		t.Fatalf("posted: %+v", posted)
	}
	// A whole article goes through the JSON-lines cleaning (spaces folded).
	wantJSON(t, "post article", e.api("POST", "/api/v1/articles", adminToken,
		`{"url":"https://news.example/two","title":"  Two\n  stories ","lead":"Lead.","section":"Sport","published_at":"2026-03-01T10:00:00Z"}`), http.StatusCreated, &posted)
	p := posted.Articles[0]
	if len(posted.Articles) != 1 || p.Title != "Two stories" || p.Section != "Sport" || p.Lead != "Lead." || !strings.HasPrefix(p.PublishedAt, "2026-03-01T10:00:00") {
		t.Fatalf("posted article: %+v", posted)
	}
	second := p.ID

	for body, want := range map[string]string{
		`{"url":"https://news.example/x","colour":"red"}`:      `unknown field "colour"`,
		`{"url":"javascript:alert(1)"}`:                        "absolute http or https",
		`{"section":"World"}`:                                  "give a url",
		`{"url":"https://news.example/x","section":"Weather"}`: "unknown section",
		`{"url":`:                             "invalid JSON",
		``:                                    "empty body",
		`{"url":"https://news.example/x"} {}`: "more data",
		`[1,2]`:                               "invalid JSON",
	} {
		wantAPIError(t, "post "+body, e.api("POST", "/api/v1/articles", adminToken, body), http.StatusBadRequest, want)
	}
	r := e.api("POST", "/api/v1/articles", adminToken, `{"url":"https://unreachable.example/"}`)
	wantAPIError(t, "import failure", r, http.StatusBadGateway, "could not be fetched")
	if strings.Contains(r.body, "connection refused") {
		t.Error("internal error details leaked")
	}
	wantAPIError(t, "import 404", e.api("POST", "/api/v1/articles", adminToken, `{"url":"https://news.example/missing"}`), http.StatusBadGateway, "answered 404")
	wantAPIError(t, "nothing found", e.api("POST", "/api/v1/articles", adminToken, `{"url":"https://news.example/empty"}`), http.StatusUnprocessableEntity, "nothing to import")
	big := `{"title":"` + strings.Repeat("x", 1<<20) + `"}`
	wantAPIError(t, "oversized", e.api("POST", "/api/v1/articles", adminToken, big), http.StatusRequestEntityTooLarge, "too large")

	var list struct {
		Articles []struct {
			ID    int64  `json:"id"`
			Title string `json:"title"`
		} `json:"articles"`
	}
	wantJSON(t, "list", e.api("GET", "/api/v1/articles?limit=1", adminToken, ""), http.StatusOK, &list)
	if len(list.Articles) != 1 || list.Articles[0].ID != second {
		t.Fatalf("latest article: %+v", list)
	}
	wantJSON(t, "list all", e.api("GET", "/api/v1/articles", adminToken, ""), http.StatusOK, &list)
	if len(list.Articles) != 2 {
		t.Fatalf("all articles: %+v", list)
	}
	wantAPIError(t, "bad limit", e.api("GET", "/api/v1/articles?limit=0", adminToken, ""), http.StatusBadRequest, "limit")

	path := fmt.Sprintf("/api/v1/articles/%d", second)
	wantJSON(t, "pin", e.api("PATCH", path, adminToken, `{"pinned":true,"priority":3}`), http.StatusOK, &a)
	if !a.Pinned || a.Priority != 3 || a.Hidden {
		t.Fatalf("patched: %+v", a)
	}
	wantJSON(t, "hide", e.api("PATCH", path, adminToken, `{"hidden":true,"section":"Business"}`), http.StatusOK, &a)
	if !a.Hidden || !a.Pinned || a.Section != "Business" {
		t.Fatalf("patched: %+v", a)
	}
	wantAPIError(t, "empty patch", e.api("PATCH", path, adminToken, `{}`), http.StatusBadRequest, "nothing to change")
	wantAPIError(t, "unknown field", e.api("PATCH", path, adminToken, `{"pined":true}`), http.StatusBadRequest, "unknown field")
	wantAPIError(t, "wrong type", e.api("PATCH", path, adminToken, `{"pinned":"yes"}`), http.StatusBadRequest, "invalid JSON")
	wantAPIError(t, "missing", e.api("PATCH", "/api/v1/articles/9999", adminToken, `{"pinned":true}`), http.StatusNotFound, "Not found")
	wantAPIError(t, "bad id", e.api("PATCH", "/api/v1/articles/abc", adminToken, `{"pinned":true}`), http.StatusBadRequest, "id")

	none := newEnv(t, storetest.OpenSQLite(t))
	wantAPIError(t, "no importer", none.api("POST", "/api/v1/articles", adminToken, `{"url":"https://news.example/"}`), http.StatusNotImplemented, "Not available")
}

func TestAdminEditionsAndStats(t *testing.T) {
	st := storetest.OpenSQLite(t)
	b := &builder{st: st}
	e := newEnv(t, st, func(_ *web.Config, d *web.Deps) {
		d.Publisher = &publish.Service{Builder: b, Fanout: fanout{st}, Editions: st}
	})

	var stats struct {
		Subscriptions map[string]map[string]int `json:"subscriptions"`
		Articles      int                       `json:"articles"`
		LatestEdition *struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
		} `json:"latest_edition"`
	}
	wantJSON(t, "stats before", e.api("GET", "/api/v1/stats", adminToken, ""), http.StatusOK, &stats)
	if stats.LatestEdition != nil || stats.Articles != 0 {
		t.Fatalf("stats of an empty store: %+v", stats)
	}

	var ed struct {
		ID         int64         `json:"id"`
		Date       string        `json:"date"`
		Status     string        `json:"status"`
		Items      []digest.Item `json:"items"`
		Deliveries []any         `json:"deliveries"`
	}
	wantJSON(t, "send now", e.api("POST", "/api/v1/editions", adminToken, ""), http.StatusAccepted, &ed)
	if ed.ID == 0 || ed.Date != "2026-03-02" || ed.Status != digest.StatusSending {
		t.Fatalf("sent: %+v", ed)
	}
	// Again: already under way, nothing started twice.
	wantJSON(t, "send again", e.api("POST", "/api/v1/editions", adminToken, ""), http.StatusOK, &ed)
	if ed.Status != digest.StatusSending {
		t.Fatalf("sent again: %+v", ed)
	}
	wantJSON(t, "get edition", e.api("GET", fmt.Sprintf("/api/v1/editions/%d", ed.ID), adminToken, ""), http.StatusOK, &ed)
	if ed.Items == nil || ed.Deliveries == nil {
		t.Fatalf("edition JSON has null lists: %+v", ed)
	}
	wantAPIError(t, "missing edition", e.api("GET", "/api/v1/editions/999", adminToken, ""), http.StatusNotFound, "Not found")

	e.signup("s1@example.com")
	wantJSON(t, "stats after", e.api("GET", "/api/v1/stats", adminToken, ""), http.StatusOK, &stats)
	if stats.Subscriptions["email"]["pending"] != 1 || stats.LatestEdition == nil || stats.LatestEdition.ID != ed.ID {
		t.Fatalf("stats: %+v", stats)
	}

	b.empty = true
	e.clock.Add(24 * time.Hour)
	wantAPIError(t, "nothing new", e.api("POST", "/api/v1/editions", adminToken, ""), http.StatusConflict, "No new articles")

	none := newEnv(t, storetest.OpenSQLite(t))
	wantAPIError(t, "no sender", none.api("POST", "/api/v1/editions", adminToken, ""), http.StatusNotImplemented, "Not available")
}

func TestAdminSubscribers(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))

	var sub struct {
		ID       int64    `json:"id"`
		Address  string   `json:"address"`
		Status   string   `json:"status"`
		Source   string   `json:"source"`
		Sections []string `json:"sections"`
	}
	wantJSON(t, "add", e.api("POST", "/api/v1/subscribers", adminToken, `{"email":"Api@Example.com","sections":["World"]}`), http.StatusCreated, &sub)
	if sub.Address != "api@example.com" || sub.Status != "active" || sub.Source != "api" || len(sub.Sections) != 1 {
		t.Fatalf("added: %+v", sub)
	}
	wantJSON(t, "add again", e.api("POST", "/api/v1/subscribers", adminToken, `{"email":"Api@example.com"}`), http.StatusOK, &sub)
	if e.mail.count() != 0 {
		t.Fatal("the admin API sent a confirmation mail")
	}
	wantAPIError(t, "bad address", e.api("POST", "/api/v1/subscribers", adminToken, `{"email":"Api <api@example.com>"}`), http.StatusBadRequest, "look like an email address")
	wantAPIError(t, "bad section", e.api("POST", "/api/v1/subscribers", adminToken, `{"email":"x@example.com","sections":["Weather"]}`), http.StatusBadRequest, "sections")
	wantAPIError(t, "unknown field", e.api("POST", "/api/v1/subscribers", adminToken, `{"email":"x@example.com","name":"X"}`), http.StatusBadRequest, "unknown field")

	// An address whose owner left is not added back by an operator.
	e.signup("gone@example.com")
	e.postWith(e.newClient(), e.mail.last(t, "gone@example.com"), "", "")
	gone := e.sub("gone@example.com")
	e.postWith(e.newClient(), "/unsubscribe/"+e.svc.Token(subscribers.PurposeUnsubscribe, gone.ID), "", "")
	wantAPIError(t, "opted out", e.api("POST", "/api/v1/subscribers", adminToken, `{"email":"gone@example.com"}`), http.StatusConflict, "unsubscribed")

	e.signup("=1+2@example.com", "Sport", "World")
	r := e.api("GET", "/api/v1/subscribers", adminToken, "")
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("export: %d %s", r.status, r.header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "id,channel,address,status,sections,source,created_at" || len(rows) != 4 {
		t.Fatalf("export:\n%s", r.body)
	}
	last := rows[3]
	if last[2] != "'=1+2@example.com" || last[3] != "pending" || last[4] != "World;Sport" || last[5] != "web" {
		t.Fatalf("row %v", last)
	}
	if _, err := time.Parse(time.RFC3339, last[6]); err != nil {
		t.Fatalf("created_at %q: %v", last[6], err)
	}
}
