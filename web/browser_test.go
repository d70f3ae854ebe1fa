package web_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/subscribers"
)

// chromiumPath is where Debian's chromium package puts the browser; CI
// installs it.
const chromiumPath = "/usr/bin/chromium"

// browserTab starts a headless Chromium for the test and returns a tab.
func browserTab(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		// .ci/run installs Chromium: there a missing browser is a broken
		// install step, not a reason to skip.
		if os.Getenv("DIGESTBOT_REQUIRE_BROWSER") != "" {
			t.Fatalf("no Chromium at %s (DIGESTBOT_REQUIRE_BROWSER is set): %v", chromiumPath, err)
		}
		t.Skipf("browser test skipped: no Chromium at %s (apt-get install chromium): %v", chromiumPath, err)
	}
	// The whole browser session, start to finish; a hung page fails the
	// test instead of the test binary's timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Env("TZ=America/Chicago"), // the reader's zone, which the preferences propose
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel) // runs before TempDir's removal: the browser has exited
	tab, tcancel := chromedp.NewContext(actx)
	t.Cleanup(tcancel)
	// Start the browser now, without a deadline of its own (chromedp.Run).
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return tab
}

// TestBrowser walks a reader through the pages in headless Chromium, by
// clicking: sign up, confirm from the mail, choose sections, unsubscribe.
func TestBrowser(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	tab := browserTab(t)

	// open loads url (or runs the click that navigates) and checks status and h1.
	open := func(what string, status int64, h1 string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		resp, err := chromedp.RunResponse(tab, steps...)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if resp.Status != status {
			t.Fatalf("%s: HTTP %d, want %d", what, resp.Status, status)
		}
		got, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("h1")))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got != h1 {
			t.Fatalf("%s: heading %q, want %q", what, got, h1)
		}
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tab, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	open("signup page", 200, "Sign Up for Daily Headlines", chromedp.Navigate(e.srv.URL+"/"))
	// The stylesheet loads under the page's CSP and styles the button.
	bg, err := chromedp.Run(tab, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("#signup")).backgroundColor`))
	if err != nil || bg != "rgb(11, 87, 208)" {
		t.Errorf("signup button background %q, %v: stylesheet not applied", bg, err)
	}
	do("fill in", chromedp.SendKeys(chromedp.ID("email"), "browser@example.com"),
		chromedp.Click(chromedp.Search(`label[for="section-2"]`))) // untick Sport by its label
	open("submit", 200, "Check your inbox", chromedp.Click(chromedp.ID("signup")))
	sub := e.sub("browser@example.com")
	if sub.Status != subscribers.Pending || !slices.Equal(sub.Sections, []string{"World", "Business"}) {
		t.Fatalf("after signup: %+v", sub)
	}

	// The link from the mail shows a button; only pressing it confirms.
	open("confirm page", 200, "Confirm your subscription", chromedp.Navigate(e.srv.URL+e.mail.last(t, "browser@example.com")))
	if s := e.sub("browser@example.com"); s.Status != subscribers.Pending {
		t.Fatalf("opening the link confirmed: %s", s.Status)
	}
	open("confirm", 200, "You're subscribed", chromedp.Click(chromedp.ID("confirm")))
	if s := e.sub("browser@example.com"); s.Status != subscribers.Active {
		t.Fatalf("after confirm: %s", s.Status)
	}

	open("preferences", 200, "Your preferences", chromedp.Click(chromedp.ID("preferences")))
	do("untick World", chromedp.Click(chromedp.ID("section-0")))
	// The page's one script proposes the browser's time zone.
	zone, err := chromedp.Run(tab, chromedp.Value(chromedp.ID("zone")))
	if err != nil || zone != "America/Chicago" {
		t.Errorf("time zone proposed %q, %v; want the browser's America/Chicago", zone, err)
	}
	do("choose 07:00", chromedp.SetValue(chromedp.ID("hour"), "7"))
	open("save", 200, "Your preferences", chromedp.Click(chromedp.ID("save")))
	notice, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("notice")))
	if err != nil || !strings.Contains(notice, "saved") {
		t.Fatalf("notice %q, %v", notice, err)
	}
	if s := e.sub("browser@example.com"); !slices.Equal(s.Sections, []string{"Business"}) ||
		s.Local == nil || *s.Local != (subscribers.LocalTime{Zone: "America/Chicago", Hour: 7}) {
		t.Fatalf("sections %v, delivery time %v", s.Sections, s.Local)
	}

	// The unsubscribe link of a digest: a page, then the button.
	open("unsubscribe page", 200, "Unsubscribe", chromedp.Navigate(e.svc.URL(subscribers.PurposeUnsubscribe, sub.ID)))
	if s := e.sub("browser@example.com"); s.Status != subscribers.Active {
		t.Fatalf("opening the unsubscribe link unsubscribed: %s", s.Status)
	}
	open("unsubscribe", 200, "You're unsubscribed", chromedp.Click(chromedp.ID("unsubscribe")))
	if s := e.sub("browser@example.com"); s.Status != subscribers.Unsubscribed {
		t.Fatalf("after unsubscribe: %s", s.Status)
	}

	// A damaged link gets a page that says so.
	open("bad link", 400, "This didn't work", chromedp.Navigate(e.srv.URL+"/preferences/"+strings.Repeat("A", subscribers.TokenLen)))
}
