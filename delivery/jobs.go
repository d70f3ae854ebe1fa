package delivery

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"

	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/subscribers"
)

// River job kinds and queues of the fan-out.
const (
	batchKind   = "digestbot_delivery_batch"
	finishKind  = "digestbot_delivery_finish"
	finishQueue = "delivery_finish"
)

// queueFor is the River queue of a channel's batches, so that each channel
// has its own workers and a slow Telegram does not hold up email.
func queueFor(ch subscribers.Channel) string { return "delivery_" + string(ch) }

// editionTag marks every job of an edition, to find them again.
func editionTag(id int64) string { return "edition_" + strconv.FormatInt(id, 10) }

// batchArgs is one batch job: the active subscriptions of a channel with
// ids in [FirstID, LastID]. The args are the job's identity: inserting the
// same batch twice inserts it once (UniqueOpts.ByArgs).
type batchArgs struct {
	EditionID int64               `json:"edition_id"`
	Channel   subscribers.Channel `json:"channel"`
	FirstID   int64               `json:"first_id"`
	LastID    int64               `json:"last_id"`
	// IDs, when set, are the batch's readers (a fan-out planned by
	// delivery hour); FirstID and LastID then bound them.
	IDs []int64 `json:"ids,omitempty"`
}

func (batchArgs) Kind() string { return batchKind }

// finishArgs is the one job per edition that marks it sent when its
// batches are done, should no worker in this process see the last one end
// (a crash, or another instance did the work).
type finishArgs struct {
	EditionID int64 `json:"edition_id"`
}

func (finishArgs) Kind() string { return finishKind }

// uniqueForever: a job of the same args is never inserted again while the
// row exists, whatever its state, so a double Start adds nothing.
func uniqueForever() river.UniqueOpts {
	return river.UniqueOpts{ByArgs: true, ByState: rivertype.JobStates()}
}

type batchWorker struct {
	river.WorkerDefaults[batchArgs]
	f *Fanout
}

func (w *batchWorker) Work(ctx context.Context, job *river.Job[batchArgs]) error {
	if err := w.f.workBatch(ctx, job); err != nil {
		return err
	}
	w.f.completeBatch(ctx, job)
	return nil
}

// completeBatch marks a batch that is done completed in its own
// transaction (river.JobCompleteTx) and looks whether that finished the
// edition. River's completer would write the completion too, but in
// rounds (about every 250 ms in River v0.51), and the edition waits for
// its last batch's: so send-now exits and the edition is marked sent as
// soon as the last batch returns, not a round later. Each batch looks
// after its own completion is committed, so whichever ends last sees none
// left, however they interleave. When either write fails, River's own
// completion and the finish job still come.
func (f *Fanout) completeBatch(ctx context.Context, job *river.Job[batchArgs]) {
	err := f.st.InTx(ctx, func(tx *sql.Tx) error {
		_, err := river.JobCompleteTx[riverdriver.Driver[*sql.Tx]](ctx, tx, job)
		return err
	})
	if err != nil {
		f.log.Debug("batch completion", slog.Int64("job_id", job.ID), slog.String("error", err.Error()))
		return
	}
	if _, err := f.checkFinished(ctx, job.Args.EditionID); err != nil && ctx.Err() == nil {
		f.log.Warn("finish check", slog.Int64("edition_id", job.Args.EditionID), slog.String("error", err.Error()))
	}
}

func (w *batchWorker) NextRetry(job *river.Job[batchArgs]) time.Time {
	return w.f.now().Add(w.f.cfg.RetryBackoff(job.Attempt))
}

func (w *batchWorker) Timeout(*river.Job[batchArgs]) time.Duration { return w.f.cfg.JobTimeout }

type finishWorker struct {
	river.WorkerDefaults[finishArgs]
	f *Fanout
}

func (w *finishWorker) Work(ctx context.Context, job *river.Job[finishArgs]) error {
	done, err := w.f.checkFinished(ctx, job.Args.EditionID)
	if err != nil {
		return err
	}
	if !done {
		// Snoozing costs no attempt: it can wait for days of retries.
		return river.JobSnooze(w.f.cfg.FinishPoll)
	}
	return nil
}

// recordTimeout bounds one write of delivery records, which must happen
// even when the job's context has ended.
const recordTimeout = 30 * time.Second

