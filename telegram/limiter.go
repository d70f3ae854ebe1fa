package telegram

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Limiter paces everything one bot sends, as Telegram's FAQ asks
// (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this):
// a global rate (about 30 messages per second, up to 1000 with paid
// broadcasts), about one message per second in a chat and 20 per minute in a
// group. A 429 answer holds every sender for retry_after (Hold).
//
// The global rate is a virtual schedule with no burst (GCRA with zero
// tolerance): each Wait takes the next free slot, slots are a little more
// than 1/rate apart (windowGuard), so the rate holds over any window,
// however many goroutines wait at once. One
// Limiter is shared by all the goroutines of a Client; it holds no global
// state.
type Limiter struct {
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	every      time.Duration // global spacing; 0: no global cap
	chatEvery  time.Duration
	groupEvery time.Duration

	stale atomic.Int64 // slots given up because their waiter woke too late

	// Shared mode (Share): global slots come in blocks from a schedule
	// every process sending as the bot draws from.
	shared   SharedPace
	bot      string
	maxBlock int
	fetch    chan struct{} // one refill at a time

	mu      sync.Mutex
	block   []time.Time // shared mode: slots reserved for this process, ascending
	waiting int         // shared mode: waiters wanting a slot now
	next    time.Time   // next free global slot
	freed   []time.Time // slots given back by cancelled waiters, ascending
	hold    time.Time   // no sending before this (429)
	chats   map[string]*chatSlot
	sweepAt int
}

type chatSlot struct {
	sem  chan struct{} // one sender per chat at a time
	next time.Time     // no message to this chat before this
	refs int
}

// NewLimiter returns a limiter at perSecond messages per second overall
// (0: no global cap) with Telegram's per-chat spacing. now and sleep may be
// nil for the real clock.
func NewLimiter(perSecond float64, now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) *Limiter {
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = sleepCtx
	}
	l := &Limiter{
		now: now, sleep: sleep,
		chatEvery: ChatInterval, groupEvery: GroupInterval,
		chats: make(map[string]*chatSlot), sweepAt: 1024,
	}
	if perSecond > 0 {
		l.every = time.Duration(float64(time.Second+windowGuard) / perSecond)
	}
	return l
}

// SharedPace is a send schedule shared with the other processes sending as
// the same bot; *store.Store implements it on the database they share.
type SharedPace interface {
	// ReservePace reserves n consecutive slots every apart and returns how
	// long after the call returns the first one is.
	ReservePace(ctx context.Context, bot string, n int, every time.Duration) (time.Duration, error)
	// HoldPace moves the schedule to at least d from now (a 429).
	HoldPace(ctx context.Context, bot string, d time.Duration) error
}

// Share makes the global rate one schedule for every process that shares p
// and sends as bot (the token's bot id): each process reserves slots from
// p, in blocks of at most a quarter second's worth when many of its
// goroutines wait, so N instances together keep the rate one instance
// keeps. A chat's own spacing stays local: a chat's messages come from the
// one process that holds its batch. Call it before the first Wait.
func (l *Limiter) Share(p SharedPace, bot string) {
	if l.every == 0 || p == nil {
		return
	}
	l.shared, l.bot = p, bot
	l.maxBlock = max(1, int(time.Second/4/l.every))
	l.fetch = make(chan struct{}, 1)
}

// HoldShared is Hold for every process sharing the schedule (Share); without
// one it does nothing.
func (l *Limiter) HoldShared(ctx context.Context, d time.Duration) error {
	if l.shared == nil {
		return nil
	}
	if err := l.shared.HoldPace(ctx, l.bot, d); err != nil {
		return fmt.Errorf("telegram: shared hold: %w", err)
	}
	return nil
}

// SetChatIntervals changes the spacing of messages to one private chat and
// to one group or channel (tests use short ones).
func (l *Limiter) SetChatIntervals(private, group time.Duration) {
	l.mu.Lock()
	l.chatEvery, l.groupEvery = private, group
	l.mu.Unlock()
}

