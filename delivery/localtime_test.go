package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/email/emailtest"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/subscribers"
)

// localZones: 24 zones with every kind of offset and DST rule.
var localZones = []string{
	"UTC", "America/New_York", "America/Chicago", "America/Los_Angeles", "America/Sao_Paulo",
	"America/Santiago", "America/Havana", "America/St_Johns", "Europe/London", "Europe/Berlin",
	"Europe/Moscow", "Africa/Cairo", "Asia/Tehran", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Shanghai",
	"Asia/Tokyo", "Australia/Adelaide", "Australia/Lord_Howe", "Pacific/Auckland", "Pacific/Chatham",
	"Pacific/Kiritimati", "Pacific/Pago_Pago", "America/Godthab",
}

// TestFanoutPlanLocalHoursOverAYear: readers in 24 zones, each at an hour
// of their own, and readers on the newsletter's schedule. For every date
// of a year, the edition is started at the newsletter's 06:00 in Berlin (an
// injected clock): each reader is in exactly one batch job of it, due at
// their hour on that date (subscribers.LocalTime.At: DST by rule), or at
// once when that hour has passed or they chose none.
func TestFanoutPlanLocalHoursOverAYear(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		var subs []subscribers.Subscription
		for i, z := range localZones {
			for k, h := range []int{(i * 5) % 24, (i*5 + 13) % 24} {
				subs = append(subs, subscribers.Subscription{Channel: subscribers.Email, Status: subscribers.Active,
					Address: fmt.Sprintf("z%02d-%d@example.org", i, k), Local: &subscribers.LocalTime{Zone: z, Hour: h}})
			}
			if i%2 == 0 {
				subs = append(subs, subscribers.Subscription{Channel: subscribers.Email, Status: subscribers.Active,
					Address: fmt.Sprintf("default%02d@example.org", i)})
			}
		}
		if _, err := s.CreateSubscriptions(ctx, subs); err != nil {
			t.Fatal(err)
		}
		readers, err := s.ListSubscriptions(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		berlin, _ := time.LoadLocation("Europe/Berlin")
		var clock time.Time
		fo, err := delivery.NewFanout(s, fastFanout(s, func(c *delivery.FanoutConfig) {
			c.Channels = map[subscribers.Channel]delivery.ChannelConfig{subscribers.Email: {Sender: &fakeSender{}, BatchSize: 4}}
			c.Logger = emailtest.Logger(t)
			c.Now = func() time.Time { return clock }
		}))
		if err != nil {
			t.Fatal(err)
		}
		lister, err := river.NewClient(s.RiverDriver(), &river.Config{Logger: emailtest.Logger(t)})
		if err != nil {
			t.Fatal(err)
		}

		byEdition := map[int64]map[int64]time.Time{} // edition → reader → due (zero: at once)
		dates := map[int64]string{}
		starts := map[int64]time.Time{}
		for d := time.Date(2026, 1, 1, 6, 0, 0, 0, berlin); d.Year() == 2026; d = d.AddDate(0, 0, 1) {
			date := d.Format(time.DateOnly)
			ed := createEdition(t, s, date)
			clock = d
			if ok, err := fo.Start(ctx, ed.ID); err != nil || !ok {
				t.Fatalf("%s: Start %v %v", date, ok, err)
			}
			byEdition[ed.ID], dates[ed.ID], starts[ed.ID] = map[int64]time.Time{}, date, d
		}
		var all []*rivertype.JobRow
		params := river.NewJobListParams().Kinds("digestbot_delivery_batch").States(rivertype.JobStateAvailable, rivertype.JobStateScheduled).First(5000)
		for {
			page, err := lister.JobList(ctx, params)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page.Jobs...)
			if len(page.Jobs) < 5000 {
				break
			}
			params = params.After(page.LastCursor)
		}
		for _, j := range all {
			var a struct {
				EditionID int64   `json:"edition_id"`
				IDs       []int64 `json:"ids"`
			}
			if err := json.Unmarshal(j.EncodedArgs, &a); err != nil {
				t.Fatal(err)
			}
			due := j.ScheduledAt
			if due.Sub(j.CreatedAt).Abs() < 2*time.Second {
				// Inserted without ScheduledAt (River takes the insert
				// time): at once. Comparing with the wall clock instead
				// mistook a planned hour that happened to be now.
				due = time.Time{}
			}
			for _, id := range a.IDs {
				if _, twice := byEdition[a.EditionID][id]; twice {
					t.Fatalf("edition %s: reader %d in two batches", dates[a.EditionID], id)
				}
				byEdition[a.EditionID][id] = due
			}
		}
		var zones subscribers.Zones
		later, now := 0, 0
		for ed, got := range byEdition {
			if len(got) != len(readers) {
				t.Fatalf("edition %s: %d readers planned, want %d", dates[ed], len(got), len(readers))
			}
			for _, r := range readers {
				due, ok := got[r.ID]
				if !ok {
					t.Fatalf("edition %s: reader %s in no batch", dates[ed], r.Address)
				}
				want := time.Time{}
				if r.Local != nil {
					at, err := r.Local.At(dates[ed], &zones)
					if err != nil {
						t.Fatal(err)
					}
					if at.After(starts[ed]) {
						want = at
					}
				}
				if !due.Equal(want) {
					t.Fatalf("edition %s: reader %s (%v) due %v, want %v", dates[ed], r.Address, r.Local, due, want)
				}
				if want.IsZero() {
					now++
				} else {
					later++
				}
			}
		}
		t.Logf("%d editions: %d deliveries at a reader's later hour, %d at once", len(byEdition), later, now)
	})
}