// hardDeadlineKey carries the job's deadline (JobTimeout) into the slice's
// context, whose own deadline is the end of the slice: a sender finishes
// the messages in flight after the slice, but not past the job's deadline.
type hardDeadlineKey struct{}

func withHardDeadline(ctx context.Context, d time.Time) context.Context {
	return context.WithValue(ctx, hardDeadlineKey{}, d)
}

// HardDeadline is the time by which a sender must have given up on the
// messages of ctx still in flight (zero: none): a sender finishes what is
// on the wire after the slice ends (ctx.Done), but not past this.
func HardDeadline(ctx context.Context) time.Time {
	d, _ := ctx.Value(hardDeadlineKey{}).(time.Time)
	return d
}

// errPaused stops a batch between chunks when the edition was paused.
var errPaused = errors.New("edition paused")

// errNotSent is the Retry of a subscription the sender gave no result for.
var errNotSent = errors.New("not sent")

// unsent reports a Retry for a message that was not tried at all (the
// slice ended, the job stopped): on the last attempt it is recorded as
// failed only when the batch gives up (recorder.finish), not when the
// batch is only interrupted.
func unsent(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, errNotSent) || errors.Is(err, ErrSenderClosed)
}

// workBatch sends one batch: it skips what is recorded, sends the rest and
// records each result as it comes. Retry results are not recorded: the
// job fails and River runs it again later for those only.
func (f *Fanout) workBatch(ctx context.Context, job *river.Job[batchArgs]) error {
	a := job.Args
	log := f.log.With(slog.Int64("edition_id", a.EditionID), slog.String("channel", string(a.Channel)),
		slog.Int64("first_id", a.FirstID), slog.Int64("last_id", a.LastID), slog.Int("attempt", job.Attempt))
	snd := f.senders[a.Channel]
	if snd == nil {
		return fmt.Errorf("delivery: no sender for channel %q in this instance", a.Channel)
	}
	ed, err := f.st.GetEdition(ctx, a.EditionID)
	if errors.Is(err, digest.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return fmt.Errorf("delivery: batch: %w", err)
	}
	switch ed.Status {
	case digest.StatusSending:
	case digest.StatusPaused, digest.StatusBuilt:
		return river.JobSnooze(f.cfg.PausePoll)
	default:
		log.Info("batch not sent", slog.String("edition_status", ed.Status))
		return nil
	}
	subs, err := f.batchSubscriptions(ctx, a)
	if err != nil {
		return fmt.Errorf("delivery: batch subscriptions: %w", err)
	}
	// The batches cut every active reader of the channel; this edition
	// goes to those who get its newsletter.
	subs = slices.DeleteFunc(subs, func(s subscribers.Subscription) bool {
		return !s.Gets(ed.Newsletter, f.cfg.DefaultNewsletter)
	})
	recorded, err := f.st.RecordedDeliveries(ctx, ed.ID, a.FirstID, a.LastID)
	if err != nil {
		return fmt.Errorf("delivery: batch records: %w", err)
	}
	todo := make([]subscribers.Subscription, 0, len(subs))
	for _, s := range subs {
		if _, done := recorded[s.ID]; !done {
			todo = append(todo, s)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	log.Debug("batch started", slog.Int("to_send", len(todo)))
	rec := newRecorder(f, ed.ID, a.Channel, job.Attempt, job.Attempt >= job.MaxAttempts, f.slots[a.Channel], todo, log)
	sctx, endSlice := context.WithTimeout(ctx, f.cfg.SliceTime)
	if d, ok := ctx.Deadline(); ok {
		sctx = withHardDeadline(sctx, d)
	}
	sendErr := f.sendBatch(sctx, snd, ed, todo, rec)
	sliced := ctx.Err() == nil && (sctx.Err() != nil || rec.deadline)
	endSlice()
	stopped := ctx.Err() != nil // River stops (soft stop) or the job timed out
	paused := errors.Is(sendErr, errPaused)
	closed := rec.closed || errors.Is(sendErr, ErrSenderClosed) // this process is shutting down
	// yield: the batch is interrupted, not failed; what was not tried
	// waits for the next run even on the last attempt. Otherwise the last
	// attempt gives up: every message not sent is recorded as failed, so
	// that nothing is lost without a record.
	yield := paused || stopped || closed || (sliced && rec.progress())
	if err := rec.finish(ctx, sendErr, !yield); err != nil {
		return err
	}
	switch {
	case paused:
		// Resumed meanwhile? Resume's RetryNow cannot wake a job that is
		// still running, so look once more before a long snooze.
		if cur, err := f.st.GetEdition(ctx, ed.ID); err == nil && cur.Status == digest.StatusSending {
			return river.JobSnooze(0)
		}
		return river.JobSnooze(f.cfg.PausePoll)
	case stopped:
		// Wrapping ctx.Err() lets River tell its own shutdown (the attempt
		// is not counted) from a job timeout.
		return fmt.Errorf("delivery: batch stopped, %d of %d messages not sent: %w", rec.retry, len(todo), ctx.Err())
	case closed:
		log.Info("batch interrupted: the sender is closing", slog.Int("not_sent", rec.retry))
		return river.JobSnooze(f.cfg.PausePoll)
	case sliced && rec.progress():
		// The slice is over, not the batch: continue at once, with no
		// attempt used (a snooze), from what is recorded.
		log.Debug("batch slice done", slog.Int("sent", rec.counts[Sent]), slog.Int("left", rec.retry))
		return river.JobSnooze(0)
	}
	if rec.retry > 0 {
		if rec.final {
			log.Warn("batch gave up: messages recorded as failed", slog.Int("failed", rec.retry),
				slog.Int("sent", rec.counts[Sent]), slog.String("error", errString(cmpErr(sendErr, rec.retryErr))))
		} else {
			log.Info("batch has messages to retry", slog.Int("retry", rec.retry), slog.Int("sent", rec.counts[Sent]),
				slog.String("error", errString(rec.retryErr)))
		}
		return fmt.Errorf("delivery: %d of %d messages to retry: %w", rec.retry, len(todo), cmpErr(sendErr, rec.retryErr))
	}
	log.Debug("batch done", slog.Int("sent", rec.counts[Sent]), slog.Int("skipped", rec.counts[Skipped]),
		slog.Int("failed", rec.counts[Failed]+rec.counts[Bounced]+rec.counts[Blocked]+rec.counts[Retry]))
	return nil
}

// sendBatch hands todo to the channel's sender: all at once to a
// StreamSender, else in chunks of RecordChunk (at most MaxUnrecorded),
// recorded between chunks,
// stopping when the edition is paused.
func (f *Fanout) sendBatch(ctx context.Context, snd ChannelSender, ed digest.Edition, todo []subscribers.Subscription, rec *recorder) error {
	if ss, ok := snd.(StreamSender); ok {
		// A streaming sender gets the whole batch at once, so a pause is
		// watched for while it runs: /pause stops the batch within about a
		// RecordInterval, not at the end of its slice. The sender starts no
		// new recipient after that (a Telegram reader with part of the
		// digest still gets the rest); results are recorded with the job's
		// own context.
		sctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		stop := f.watchPause(sctx, ed.ID, cancel)
		err := ss.SendEach(sctx, ed, todo, recorderSink{r: rec, ctx: ctx})
		stop()
		if errors.Is(context.Cause(sctx), errPaused) {
			return errPaused
		}
		return err
	}
	chunk := min(f.cfg.RecordChunk, f.cfg.MaxUnrecorded)
	for start := 0; start < len(todo); start += chunk {
		part := todo[start:min(start+chunk, len(todo))]
		if err := f.admitChunk(ctx, rec, part); err != nil {
			return err
		}
		res, err := snd.Send(ctx, ed, part)
		for _, r := range res {
			rec.add(ctx, r)
		}
		if err != nil {
			return err
		}
		if err := rec.flush(); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err // the slice ended, or the job is stopped
		}
		if start+len(part) < len(todo) {
			cur, err := f.st.GetEdition(ctx, ed.ID)
			if err != nil {
				return err
			}
			if cur.Status != digest.StatusSending {
				return errPaused
			}
		}
	}
	return nil
}

// admitChunk takes the slots of part for rec, one batch at a time:
// batches taking a whole chunk each could otherwise hold part of one each
// and wait forever for the rest.
func (f *Fanout) admitChunk(ctx context.Context, rec *recorder, part []subscribers.Subscription) error {
	f.admitMu.Lock()
	defer f.admitMu.Unlock()
	for _, sub := range part {
		if err := rec.admit(ctx, sub.ID); err != nil {
			return err
		}
	}
	return nil
}

// watchPause checks the edition's status every RecordInterval while a
// batch streams and cancels it with errPaused when the edition is no longer
// sending. stop ends the watch and waits for it.
func (f *Fanout) watchPause(ctx context.Context, editionID int64, cancel context.CancelCauseFunc) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(f.cfg.RecordInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			cur, err := f.st.GetEdition(ctx, editionID)
			if err == nil && cur.Status != digest.StatusSending {
				cancel(errPaused)
				return
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// recorder turns a batch's results into delivery records, handed to the
// process's ledger as they come; it holds the batch's slots of the
// channel's budget (see ledger.go).
type recorder struct {
	f         *Fanout
	editionID int64
	channel   subscribers.Channel
	attempt   int
	final     bool // last attempt: record Retry results as failed (unsent ones only when giving up)
	log       *slog.Logger
	slots     budget
	want      map[int64]bool // subscriptions still without a result
	counts    map[Outcome]int
	retry     int
	retryErr  error
	deadline  bool     // a message was not tried because the slice was ending
	closed    bool     // a message was not tried because the sender is closing
	held      []Result // last attempt: messages not tried, failed only if the batch gives up

	writes sync.WaitGroup // records submitted to the ledger, not yet written

	mu        sync.Mutex
	admitted  map[int64]time.Time // recipients holding a slot (since), their result not come yet
	err       error               // the first record that could not be written
	unwritten []func()            // the slots of records that could not be written
}

func newRecorder(f *Fanout, editionID int64, channel subscribers.Channel, attempt int, final bool, slots budget, todo []subscribers.Subscription, log *slog.Logger) *recorder {
	want := make(map[int64]bool, len(todo))
	for _, s := range todo {
		want[s.ID] = true
	}
	return &recorder{f: f, editionID: editionID, channel: channel, attempt: attempt, final: final, log: log, slots: slots, want: want,
		counts: make(map[Outcome]int), admitted: make(map[int64]time.Time)}
}

// recorderSink is the Sink a StreamSender reports a batch's results to.
type recorderSink struct {
	r   *recorder
	ctx context.Context
}

func (s recorderSink) Admit(ctx context.Context, id int64) error { return s.r.admit(ctx, id) }
func (s recorderSink) Emit(res Result)                           { s.r.add(s.ctx, res) }

// admit takes a slot of the channel's budget for recipient id.
func (r *recorder) admit(ctx context.Context, id int64) error {
	if err := r.slots.acquire(ctx); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.admitted[id]; ok {
		r.slots.release() // admitted twice: one slot is enough
		return nil
	}
	r.admitted[id] = time.Now()
	return nil
}

// takeSlot hands over the slot of recipient id to its result, with the
// time it was admitted: false when it holds none (a result the sender gave
// before it admitted the recipient: a bad address, nothing to send).
func (r *recorder) takeSlot(id int64) (bool, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	since, ok := r.admitted[id]
	if !ok {
		return false, time.Time{}
	}
	delete(r.admitted, id)
	return true, since
}

func (r *recorder) fail(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
}

func (r *recorder) add(ctx context.Context, res Result) {
	if !r.want[res.SubscriptionID] {
		r.log.Warn("sender returned a result for a subscription not in the batch", slog.Int64("subscription_id", res.SubscriptionID))
		return
	}
	delete(r.want, res.SubscriptionID)
	slot, since := r.takeSlot(res.SubscriptionID)
	if r.f.cfg.Observe != nil {
		latency := time.Duration(-1)
		if slot {
			latency = time.Since(since)
		}
		r.f.cfg.Observe(r.channel, res.Outcome, latency)
	}
	release := func() {
		if slot {
			r.slots.release()
		}
	}
	r.counts[res.Outcome]++
	if res.NewAddress != "" {
		wctx, cancel := writeContext(ctx)
		defer cancel()
		if err := r.f.cfg.Subscriptions.MoveChat(wctx, res.SubscriptionID, res.NewAddress); err != nil {
			r.log.Warn("cannot update address", slog.Int64("subscription_id", res.SubscriptionID), slog.String("error", err.Error()))
		}
	}
	if res.Outcome == Retry && errors.Is(res.Err, context.DeadlineExceeded) {
		r.deadline = true
	}
	if res.Outcome == Retry && errors.Is(res.Err, ErrSenderClosed) {
		r.closed = true
	}
	if res.Outcome == Retry && (!r.final || unsent(res.Err)) {
		// Not recorded: tried again by the next run of the batch.
		r.retry++
		if r.retryErr == nil {
			r.retryErr = res.Err
		}
		if r.final {
			r.held = append(r.held, res)
		}
		release()
		return
	}
	d := Delivery{EditionID: r.editionID, SubscriptionID: res.SubscriptionID, Attempts: r.attempt, LastError: errString(res.Err)}
	switch res.Outcome {
	case Sent:
		d.Status, d.SentAt = digest.DeliverySent, r.f.now()
	case Skipped:
		d.Status = digest.DeliverySkipped
	case Retry:
		d = r.gaveUp(res)
	case Bounced, Blocked:
		// The status first: should the record be lost, the address is
		// still never written to again.
		mark := r.f.cfg.Subscriptions.MarkBounced
		if res.Outcome == Blocked {
			mark = r.f.cfg.Subscriptions.MarkBlocked
		}
		wctx, cancel := writeContext(ctx)
		defer cancel()
		if err := mark(wctx, res.SubscriptionID); err != nil {
			r.fail(fmt.Errorf("delivery: %w", err))
			release()
			return
		}
		d.Status = digest.DeliveryFailed
	default:
		d.Status = digest.DeliveryFailed
	}
	r.submit(ctx, d, release)
}

// gaveUp is the record of a message the last attempt did not send.
func (r *recorder) gaveUp(res Result) Delivery {
	return Delivery{EditionID: r.editionID, SubscriptionID: res.SubscriptionID, Attempts: r.attempt,
		Status: digest.DeliveryFailed, LastError: errString(fmt.Errorf("gave up after %d attempts: %w", r.attempt, res.Err))}
}

// writeContext is ctx for a write that must outlive a cancelled job: a
// message that went out must be recorded even when the job is being
// stopped, or it is sent again.
func writeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
}

// submit hands d to the ledger; release runs once it is written. A record
// that could not be written keeps its slot until the batch attempt ends
// (finish): the message went and has no record, so it counts against the
// bound as long as anything of this batch can still be sent, and a
// database that refuses writes stops the sending within max_unrecorded
// messages rather than letting it run on unrecorded.
func (r *recorder) submit(ctx context.Context, d Delivery, release func()) {
	r.writes.Add(1)
	r.f.ledger.submit(ctx, ledgerEntry{d: d, done: func(err error) {
		if err != nil {
			r.fail(fmt.Errorf("delivery: record delivery of subscription %d: %w", d.SubscriptionID, err))
			r.mu.Lock()
			r.unwritten = append(r.unwritten, release)
			r.mu.Unlock()
		} else {
			release()
		}
		r.writes.Done()
	}})
}

// progress reports whether any result other than Retry came.
func (r *recorder) progress() bool {
	for o, n := range r.counts {
		if o != Retry && n > 0 {
			return true
		}
	}
	return false
}

// finish records what is left; subscriptions the sender gave no result for
// (it stopped early, or the whole batch failed with cause) count as Retry.
// giveUp on the last attempt records every message not sent as failed
// ("gave up after N attempts"), the ones never tried too: the batch job
// ends for good, and a subscriber without a record would be lost from the
// edition's counts. It returns when every record of the batch is written,
// with the slots it held given back.
func (r *recorder) finish(ctx context.Context, cause error, giveUp bool) error {
	notSent := errNotSent
	if cause != nil && !errors.Is(cause, errPaused) {
		notSent = fmt.Errorf("%w: %w", errNotSent, cause)
	}
	for id := range r.want {
		r.add(ctx, Result{SubscriptionID: id, Outcome: Retry, Err: notSent})
	}
	if giveUp && r.final {
		for _, res := range r.held {
			r.submit(ctx, r.gaveUp(res), func() {})
		}
		r.held = nil
	}
	err := r.flush()
	r.mu.Lock()
	for id := range r.admitted { // admitted, and the sender never reported them
		delete(r.admitted, id)
		r.slots.release()
	}
	for _, release := range r.unwritten {
		release()
	}
	r.unwritten = nil
	r.mu.Unlock()
	return err
}

// flush waits until every record submitted so far is written and returns
// the first write that failed.
func (r *recorder) flush() error {
	r.writes.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// cmpErr returns the first error that is not nil.
func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// errString is err as stored in a delivery record: at most 500 bytes of
// valid UTF-8 without NUL, which PostgreSQL text refuses (a server's reply
// may hold anything, and a refused write would send the batch again).
func errString(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if len(s) > 500 {
		s = s[:500]
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}
