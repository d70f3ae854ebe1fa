package store_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/subscribers"
)

func TestForgetSubscriber(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e1, _, err := s.CreateEdition(ctx, digest.Edition{Date: "2026-03-28"})
		check(t, err)
		e2, _, err := s.CreateEdition(ctx, digest.Edition{Date: "2026-03-29"})
		check(t, err)
		reader, _, err := s.CreateSubscription(ctx, subscribers.Subscription{Channel: subscribers.Email, Address: "reader@example.com", Status: subscribers.Active, Source: "web", Sections: []string{"world"}})
		check(t, err)
		other, _, err := s.CreateSubscription(ctx, subscribers.Subscription{Channel: subscribers.Email, Address: "other@example.com", Status: subscribers.Active})
		check(t, err)
		check(t, s.RecordDeliveries(ctx, []delivery.Delivery{
			{EditionID: e1.ID, SubscriptionID: reader.ID, Status: digest.DeliverySent, Attempts: 1, SentAt: t0},
			{EditionID: e2.ID, SubscriptionID: reader.ID, Status: digest.DeliveryFailed, Attempts: 2, LastError: "451 try later"},
			{EditionID: e1.ID, SubscriptionID: other.ID, Status: digest.DeliverySent, Attempts: 1, SentAt: t0},
		}))
		before1 := must[[]digest.DeliveryCount](t)(s.DeliveryStats(ctx, e1.ID))
		before2 := must[[]digest.DeliveryCount](t)(s.DeliveryStats(ctx, e2.ID))

		recs := must[[]subscribers.Record](t)(s.SubscriberRecords(ctx, "reader@example.com"))
		if len(recs) != 1 || recs[0].ID != reader.ID || recs[0].Source != "web" || !reflect.DeepEqual(recs[0].Sections, []string{"world"}) {
			t.Fatalf("records %+v", recs)
		}
		d := recs[0].Deliveries
		if len(d) != 2 || d[0].Date != "2026-03-28" || d[0].Status != "sent" || !d[0].SentAt.Equal(t0.Truncate(time.Microsecond)) ||
			d[1].Date != "2026-03-29" || d[1].Status != "failed" || d[1].Attempts != 2 || d[1].LastError != "451 try later" {
			t.Fatalf("deliveries %+v", d)
		}

		if n := must[int](t)(s.ForgetSubscriber(ctx, "reader@example.com")); n != 1 {
			t.Fatalf("forgot %d subscriptions, want 1", n)
		}
		if recs := must[[]subscribers.Record](t)(s.SubscriberRecords(ctx, "reader@example.com")); recs == nil || len(recs) != 0 {
			t.Fatalf("after forget: %#v, want an empty, non-nil slice (it is encoded as [])", recs)
		}
		// No delivery record of the reader is left (PostgreSQL's records
		// have no foreign key to cascade: the erasure deletes them).
		for _, e := range []digest.Edition{e1, e2} {
			if rec := must[map[int64]string](t)(s.RecordedDeliveries(ctx, e.ID, reader.ID, reader.ID)); len(rec) != 0 {
				t.Errorf("edition %d: the erased reader's records are still there: %v", e.ID, rec)
			}
		}
		// The editions' figures are whole: the reader's deliveries are counts now.
		if after := must[[]digest.DeliveryCount](t)(s.DeliveryStats(ctx, e1.ID)); !reflect.DeepEqual(after, before1) {
			t.Errorf("edition 1 stats %+v, before %+v", after, before1)
		}
		if after := must[[]digest.DeliveryCount](t)(s.DeliveryStats(ctx, e2.ID)); !reflect.DeepEqual(after, before2) {
			t.Errorf("edition 2 stats %+v, before %+v", after, before2)
		}
		// Signing up again, then forgetting again, adds to the counts.
		again, _, err := s.CreateSubscription(ctx, subscribers.Subscription{Channel: subscribers.Email, Address: "reader@example.com", Status: subscribers.Active})
		check(t, err)
		check(t, s.RecordDeliveries(ctx, []delivery.Delivery{{EditionID: e1.ID, SubscriptionID: again.ID, Status: digest.DeliverySent, Attempts: 1, SentAt: t0}}))
		if n := must[int](t)(s.ForgetSubscriber(ctx, "reader@example.com")); n != 1 {
			t.Fatalf("second forget: %d", n)
		}
		if got := must[[]digest.DeliveryCount](t)(s.DeliveryStats(ctx, e1.ID)); len(got) != 1 || got[0].N != 3 {
			t.Errorf("edition 1 after a second forget: %+v, want 3 sent", got)
		}
		if n := must[int](t)(s.ForgetSubscriber(ctx, "nobody@example.com")); n != 0 {
			t.Errorf("forgot %d of an unknown address", n)
		}
		if got := must[[]subscribers.Record](t)(s.SubscriberRecords(ctx, "other@example.com")); len(got) != 1 {
			t.Errorf("the other reader: %+v", got)
		}
	})
}

func TestPurgePending(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for _, sub := range []subscribers.Subscription{
			{Channel: subscribers.Email, Address: "old-pending@example.com", Status: subscribers.Pending, CreatedAt: old},
			{Channel: subscribers.Email, Address: "new-pending@example.com", Status: subscribers.Pending, CreatedAt: old.AddDate(0, 0, 40)},
			{Channel: subscribers.Email, Address: "old-active@example.com", Status: subscribers.Active, CreatedAt: old},
		} {
			_, _, err := s.CreateSubscription(ctx, sub)
			check(t, err)
		}
		if n := must[int](t)(s.PurgePending(ctx, old.AddDate(0, 0, 30))); n != 1 {
			t.Fatalf("purged %d, want 1", n)
		}
		for addr, want := range map[string]int{"old-pending@example.com": 0, "new-pending@example.com": 1, "old-active@example.com": 1} {
			if got := must[[]subscribers.Record](t)(s.SubscriberRecords(ctx, addr)); len(got) != want {
				t.Errorf("%s: %d records, want %d", addr, len(got), want)
			}
		}
	})
}
