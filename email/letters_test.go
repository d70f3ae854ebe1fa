package email_test

import (
	"strings"
	"testing"

	"github.com/digestbot/digestbot/email"
	"github.com/digestbot/digestbot/email/emailtest"
	"github.com/digestbot/digestbot/subscribers"
)

// TestLetters: with several newsletters, an edition of one is sent from
// that letter's address under its title, and its unsubscribe links (the
// RFC 8058 header and the footer) leave that letter only.
func TestLetters(t *testing.T) {
	b, err := email.NewBuilder(email.BuilderConfig{
		From: emailtest.From, Render: emailtest.RenderOptions(), Tokens: subscribers.NewTokens(emailtest.Secret, nil),
		Letters: []email.Letter{
			{Slug: "daily", Title: "Daily Headlines"},
			{Slug: "week", Title: "Week in Review", From: "Week in Review <week@example.com>"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	sub := emailtest.Subs(1, 1)[0]
	for _, tc := range []struct{ slug, from, title string }{
		{"daily", emailtest.From, "Daily Headlines"},
		{"week", "week@example.com", "Week in Review"},
	} {
		ed := emailtest.Edition(7, "2026-01-05")
		ed.Newsletter, ed.Title = tc.slug, tc.title
		ed.ID = map[string]int64{"daily": 7, "week": 8}[tc.slug]
		m, err := b.AppendMessage(nil, ed, sub)
		if err != nil {
			t.Fatal(err)
		}
		p := emailtest.ParseMessage(t, m.Data)
		from, err := p.Header.AddressList("From")
		if err != nil || len(from) != 1 || !strings.Contains(tc.from, from[0].Address) {
			t.Errorf("%s: From %v %v", tc.slug, from, err)
		}
		if !strings.Contains(tc.from, m.From) {
			t.Errorf("%s: envelope sender %q", tc.slug, m.From)
		}
		if subj := p.Subject; !strings.Contains(subj, tc.title) {
			t.Errorf("%s: subject %q", tc.slug, subj)
		}
		lu := p.Header.Get("List-Unsubscribe")
		if !strings.Contains(lu, "?newsletter="+tc.slug+">") {
			t.Errorf("%s: List-Unsubscribe %q", tc.slug, lu)
		}
		if !strings.Contains(p.Header.Get("List-Id"), "<"+tc.slug+".") {
			t.Errorf("%s: List-Id %q", tc.slug, p.Header.Get("List-Id"))
		}
		if !strings.Contains(p.HTML, "?newsletter="+tc.slug) || !strings.Contains(p.Text, "?newsletter="+tc.slug) {
			t.Errorf("%s: the footer's unsubscribe link does not name the letter", tc.slug)
		}
	}
}
