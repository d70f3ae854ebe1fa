package delivery

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// A crash (kill -9, a power cut) can repeat exactly the messages that went
// out but whose delivery records were not committed: a restarted batch
// skips what is recorded and sends the rest. Two parts of the fan-out keep
// that number small without costing throughput:
//
//   - budget: a channel's recipients hold one slot each from the moment
//     the sender takes them (Sink.Admit, before anything goes on the wire)
//     until their record is committed. There are MaxUnrecorded slots per
//     channel and process, shared by every batch running in it, so at any
//     instant at most MaxUnrecorded recipients are sent or on their way
//     without a record: the crash bound (docs/crash-bound.md).
//   - ledger: one writer per process commits the records of all the
//     batches together. While one write is running (and for up to
//     groupWait before it) the results of every batch queue up, and the
//     write takes them all (group commit), so slots come back after one
//     short write rather than after each batch's own chunk.

// budget is a channel's slots.
type budget chan struct{}

func newBudget(n int) budget { return make(budget, n) }

// acquire takes a slot, or fails when ctx ends first (or has ended: a
// select with a free slot would pick either case).
func (b budget) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case b <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b budget) release() { <-b }

// ledgerEntry is one delivery record and what to do once it is committed
// (or could not be).
type ledgerEntry struct {
	d    Delivery
	done func(error)
}

// ledger writes the delivery records of every batch of this process.
type ledger struct {
	st  Store
	log *slog.Logger

	mu      sync.Mutex
	queue   []ledgerEntry
	writing bool          // a drain goroutine is running
	full    chan struct{} // a group's worth is queued (buffered 1)
	lastErr error         // the last write failed after all its tries (nil: it worked)
}

// failure is the error of the last write when it failed for good: the
// database refuses records (down, full, read-only).
func (l *ledger) failure() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastErr
}

// A write waits up to groupWait for groupSize records: one write of a few
// dozen rows costs SQLite about what one of a few rows does (the
// transaction and its WAL frames), and at full speed email results come
// 10–20 a millisecond.
const (
	groupSize = 32
	groupWait = time.Millisecond
)

func newLedger(st Store, log *slog.Logger) *ledger {
	return &ledger{st: st, log: log, full: make(chan struct{}, 1)}
}

// submit queues e; its done is called, from the writer, when the record is
// committed or every try to write it failed. It never blocks on the
// database. ctx's values (not its end) carry into the write.
func (l *ledger) submit(ctx context.Context, e ledgerEntry) {
	l.mu.Lock()
	l.queue = append(l.queue, e)
	start := !l.writing
	l.writing = true
	if len(l.queue) == groupSize {
		select {
		case l.full <- struct{}{}:
		default:
		}
	}
	l.mu.Unlock()
	if start {
		go l.drain(ctx)
	}
}

// drain writes what is queued, each write taking everything that queued up
// during the one before, until the queue is empty.
func (l *ledger) drain(ctx context.Context) {
	var group []ledgerEntry
	var ds []Delivery
	wait := time.NewTimer(groupWait)
	defer wait.Stop()
	for {
		l.mu.Lock()
		if len(l.queue) == 0 {
			l.writing = false
			l.mu.Unlock()
			return
		}
		if len(l.queue) < groupSize {
			select {
			case <-l.full: // a signal left from a group already taken
			default:
			}
			l.mu.Unlock()
			wait.Reset(groupWait)
			select {
			case <-l.full:
			case <-wait.C:
			}
			l.mu.Lock()
		}
		group, l.queue = l.queue, group[:0]
		l.mu.Unlock()

		ds = ds[:0]
		for _, e := range group {
			ds = append(ds, e.d)
		}
		err := l.write(ctx, ds)
		l.mu.Lock()
		l.lastErr = err
		l.mu.Unlock()
		for i, e := range group {
			e.done(err)
			group[i] = ledgerEntry{} // no closure kept alive by the reused array
		}
	}
}

// write commits ds, trying again a few times over about 4 s: a busy or
// restarting database should not turn sent messages into repeats.
func (l *ledger) write(ctx context.Context, ds []Delivery) error {
	ctx, cancel := writeContext(ctx)
	defer cancel()
	var err error
	for try, wait := 0, 100*time.Millisecond; try < 4; try, wait = try+1, wait*3 {
		if err = l.st.RecordDeliveries(ctx, ds); err == nil {
			return nil
		}
		l.log.Warn("recording deliveries failed", slog.Int("records", len(ds)), slog.String("error", err.Error()))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return err
		}
	}
	return err
}
