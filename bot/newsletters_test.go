package bot_test

import (
	"slices"
	"testing"

	"github.com/digestbot/digestbot/bot"
	"github.com/digestbot/digestbot/subscribers"
)

// TestNewsletters: with several letters, /start SLUG (a deep link) offers
// that letter, /subscribe lists them all with a button for each one the
// chat lacks, and the buttons add letters.
func TestNewsletters(t *testing.T) {
	h := newHarness(t, func(c *bot.Config, svc *subscribers.Service) {
		c.Newsletter = "daily"
		c.Letters = []bot.Letter{{Slug: "daily", Title: "Daily Headlines"}, {Slug: "week", Title: "Week in Review"}}
		svc.Newsletters = []string{"daily", "week"}
	})

	r := h.say(reader, reader, "/start week", 1)[0]
	wantText(t, r, "Week in Review")
	if cb := callbacks(r); !slices.Equal(cb, []string{"nl:week"}) {
		t.Fatalf("/start week buttons %v", cb)
	}
	before := len(h.srv.Messages(reader))
	h.press(reader, reader, r.MessageID, "nl:week")
	wantText(t, h.replies(reader, before, 1)[0], "Subscribed to Week in Review")
	if s := h.sub(reader); s.Status != subscribers.Active || !slices.Equal(s.Newsletters, []string{"week"}) {
		t.Fatalf("after /start week: %+v", s)
	}
	wantText(t, h.say(reader, reader, "/start week", 1)[0], "You already get Week in Review")

	r = h.say(reader, reader, "/subscribe", 1)[0]
	wantText(t, r, "✓ Week in Review", "• Daily Headlines")
	if cb := callbacks(r); !slices.Equal(cb, []string{"nl:daily"}) {
		t.Fatalf("/subscribe buttons %v", cb)
	}
	before = len(h.srv.Messages(reader))
	h.press(reader, reader, r.MessageID, "nl:daily")
	wantText(t, h.replies(reader, before, 1)[0], "Subscribed to Daily Headlines")
	if s := h.sub(reader); !slices.Equal(s.Newsletters, []string{"daily", "week"}) {
		t.Fatalf("after the daily button: %+v", s)
	}
	wantText(t, h.say(reader, reader, "/subscribe", 1)[0], "You get them all")
	if toast := h.press(reader, reader, r.MessageID, "nl:gone"); toast != "That newsletter is no longer offered." {
		t.Errorf("stale button: %q", toast)
	}

	wantText(t, h.say(reader, reader, "/unsubscribe", 1)[0], "Unsubscribed")
	if s := h.sub(reader); s.Status != subscribers.Unsubscribed {
		t.Fatalf("after /unsubscribe: %+v", s)
	}
}
