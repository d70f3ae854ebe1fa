package main

import (
	"context"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/digestbot/digestbot/app"
	"github.com/digestbot/digestbot/config"
	"github.com/digestbot/digestbot/subscribers"
)

// TestNewslettersSendNow: a database made with [newsletter] alone keeps its
// readers when the config grows to [[newsletters]] (they get the first
// letter); send-now --newsletter sends one letter to its own readers,
// from its own address, under its own title.
func TestNewslettersSendNow(t *testing.T) {
	cfgPath, dir := testConfig(t, "")
	for _, f := range []string{"wire-a.rss.xml", "globe-news.atom.xml"} {
		if code, _, errOut := digestbot(t, nil, "import", "--config", cfgPath, filepath.Join("..", "..", "testdata", "feeds", f)); code != 0 {
			t.Fatalf("import %s: %s", f, errOut)
		}
	}
	csv := filepath.Join(dir, "subs.csv")
	os.WriteFile(csv, []byte("email\nann@example.com\nbob@example.com\ncat@example.com\n"), 0o600)
	if code, out, errOut := digestbot(t, nil, "subscribers", "import", "--config", cfgPath, csv); code != 0 || !strings.Contains(out, "imported 3") {
		t.Fatalf("subscribers import: %d %q %s", code, out, errOut)
	}

	// The publisher adds a weekly letter (its window left at [newsletter]'s
	// max_age: the test feeds are from 2023) with its own plain-text
	// template; its HTML part stays the embedded one.
	tmplDir := filepath.Join(dir, "weekly-templates")
	if err := os.MkdirAll(tmplDir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(tmplDir, "email.txt.tmpl"), []byte("WEEKLY CUSTOM {{.Title}}\n{{range .Sections}}{{range .Items}}* {{.Title}}\n{{end}}{{end}}\n{{.ArchiveURL}}\n"), 0o600)
	body, _ := os.ReadFile(cfgPath)
	body = append(body, []byte(`
[[newsletters]]
slug = "daily"
title = "Daily Headlines"
[[newsletters]]
slug = "week"
title = "Week in Review"
schedule = "0 8 * * 0"
from = "Week in Review <week@news.example>"
template_dir = "`+filepath.ToSlash(tmplDir)+`"
`)...)
	if err := os.WriteFile(cfgPath, body, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := app.OpenStore(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	// bob also takes the weekly letter, cat only the weekly one.
	for addr, letters := range map[string][]string{"bob@example.com": {"daily", "week"}, "cat@example.com": {"week"}} {
		sub, err := st.FindSubscription(ctx, subscribers.Email, addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SetSubscriptionNewsletters(ctx, sub.ID, letters); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	if code, out, errOut := digestbot(t, nil, "send-now", "--config", cfgPath); code != 0 {
		t.Fatalf("send-now: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := digestbot(t, nil, "send-now", "--config", cfgPath, "--newsletter", "week"); code != 0 {
		t.Fatalf("send-now week: %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut := digestbot(t, nil, "send-now", "--config", cfgPath, "--newsletter", "gossip"); code == 0 || !strings.Contains(errOut, "daily, week") {
		t.Errorf("unknown newsletter: exit %d, %q", code, errOut)
	}

	got := map[string][]string{} // address → From of each message
	emls, _ := filepath.Glob(filepath.Join(dir, "outbox", "*.eml"))
	for _, f := range emls {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		msg := string(data)
		to := header(msg, "To")
		got[to] = append(got[to], header(msg, "From"))
		if strings.Contains(header(msg, "From"), "week@") {
			if !strings.Contains(header(msg, "List-Unsubscribe"), "?newsletter=week") || !strings.Contains(decoded(t, header(msg, "Subject")), "Week in Review") {
				t.Errorf("%s: weekly message headers:\n%s", f, msg[:min(len(msg), 1200)])
			}
			// Its text part is the letter's template, its links lead to
			// its own archive; the HTML part is still the embedded one.
			if !strings.Contains(msg, "WEEKLY CUSTOM Week in Review") || !strings.Contains(msg, "/archive/week/") || !strings.Contains(msg, "<!DOCTYPE html") {
				t.Errorf("%s: weekly message does not use its template_dir:\n%s", f, msg)
			}
		} else if strings.Contains(msg, "WEEKLY CUSTOM") || strings.Contains(msg, "/archive/week") {
			t.Errorf("%s: the daily letter uses the weekly one's template", f)
		}
	}
	want := map[string]int{"ann@example.com": 1, "bob@example.com": 2, "cat@example.com": 1}
	for addr, n := range want {
		if len(got[addr]) != n {
			t.Errorf("%s got %d messages (%v), want %d", addr, len(got[addr]), got[addr], n)
		}
	}
	if len(got["cat@example.com"]) == 1 && !strings.Contains(got["cat@example.com"][0], "week@news.example") {
		t.Errorf("cat got %v, want the weekly letter", got["cat@example.com"])
	}
	if len(got["ann@example.com"]) == 1 && !strings.Contains(got["ann@example.com"][0], "headlines@news.example") {
		t.Errorf("ann got %v, want the daily letter", got["ann@example.com"])
	}
}

func decoded(t *testing.T, s string) string {
	t.Helper()
	out, err := new(mime.WordDecoder).DecodeHeader(s)
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return out
}

// header returns the first value of the header field name in msg
// (unfolded).
func header(msg, name string) string {
	head, _, _ := strings.Cut(msg, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	for i, l := range lines {
		if v, ok := strings.CutPrefix(l, name+": "); ok {
			for _, c := range lines[i+1:] {
				if !strings.HasPrefix(c, " ") && !strings.HasPrefix(c, "\t") {
					break
				}
				v += c
			}
			return v
		}
	}
	return ""
}
