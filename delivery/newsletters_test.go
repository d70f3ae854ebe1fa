package delivery_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/email/emailtest"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/subscribers"
)

// recordingSender sends everything and remembers who got which letter.
type recordingSender struct {
	mu  sync.Mutex
	got map[string][]string // newsletter → addresses
}

func (r *recordingSender) Send(ctx context.Context, ed digest.Edition, subs []subscribers.Subscription) ([]delivery.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.got == nil {
		r.got = map[string][]string{}
	}
	res := make([]delivery.Result, 0, len(subs))
	for _, s := range subs {
		r.got[ed.Newsletter] = append(r.got[ed.Newsletter], s.Address)
		res = append(res, delivery.Result{SubscriptionID: s.ID, Outcome: delivery.Sent})
	}
	return res, nil
}

// TestFanoutNewsletters: an edition goes to the readers of its newsletter
// only; a subscription that names none (made before there were several)
// gets the default one.
func TestFanoutNewsletters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		letters := map[string][]string{
			"legacy":  nil, // NULL: the default letter only
			"daily":   {"daily"},
			"weekly":  {"week"},
			"both":    {"week", "daily"},
			"section": {"sport"},
		}
		var subs []subscribers.Subscription
		for i := range 30 {
			for _, name := range []string{"legacy", "daily", "weekly", "both", "section"} {
				subs = append(subs, subscribers.Subscription{Channel: subscribers.Email, Status: subscribers.Active,
					Address: fmt.Sprintf("%s%d@example.org", name, i), Newsletters: letters[name]})
			}
		}
		if _, err := s.CreateSubscriptions(ctx, subs); err != nil {
			t.Fatal(err)
		}
		snd := &recordingSender{}
		fo, err := delivery.NewFanout(s, fastFanout(s, func(c *delivery.FanoutConfig) {
			c.Channels = map[subscribers.Channel]delivery.ChannelConfig{subscribers.Email: {Sender: snd, BatchSize: 16}}
			c.Logger = emailtest.Logger(t)
			c.DefaultNewsletter = "daily"
		}))
		if err != nil {
			t.Fatal(err)
		}
		runFanout(t, fo)
		for _, nl := range []string{"daily", "week"} {
			e := emailtest.Edition(0, "2026-02-01")
			e.ID, e.Newsletter = 0, nl
			ed, _, err := s.CreateEdition(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fo.Start(ctx, ed.ID); err != nil {
				t.Fatal(err)
			}
			waitSent(t, fo, ed.ID)
		}
		want := map[string][]string{}
		for _, sub := range subs {
			for _, nl := range []string{"daily", "week"} {
				if sub.Gets(nl, "daily") {
					want[nl] = append(want[nl], sub.Address)
				}
			}
		}
		for _, nl := range []string{"daily", "week"} {
			got := slices.Clone(snd.got[nl])
			slices.Sort(got)
			slices.Sort(want[nl])
			if !slices.Equal(got, want[nl]) {
				t.Errorf("%s went to %d readers, want %d (%v…)", nl, len(got), len(want[nl]), got[:min(5, len(got))])
			}
		}
		if len(want["daily"]) != 90 || len(want["week"]) != 60 {
			t.Fatalf("the test's own expectation is off: %d daily, %d week", len(want["daily"]), len(want["week"]))
		}
		sub, err := s.FindSubscription(ctx, subscribers.Email, "both0@example.org")
		if err != nil || !slices.Equal(sub.Newsletters, []string{"week", "daily"}) {
			t.Errorf("stored newsletters %v, %v", sub.Newsletters, err)
		}
		if err := s.SetSubscriptionNewsletters(ctx, sub.ID, []string{"week"}); err != nil {
			t.Fatal(err)
		}
		if sub, _ = s.GetSubscription(ctx, sub.ID); !slices.Equal(sub.Newsletters, []string{"week"}) {
			t.Errorf("after SetSubscriptionNewsletters: %v", sub.Newsletters)
		}
	})
}
