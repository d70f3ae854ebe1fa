package web_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/subscribers"
	"github.com/digestbot/digestbot/web"
)

// TestNewsletters: with several letters the form offers them, the reader's
// choice is stored, a letter's own unsubscribe link leaves that letter
// only (one-click included), "unsubscribe from all" leaves every one, the
// preferences change them, and each letter has its archive.
func TestNewsletters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, func(c *web.Config, d *web.Deps) {
			c.Letters = []web.Letter{{Slug: "daily", Title: "Daily Headlines"}, {Slug: "week", Title: "Week in Review"}}
		})
		e.svc.Newsletters = []string{"daily", "week"}

		r := e.get("/")
		wantStatus(t, "GET /", r, http.StatusOK, "<legend>Newsletters</legend>", `name="newsletters" value="week"`, "Week in Review")
		if !strings.Contains(r.body, `value="daily" checked`) || strings.Contains(r.body, `value="week" checked`) {
			t.Errorf("the default letter alone should be ticked:\n%s", r.body)
		}
		if r := e.get("/?newsletter=week"); !strings.Contains(r.body, `value="week" checked`) {
			t.Error("?newsletter=week does not tick the weekly letter")
		}
		r = e.post("/subscribe", url.Values{"csrf_token": {e.csrf("/")}, "email": {"nobox@example.org"}})
		wantStatus(t, "no letter ticked", r, http.StatusBadRequest, "Choose at least one newsletter")
		r = e.post("/subscribe", url.Values{"csrf_token": {e.csrf("/")}, "email": {"x@example.org"}, "newsletters": {"gossip"}})
		wantStatus(t, "unknown letter", r, http.StatusBadRequest, "listed newsletters")

		r = e.post("/subscribe", url.Values{"csrf_token": {e.csrf("/")}, "email": {"reader@example.org"}, "newsletters": {"week", "daily"}})
		wantStatus(t, "signup", r, http.StatusOK, "Check your inbox")
		confirm := e.mail.last(t, "reader@example.org")
		wantStatus(t, "confirm", e.postWith(e.newClient(), confirm, "application/x-www-form-urlencoded", ""), http.StatusOK, "You're subscribed")
		sub := e.sub("reader@example.org")
		if sub.Status != subscribers.Active || !slices.Equal(sub.Newsletters, []string{"daily", "week"}) {
			t.Fatalf("after confirm: %+v", sub)
		}

		// The weekly letter's one-click link (its List-Unsubscribe).
		tok := e.svc.Token(subscribers.PurposeUnsubscribe, sub.ID)
		wantStatus(t, "GET a letter's unsubscribe", e.get("/unsubscribe/"+tok+"?newsletter=week"), http.StatusOK,
			"Stop sending Week in Review", "Unsubscribe from all")
		oneClick := e.newClient()
		r = e.postWith(oneClick, "/unsubscribe/"+tok+"?newsletter=week", "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
		wantStatus(t, "one-click from week", r, http.StatusOK, "You won&#39;t receive Week in Review anymore", "Daily Headlines")
		if s := e.sub("reader@example.org"); s.Status != subscribers.Active || !s.Gets("daily", "daily") || s.Gets("week", "daily") {
			t.Fatalf("after leaving week: %+v", s)
		}
		// Repeated: still 200, nothing else changes.
		wantStatus(t, "one-click again", e.postWith(oneClick, "/unsubscribe/"+tok+"?newsletter=week", "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click"), http.StatusOK)

		// Preferences: the boxes show the letters; back to both.
		prefs := "/preferences/" + e.svc.Token(subscribers.PurposePreferences, sub.ID)
		r = e.get(prefs)
		if !strings.Contains(r.body, `value="daily" checked`) || strings.Contains(r.body, `value="week" checked`) {
			t.Errorf("preferences boxes:\n%s", r.body)
		}
		form := url.Values{"csrf_token": {e.csrf(prefs)}, "sections": {"World"}}
		wantStatus(t, "no letter", e.post(prefs, form), http.StatusBadRequest, "at least one newsletter")
		if s := e.sub("reader@example.org"); len(s.Sections) != 0 {
			t.Errorf("a refused form saved the sections: %v", s.Sections)
		}
		form = url.Values{"csrf_token": {e.csrf(prefs)}, "sections": {"World"}, "newsletters": {"daily", "week"}}
		wantStatus(t, "save", e.post(prefs, form), http.StatusOK, "saved")
		if s := e.sub("reader@example.org"); !slices.Equal(s.Newsletters, []string{"daily", "week"}) {
			t.Fatalf("after preferences: %+v", s)
		}

		// Unsubscribe from all, from a letter's page.
		r = e.postWith(e.newClient(), "/unsubscribe/"+tok+"?newsletter=week", "application/x-www-form-urlencoded", "all=1")
		wantStatus(t, "from all", r, http.StatusOK, "You're unsubscribed")
		if s := e.sub("reader@example.org"); s.Status != subscribers.Unsubscribed {
			t.Fatalf("after unsubscribe from all: %+v", s)
		}

		// Archives: each letter's own, the old paths the default one's.
		ctx := context.Background()
		for _, nl := range []string{"daily", "week"} {
			ed, _, err := st.CreateEdition(ctx, digest.Edition{Newsletter: nl, Date: "2026-03-01", Title: map[string]string{"daily": "Daily Headlines", "week": "Week in Review"}[nl],
				Status: digest.StatusSent, Items: []digest.Item{{Title: "Only in " + nl, URL: "https://news.example/" + nl, Section: "World"}}})
			if err != nil || ed.ID == 0 {
				t.Fatal(err)
			}
		}
		wantStatus(t, "week archive", e.get("/archive/week/"), http.StatusOK, "Week in Review", `href="/archive/week/2026-03-01"`)
		wantStatus(t, "week edition", e.get("/archive/week/2026-03-01"), http.StatusOK, "Only in week")
		wantStatus(t, "week feed", e.get("/archive/week/feed.atom"), http.StatusOK, "/archive/week/2026-03-01", "Only in week")
		wantStatus(t, "default edition", e.get("/archive/2026-03-01"), http.StatusOK, "Only in daily")
		wantStatus(t, "daily by slug", e.get("/archive/daily/2026-03-01"), http.StatusOK, "Only in daily")
		if r := e.get("/archive/week"); r.status != http.StatusMovedPermanently || r.header.Get("Location") != "/archive/week/" {
			t.Errorf("/archive/week: %d %q", r.status, r.header.Get("Location"))
		}
		wantStatus(t, "unknown letter", e.get("/archive/gossip/"), http.StatusNotFound)
		if r := e.get("/archive"); strings.Contains(r.body, "Only in week") {
			t.Error("the default archive lists the weekly letter")
		}
	})
}
