package store_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/subscribers"
)

func TestDeliveries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e, _, err := s.CreateEdition(ctx, digest.Edition{Date: "2026-03-29"})
		check(t, err)
		var ids []int64
		for i := range 6 {
			ch := subscribers.Email
			if i >= 4 {
				ch = subscribers.Telegram
			}
			sub, _, err := s.CreateSubscription(ctx, subscribers.Subscription{Channel: ch, Address: fmt.Sprint(i), Status: subscribers.Active})
			check(t, err)
			ids = append(ids, sub.ID)
		}

		check(t, s.RecordDeliveries(ctx, []delivery.Delivery{
			{EditionID: e.ID, SubscriptionID: ids[0], Status: digest.DeliverySent, Attempts: 1, SentAt: t0},
			{EditionID: e.ID, SubscriptionID: ids[1], Status: digest.DeliveryFailed, Attempts: 1, LastError: "550 no such user"},
			{EditionID: e.ID, SubscriptionID: ids[2], Status: digest.DeliveryFailed, Attempts: 1, LastError: "bug"},
			{EditionID: e.ID, SubscriptionID: ids[3], Status: digest.DeliverySkipped},
			{EditionID: e.ID, SubscriptionID: ids[4], Status: digest.DeliveryFailed, Attempts: 2, LastError: "403 blocked"},
			{EditionID: e.ID, SubscriptionID: ids[5], Status: digest.DeliveryFailed, Attempts: 1, LastError: "x"},
		}))
		check(t, s.SetSubscriptionStatus(ctx, ids[1], subscribers.Bounced, t0))
		check(t, s.SetSubscriptionStatus(ctx, ids[4], subscribers.Blocked, t0))

		// Upsert: a failed row becomes sent; a sent row stays sent; the same
		// pair twice in a batch keeps the last.
		check(t, s.RecordDeliveries(ctx, []delivery.Delivery{
			{EditionID: e.ID, SubscriptionID: ids[5], Status: digest.DeliveryFailed, Attempts: 2, LastError: "y"},
			{EditionID: e.ID, SubscriptionID: ids[5], Status: digest.DeliverySent, Attempts: 3, SentAt: t0},
			{EditionID: e.ID, SubscriptionID: ids[0], Status: digest.DeliveryFailed, Attempts: 2, LastError: "late"},
		}))

		rec := must[map[int64]string](t)(s.RecordedDeliveries(ctx, e.ID, ids[0], ids[5]))
		want := map[int64]string{ids[0]: "sent", ids[1]: "failed", ids[2]: "failed", ids[3]: "skipped", ids[4]: "failed", ids[5]: "sent"}
		if !reflect.DeepEqual(rec, want) {
			t.Fatalf("recorded %v\nwant %v", rec, want)
		}
		rec = must[map[int64]string](t)(s.RecordedDeliveries(ctx, e.ID, ids[1], ids[2]))
		if len(rec) != 2 {
			t.Fatalf("range: %v", rec)
		}
		if rec := must[map[int64]string](t)(s.RecordedDeliveries(ctx, e.ID+1, ids[0], ids[5])); len(rec) != 0 {
			t.Fatalf("other edition: %v", rec)
		}

		stats := must[[]digest.DeliveryCount](t)(s.DeliveryStats(ctx, e.ID))
		wantStats := []digest.DeliveryCount{
			{Channel: "email", Status: "bounced", N: 1},
			{Channel: "email", Status: "failed", N: 1},
			{Channel: "email", Status: "sent", N: 1},
			{Channel: "email", Status: "skipped", N: 1},
			{Channel: "telegram", Status: "blocked", N: 1},
			{Channel: "telegram", Status: "sent", N: 1},
		}
		if !reflect.DeepEqual(stats, wantStats) {
			t.Fatalf("stats %+v\nwant %+v", stats, wantStats)
		}
		check(t, s.RecordDeliveries(ctx, nil))
	})
}

func TestRecordDeliveriesLargeBatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e, _, err := s.CreateEdition(ctx, digest.Edition{Date: "2026-03-29"})
		check(t, err)
		var subs []subscribers.Subscription
		for i := range 2500 {
			subs = append(subs, subscribers.Subscription{Channel: subscribers.Email, Address: fmt.Sprint(i), Status: subscribers.Active})
		}
		must[int](t)(s.CreateSubscriptions(ctx, subs))
		all := must[[]subscribers.Subscription](t)(s.ListSubscriptions(ctx, 0, 0))
		var ds []delivery.Delivery
		for _, sub := range all {
			ds = append(ds, delivery.Delivery{EditionID: e.ID, SubscriptionID: sub.ID, Status: digest.DeliverySent, Attempts: 1, SentAt: t0})
		}
		check(t, s.RecordDeliveries(ctx, ds))
		stats := must[[]digest.DeliveryCount](t)(s.DeliveryStats(ctx, e.ID))
		if len(stats) != 1 || stats[0].N != 2500 {
			t.Fatalf("stats %+v", stats)
		}
		// A delivery of a subscription that is gone (erased during the
		// send) is left out; the rest of its group is written, in the small
		// groups the fan-out writes and in a large set alike.
		for _, n := range []int{10, 1500} {
			e2, _, err := s.CreateEdition(ctx, digest.Edition{Date: fmt.Sprintf("2026-03-%02d", 1+n%28)})
			check(t, err)
			var group []delivery.Delivery
			for _, d := range ds[:n] {
				d.EditionID = e2.ID
				group = append(group, d)
			}
			group = append(group, delivery.Delivery{EditionID: e2.ID, SubscriptionID: 1 << 40, Status: digest.DeliverySent, SentAt: t0})
			check(t, s.RecordDeliveries(ctx, group))
			rec := must[map[int64]string](t)(s.RecordedDeliveries(ctx, e2.ID, 0, 1<<41))
			if _, ok := rec[1<<40]; ok || len(rec) != n {
				t.Fatalf("%d records and one of a subscription that does not exist: %d recorded (unknown one recorded: %v)", n, len(rec), ok)
			}
		}
	})
}

// TestRecordDeliveriesGroupSizes writes the small groups the fan-out
// writes, of every size up to the prepared statements' largest: SQLite
// rounds a group up by repeating its last row, which must change nothing.
func TestRecordDeliveriesGroupSizes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		var subs []subscribers.Subscription
		for i := range 64 {
			subs = append(subs, subscribers.Subscription{Channel: subscribers.Email, Address: fmt.Sprint(i), Status: subscribers.Active})
		}
		must[int](t)(s.CreateSubscriptions(ctx, subs))
		all := must[[]subscribers.Subscription](t)(s.ListSubscriptions(ctx, 0, 0))
		for n := 1; n <= len(all); n++ {
			e, _, err := s.CreateEdition(ctx, digest.Edition{Date: fmt.Sprintf("2026-04-%02d", 1+n%28), Newsletter: fmt.Sprint("n", n)})
			check(t, err)
			var ds []delivery.Delivery
			for i, sub := range all[:n] {
				d := delivery.Delivery{EditionID: e.ID, SubscriptionID: sub.ID, Status: digest.DeliverySent, Attempts: 1, SentAt: t0}
				if i%3 == 2 {
					d = delivery.Delivery{EditionID: e.ID, SubscriptionID: sub.ID, Status: digest.DeliveryFailed, Attempts: 2, LastError: fmt.Sprint("550 no ", i)}
				}
				ds = append(ds, d)
			}
			check(t, s.RecordDeliveries(ctx, ds))
			got := must[map[int64]string](t)(s.RecordedDeliveries(ctx, e.ID, all[0].ID, all[len(all)-1].ID))
			if len(got) != n {
				t.Fatalf("%d records: %d recorded", n, len(got))
			}
			for _, d := range ds {
				if got[d.SubscriptionID] != d.Status {
					t.Fatalf("%d records: subscription %d is %q, want %q", n, d.SubscriptionID, got[d.SubscriptionID], d.Status)
				}
			}
		}
	})
}
