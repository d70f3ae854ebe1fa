package telegram

import (
	"context"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock whose Sleep advances it: limiter tests run in
// virtual time, without sleeping.
type fakeClock struct {
	mu  sync.Mutex
	t   time.Time
	log []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, d)
	if d > 0 {
		c.t = c.t.Add(d)
	}
	return ctx.Err()
}

func (c *fakeClock) since(t0 time.Time) time.Duration { return c.Now().Sub(t0) }

// slot10 is the global spacing at 10 messages a second: 1/10 s and a
// tenth of windowGuard, so that 10 messages take more than a second.
const slot10 = (time.Second + windowGuard) / 10

func TestLimiterGlobalSpacing(t *testing.T) {
	clk := newFakeClock()
	l := NewLimiter(10, clk.Now, clk.Sleep)
	t0 := clk.Now()
	ctx := context.Background()
	for i := range 5 {
		if err := l.Wait(ctx, ChatID(int64(100+i))); err != nil {
			t.Fatal(err)
		}
		if got, want := clk.since(t0), time.Duration(i)*slot10; got != want {
			t.Fatalf("message %d at %s, want %s", i, got, want)
		}
	}
	// Global-only requests take slots too.
	if err := l.Wait(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if got := clk.since(t0); got != 5*slot10 {
		t.Fatalf("global-only wait at %s, want 500ms", got)
	}
}

func TestLimiterPerChat(t *testing.T) {
	clk := newFakeClock()
	l := NewLimiter(1000, clk.Now, clk.Sleep)
	ctx := context.Background()
	test := func(chat string, n int, want time.Duration) {
		t.Helper()
		t0 := clk.Now()
		for range n {
			if err := l.Wait(ctx, chat); err != nil {
				t.Fatal(err)
			}
		}
		if got := clk.since(t0); got < want || got > want+10*time.Millisecond {
			t.Errorf("%d messages to %s took %s, want %s", n, chat, got, want)
		}
	}
	test("42", 3, 2*time.Second)             // private: 1/s
	test("-1001234567890", 3, 6*time.Second) // group: 20/min
	test("@channel", 2, 3*time.Second)       // channel
	test("43", 1, 0)                         // another chat is not held up
	if got := l.ChatInterval("-5"); got != GroupInterval {
		t.Errorf("ChatInterval(-5) = %s", got)
	}
}

func TestLimiterHold(t *testing.T) {
	clk := newFakeClock()
	l := NewLimiter(30, clk.Now, clk.Sleep)
	ctx := context.Background()
	t0 := clk.Now()
	if err := l.Wait(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	l.Hold(3 * time.Second) // a 429 with retry_after 3
	if err := l.Wait(ctx, "2"); err != nil {
		t.Fatal(err)
	}
	if got := clk.since(t0); got < 3*time.Second {
		t.Fatalf("sent %s after a 3s hold", got)
	}
	// A shorter hold does not shorten a longer one.
	l.Hold(10 * time.Second)
	l.Hold(time.Second)
	if got := l.HeldUntil().Sub(clk.Now()); got != 10*time.Second {
		t.Fatalf("hold %s, want 10s", got)
	}
}

func TestLimiterCancel(t *testing.T) {
	l := NewLimiter(1, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	if err := l.Wait(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	cancel()
	start := time.Now()
	if err := l.Wait(ctx, "2"); err == nil {
		t.Fatal("Wait with a cancelled context succeeded")
	}
	if time.Since(start) > 100*time.Millisecond {
		t.Fatal("Wait did not return promptly on cancel")
	}
}

// TestLimiterConcurrent checks the real-clock rate with many goroutines
// and that chat entries are swept.
func TestLimiterConcurrent(t *testing.T) {
	const rate, n = 200.0, 100
	l := NewLimiter(rate, nil, nil)
	ctx := context.Background()
	var mu sync.Mutex
	var times []time.Time
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Wait(ctx, ChatID(int64(i))); err != nil {
				t.Error(err)
			}
			mu.Lock()
			times = append(times, time.Now())
			mu.Unlock()
		}()
	}
	wg.Wait()
	first, last := times[0], times[0]
	for _, x := range times {
		if x.Before(first) {
			first = x
		}
		if x.After(last) {
			last = x
		}
	}
	min := time.Duration(float64(n-1) / rate * float64(time.Second))
	if d := last.Sub(first); d < min-5*time.Millisecond {
		t.Fatalf("%d waits in %s, faster than %v/s", n, d, rate)
	}
}

func TestLimiterSweep(t *testing.T) {
	clk := newFakeClock()
	l := NewLimiter(1000, clk.Now, clk.Sleep)
	l.sweepAt = 16
	ctx := context.Background()
	for i := range 15 {
		if err := l.Wait(ctx, ChatID(int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	clk.Sleep(ctx, 2*time.Second) // every chat's interval is over
	if err := l.Wait(ctx, "999"); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	left := len(l.chats)
	l.mu.Unlock()
	if left > 1 {
		t.Errorf("%d chat entries kept after their intervals passed, want them swept", left)
	}
}

// TestLimiterStaleSlot: a waiter that wakes far too late (the process
// stalled) takes a fresh slot instead of sending in a burst with others.
func TestLimiterStaleSlot(t *testing.T) {
	clk := newFakeClock()
	stall := 300 * time.Millisecond
	stalled := false
	sleep := func(ctx context.Context, d time.Duration) error {
		if d > 0 && !stalled {
			stalled = true
			d += stall
		}
		return clk.Sleep(ctx, d)
	}
	l := NewLimiter(10, clk.Now, sleep)
	ctx := context.Background()
	t0 := clk.Now()
	var at []time.Duration
	for i := range 3 {
		if err := l.Wait(ctx, ChatID(int64(i))); err != nil {
			t.Fatal(err)
		}
		at = append(at, clk.since(t0))
	}
	// 0; the second slot (103 ms) is woken at about 400 ms: stale, a new
	// slot then; the third keeps a slot's spacing after it.
	want := []time.Duration{0, slot10 + stall, 2*slot10 + stall}
	for i := range want {
		if at[i] != want[i] {
			t.Fatalf("grants at %v, want %v", at, want)
		}
	}
}

// A waiter that gives up hands its slot to the next waiter: cancelled
// batches must not leave holes in the channel's rate.
func TestLimiterReusesAbandonedSlots(t *testing.T) {
	now := time.Date(2026, 1, 1, 7, 0, 0, 0, time.UTC)
	l := NewLimiter(10, func() time.Time { return now }, nil) // a slot every 103 ms
	l.mu.Lock()
	defer l.mu.Unlock()
	a, b, c := l.reserve(now), l.reserve(now), l.reserve(now)
	if b.Sub(a) != slot10 || c.Sub(b) != slot10 {
		t.Fatalf("slots %v %v %v", a, b, c)
	}
	l.giveBack(b)
	if d := l.reserve(now); !d.Equal(b) {
		t.Errorf("new waiter got %v, want the abandoned slot %v", d, b)
	}
	if e := l.reserve(now); !e.Equal(c.Add(slot10)) {
		t.Errorf("then %v, want the next free slot", e)
	}
	// A slot given back that has gone by is not handed out.
	l.giveBack(c)
	now = c.Add(time.Millisecond)
	if f := l.reserve(now); f.Equal(c) {
		t.Errorf("a past slot was handed out")
	}
}

// Flood control that counts messages in any sliding second must never see
// more than the rate: rate+1 consecutive grants span more than a second,
// by windowGuard at least.
func TestLimiterSlidingSecond(t *testing.T) {
	clk := newFakeClock()
	l := NewLimiter(30, clk.Now, clk.Sleep)
	t0 := clk.Now()
	var at []time.Duration
	for i := range 200 {
		if err := l.Wait(context.Background(), ChatID(int64(1000+i))); err != nil {
			t.Fatal(err)
		}
		at = append(at, clk.since(t0))
	}
	for i := 0; i+30 < len(at); i++ {
		if span := at[i+30] - at[i]; span < time.Second+windowGuard-time.Millisecond {
			t.Fatalf("grants %d..%d within %v: 31 messages in one sliding second", i, i+30, span)
		}
	}
	if rate := float64(len(at)-1) / (at[len(at)-1] - at[0]).Seconds(); rate < 28.5 {
		t.Errorf("sustained %.2f/s, want at least 95%% of 30/s", rate)
	}
}
