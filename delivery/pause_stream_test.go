package delivery_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/subscribers"
)

// slowStream is a StreamSender that sends one message every 10 ms until
// its context ends, counting the messages per subscription.
type slowStream struct {
	mu   sync.Mutex
	sent map[int64]int
}

func (s *slowStream) Send(ctx context.Context, ed digest.Edition, subs []subscribers.Subscription) ([]delivery.Result, error) {
	var out []delivery.Result
	err := s.SendEach(ctx, ed, subs, delivery.EmitFunc(func(r delivery.Result) { out = append(out, r) }))
	return out, err
}

var _ delivery.StreamSender = (*slowStream)(nil)

func (s *slowStream) SendEach(ctx context.Context, _ digest.Edition, subs []subscribers.Subscription, sink delivery.Sink) error {
	emit := sink.Emit
	for _, sub := range subs {
		if err := sink.Admit(ctx, sub.ID); err != nil {
			emit(delivery.Result{SubscriptionID: sub.ID, Outcome: delivery.Retry, Err: err})
			continue
		}
		time.Sleep(10 * time.Millisecond)
		s.mu.Lock()
		s.sent[sub.ID]++
		s.mu.Unlock()
		emit(delivery.Result{SubscriptionID: sub.ID, Outcome: delivery.Sent})
	}
	return nil
}

func (s *slowStream) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.sent {
		n += c
	}
	return n
}

// Pausing stops a streaming batch while it runs (not at the end of its
// slice); resuming finishes it with nobody sent twice.
func TestPauseStopsStreamingBatch(t *testing.T) {
	s := storetest.OpenSQLite(t)
	ctx := context.Background()
	const n = 300 // one batch: 3 s of sending at 10 ms each
	var subs []subscribers.Subscription
	for i := range n {
		subs = append(subs, subscribers.Subscription{Channel: subscribers.Email, Address: fmt.Sprintf("r%d@example.com", i), Status: subscribers.Active})
	}
	if _, err := s.CreateSubscriptions(ctx, subs); err != nil {
		t.Fatal(err)
	}
	snd := &slowStream{sent: map[int64]int{}}
	fo := emailFanout(t, s, delivery.ChannelConfig{Sender: snd, BatchSize: n, Workers: 1}, func(c *delivery.FanoutConfig) {
		c.RecordInterval = 100 * time.Millisecond
		c.PausePoll = time.Hour // only Resume may wake the batch again
	})
	ed := createEdition(t, s, "2026-02-01")
	defer runFanout(t, fo)()
	if _, err := fo.Start(ctx, ed.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for snd.total() < 20 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if ok, err := fo.Pause(ctx, ed.ID); err != nil || !ok {
		t.Fatalf("Pause: %v %v", ok, err)
	}
	atPause := snd.total()
	time.Sleep(time.Second)
	stopped := snd.total()
	time.Sleep(500 * time.Millisecond)
	if later := snd.total(); later != stopped || stopped-atPause > 40 || stopped >= n {
		t.Fatalf("after the pause: %d sent at the pause, %d a second later, %d half a second after that, of %d", atPause, stopped, later, n)
	}
	if ok, err := fo.Resume(ctx, ed.ID); err != nil || !ok {
		t.Fatalf("Resume: %v %v", ok, err)
	}
	waitSent(t, fo, ed.ID)
	snd.mu.Lock()
	defer snd.mu.Unlock()
	if len(snd.sent) != n {
		t.Errorf("%d of %d subscribers got a message", len(snd.sent), n)
	}
	for id, c := range snd.sent {
		if c != 1 {
			t.Errorf("subscription %d got %d messages", id, c)
		}
	}
}