// StaleSlots counts slots given up because their waiter woke too late (a
// stalled process): each is 1/rate of sending time lost rather than sent
// in a burst.
func (l *Limiter) StaleSlots() int64 { return l.stale.Load() }

// ChatInterval is the spacing the limiter keeps between two messages to
// chat: group chats (negative ids) and channels (@name) get 20 per minute.
func (l *Limiter) ChatInterval(chat string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.chatInterval(chat)
}

func (l *Limiter) chatInterval(chat string) time.Duration {
	if strings.HasPrefix(chat, "@") {
		return l.groupEvery
	}
	if id, err := strconv.ParseInt(chat, 10, 64); err == nil && id < 0 {
		return l.groupEvery
	}
	return l.chatEvery
}

// Hold stops every Wait until d from now: Telegram answered 429 with
// retry_after.
func (l *Limiter) Hold(d time.Duration) {
	l.mu.Lock()
	if t := l.now().Add(d); t.After(l.hold) {
		l.hold = t
	}
	l.mu.Unlock()
}

// HeldUntil is the end of the current 429 hold (zero or past: none).
func (l *Limiter) HeldUntil() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hold
}

// Wait blocks until a message may be sent to chat ("" for a request that
// counts against the global rate only) and takes that slot. It returns
// ctx's error if ctx ends first.
func (l *Limiter) Wait(ctx context.Context, chat string) error {
	if chat == "" {
		return l.waitGlobal(ctx)
	}
	cs := l.acquire(chat)
	defer l.release(cs)
	select {
	case cs.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-cs.sem }()

	// The chat's own spacing first, then a global slot; the chat's next time
	// is set from the moment the global slot came, so two messages to one
	// chat are never closer than its interval, whatever the global queue did.
	for {
		l.mu.Lock()
		now := l.now()
		t := cs.next
		if l.hold.After(t) {
			t = l.hold
		}
		l.mu.Unlock()
		if !now.Before(t) {
			break
		}
		if err := l.sleep(ctx, t.Sub(now)); err != nil {
			return err
		}
	}
	if err := l.waitGlobal(ctx); err != nil {
		return err
	}
	l.mu.Lock()
	cs.next = l.now().Add(l.chatInterval(chat))
	l.mu.Unlock()
	return nil
}

func (l *Limiter) waitGlobal(ctx context.Context) error {
	for {
		l.mu.Lock()
		now := l.now()
		if now.Before(l.hold) {
			d := l.hold.Sub(now)
			l.mu.Unlock()
			if err := l.sleep(ctx, d); err != nil {
				return err
			}
			continue
		}
		var slot time.Time
		if l.shared != nil {
			l.mu.Unlock()
			var err error
			if slot, err = l.sharedSlot(ctx); err != nil {
				return err
			}
			now = l.now()
		} else {
			slot = l.reserve(now)
			l.mu.Unlock()
		}

		if d := slot.Sub(now); d > 0 {
			if err := l.sleep(ctx, d); err != nil {
				// The waiter gave up (a batch's time slice ended, a job
				// stopped): its slot goes to the next waiter rather than
				// going unused. Without this, every cancelled batch cost
				// the whole channel as many slots as it had waiters.
				l.mu.Lock()
				l.giveBack(slot)
				l.mu.Unlock()
				return err
			}
		}
		// A 429 may have come in while this slot was waited for: then the
		// slot is given up and the hold is waited out like everyone's.
		// A slot woken up for far too late is given up too: when the
		// process stalls (GC, a starved CPU), every timer that expired in
		// the stall fires at once, and sending then would put a burst on
		// the wire; a fresh slot keeps the spacing.
		l.mu.Lock()
		now = l.now()
		held := now.Before(l.hold)
		stale := now.Sub(slot) > max(l.every, staleSlot)
		l.mu.Unlock()
		if !held && !stale {
			return nil
		}
		if stale {
			l.stale.Add(1)
		}
	}
}

