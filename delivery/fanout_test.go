package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/email"
	"github.com/digestbot/digestbot/email/emailtest"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/subscribers"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// fastFanout is the fan-out configuration of the tests: short polls and
// backoffs so that retries happen within the test.
func fastFanout(s *store.Store, mod func(*delivery.FanoutConfig)) delivery.FanoutConfig {
	cfg := delivery.FanoutConfig{
		Subscriptions:     &subscribers.Service{Store: s},
		RetryBackoff:      func(int) time.Duration { return 50 * time.Millisecond },
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 25 * time.Millisecond,
		FinishPoll:        100 * time.Millisecond,
		PausePoll:         100 * time.Millisecond,
		WaitPoll:          20 * time.Millisecond,
		RetryWait:         20 * time.Second,
		StopTimeout:       5 * time.Second,
		RecordChunk:       10,
	}
	if mod != nil {
		mod(&cfg)
	}
	return cfg
}

// emailFanout returns a fan-out (fastFanout, the test logger) that sends
// email as cc says; mod, when not nil, adjusts the rest.
func emailFanout(t *testing.T, s *store.Store, cc delivery.ChannelConfig, mod func(*delivery.FanoutConfig)) *delivery.Fanout {
	t.Helper()
	fo, err := delivery.NewFanout(s, fastFanout(s, func(c *delivery.FanoutConfig) {
		c.Channels = map[subscribers.Channel]delivery.ChannelConfig{subscribers.Email: cc}
		c.Logger = emailtest.Logger(t)
		if mod != nil {
			mod(c)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	return fo
}

// sendAll runs fo, starts the edition's fan-out and waits until the
// edition is sent.
func sendAll(t *testing.T, fo *delivery.Fanout, editionID int64) delivery.Progress {
	t.Helper()
	startFanout(t, fo, editionID)
	return waitSent(t, fo, editionID)
}

// startFanout runs fo and starts the edition's fan-out.
func startFanout(t *testing.T, fo *delivery.Fanout, editionID int64) {
	t.Helper()
	runFanout(t, fo)
	if _, err := fo.Start(context.Background(), editionID); err != nil {
		t.Fatal(err)
	}
}

// waitSent waits (30 s at most) until the edition is sent, with nothing
// pending.
func waitSent(t *testing.T, fo *delivery.Fanout, editionID int64) delivery.Progress {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := fo.Wait(ctx, editionID)
	if err != nil || p.Status != digest.StatusSent || p.Pending != 0 {
		t.Fatalf("Wait: %+v %v", p, err)
	}
	return p
}

// runFanout starts fo.Run; the returned func stops it and waits.
func runFanout(t *testing.T, fo *delivery.Fanout) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fo.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// oneEach checks that srv got exactly one message for each of subs.
func oneEach(t *testing.T, srv *emailtest.Server, subs []subscribers.Subscription) {
	t.Helper()
	got := srv.ByRecipient()
	for _, sub := range subs {
		if n := len(got[sub.Address]); n != 1 {
			t.Errorf("%s got %d messages", sub.Address, n)
		}
	}
}

type population struct {
	active, pending, unsubscribed []subscribers.Subscription
}

// populate adds n active email subscriptions and a few pending and
// unsubscribed ones, interleaved so that they share id ranges.
func populate(t *testing.T, s *store.Store, n int) population {
	t.Helper()
	ctx := context.Background()
	var subs []subscribers.Subscription
	for i := range n + n/5 {
		st := subscribers.Active
		switch {
		case i%12 == 5:
			st = subscribers.Pending
		case i%12 == 11:
			st = subscribers.Unsubscribed
		}
		subs = append(subs, subscribers.Subscription{
			Channel: subscribers.Email, Address: fmt.Sprintf("reader%d@example.org", i), Status: st, Source: subscribers.SourceImport,
		})
	}
	if _, err := s.CreateSubscriptions(ctx, subs); err != nil {
		t.Fatalf("CreateSubscriptions: %v", err)
	}
	var p population
	after := int64(0)
	for {
		page, err := s.ListSubscriptions(ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, sub := range page {
			switch sub.Status {
			case subscribers.Active:
				p.active = append(p.active, sub)
			case subscribers.Pending:
				p.pending = append(p.pending, sub)
			case subscribers.Unsubscribed:
				p.unsubscribed = append(p.unsubscribed, sub)
			}
			after = sub.ID
		}
	}
	return p
}

func createEdition(t *testing.T, s *store.Store, date string) digest.Edition {
	t.Helper()
	e := emailtest.Edition(0, date)
	e.ID = 0
	ed, created, err := s.CreateEdition(context.Background(), e)
	if err != nil || !created {
		t.Fatalf("CreateEdition: %v %v", created, err)
	}
	return ed
}

func stats(cs []digest.DeliveryCount) map[string]int {
	m := map[string]int{}
	for _, c := range cs {
		m[c.Channel+"/"+c.Status] += c.N
	}
	return m
}

// transientServer answers 451 to about a fifth of the DATA commands,
// deterministically by a hash of the recipient and its attempt number, and
// 550 to RCPT of the addresses bounce picks.
func transientServer(t *testing.T, port int, bounce func(string) bool) *emailtest.Server {
	srv := emailtest.Start(t, port)
	var attempts sync.Map
	srv.OnRcpt = func(to string) error {
		if bounce != nil && bounce(to) {
			return emailtest.Err(550, "5.1.1 mailbox unavailable")
		}
		return nil
	}
	srv.OnData = func(to []string, _ []byte) error {
		v, _ := attempts.LoadOrStore(to[0], new(atomic.Int32))
		h := fnv.New32a()
		fmt.Fprintf(h, "%s/%d", to[0], v.(*atomic.Int32).Add(1))
		if h.Sum32()%5 == 0 {
			return emailtest.Err(451, "4.7.1 please try again")
		}
		return nil
	}
	return srv
}

func TestFanoutExactlyOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		pop := populate(t, s, 300)
		bounce := func(addr string) bool { return strings.HasSuffix(addr, "7@example.org") }
		srv := transientServer(t, 0, bounce)
		b, tokens := emailtest.NewBuilder(t, nil)
		snd := emailtest.NewSender(t, b, srv.Host, srv.Port, nil)
		var finished atomic.Int32
		var finishedMu sync.Mutex
		var finishedStats []digest.DeliveryCount
		fo := emailFanout(t, s, delivery.ChannelConfig{Sender: snd, BatchSize: 40}, func(c *delivery.FanoutConfig) {
			c.OnFinished = func(_ context.Context, id int64, st []digest.DeliveryCount) {
				finishedMu.Lock()
				finishedStats = st
				finishedMu.Unlock()
				finished.Add(1)
			}
		})
		ed := createEdition(t, s, "2026-01-05")
		runFanout(t, fo)
		if ok, err := fo.Start(ctx, ed.ID); err != nil || !ok {
			t.Fatalf("Start: %v %v", ok, err)
		}
		if ok, err := fo.Start(ctx, ed.ID); err != nil || ok {
			t.Fatalf("second Start: %v %v (want false, nil)", ok, err)
		}
		p := waitSent(t, fo, ed.ID)

		got := srv.ByRecipient()
		nBounced := 0
		for _, sub := range pop.active {
			want := 1
			if bounce(sub.Address) {
				want = 0
				nBounced++
				cur, err := s.GetSubscription(ctx, sub.ID)
				if err != nil || cur.Status != subscribers.Bounced {
					t.Errorf("%s: status %q (%v), want bounced", sub.Address, cur.Status, err)
				}
			}
			if n := len(got[sub.Address]); n != want {
				t.Errorf("%s got %d messages, want %d", sub.Address, n, want)
			} else if want == 1 {
				emailtest.CheckDigest(t, tokens, got[sub.Address][0].Data, sub)
			}
		}
		for _, sub := range append(pop.pending, pop.unsubscribed...) {
			if n := len(got[sub.Address]); n != 0 {
				t.Errorf("%s (%s) got %d messages", sub.Address, sub.Status, n)
			}
		}
		want := map[string]int{"email/sent": len(pop.active) - nBounced, "email/bounced": nBounced}
		if st := stats(p.Stats); st["email/sent"] != want["email/sent"] || st["email/bounced"] != want["email/bounced"] {
			t.Errorf("stats %v, want %v", st, want)
		}
		deadline := time.Now().Add(2 * time.Second)
		for finished.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond) // the finish job looks again: still once
		finishedMu.Lock()
		if n := finished.Load(); n != 1 {
			t.Errorf("OnFinished called %d times", n)
		} else if stats(finishedStats)["email/sent"] != want["email/sent"] {
			t.Errorf("OnFinished stats %v", finishedStats)
		}
		finishedMu.Unlock()
		cur, _ := s.GetEdition(ctx, ed.ID)
		if cur.Status != digest.StatusSent || cur.SentAt.IsZero() {
			t.Errorf("edition %s sent at %v", cur.Status, cur.SentAt)
		}
		t.Logf("%d active, %d bounced, %d messages accepted", len(pop.active), nBounced, len(srv.Messages()))
	})
}

// The SMTP server is down when the fan-out starts: nothing is recorded,
// the batches retry, and when it comes up every reader gets one message.
func TestFanoutServerDownThenUp(t *testing.T) {
	s := storetest.OpenSQLite(t)
	ctx := context.Background()
	pop := populate(t, s, 120)
	port := emailtest.FreePort(t)
	b, _ := emailtest.NewBuilder(t, nil)
	snd := emailtest.NewSender(t, b, "127.0.0.1", port, nil)
	fo := emailFanout(t, s, delivery.ChannelConfig{Sender: snd, BatchSize: 25}, func(c *delivery.FanoutConfig) {
		c.RetryBackoff = func(int) time.Duration { return 200 * time.Millisecond }
	})
	ed := createEdition(t, s, "2026-01-06")
	startFanout(t, fo, ed.ID)
	time.Sleep(700 * time.Millisecond) // a few failed attempts
	st, err := s.DeliveryStats(ctx, ed.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 0 {
		t.Fatalf("server down, yet recorded: %v", st)
	}
	if cur, _ := s.GetEdition(ctx, ed.ID); cur.Status != digest.StatusSending {
		t.Fatalf("edition %s while the server is down", cur.Status)
	}
	srv := emailtest.Start(t, port)
	p := waitSent(t, fo, ed.ID)
	oneEach(t, srv, pop.active)
	if stats(p.Stats)["email/sent"] != len(pop.active) {
		t.Errorf("stats %v", p.Stats)
	}
}

// A process stops in the middle of an edition (graceful stop, then a new
// process) and an earlier run had already recorded some: nobody gets a
// second message, and Wait reports pending retries with exit-3 semantics.
func TestFanoutRestartMidway(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		pop := populate(t, s, 400)
		srv := emailtest.Start(t, 0)
		b, _ := emailtest.NewBuilder(t, nil)
		ed := createEdition(t, s, "2026-01-07")

		// A previous run recorded the first 50 as sent.
		var pre []delivery.Delivery
		for _, sub := range pop.active[:50] {
			pre = append(pre, delivery.Delivery{EditionID: ed.ID, SubscriptionID: sub.ID, Status: digest.DeliverySent, Attempts: 1, SentAt: time.Now()})
		}
		if err := s.RecordDeliveries(ctx, pre); err != nil {
			t.Fatal(err)
		}

		newFo := func(rate float64) (*delivery.Fanout, *email.SMTPSender) {
			snd := emailtest.NewSender(t, b, srv.Host, srv.Port, func(o *email.SMTPOptions) { o.RatePerSecond = rate })
			fo := emailFanout(t, s, delivery.ChannelConfig{Sender: snd, BatchSize: 30, Workers: 2}, nil)
			return fo, snd
		}
		fo1, snd1 := newFo(400)
		stop1 := runFanout(t, fo1)
		if ok, err := fo1.Start(ctx, ed.ID); err != nil || !ok {
			t.Fatalf("Start: %v %v", ok, err)
		}
		for len(srv.Messages()) < 80 {
			time.Sleep(5 * time.Millisecond)
		}
		stop1()
		_ = snd1.Close()
		mid := len(srv.Messages())
		if mid >= len(pop.active)-50 {
			t.Fatalf("the first process sent everything (%d) before it was stopped", mid)
		}

		// The second process: Start again inserts nothing; Run finishes.
		fo2, _ := newFo(0)
		if ok, err := fo2.Start(ctx, ed.ID); err != nil || ok {
			t.Fatalf("Start on a sending edition: %v %v", ok, err)
		}
		runFanout(t, fo2)
		waitSent(t, fo2, ed.ID)
		got := srv.ByRecipient()
		for i, sub := range pop.active {
			want := 1
			if i < 50 {
				want = 0 // recorded by the "previous run"
			}
			if n := len(got[sub.Address]); n != want {
				t.Errorf("%s got %d messages, want %d", sub.Address, n, want)
			}
		}
		t.Logf("first process sent %d of %d before stopping", mid, len(pop.active)-50)
	})
}

