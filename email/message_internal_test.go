package email

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/subscribers"
)

// The SMTP sender writes a reader's message as its head and the shared
// body's pieces with the reader's tokens between (appendParts,
// appendSegments): together byte for byte the message appendFor builds,
// with the template left as it was for the next reader.
func TestBodySegmentsAreTheMessage(t *testing.T) {
	tokens := subscribers.NewTokens("segments-secret", nil)
	b, err := NewBuilder(BuilderConfig{
		From: "Daily <news@example.com>", UnsubscribeMailto: "unsubscribe@example.com",
		Render: digest.RenderOptions{Title: "Daily", BaseURL: "https://news.example.com", Location: time.UTC},
		Tokens: tokens,
	})
	if err != nil {
		t.Fatal(err)
	}
	ed := digest.Edition{ID: 3, Newsletter: digest.DefaultNewsletter, Date: "2026-02-01", Title: "Daily", Status: digest.StatusBuilt}
	for i := range 4 {
		ed.Items = append(ed.Items, digest.Item{ArticleID: int64(i + 1), Title: fmt.Sprintf("Story %d", i),
			URL: fmt.Sprintf("https://example.org/%d", i), Lead: strings.Repeat("A lead sentence. ", 20), Source: "Example"})
	}
	tm, err := b.template(ed, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(tm.holes) < 2 {
		t.Fatalf("%d holes: the test needs the body to carry both tokens", len(tm.holes))
	}
	rest := bytes.Clone(tm.rest)
	now := time.Date(2026, 2, 1, 7, 0, 0, 0, time.UTC)
	var head []byte
	for id := int64(1); id <= 3; id++ {
		sub := subscribers.Subscription{ID: id, Channel: subscribers.Email, Status: subscribers.Active, Address: fmt.Sprintf("r%d@example.org", id)}
		want, err := b.appendFor(nil, tm, sub, now)
		if err != nil {
			t.Fatal(err)
		}
		m, h, bd, err := b.appendParts(head, tm, sub, now)
		if err != nil {
			t.Fatal(err)
		}
		head = h
		if m.To != want.To || m.From != want.From || m.Data != nil {
			t.Errorf("parts message %+v, want To %q From %q", m, want.To, want.From)
		}
		var got []byte
		for _, seg := range bd.appendSegments([][]byte{h}) {
			got = append(got, seg...)
		}
		if !bytes.Equal(got, want.Data) {
			t.Fatalf("subscription %d: segments make %d bytes, the message is %d", id, len(got), len(want.Data))
		}
		for _, p := range []subscribers.Purpose{subscribers.PurposeUnsubscribe, subscribers.PurposePreferences} {
			if tok := tokens.Make(p, id); bytes.Count(got, []byte(tok)) < 2 {
				t.Errorf("subscription %d: token %c appears %d times", id, p, bytes.Count(got, []byte(tok)))
			}
		}
		if bytes.Contains(got, []byte(b.phUnsub)) || bytes.Contains(got, []byte(b.phPrefs)) {
			t.Errorf("subscription %d: a placeholder is left", id)
		}
		if !bytes.Equal(tm.rest, rest) {
			t.Fatalf("subscription %d: the shared body changed", id)
		}
	}
}
