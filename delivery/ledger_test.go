package delivery_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/email/emailtest"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/subscribers"
)

// slowRecords is a store whose delivery-record writes take a while and
// count what they wrote once it is committed.
type slowRecords struct {
	*store.Store
	delay    time.Duration
	recorded atomic.Int64
	writes   atomic.Int64
}

func (s *slowRecords) RecordDeliveries(ctx context.Context, ds []delivery.Delivery) error {
	time.Sleep(s.delay)
	if err := s.Store.RecordDeliveries(ctx, ds); err != nil {
		return err
	}
	s.writes.Add(1)
	s.recorded.Add(int64(len(ds)))
	return nil
}

// unrecordedSender sends from 16 goroutines at once, like the SMTP
// connections, and notes the largest number of messages it has sent that
// are not recorded yet, at the moment of each send.
type unrecordedSender struct {
	st      *slowRecords
	sent    atomic.Int64
	mu      sync.Mutex
	maxSeen int64
}

func (u *unrecordedSender) send() {
	n := u.sent.Add(1)
	gap := n - u.st.recorded.Load()
	u.mu.Lock()
	u.maxSeen = max(u.maxSeen, gap)
	u.mu.Unlock()
}

func (u *unrecordedSender) Send(ctx context.Context, ed digest.Edition, subs []subscribers.Subscription) ([]delivery.Result, error) {
	res := make([]delivery.Result, 0, len(subs))
	for _, s := range subs {
		u.send()
		res = append(res, delivery.Result{SubscriptionID: s.ID, Outcome: delivery.Sent})
	}
	return res, nil
}

// streamSender is unrecordedSender as a StreamSender.
type streamSender struct{ *unrecordedSender }

func (u streamSender) SendEach(ctx context.Context, ed digest.Edition, subs []subscribers.Subscription, sink delivery.Sink) error {
	work := make(chan subscribers.Subscription)
	results := make(chan delivery.Result)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for s := range work {
				u.send()
				results <- delivery.Result{SubscriptionID: s.ID, Outcome: delivery.Sent}
			}
		})
	}
	go func() {
		defer close(work)
		for _, s := range subs {
			if err := sink.Admit(ctx, s.ID); err != nil {
				results <- delivery.Result{SubscriptionID: s.ID, Outcome: delivery.Retry, Err: err}
				continue
			}
			work <- s
		}
	}()
	for range subs {
		sink.Emit(<-results)
	}
	wg.Wait()
	return nil
}

// However many batches run at once and however slow the record writes,
// no more than MaxUnrecorded messages are ever sent without a record: the
// bound of what a kill -9 can repeat. And the writes are grouped: far
// fewer writes than messages.
func TestFanoutUnrecordedBound(t *testing.T) {
	const n, limit = 2000, 24
	for _, stream := range []bool{true, false} {
		name := map[bool]string{true: "stream", false: "chunks"}[stream]
		t.Run(name, func(t *testing.T) {
			base := storetest.OpenSQLite(t)
			populate(t, base, n)
			st := &slowRecords{Store: base, delay: 3 * time.Millisecond}
			u := &unrecordedSender{st: st}
			var snd delivery.ChannelSender = u
			if stream {
				snd = streamSender{u}
			}
			cfg := fastFanout(base, func(c *delivery.FanoutConfig) {
				c.Channels = map[subscribers.Channel]delivery.ChannelConfig{
					subscribers.Email: {Sender: snd, BatchSize: 100, Workers: 8},
				}
				c.Logger = emailtest.Logger(t)
				c.MaxUnrecorded = limit
				c.RecordChunk = 10
			})
			fo, err := delivery.NewFanout(st, cfg)
			if err != nil {
				t.Fatal(err)
			}
			ed := createEdition(t, base, "2026-02-02")
			p := sendAll(t, fo, ed.ID)
			if got := stats(p.Stats)["email/sent"]; got != n {
				t.Fatalf("%d sent, want %d (%v)", got, n, p.Stats)
			}
			t.Logf("%s: at most %d sent without a record (limit %d); %d messages in %d writes", name, u.maxSeen, limit, n, st.writes.Load())
			if u.maxSeen > limit {
				t.Errorf("%d messages were sent without a record at once, more than MaxUnrecorded %d", u.maxSeen, limit)
			}
			if stream && st.writes.Load() > n/4 {
				t.Errorf("%d record writes for %d messages: the records of concurrent batches are not grouped", st.writes.Load(), n)
			}
		})
	}
}

// failingRecords is a store that refuses delivery records after the
// first n (a full disk).
type failingRecords struct {
	*store.Store
	n        int64
	recorded atomic.Int64
}

var errDiskFull = errors.New("database or disk is full")

func (s *failingRecords) RecordDeliveries(ctx context.Context, ds []delivery.Delivery) error {
	if s.recorded.Load()+int64(len(ds)) > s.n {
		return errDiskFull
	}
	if err := s.Store.RecordDeliveries(ctx, ds); err != nil {
		return err
	}
	s.recorded.Add(int64(len(ds)))
	return nil
}

// When the database stops taking records, sending stops within
// MaxUnrecorded messages: a record that could not be written keeps its
// slot, so the budget runs dry instead of the batches sending on without
// records (every one of those would be repeated).
func TestFanoutStopsWhenRecordsFail(t *testing.T) {
	const n, limit, writable = 2000, 24, 100
	base := storetest.OpenSQLite(t)
	populate(t, base, n)
	st := &failingRecords{Store: base, n: writable}
	u := &unrecordedSender{st: &slowRecords{Store: base}}
	cfg := fastFanout(base, func(c *delivery.FanoutConfig) {
		c.Channels = map[subscribers.Channel]delivery.ChannelConfig{
			subscribers.Email: {Sender: streamSender{u}, BatchSize: 100, Workers: 8},
		}
		c.Logger = emailtest.Logger(t)
		c.MaxUnrecorded = limit
		c.SliceTime = time.Minute // one attempt for the whole test
	})
	fo, err := delivery.NewFanout(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ed := createEdition(t, base, "2026-02-03")
	startFanout(t, fo, ed.ID)
	deadline := time.Now().Add(10 * time.Second)
	for u.sent.Load() < writable+limit && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(time.Second) // would the batches go on?
	if sent := u.sent.Load(); sent > writable+limit {
		t.Fatalf("%d messages sent while only %d records could be written: more than MaxUnrecorded %d went out unrecorded", sent, writable, limit)
	} else {
		t.Logf("%d sent, %d recorded, then sending stopped", sent, st.recorded.Load())
	}
}