// Pause stops the fan-out between batches; Wait reports paused with what
// is pending; Resume finishes it, exactly once.
func TestFanoutPauseResume(t *testing.T) {
	s := storetest.OpenSQLite(t)
	ctx := context.Background()
	pop := populate(t, s, 300)
	srv := emailtest.Start(t, 0)
	b, _ := emailtest.NewBuilder(t, nil)
	snd := emailtest.NewSender(t, b, srv.Host, srv.Port, func(o *email.SMTPOptions) { o.RatePerSecond = 300 })
	fo := emailFanout(t, s, delivery.ChannelConfig{Sender: snd, BatchSize: 20, Workers: 1}, func(c *delivery.FanoutConfig) {
		c.PausePoll = time.Minute // Resume must wake the snoozed jobs
	})
	ed := createEdition(t, s, "2026-01-08")
	startFanout(t, fo, ed.ID)
	for len(srv.Messages()) < 40 {
		time.Sleep(5 * time.Millisecond)
	}
	if ok, err := fo.Pause(ctx, ed.ID); err != nil || !ok {
		t.Fatalf("Pause: %v %v", ok, err)
	}
	p, err := fo.Wait(ctx, ed.ID)
	if err != nil || p.Status != digest.StatusPaused || p.Pending == 0 {
		t.Fatalf("Wait while paused: %+v %v", p, err)
	}
	time.Sleep(300 * time.Millisecond) // the batch running at the pause ends
	n1 := len(srv.Messages())
	time.Sleep(500 * time.Millisecond)
	if n2 := len(srv.Messages()); n2 != n1 {
		t.Fatalf("sending went on while paused: %d then %d", n1, n2)
	}
	if n1 >= len(pop.active) {
		t.Fatalf("everything was sent before the pause")
	}
	if ok, err := fo.Resume(ctx, ed.ID); err != nil || !ok {
		t.Fatalf("Resume: %v %v", ok, err)
	}
	waitSent(t, fo, ed.ID) // 30 s: well under PausePoll; -race on a busy machine is slow
	oneEach(t, srv, pop.active)
	t.Logf("paused with %d pending after %d sent", p.Pending, n1)
}

