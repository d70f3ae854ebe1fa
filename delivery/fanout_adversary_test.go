package delivery_test

import (
	"context"
	"fmt"
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

// countSender is a ChannelSender (sent in chunks, like Telegram's) that
// counts the messages each subscription got, across every instance that
// shares it. before, when set, runs first for each chunk (a gate, a fault).
type countSender struct {
	mu     sync.Mutex
	sent   map[int64]int
	by     map[string]int // messages per instance name
	name   string
	delay  time.Duration
	before func(subs []subscribers.Subscription) error
	shared *countSender // the counts live here when set
}

func (c *countSender) counts() *countSender {
	if c.shared != nil {
		return c.shared
	}
	return c
}

func (c *countSender) Send(ctx context.Context, ed digest.Edition, subs []subscribers.Subscription) ([]delivery.Result, error) {
	if c.before != nil {
		if err := c.before(subs); err != nil {
			return nil, err
		}
	}
	var res []delivery.Result
	for _, s := range subs {
		if err := ctx.Err(); err != nil {
			res = append(res, delivery.Result{SubscriptionID: s.ID, Outcome: delivery.Retry, Err: err})
			continue
		}
		if c.delay > 0 {
			time.Sleep(c.delay)
		}
		m := c.counts()
		m.mu.Lock()
		if m.sent == nil {
			m.sent, m.by = map[int64]int{}, map[string]int{}
		}
		m.sent[s.ID]++
		m.by[c.name]++
		m.mu.Unlock()
		res = append(res, delivery.Result{SubscriptionID: s.ID, Outcome: delivery.Sent})
	}
	return res, nil
}

func (c *countSender) got(id int64) int {
	m := c.counts()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sent[id]
}

func (c *countSender) total() int {
	m := c.counts()
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, v := range m.sent {
		n += v
	}
	return n
}

// twoStores opens the same fresh, migrated database twice, as two
// processes would: each store has its own connection pool, and each
// Fanout its own River client.
func twoStores(t *testing.T, driver string) (*store.Store, *store.Store) {
	t.Helper()
	ctx := context.Background()
	var dsn string
	if driver == store.SQLite {
		dsn = storetest.SQLitePath(t)
	} else {
		dsn = storetest.PostgresDSN(t)
	}
	open := func() *store.Store {
		s, err := store.Open(ctx, driver, dsn, storetest.Logger())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	s1 := open()
	if err := s1.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s1, open()
}

func eachDriver(t *testing.T, fn func(t *testing.T, driver string)) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

// Two processes (two stores, two River clients) on one database, both
// running, both calling Start at once: one inserts the jobs, both send,
// every subscriber gets exactly one message, the edition is finished
// (OnFinished) exactly once, and both Waits see it sent.
func TestFanoutTwoProcessesOneDatabase(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s1, s2 := twoStores(t, driver)
		pop := populate(t, s1, 400)
		shared := &countSender{}
		var finished atomic.Int32
		var fos []*delivery.Fanout
		for i, s := range []*store.Store{s1, s2} {
			snd := &countSender{name: fmt.Sprint("p", i), delay: 200 * time.Microsecond, shared: shared}
			fo := emailFanout(t, s, delivery.ChannelConfig{Sender: snd, BatchSize: 10, Workers: 2}, func(c *delivery.FanoutConfig) {
				c.OnFinished = func(context.Context, int64, []digest.DeliveryCount) { finished.Add(1) }
			})
			runFanout(t, fo)
			fos = append(fos, fo)
		}
		ed := createEdition(t, s1, "2026-02-01")
		var wg sync.WaitGroup
		var startedN atomic.Int32
		for _, fo := range fos {
			wg.Go(func() {
				ok, err := fo.Start(ctx, ed.ID)
				if err != nil {
					t.Error(err)
				}
				if ok {
					startedN.Add(1)
				}
			})
		}
		wg.Wait()
		if n := startedN.Load(); n != 1 {
			t.Fatalf("%d Starts returned true, want 1", n)
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		ps := make([]delivery.Progress, 2)
		for i, fo := range fos {
			wg.Go(func() {
				p, err := fo.Wait(wctx, ed.ID)
				if err != nil {
					t.Errorf("Wait %d: %v", i, err)
				}
				ps[i] = p
			})
		}
		wg.Wait()
		for i, p := range ps {
			if p.Status != digest.StatusSent || p.Pending != 0 || stats(p.Stats)["email/sent"] != len(pop.active) {
				t.Errorf("Wait %d: %+v", i, p)
			}
		}
		for _, sub := range pop.active {
			if n := shared.got(sub.ID); n != 1 {
				t.Errorf("subscription %d got %d messages", sub.ID, n)
			}
		}
		if n := shared.total(); n != len(pop.active) {
			t.Errorf("%d messages for %d active subscriptions", n, len(pop.active))
		}
		time.Sleep(300 * time.Millisecond) // the finish jobs look again
		if n := finished.Load(); n != 1 {
			t.Errorf("OnFinished called %d times", n)
		}
		shared.mu.Lock()
		t.Logf("messages per process: %v", shared.by)
		if len(shared.by) != 2 {
			t.Errorf("one process did all the work: %v", shared.by)
		}
		shared.mu.Unlock()
	})
}

// Subscriptions change after Start inserted the jobs: an unsubscribed one
// gets nothing, one added after Start is not in this edition (and does not
// hold up its end), and the counts say so.
func TestFanoutSubscribersChangeMidSend(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		pop := populate(t, s, 60)
		gate := make(chan struct{})
		snd := &countSender{before: func([]subscribers.Subscription) error { <-gate; return nil }}
		fo := emailFanout(t, s, delivery.ChannelConfig{Sender: snd, BatchSize: 20, Workers: 1}, nil)
		ed := createEdition(t, s, "2026-02-02")
		runFanout(t, fo)
		if ok, err := fo.Start(ctx, ed.ID); err != nil || !ok {
			t.Fatalf("Start: %v %v", ok, err)
		}
		// Jobs are in; now the readers change their minds.
		gone := []subscribers.Subscription{pop.active[len(pop.active)-1], pop.active[len(pop.active)/2]}
		for _, sub := range gone {
			if err := s.SetSubscriptionStatus(ctx, sub.ID, subscribers.Unsubscribed, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		late, created, err := s.CreateSubscription(ctx, subscribers.Subscription{Channel: subscribers.Email,
			Address: "late@example.org", Status: subscribers.Active, Source: subscribers.SourceWeb})
		if err != nil || !created {
			t.Fatalf("CreateSubscription: %v %v", created, err)
		}
		close(gate)
		p := waitSent(t, fo, ed.ID)
		want := len(pop.active) - len(gone)
		if st := stats(p.Stats); st["email/sent"] != want || len(st) != 1 {
			t.Errorf("stats %v, want %d sent", st, want)
		}
		for _, sub := range append(gone, late) {
			if n := snd.got(sub.ID); n != 0 {
				t.Errorf("%s got %d messages", sub.Address, n)
			}
		}
		if n := snd.total(); n != want {
			t.Errorf("%d messages, want %d", n, want)
		}
	})
}

// Start, Pause and Resume on an edition in each other state do nothing.
func TestFanoutStartOnlyWhenBuilt(t *testing.T) {
	s := storetest.OpenSQLite(t)
	ctx := context.Background()
	populate(t, s, 10)
	snd := &countSender{}
	fo := emailFanout(t, s, delivery.ChannelConfig{Sender: snd}, nil)
	runFanout(t, fo)
	for i, st := range []string{digest.StatusPaused, digest.StatusCancelled, digest.StatusSent, digest.StatusSending} {
		ed := createEdition(t, s, fmt.Sprintf("2026-02-1%d", i))
		if ok, err := s.TransitionEdition(ctx, ed.ID, nil, st); err != nil || !ok {
			t.Fatal(ok, err)
		}
		if ok, err := fo.Start(ctx, ed.ID); err != nil || ok {
			t.Errorf("Start on %s: %v %v", st, ok, err)
		}
		if st != digest.StatusPaused {
			if ok, err := fo.Resume(ctx, ed.ID); err != nil || ok {
				t.Errorf("Resume on %s: %v %v", st, ok, err)
			}
		}
		if st != digest.StatusSending {
			if ok, err := fo.Pause(ctx, ed.ID); err != nil || ok {
				t.Errorf("Pause on %s: %v %v", st, ok, err)
			}
		}
		if cur, _ := s.GetEdition(ctx, ed.ID); cur.Status != st && !(st == digest.StatusPaused && cur.Status == digest.StatusSending) {
			t.Errorf("edition was %s, is %s", st, cur.Status)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if n := snd.total(); n != 0 {
		t.Errorf("%d messages sent", n)
	}
	if _, err := fo.Wait(ctx, 999); err == nil {
		t.Errorf("Wait on an unknown edition: no error")
	}
}

// The SMTP server stays down through the last attempt: every reader ends
// with a failed record (nothing lost without a trace), the edition is sent
// with those counts, and running send-now again resends nothing.
func TestFanoutLastAttemptRecordsFailed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		pop := populate(t, s, 50)
		port := emailtest.FreePort(t)
		b, _ := emailtest.NewBuilder(t, nil)
		snd := emailtest.NewSender(t, b, "127.0.0.1", port, nil)
		fo := emailFanout(t, s, delivery.ChannelConfig{Sender: snd, BatchSize: 20}, func(c *delivery.FanoutConfig) {
			c.MaxAttempts = 2
		})
		ed := createEdition(t, s, "2026-02-03")
		p := sendAll(t, fo, ed.ID)
		if st := stats(p.Stats); st["email/failed"] != len(pop.active) || len(st) != 1 {
			t.Errorf("stats %v, want %d failed", st, len(pop.active))
		}
		// The server is back; send-now again: the edition is sent, failed
		// records are final.
		srv := emailtest.Start(t, port)
		if n, err := fo.RetryNow(ctx, ed.ID); err != nil || n != 0 {
			t.Errorf("RetryNow: %d %v", n, err)
		}
		if ok, err := fo.Start(ctx, ed.ID); err != nil || ok {
			t.Errorf("Start: %v %v", ok, err)
		}
		time.Sleep(200 * time.Millisecond)
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("%d messages resent", n)
		}
	})
}