// TestFanoutLocalHourDelivers: a reader whose hour came after the start is
// sent to by the scheduled job; one whose hour is tomorrow waits, and Wait
// reports them pending with the time they are due.
func TestFanoutLocalHourDelivers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		date := time.Now().UTC().Format(time.DateOnly)
		early := &subscribers.LocalTime{Zone: "Etc/GMT-14", Hour: 0} // UTC+14: always past by now
		late := &subscribers.LocalTime{Zone: "Etc/GMT+12", Hour: 23} // UTC−12: tomorrow, UTC
		earlyAt, _ := early.At(date, nil)
		lateAt, _ := late.At(date, nil)
		subs := []subscribers.Subscription{
			{Channel: subscribers.Telegram, Address: "1", Status: subscribers.Active},
			{Channel: subscribers.Telegram, Address: "2", Status: subscribers.Active, Local: early},
			{Channel: subscribers.Telegram, Address: "3", Status: subscribers.Active, Local: late},
		}
		if _, err := s.CreateSubscriptions(ctx, subs); err != nil {
			t.Fatal(err)
		}
		fake := &fakeSender{}
		// Started an hour before the early reader's hour: their batch is
		// scheduled for it (which has come by the real clock).
		skew := time.Since(earlyAt.Add(-time.Hour))
		fo, err := delivery.NewFanout(s, fastFanout(s, func(c *delivery.FanoutConfig) {
			c.Channels = map[subscribers.Channel]delivery.ChannelConfig{subscribers.Telegram: {Sender: fake, BatchSize: 10}}
			c.Logger = emailtest.Logger(t)
			c.Now = func() time.Time { return time.Now().Add(-skew) }
		}))
		if err != nil {
			t.Fatal(err)
		}
		ed := createEdition(t, s, date)
		startFanout(t, fo, ed.ID)
		deadline := time.Now().Add(20 * time.Second)
		for {
			st, err := s.DeliveryStats(ctx, ed.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stats(st)["telegram/sent"] == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 20 s: %v", stats(st))
			}
			time.Sleep(20 * time.Millisecond)
		}
		p, err := fo.Wait(ctx, ed.ID)
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != digest.StatusSending || p.Pending != 1 || !p.NextRetry.Equal(lateAt) {
			t.Errorf("Wait: %+v; want sending, 1 pending, next at %v", p, lateAt)
		}
		fake.mu.Lock()
		defer fake.mu.Unlock()
		all, _ := s.ListSubscriptions(ctx, 0, 10)
		for _, sub := range all {
			want := 1
			if sub.Address == "3" {
				want = 0
			}
			if fake.sent[sub.ID] != want {
				t.Errorf("reader %s (%v) sent %d, want %d", sub.Address, sub.Local, fake.sent[sub.ID], want)
			}
		}
	})
}