// Wait returns with the pending count when only retries due later are
// left (send-now's exit 3), and the edition finishes once they succeed.
func TestFanoutWaitPendingRetries(t *testing.T) {
	s := storetest.OpenSQLite(t)
	ctx := context.Background()
	pop := populate(t, s, 50)
	srv := emailtest.Start(t, 0)
	var refuse atomic.Bool
	refuse.Store(true)
	srv.OnRcpt = func(to string) error {
		if refuse.Load() && strings.HasSuffix(to, "3@example.org") {
			return emailtest.Err(452, "4.2.2 mailbox full")
		}
		return nil
	}
	b, _ := emailtest.NewBuilder(t, nil)
	snd := emailtest.NewSender(t, b, srv.Host, srv.Port, nil)
	fo := emailFanout(t, s, delivery.ChannelConfig{Sender: snd, BatchSize: 10}, func(c *delivery.FanoutConfig) {
		c.RetryBackoff = func(int) time.Duration { return time.Hour }
		c.RetryWait = time.Minute
	})
	ed := createEdition(t, s, "2026-01-09")
	startFanout(t, fo, ed.ID)
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	p, err := fo.Wait(wctx, ed.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantPending := 0
	for _, sub := range pop.active {
		if strings.HasSuffix(sub.Address, "3@example.org") {
			wantPending++
		}
	}
	if p.Status != digest.StatusSending || p.Pending != wantPending || p.NextRetry.IsZero() {
		t.Fatalf("Wait: %+v, want sending with %d pending", p, wantPending)
	}
	if st := stats(p.Stats); st["email/sent"] != len(pop.active)-wantPending {
		t.Errorf("stats %v", st)
	}
	// The mailboxes have room again; "running send-now again" finishes.
	refuse.Store(false)
	if n, err := fo.RetryNow(ctx, ed.ID); err != nil || n == 0 {
		t.Fatalf("RetryNow: %d %v", n, err)
	}
	p, err = fo.Wait(wctx, ed.ID)
	if err != nil || p.Status != digest.StatusSent || stats(p.Stats)["email/sent"] != len(pop.active) {
		t.Fatalf("Wait after the retries: %+v %v", p, err)
	}
}

// A channel whose sender is not a StreamSender (like Telegram's) is sent
// in chunks; Blocked, NewAddress and Retry results are applied.
func TestFanoutChunkedSenderOutcomes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		var subs []subscribers.Subscription
		for i := range 60 {
			subs = append(subs, subscribers.Subscription{Channel: subscribers.Telegram, Address: fmt.Sprint(1000 + i), Status: subscribers.Active})
		}
		if _, err := s.CreateSubscriptions(ctx, subs); err != nil {
			t.Fatal(err)
		}
		fake := &fakeSender{}
		fo, err := delivery.NewFanout(s, fastFanout(s, func(c *delivery.FanoutConfig) {
			c.Channels = map[subscribers.Channel]delivery.ChannelConfig{subscribers.Telegram: {Sender: fake, BatchSize: 25}}
			c.Logger = emailtest.Logger(t)
		}))
		if err != nil {
			t.Fatal(err)
		}
		ed := createEdition(t, s, "2026-01-10")
		p := sendAll(t, fo, ed.ID)
		st := stats(p.Stats)
		if st["telegram/blocked"] != 8 || st["telegram/sent"] != 52 {
			t.Errorf("stats %v, want 8 blocked and 52 sent", st)
		}
		all, _ := s.ListSubscriptions(ctx, 0, 100)
		for _, sub := range all {
			fake.mu.Lock()
			n := fake.sent[sub.ID]
			fake.mu.Unlock()
			switch {
			case sub.ID%7 == 0:
				if sub.Status != subscribers.Blocked || n != 0 {
					t.Errorf("subscription %d: %s, sent %d", sub.ID, sub.Status, n)
				}
			case sub.ID%11 == 0:
				if sub.Address != "-100"+fmt.Sprint(sub.ID) || n != 1 {
					t.Errorf("subscription %d: address %s, sent %d", sub.ID, sub.Address, n)
				}
			default:
				if n != 1 {
					t.Errorf("subscription %d sent %d times", sub.ID, n)
				}
			}
		}
	})
}

