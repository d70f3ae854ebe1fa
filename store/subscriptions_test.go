package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/subscribers"
)

func TestSubscriptions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sub, created, err := s.CreateSubscription(ctx, subscribers.Subscription{Channel: subscribers.Email,
			Address: "a@example.com", Sections: []string{"world", "sport"}, Source: subscribers.SourceWeb})
		check(t, err)
		if !created || sub.ID == 0 || sub.Status != subscribers.Pending || sub.CreatedAt.IsZero() ||
			!reflect.DeepEqual(sub.Sections, []string{"world", "sport"}) || !sub.ConfirmedAt.IsZero() {
			t.Fatalf("created %v %+v", created, sub)
		}
		// Unique per channel and address: the existing one, untouched.
		again, created, err := s.CreateSubscription(ctx, subscribers.Subscription{Channel: subscribers.Email,
			Address: "a@example.com", Status: subscribers.Active, Source: subscribers.SourceAPI})
		check(t, err)
		if created || !reflect.DeepEqual(again, sub) {
			t.Fatalf("duplicate: created=%v %+v", created, again)
		}
		// The same address on another channel is another subscription.
		tg, created, err := s.CreateSubscription(ctx, subscribers.Subscription{Channel: subscribers.Telegram,
			Address: "a@example.com", Status: subscribers.Active, CreatedAt: t0})
		check(t, err)
		if !created || tg.ID == sub.ID || !eqTime(tg.CreatedAt, t0) || tg.Sections != nil {
			t.Fatalf("telegram: %+v", tg)
		}

		if got := must[subscribers.Subscription](t)(s.GetSubscription(ctx, sub.ID)); !reflect.DeepEqual(got, sub) {
			t.Fatalf("get %+v", got)
		}
		if got := must[subscribers.Subscription](t)(s.FindSubscription(ctx, subscribers.Telegram, "a@example.com")); got.ID != tg.ID {
			t.Fatalf("find %+v", got)
		}
		if _, err := s.GetSubscription(ctx, 999); !errors.Is(err, subscribers.ErrNotFound) {
			t.Errorf("get unknown: %v", err)
		}
		if _, err := s.FindSubscription(ctx, subscribers.Email, "b@example.com"); !errors.Is(err, subscribers.ErrNotFound) {
			t.Errorf("find unknown: %v", err)
		}

		// Active sets confirmed_at the first time only.
		check(t, s.SetSubscriptionStatus(ctx, sub.ID, subscribers.Active, t0))
		check(t, s.SetSubscriptionStatus(ctx, sub.ID, subscribers.Unsubscribed, t0.Add(time.Hour)))
		check(t, s.SetSubscriptionStatus(ctx, sub.ID, subscribers.Active, t0.Add(2*time.Hour)))
		got := must[subscribers.Subscription](t)(s.GetSubscription(ctx, sub.ID))
		if got.Status != subscribers.Active || !eqTime(got.ConfirmedAt, t0) || !eqTime(got.UnsubscribedAt, t0.Add(time.Hour)) {
			t.Fatalf("status: %+v", got)
		}
		check(t, s.SetSubscriptionStatus(ctx, sub.ID, subscribers.Bounced, time.Time{}))

		check(t, s.SetSubscriptionSections(ctx, sub.ID, []string{"culture"}))
		if got := must[subscribers.Subscription](t)(s.GetSubscription(ctx, sub.ID)); !reflect.DeepEqual(got.Sections, []string{"culture"}) || got.Status != subscribers.Bounced {
			t.Fatalf("sections: %+v", got)
		}
		check(t, s.SetSubscriptionSections(ctx, sub.ID, nil))
		if got := must[subscribers.Subscription](t)(s.GetSubscription(ctx, sub.ID)); got.Sections != nil {
			t.Fatalf("sections cleared: %+v", got.Sections)
		}

		// A Telegram group migrating to a supergroup changes its chat id.
		check(t, s.SetSubscriptionAddress(ctx, tg.ID, "-1001234"))
		if got := must[subscribers.Subscription](t)(s.FindSubscription(ctx, subscribers.Telegram, "-1001234")); got.ID != tg.ID {
			t.Fatalf("address: %+v", got)
		}
		if err := s.SetSubscriptionAddress(ctx, sub.ID, "a@example.com"); err != nil {
			t.Fatalf("same address: %v", err)
		}
		other, _, err := s.CreateSubscription(ctx, subscribers.Subscription{Channel: subscribers.Telegram, Address: "42"})
		check(t, err)
		if err := s.SetSubscriptionAddress(ctx, other.ID, "-1001234"); err == nil {
			t.Fatal("address taken on the channel accepted")
		}

		for name, err := range map[string]error{
			"status":   s.SetSubscriptionStatus(ctx, 999, subscribers.Active, t0),
			"sections": s.SetSubscriptionSections(ctx, 999, nil),
			"address":  s.SetSubscriptionAddress(ctx, 999, "x"),
		} {
			if !errors.Is(err, subscribers.ErrNotFound) {
				t.Errorf("%s of unknown: %v", name, err)
			}
		}

		counts := must[map[subscribers.Channel]map[subscribers.Status]int](t)(s.CountSubscriptions(ctx))
		want := map[subscribers.Channel]map[subscribers.Status]int{
			subscribers.Email:    {subscribers.Bounced: 1},
			subscribers.Telegram: {subscribers.Active: 1, subscribers.Pending: 1},
		}
		if !reflect.DeepEqual(counts, want) {
			t.Fatalf("counts %v", counts)
		}
	})
}