// windowGuard widens the global spacing so that perSecond messages take
// one second and this much: flood control that counts the messages in any
// sliding second sees at most perSecond of them even when the network
// brings two a little closer than they left (messages exactly 1/rate
// apart put rate+1 in a closed second). It costs 3 % of the rate: 29.1/s
// at 30/s.
const windowGuard = 30 * time.Millisecond

// staleSlot is how late a waiter may wake for its slot and still use it.
const staleSlot = 25 * time.Millisecond

func (l *Limiter) acquire(chat string) *chatSlot {
	l.mu.Lock()
	defer l.mu.Unlock()
	cs := l.chats[chat]
	if cs == nil {
		cs = &chatSlot{sem: make(chan struct{}, 1)}
		l.chats[chat] = cs
	}
	cs.refs++
	return cs
}

// release forgets chats that are idle and past their interval once the map
// grows, so a fan-out to a million chats does not keep a million entries.
func (l *Limiter) release(cs *chatSlot) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cs.refs--
	if len(l.chats) < l.sweepAt {
		return
	}
	now := l.now()
	for k, v := range l.chats {
		if v.refs == 0 && !v.next.After(now) {
			delete(l.chats, k)
		}
	}
	l.sweepAt = max(1024, 2*len(l.chats))
}

// reserve returns the global slot of a new waiter: the earliest slot a
// cancelled waiter gave back that is still ahead, or the next free one.
// Either way slots stay at least every apart. l.mu is held.
func (l *Limiter) reserve(now time.Time) time.Time {
	for len(l.freed) > 0 && l.freed[0].Before(now) {
		l.freed = l.freed[1:] // gone by unused
	}
	if len(l.freed) > 0 {
		slot := l.freed[0]
		l.freed = l.freed[1:]
		return slot
	}
	slot := l.next
	if now.After(slot) {
		slot = now
	}
	l.next = slot.Add(l.every)
	return slot
}

// giveBack returns an unused future slot for reserve to hand out again.
// l.mu is held.
func (l *Limiter) giveBack(slot time.Time) {
	if l.every == 0 || !slot.After(l.now()) {
		return
	}
	if l.shared != nil {
		i, _ := slices.BinarySearchFunc(l.block, slot, time.Time.Compare)
		l.block = slices.Insert(l.block, i, slot)
		return
	}
	i, _ := slices.BinarySearchFunc(l.freed, slot, time.Time.Compare)
	l.freed = slices.Insert(l.freed, i, slot)
}

// sharedSlot takes the next slot of this process's reserved block,
// reserving a new block when it is used up. Slots that went by unused
// (their block was larger than the waiters) are dropped, not sent late.
func (l *Limiter) sharedSlot(ctx context.Context) (time.Time, error) {
	l.mu.Lock()
	l.waiting++
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.waiting--
		l.mu.Unlock()
	}()
	for {
		l.mu.Lock()
		now := l.now()
		for len(l.block) > 0 && now.Sub(l.block[0]) > staleSlot {
			l.block = l.block[1:]
		}
		if len(l.block) > 0 {
			slot := l.block[0]
			l.block = l.block[1:]
			l.mu.Unlock()
			return slot, nil
		}
		l.mu.Unlock()
		if err := l.refill(ctx); err != nil {
			return time.Time{}, err
		}
	}
}

// refill reserves a block of shared slots, one per waiter up to maxBlock,
// unless another waiter did meanwhile.
func (l *Limiter) refill(ctx context.Context) error {
	select {
	case l.fetch <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-l.fetch }()
	l.mu.Lock()
	n := min(max(l.waiting, 1), l.maxBlock)
	have := len(l.block) > 0
	l.mu.Unlock()
	if have {
		return nil
	}
	d, err := l.shared.ReservePace(ctx, l.bot, n, l.every)
	if err != nil {
		return fmt.Errorf("telegram: shared rate: %w", err)
	}
	l.mu.Lock()
	first := l.now().Add(d)
	for i := range n {
		l.block = append(l.block, first.Add(time.Duration(i)*l.every))
	}
	l.mu.Unlock()
	return nil
}