// fakeSender is a Telegram-like ChannelSender: chat ids divisible by 7
// have blocked the bot, those divisible by 11 moved to a supergroup, and
// every fifth message fails once with a 429.
type fakeSender struct {
	mu    sync.Mutex
	sent  map[int64]int
	tried map[int64]bool
}

func (f *fakeSender) Send(ctx context.Context, ed digest.Edition, subs []subscribers.Subscription) ([]delivery.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sent == nil {
		f.sent, f.tried = map[int64]int{}, map[int64]bool{}
	}
	var res []delivery.Result
	for _, s := range subs {
		r := delivery.Result{SubscriptionID: s.ID, Outcome: delivery.Sent}
		switch {
		case s.ID%7 == 0:
			r.Outcome, r.Err = delivery.Blocked, errors.New("403 Forbidden: bot was blocked by the user")
		case s.ID%5 == 0 && !f.tried[s.ID]:
			f.tried[s.ID] = true
			r.Outcome, r.Err = delivery.Retry, errors.New("429 Too Many Requests")
		case s.ID%11 == 0:
			r.NewAddress = "-100" + fmt.Sprint(s.ID)
			f.sent[s.ID]++
		default:
			f.sent[s.ID]++
		}
		res = append(res, r)
	}
	return res, nil
}