func TestCreateSubscriptionsAndBatches(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		// One existing, then a bulk import of 2500 that holds it, and a
		// duplicate inside the import.
		_, _, err := s.CreateSubscription(ctx, subscribers.Subscription{Channel: subscribers.Email, Address: "r5@example.com"})
		check(t, err)
		var subs []subscribers.Subscription
		for i := range 2500 {
			subs = append(subs, subscribers.Subscription{Channel: subscribers.Email, Address: fmt.Sprintf("r%d@example.com", i),
				Status: subscribers.Active, Source: subscribers.SourceImport, Sections: []string{"world"}, ConfirmedAt: t0})
		}
		subs = append(subs, subscribers.Subscription{Channel: subscribers.Email, Address: "r7@example.com", Status: subscribers.Active})
		n := must[int](t)(s.CreateSubscriptions(ctx, subs))
		if n != 2499 {
			t.Fatalf("inserted %d, want 2499", n)
		}
		if n := must[int](t)(s.CreateSubscriptions(ctx, subs)); n != 0 {
			t.Fatalf("again inserted %d", n)
		}
		got := must[subscribers.Subscription](t)(s.FindSubscription(ctx, subscribers.Email, "r6@example.com"))
		if got.Status != subscribers.Active || got.Source != subscribers.SourceImport || !eqTime(got.ConfirmedAt, t0) ||
			!reflect.DeepEqual(got.Sections, []string{"world"}) {
			t.Fatalf("imported %+v", got)
		}

		// ListSubscriptions pages through every status by id.
		all := must[[]subscribers.Subscription](t)(s.ListSubscriptions(ctx, 0, 0))
		if len(all) != 2500 || all[0].Address != "r5@example.com" || all[0].Status != subscribers.Pending {
			t.Fatalf("list all: %d", len(all))
		}
		page := must[[]subscribers.Subscription](t)(s.ListSubscriptions(ctx, all[99].ID, 100))
		if len(page) != 100 || page[0].ID != all[100].ID {
			t.Fatalf("page: %d", len(page))
		}

		// Some leave; telegram ones are not in the email batches.
		for _, i := range []int{10, 11, 500} {
			check(t, s.SetSubscriptionStatus(ctx, all[i].ID, subscribers.Unsubscribed, t0))
		}
		_, _, err = s.CreateSubscription(ctx, subscribers.Subscription{Channel: subscribers.Telegram, Address: "1", Status: subscribers.Active})
		check(t, err)

		batches := must[[][2]int64](t)(s.SubscriptionBatches(ctx, subscribers.Email, 1000))
		// 2499 active email subscriptions (2500 minus r5 pending) minus 3 unsubscribed = 2496.
		if len(batches) != 3 {
			t.Fatalf("batches %v", batches)
		}
		total := 0
		prevLast := int64(0)
		for i, b := range batches {
			in := must[[]subscribers.Subscription](t)(s.RecipientsInRange(ctx, subscribers.Email, b[0], b[1]))
			if b[0] <= prevLast || b[0] > b[1] || in[0].ID != b[0] || in[len(in)-1].ID != b[1] {
				t.Fatalf("batch %d %v: first %d last %d", i, b, in[0].ID, in[len(in)-1].ID)
			}
			if want := 1000; i < 2 && len(in) != want {
				t.Fatalf("batch %d has %d, want %d", i, len(in), want)
			}
			for _, sub := range in {
				if sub.Status != subscribers.Active || sub.Channel != subscribers.Email {
					t.Fatalf("batch holds %+v", sub)
				}
			}
			total += len(in)
			prevLast = b[1]
		}
		if total != 2496 {
			t.Fatalf("batches hold %d subscriptions, want 2496", total)
		}
		if b := must[[][2]int64](t)(s.SubscriptionBatches(ctx, subscribers.Telegram, 1000)); len(b) != 1 || b[0][0] != b[0][1] {
			t.Fatalf("telegram batches %v", b)
		}
		one := must[[][2]int64](t)(s.SubscriptionBatches(ctx, subscribers.Telegram, 1))
		if len(one) != 1 {
			t.Fatalf("size 1: %v", one)
		}
		if _, err := s.SubscriptionBatches(ctx, subscribers.Email, 0); err == nil {
			t.Fatal("size 0 accepted")
		}
	})
}