// A batch that River gives up on without a normal end (here a panic on
// its only attempt; in life also a process killed during the last
// attempt): its readers are recorded as failed before the edition is
// sent, the other batches are unaffected.
func TestFanoutAbandonedBatchRecorded(t *testing.T) {
	s := storetest.OpenSQLite(t)
	pop := populate(t, s, 60)
	bad := pop.active[25].ID
	snd := &countSender{before: func(subs []subscribers.Subscription) error {
		for _, sub := range subs {
			if sub.ID == bad {
				panic("sender bug")
			}
		}
		return nil
	}}
	fo := emailFanout(t, s, delivery.ChannelConfig{Sender: snd, BatchSize: 20}, func(c *delivery.FanoutConfig) {
		c.MaxAttempts = 1
	})
	ed := createEdition(t, s, "2026-02-04")
	p := sendAll(t, fo, ed.ID)
	st := stats(p.Stats)
	if st["email/sent"]+st["email/failed"] != len(pop.active) || st["email/failed"] == 0 || st["email/sent"] != snd.total() {
		t.Errorf("stats %v for %d active, %d sent", st, len(pop.active), snd.total())
	}
	if snd.got(bad) != 0 {
		t.Errorf("the bad batch sent")
	}
}

// A batch held by a process that was killed (its job row still running,
// attempted by another client long ago): Wait neither returns nor exits
// early; it tells why it waits (Held) and finishes when River rescues it.
func TestFanoutWaitHeldByStoppedProcess(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		pop := populate(t, s, 40)
		snd := &countSender{}
		fo := emailFanout(t, s, delivery.ChannelConfig{Sender: snd, BatchSize: 20}, func(c *delivery.FanoutConfig) {
			c.JobTimeout = 2 * time.Second
			c.RescueAfter = time.Hour // the test rescues by hand
		})
		ed := createEdition(t, s, "2026-02-05")
		// The dead process started the edition and took the first batch.
		if _, err := fo.Start(ctx, ed.ID); err != nil {
			t.Fatal(err)
		}
		ago, dead := "now() - interval '1 minute'", "ARRAY['dead-client']"
		if s.Driver() == store.SQLite {
			ago, dead = "datetime('now', 'subsec', '-60 seconds')", `jsonb('["dead-client"]')`
		}
		var jobID int64
		if err := s.DB().QueryRowContext(ctx, `SELECT id FROM river_job WHERE kind = 'digestbot_delivery_batch' ORDER BY id LIMIT 1`).Scan(&jobID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DB().ExecContext(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = `+ago+
			`, attempted_by = `+dead+` WHERE id = $1`, jobID); err != nil {
			t.Fatal(err)
		}
		runFanout(t, fo)
		held := make(chan delivery.Progress, 10)
		done := make(chan delivery.Progress, 1)
		go func() {
			p, err := fo.WaitNotify(ctx, ed.ID, func(p delivery.Progress) { held <- p })
			if err != nil {
				t.Error(err)
			}
			done <- p
		}()
		select {
		case p := <-held:
			if p.Held != 1 || p.HeldUntil.Before(time.Now().Add(50*time.Minute)) {
				t.Errorf("held: %+v", p)
			}
		case p := <-done:
			t.Fatalf("Wait returned while a batch is held: %+v", p)
		case <-time.After(10 * time.Second):
			t.Fatal("no word of the held batch")
		}
		time.Sleep(300 * time.Millisecond)
		select {
		case p := <-done:
			t.Fatalf("Wait returned while a batch is held: %+v", p)
		default:
		}
		if n := snd.total(); n != 20 {
			t.Errorf("%d sent while the first batch is held, want 20", n)
		}
		// River's rescuer (simulated): the job is retryable again.
		if _, err := s.DB().ExecContext(ctx, `UPDATE river_job SET state = 'available' WHERE id = $1`, jobID); err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-done:
			if p.Status != digest.StatusSent || p.Pending != 0 || p.Held != 0 {
				t.Errorf("Wait: %+v", p)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Wait did not return after the rescue")
		}
		for _, sub := range pop.active {
			if n := snd.got(sub.ID); n != 1 {
				t.Errorf("subscription %d got %d", sub.ID, n)
			}
		}
	})
}

// A sender that is closed while a batch runs (the process is stopping)
// does not use up the batch: even on its only attempt nothing is recorded
// as failed, and the next run sends it.
func TestFanoutSenderClosedIsNotAFailure(t *testing.T) {
	s := storetest.OpenSQLite(t)
	ctx := context.Background()
	pop := populate(t, s, 30)
	var closed atomic.Bool
	closed.Store(true)
	snd := &countSender{}
	wrap := senderFunc(func(ctx context.Context, ed digest.Edition, subs []subscribers.Subscription) ([]delivery.Result, error) {
		if closed.Load() {
			var res []delivery.Result
			for _, sub := range subs {
				res = append(res, delivery.Result{SubscriptionID: sub.ID, Outcome: delivery.Retry, Err: delivery.ErrSenderClosed})
			}
			return res, nil
		}
		return snd.Send(ctx, ed, subs)
	})
	fo := emailFanout(t, s, delivery.ChannelConfig{Sender: wrap, BatchSize: 10}, func(c *delivery.FanoutConfig) {
		c.MaxAttempts = 1
		c.PausePoll = 50 * time.Millisecond
	})
	ed := createEdition(t, s, "2026-02-06")
	startFanout(t, fo, ed.ID)
	time.Sleep(300 * time.Millisecond)
	if st, _ := s.DeliveryStats(ctx, ed.ID); len(st) != 0 {
		t.Fatalf("recorded while the sender was closed: %v", st)
	}
	closed.Store(false)
	if p := waitSent(t, fo, ed.ID); stats(p.Stats)["email/sent"] != len(pop.active) {
		t.Fatalf("Wait: %+v", p)
	}
}

type senderFunc func(ctx context.Context, ed digest.Edition, subs []subscribers.Subscription) ([]delivery.Result, error)

func (f senderFunc) Send(ctx context.Context, ed digest.Edition, subs []subscribers.Subscription) ([]delivery.Result, error) {
	return f(ctx, ed, subs)
}