// The outbox through the fan-out: one file per reader, and a second edition
// of the same day would overwrite rather than add.
func TestFanoutOutbox(t *testing.T) {
	s := storetest.OpenSQLite(t)
	ctx := context.Background()
	pop := populate(t, s, 40)
	// One reader wants a section with nothing today: skipped.
	if err := s.SetSubscriptionSections(ctx, pop.active[0].ID, []string{"Weather"}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "outbox")
	b, tokens := emailtest.NewBuilder(t, nil)
	ob, err := email.NewOutboxSender(dir, b, emailtest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	fo := emailFanout(t, s, delivery.ChannelConfig{Sender: ob, BatchSize: 16}, nil)
	ed := createEdition(t, s, "2026-01-11")
	p := sendAll(t, fo, ed.ID)
	if st := stats(p.Stats); st["email/sent"] != len(pop.active)-1 || st["email/skipped"] != 1 {
		t.Errorf("stats %v", st)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != len(pop.active)-1 {
		t.Fatalf("%d files in the outbox: %v", len(names), names)
	}
	for _, sub := range pop.active[1:] {
		name := fmt.Sprintf("2026-01-11-%d.eml", sub.ID)
		if !slices.Contains(names, name) {
			t.Fatalf("no %s", name)
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		emailtest.CheckDigest(t, tokens, data, sub)
	}
}

func TestFanoutNoSubscribers(t *testing.T) {
	s := storetest.OpenSQLite(t)
	var calls atomic.Int32
	fo := emailFanout(t, s, delivery.ChannelConfig{Sender: &fakeSender{}}, func(c *delivery.FanoutConfig) {
		c.OnFinished = func(context.Context, int64, []digest.DeliveryCount) { calls.Add(1) }
	})
	ed := createEdition(t, s, "2026-01-12")
	sendAll(t, fo, ed.ID)
	time.Sleep(200 * time.Millisecond)
	if calls.Load() != 1 {
		t.Errorf("OnFinished called %d times", calls.Load())
	}
}

// Batches are sent in time slices: a slow (rate-capped) batch records what
// it sent and snoozes for the rest without using an attempt, so even with
// one attempt allowed every reader gets exactly one message.
func TestFanoutTimeSlices(t *testing.T) {
	s := storetest.OpenSQLite(t)
	pop := populate(t, s, 120)
	srv := emailtest.Start(t, 0)
	b, _ := emailtest.NewBuilder(t, nil)
	snd := emailtest.NewSender(t, b, srv.Host, srv.Port, func(o *email.SMTPOptions) { o.RatePerSecond = 400 })
	fo := emailFanout(t, s, delivery.ChannelConfig{Sender: snd, BatchSize: 100, Workers: 1}, func(c *delivery.FanoutConfig) {
		c.SliceTime = 60 * time.Millisecond
		c.MaxAttempts = 1
	})
	ed := createEdition(t, s, "2026-01-14")
	p := sendAll(t, fo, ed.ID)
	oneEach(t, srv, pop.active)
	if st := stats(p.Stats); st["email/sent"] != len(pop.active) {
		t.Errorf("stats %v", st)
	}
}

// Two instances on one database: both call Start, one inserts the jobs;
// they share the batches; every reader gets one message and the edition
// is finished (OnFinished) once.
func TestFanoutTwoInstances(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		pop := populate(t, s, 300)
		srv := emailtest.Start(t, 0)
		b, _ := emailtest.NewBuilder(t, nil)
		var finished atomic.Int32
		var fos []*delivery.Fanout
		for range 2 {
			snd := emailtest.NewSender(t, b, srv.Host, srv.Port, func(o *email.SMTPOptions) { o.Connections = 2 })
			fo := emailFanout(t, s, delivery.ChannelConfig{Sender: snd, BatchSize: 20, Workers: 2}, func(c *delivery.FanoutConfig) {
				c.OnFinished = func(context.Context, int64, []digest.DeliveryCount) { finished.Add(1) }
			})
			runFanout(t, fo)
			fos = append(fos, fo)
		}
		ed := createEdition(t, s, "2026-01-15")
		started := make(chan bool, 2)
		for _, fo := range fos {
			go func() {
				ok, err := fo.Start(ctx, ed.ID)
				if err != nil {
					t.Error(err)
				}
				started <- ok
			}()
		}
		if a, b := <-started, <-started; a == b {
			t.Fatalf("Start returned %v and %v: want one true", a, b)
		}
		waitSent(t, fos[1], ed.ID)
		oneEach(t, srv, pop.active)
		time.Sleep(300 * time.Millisecond)
		if n := finished.Load(); n != 1 {
			t.Errorf("OnFinished called %d times", n)
		}
		if n := srv.Sessions(); n <= 2 {
			t.Errorf("%d SMTP sessions: one instance did all the work", n)
		}
	})
}

// Send-now's wait: each batch completes its own job and the last one marks
// the edition sent, so the wait returns as the last batch does; every
// reader got it once, OnFinished (run by that batch) keeps its context, and
// the same River sends a second edition, with transient SMTP failures and
// so retries.
func TestFanoutSendNowWait(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		pop := populate(t, s, 300)
		srv := transientServer(t, 0, nil)
		b, _ := emailtest.NewBuilder(t, nil)
		snd := emailtest.NewSender(t, b, srv.Host, srv.Port, nil)
		// OnFinished (the admins' notice) runs on after the edition is
		// sent and the wait has returned: its context must outlive that.
		finished := make(chan string, 4)
		fo := emailFanout(t, s, delivery.ChannelConfig{Sender: snd, BatchSize: 25, Workers: 3}, func(c *delivery.FanoutConfig) {
			c.OnFinished = func(ctx context.Context, id int64, st []digest.DeliveryCount) {
				time.Sleep(150 * time.Millisecond)
				finished <- fmt.Sprintf("edition %d: ctx %v, %d sent", id, ctx.Err(), stats(st)["email/sent"])
			}
		})
		runFanout(t, fo)
		for k, date := range []string{"2026-03-01", "2026-03-02"} {
			ed := createEdition(t, s, date)
			if ok, err := fo.Start(ctx, ed.ID); err != nil || !ok {
				t.Fatalf("Start %s: %v %v", date, ok, err)
			}
			p, err := fo.WaitNotify(ctx, ed.ID, nil)
			if err != nil || p.Status != digest.StatusSent || p.Pending != 0 {
				t.Fatalf("WaitNotify %s: %+v %v", date, p, err)
			}
			if got := stats(p.Stats)["email/sent"]; got != len(pop.active) {
				t.Errorf("%s: %d recorded sent, want %d", date, got, len(pop.active))
			}
			got := srv.ByRecipient()
			for _, sub := range pop.active {
				if n := len(got[sub.Address]); n != k+1 {
					t.Errorf("%s: %s has %d messages, want %d", date, sub.Address, n, k+1)
				}
			}
			if got, want := <-finished, fmt.Sprintf("edition %d: ctx <nil>, %d sent", ed.ID, len(pop.active)); got != want {
				t.Errorf("OnFinished: %s, want %s", got, want)
			}
			// The first wait took the counts made when the edition was
			// finished; a later one counts what the store holds now.
			late := delivery.Delivery{EditionID: ed.ID, SubscriptionID: pop.pending[0].ID, Status: digest.DeliveryFailed, Attempts: 1}
			if err := s.RecordDeliveries(ctx, []delivery.Delivery{late}); err != nil {
				t.Fatal(err)
			}
			p, err = fo.WaitNotify(ctx, ed.ID, nil)
			if st := stats(p.Stats); err != nil || st["email/sent"] != len(pop.active) || st["email/failed"] != 1 {
				t.Errorf("WaitNotify again %s: %v %v, want %d sent and the late failure", date, st, err, len(pop.active))
			}
		}
	})
}
