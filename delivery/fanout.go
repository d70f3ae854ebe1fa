package delivery

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"

	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/subscribers"
)

// Store is what the fan-out needs of the database (store.Store).
type Store interface {
	RiverDriver() riverdriver.Driver[*sql.Tx]
	InTx(ctx context.Context, fn func(tx *sql.Tx) error) error
	GetEdition(ctx context.Context, id int64) (digest.Edition, error)
	TransitionEdition(ctx context.Context, id int64, from []string, to string) (bool, error)
	TransitionEditionTx(ctx context.Context, tx *sql.Tx, id int64, from []string, to string) (bool, error)
	SubscriptionBatches(ctx context.Context, ch subscribers.Channel, size int) ([][2]int64, error)
	RecipientsInRange(ctx context.Context, ch subscribers.Channel, firstID, lastID int64) ([]subscribers.Subscription, error)
	HasLocalTimes(ctx context.Context, ch subscribers.Channel) (bool, error)
	ActiveLocalTimes(ctx context.Context, ch subscribers.Channel) ([]int64, []*subscribers.LocalTime, error)
	RecipientsByID(ctx context.Context, ch subscribers.Channel, ids []int64) ([]subscribers.Subscription, error)
	RecordDeliveries(ctx context.Context, ds []Delivery) error
	RecordedDeliveries(ctx context.Context, editionID, firstID, lastID int64) (map[int64]string, error)
	DeliveryStats(ctx context.Context, editionID int64) ([]digest.DeliveryCount, error)
}

// Subscriptions changes a subscription as its channel reports it, before
// the delivery is recorded; *subscribers.Service implements it.
type Subscriptions interface {
	MarkBounced(ctx context.Context, id int64) error
	MarkBlocked(ctx context.Context, id int64) error
	MoveChat(ctx context.Context, id int64, address string) error
}

// ChannelConfig tunes the fan-out of one channel.
type ChannelConfig struct {
	Sender ChannelSender
	// BatchSize is the number of subscriptions per job; 0 means 200.
	BatchSize int
	// Workers is the number of batch jobs run at once by this instance;
	// 0 means 8, enough to keep 16 SMTP connections busy between job
	// fetches. The sender's own limits (connections, rate) still apply.
	Workers int
}

// FanoutConfig configures the fan-out. Zero values take the defaults.
type FanoutConfig struct {
	// Channels maps each channel with a sender to its settings. Only these
	// channels get jobs.
	Channels map[subscribers.Channel]ChannelConfig

	// Subscriptions takes the bounces, blocks and moved chats; required.
	Subscriptions Subscriptions

	// DefaultNewsletter is the slug of the first newsletter: the one a
	// subscription that names none gets; digest.DefaultNewsletter when
	// empty.
	DefaultNewsletter string

	// OnFinished is called once per edition, by the one process that marks
	// it sent, with its delivery statistics (e.g. the admins' summary).
	OnFinished func(ctx context.Context, editionID int64, stats []digest.DeliveryCount)

	// Observe, when set, is told of each reader's result as it comes: the
	// channel, the outcome and, for senders that admit readers as they
	// take them (SMTP, Telegram), the time from then to the answer (-1
	// otherwise). The metrics count messages and send latency with it; it
	// must be quick.
	Observe func(channel subscribers.Channel, o Outcome, latency time.Duration)

	MaxAttempts    int                             // per batch job; 12
	RetryBackoff   func(attempt int) time.Duration // after failed attempt n; 30s·2^(n-1), at most 30 min, ±10%
	SliceTime      time.Duration                   // a batch job sends this long at most, then records and snoozes for the rest; 20 s
	JobTimeout     time.Duration                   // a batch job's deadline; SliceTime + 1 min
	RescueAfter    time.Duration                   // a job left running by a dead (kill -9) process runs again after; JobTimeout + 1 min
	RecordChunk    int                             // recipients per Send of a sender that does not stream; 20
	RecordInterval time.Duration                   // how often a streaming batch looks whether its edition was paused; 1 s
	// MaxUnrecorded is how many recipients of a channel may be on their
	// way or sent without a delivery record at once, over all the batches
	// of this process: what a crash can repeat (ledger.go); 64.
	MaxUnrecorded int
	PausePoll     time.Duration // how often a paused edition's jobs look again; 30 s
	FinishPoll    time.Duration // how often the finish job looks; 5 s
	WaitPoll      time.Duration // how often Wait looks; 250 ms
	RetryWait     time.Duration // Wait keeps waiting for retries due within this; 1 min
	StopTimeout   time.Duration // Run's graceful stop before jobs are cancelled; 30 s

	// FetchCooldown and FetchPollInterval are River's; 20 ms and 250 ms
	// (River's own 100 ms and 1 s cap email at about 6,000 messages/s on
	// SQLite, which has no LISTEN/NOTIFY to announce new jobs).
	FetchCooldown     time.Duration
	FetchPollInterval time.Duration

	Logger *slog.Logger
	Now    func() time.Time
}

// Fanout delivers editions as durable River jobs: one job per channel and
// id range of subscriptions, inserted in the transaction that marks the
// edition sending; each job records one delivery per subscription, and a
// retried or resumed job skips what is recorded. Several processes on one
// PostgreSQL database share the jobs.
type Fanout struct {
	st      Store
	cfg     FanoutConfig
	river   *river.Client[*sql.Tx]
	log     *slog.Logger
	now     func() time.Time
	senders map[subscribers.Channel]ChannelSender
	slots   map[subscribers.Channel]budget // recipients not recorded yet, per channel (ledger.go)
	ledger  *ledger
	admitMu sync.Mutex // admitChunk

	mu      sync.Mutex
	changed chan struct{} // closed (and replaced) when an edition finishes here
	// finalStats are the counts of editions this process just finished,
	// counted once for the "edition sent" line and OnFinished and taken by
	// the next wait on the edition, which would count them again.
	finalStats map[int64][]digest.DeliveryCount
}

// takeFinalStats returns, once, the counts of an edition this process has
// just finished, or nil.
func (f *Fanout) takeFinalStats(editionID int64) []digest.DeliveryCount {
	f.mu.Lock()
	defer f.mu.Unlock()
	stats := f.finalStats[editionID]
	delete(f.finalStats, editionID)
	return stats
}

// finishedSignal returns a channel closed at the next edition finished by
// this process, so Wait need not poll for it.
func (f *Fanout) finishedSignal() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

func (f *Fanout) signalFinished(editionID int64, stats []digest.DeliveryCount) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if stats != nil {
		if f.finalStats == nil || len(f.finalStats) >= 64 {
			f.finalStats = make(map[int64][]digest.DeliveryCount) // nobody waited on those
		}
		f.finalStats[editionID] = stats
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

// NewFanout builds the River client over st.RiverDriver(). Jobs are worked
// while Run runs; Start may be called without Run (another instance works).
func NewFanout(st Store, cfg FanoutConfig) (*Fanout, error) {
	if st == nil {
		return nil, errors.New("delivery: fan-out needs a store")
	}
	if cfg.Subscriptions == nil {
		return nil, errors.New("delivery: fan-out needs FanoutConfig.Subscriptions")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if cfg.DefaultNewsletter == "" {
		cfg.DefaultNewsletter = digest.DefaultNewsletter
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 12
	}
	if cfg.RetryBackoff == nil {
		cfg.RetryBackoff = Backoff(30 * time.Second)
	}
	// Time-sliced batches keep every job short whatever the rate cap, so
	// the rescue of a dead process's jobs can be quick.
	// A slice ends with the messages in flight (at most the SMTP timeout,
	// 30 s) and their records (30 s): JobTimeout only stops a hung job.
	// After its timeout a job may take as long again before it returns:
	// only then may River's rescuer give it to another worker.
	//
	// Exactly once rests on one invariant: an attempt of a batch ends (its
	// results recorded, Work returned) before RescueAfter has passed since
	// it began. River's rescuer gives a job still marked running to another
	// worker after RescueAfter without knowing whether its process lives;
	// a rescued attempt that is in fact still running would send what it
	// has not recorded yet a second time, and its end would overwrite the
	// state of the new attempt. River runs a job nowhere else otherwise:
	// JobRetry leaves a running job alone and a snooze or a retry takes
	// effect only when Work has returned. An attempt sends for SliceTime,
	// then finishes the messages in flight: SMTP writes no new message
	// after the slice, and cuts a transaction still on the wire at
	// JobTimeout (that message may be repeated, like any in flight at a
	// crash); the context of other senders ends at JobTimeout. Then comes
	// the last record write, a few milliseconds on a healthy database
	// (recordTimeout at most). So RescueAfter - JobTimeout is the room for
	// that write: main puts JobTimeout halfway between SliceTime and
	// RescueAfter.
	def(&cfg.SliceTime, 20*time.Second)
	def(&cfg.JobTimeout, cfg.SliceTime+time.Minute)
	def(&cfg.RescueAfter, cfg.JobTimeout+time.Minute)
	if cfg.RescueAfter <= cfg.JobTimeout {
		return nil, fmt.Errorf("delivery: RescueAfter %v must exceed JobTimeout %v, or a running batch may be sent twice",
			cfg.RescueAfter, cfg.JobTimeout)
	}
	if cfg.RecordChunk <= 0 {
		cfg.RecordChunk = 20
	}
	if cfg.MaxUnrecorded <= 0 {
		cfg.MaxUnrecorded = 64
	}
	def(&cfg.RecordInterval, time.Second)
	def(&cfg.PausePoll, 30*time.Second)
	def(&cfg.FinishPoll, 5*time.Second)
	def(&cfg.WaitPoll, 250*time.Millisecond)
	def(&cfg.RetryWait, time.Minute)
	def(&cfg.StopTimeout, 30*time.Second)
	def(&cfg.FetchCooldown, 20*time.Millisecond)
	def(&cfg.FetchPollInterval, max(250*time.Millisecond, cfg.FetchCooldown))

	f := &Fanout{st: st, log: cfg.Logger, now: cfg.Now, senders: make(map[subscribers.Channel]ChannelSender),
		slots: make(map[subscribers.Channel]budget), ledger: newLedger(st, cfg.Logger), changed: make(chan struct{})}
	workers := river.NewWorkers()
	river.AddWorker(workers, &batchWorker{f: f})
	river.AddWorker(workers, &finishWorker{f: f})
	queues := map[string]river.QueueConfig{finishQueue: {MaxWorkers: 2}}
	chans := make(map[subscribers.Channel]ChannelConfig, len(cfg.Channels))
	for ch, cc := range cfg.Channels {
		if cc.Sender == nil {
			return nil, fmt.Errorf("delivery: channel %q has no sender", ch)
		}
		if cc.BatchSize <= 0 {
			cc.BatchSize = 200
		}
		if cc.Workers <= 0 {
			cc.Workers = 8
		}
		chans[ch] = cc
		f.senders[ch] = cc.Sender
		f.slots[ch] = newBudget(cfg.MaxUnrecorded)
		queues[queueFor(ch)] = river.QueueConfig{MaxWorkers: cc.Workers}
	}
	cfg.Channels = chans
	f.cfg = cfg
	rc, err := river.NewClient(st.RiverDriver(), &river.Config{
		Queues:               queues,
		Workers:              workers,
		Logger:               slog.New(minLevel{cfg.Logger.Handler(), slog.LevelWarn}),
		MaxAttempts:          cfg.MaxAttempts,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		FetchCooldown:        cfg.FetchCooldown,
		FetchPollInterval:    cfg.FetchPollInterval,
	})
	if err != nil {
		return nil, fmt.Errorf("delivery: river client: %w", err)
	}
	f.river = rc
	return f, nil
}

// Backoff returns the retry schedule of failed batch jobs: base after the
// first failed attempt, doubling after each, at most 30 minutes, with ±10%
// jitter so that many batches failing together do not retry together.
func Backoff(base time.Duration) func(attempt int) time.Duration {
	return func(attempt int) time.Duration {
		d := base << min(max(attempt-1, 0), 16)
		d = min(d, 30*time.Minute)
		return d + time.Duration((rand.Float64()-0.5)*0.2*float64(d))
	}
}

// Run works the fan-out jobs until ctx ends, then stops gracefully: running
// batches get StopTimeout to finish (their results are recorded), then are
// cancelled and run again later.
func (f *Fanout) Run(ctx context.Context) error {
	// A batch that is done looks itself (completeBatch); River tells of the
	// others: a failed one may be a last attempt (discarded), or cancelled.
	events, unsubscribe := f.river.Subscribe(river.EventKindJobFailed, river.EventKindJobCancelled)
	defer unsubscribe()
	if err := f.river.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("delivery: start river: %w", err)
	}
	f.log.Debug("river started")
	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		f.watch(watchCtx, events)
	}()
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), f.cfg.StopTimeout)
	defer cancel()
	if err := f.river.Stop(stopCtx); err != nil {
		hard, cancelHard := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancelHard()
		if err := f.river.StopAndCancel(hard); err != nil {
			f.log.Warn("fan-out stop", slog.String("error", err.Error()))
		}
	}
	stopWatch()
	<-watched
	return nil
}

// watch looks whether an edition is finished each time one of its batch
// jobs fails or is cancelled here, so the edition becomes sent at once
// rather than at the finish job's next look (a batch that is done looks
// itself, in completeBatch).
func (f *Fanout) watch(ctx context.Context, events <-chan *river.Event) {
	for {
		ids := map[int64]bool{}
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			f.noteBatchEvent(ev, ids)
		}
		// Take the whole burst, then look once per edition.
	drain:
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					break drain
				}
				f.noteBatchEvent(ev, ids)
			default:
				break drain
			}
		}
		for id := range ids {
			if _, err := f.checkFinished(ctx, id); err != nil && ctx.Err() == nil {
				f.log.Warn("finish check", slog.Int64("edition_id", id), slog.String("error", err.Error()))
			}
		}
	}
}

func (f *Fanout) noteBatchEvent(ev *river.Event, ids map[int64]bool) {
	if ev.Job == nil || ev.Job.Kind != batchKind {
		return
	}
	var a batchArgs
	if json.Unmarshal(ev.Job.EncodedArgs, &a) == nil {
		ids[a.EditionID] = true
	}
}

// ErrNotStarted is returned by Wait for an edition whose fan-out has not
// been started.
var ErrNotStarted = errors.New("delivery: edition not started")

// Start begins the delivery of a built edition: it cuts each channel's
// active subscriptions into id ranges and, in one transaction, marks the
// edition sending and inserts one job per range plus the finish job. It
// returns false, and inserts nothing, when the edition is not built (it is
// already sending, paused, sent or cancelled): calling Start twice sends
// nothing twice.
func (f *Fanout) Start(ctx context.Context, editionID int64) (bool, error) {
	ed, err := f.st.GetEdition(ctx, editionID)
	if err != nil {
		return false, fmt.Errorf("delivery: start %d: %w", editionID, err)
	}
	if ed.Status != digest.StatusBuilt {
		return false, nil
	}
	tag := []string{editionTag(editionID)}
	var params []river.InsertManyParams
	chans := make([]subscribers.Channel, 0, len(f.cfg.Channels))
	for ch := range f.cfg.Channels {
		chans = append(chans, ch)
	}
	slices.Sort(chans)
	for _, ch := range chans {
		batches, err := f.plan(ctx, ed, ch)
		if err != nil {
			return false, fmt.Errorf("delivery: start %d: %w", editionID, err)
		}
		for _, b := range batches {
			opts := &river.InsertOpts{
				Queue: queueFor(ch), Tags: tag, MaxAttempts: f.cfg.MaxAttempts, UniqueOpts: uniqueForever(),
			}
			if !b.due.IsZero() {
				opts.ScheduledAt = b.due
			}
			params = append(params, river.InsertManyParams{Args: b.args, InsertOpts: opts})
		}
	}
	params = append(params, f.finishParams(editionID))
	errNotBuilt := errors.New("not built")
	err = f.st.InTx(ctx, func(tx *sql.Tx) error {
		ok, err := f.st.TransitionEditionTx(ctx, tx, editionID, []string{digest.StatusBuilt}, digest.StatusSending)
		if err != nil {
			return err
		}
		if !ok {
			return errNotBuilt
		}
		for start := 0; start < len(params); start += 1000 {
			if _, err := f.river.InsertManyTx(ctx, tx, params[start:min(start+1000, len(params))]); err != nil {
				return fmt.Errorf("insert jobs: %w", err)
			}
		}
		return nil
	})
	if errors.Is(err, errNotBuilt) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("delivery: start %d: %w", editionID, err)
	}
	f.log.Info("edition fan-out started", slog.Int64("edition_id", editionID), slog.String("date", ed.Date),
		slog.Int("jobs", len(params)-1))
	return true, nil
}

func (f *Fanout) finishParams(editionID int64) river.InsertManyParams {
	return river.InsertManyParams{
		Args: finishArgs{EditionID: editionID},
		InsertOpts: &river.InsertOpts{
			Queue: finishQueue, Tags: []string{editionTag(editionID)}, UniqueOpts: uniqueForever(),
			MaxAttempts: 1000, // errors are database trouble; waiting is a snooze
		},
	}
}

// Pause stops an edition's fan-out: batches not yet begun wait (a running
// batch with a StreamSender completes). false: it was not sending.
func (f *Fanout) Pause(ctx context.Context, editionID int64) (bool, error) {
	ok, err := f.st.TransitionEdition(ctx, editionID, []string{digest.StatusSending}, digest.StatusPaused)
	if err != nil {
		return false, fmt.Errorf("delivery: pause %d: %w", editionID, err)
	}
	return ok, nil
}

// Resume continues a paused edition and wakes its waiting jobs. false: it
// was not paused.
func (f *Fanout) Resume(ctx context.Context, editionID int64) (bool, error) {
	ok, err := f.st.TransitionEdition(ctx, editionID, []string{digest.StatusPaused}, digest.StatusSending)
	if err != nil {
		return false, fmt.Errorf("delivery: resume %d: %w", editionID, err)
	}
	if !ok {
		return false, nil
	}
	if _, err := f.RetryNow(ctx, editionID); err != nil {
		return true, err
	}
	// A job that saw the pause may still be marked running while River
	// writes its snooze (or the batch running at the pause ends): RetryNow
	// leaves running jobs alone, so look again for a short while, or they
	// would wait for PausePoll.
	for deadline := time.Now().Add(resumeSettle); time.Now().Before(deadline); {
		running, err := f.jobs(ctx, editionID, []rivertype.JobState{rivertype.JobStateRunning}, 0)
		if err != nil || len(running) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return true, nil
		case <-time.After(100 * time.Millisecond):
		}
		if _, err := f.RetryNow(ctx, editionID); err != nil {
			return true, err
		}
	}
	return true, nil
}

// resumeSettle is how long Resume keeps waking the jobs that were running
// when it was called.
const resumeSettle = 2 * time.Second

// RetryNow makes the edition's batches that wait for a retry (or a
// snooze) due now and returns how many: `send-now` run again after exit 3
// finishes what is pending without waiting for the backoff.
func (f *Fanout) RetryNow(ctx context.Context, editionID int64) (int, error) {
	jobs, err := f.jobs(ctx, editionID, []rivertype.JobState{
		rivertype.JobStateRetryable, rivertype.JobStateScheduled, rivertype.JobStateAvailable,
	}, 0)
	if err != nil {
		return 0, fmt.Errorf("delivery: retry %d: %w", editionID, err)
	}
	n := 0
	for _, j := range jobs {
		if j.State == rivertype.JobStateAvailable && !j.ScheduledAt.After(f.now()) {
			continue
		}
		if _, err := f.river.JobRetry(ctx, j.ID); err != nil {
			return n, fmt.Errorf("delivery: retry job %d: %w", j.ID, err)
		}
		n++
	}
	return n, nil
}

// outstandingStates are the states of a job that has still work to do.
func outstandingStates() []rivertype.JobState {
	return []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}
}

// jobs lists the batch jobs of an edition in states (limit 0: all).
func (f *Fanout) jobs(ctx context.Context, editionID int64, states []rivertype.JobState, limit int) ([]*rivertype.JobRow, error) {
	page := 1000
	if limit > 0 {
		page = min(limit, page)
	}
	params := river.NewJobListParams().Kinds(batchKind).TagsAll(editionTag(editionID)).States(states...).First(page)
	var out []*rivertype.JobRow
	for {
		res, err := f.river.JobList(ctx, params)
		if err != nil {
			return nil, err
		}
		out = append(out, res.Jobs...)
		if len(res.Jobs) < page || (limit > 0 && len(out) >= limit) {
			return out, nil
		}
		params = params.After(res.LastCursor)
	}
}

// checkFinished marks the edition sent when it is sending and none of its
// batch jobs has work left. The transition is a compare-and-set, so of all
// the processes and workers that look, exactly one wins and calls
// OnFinished. done: the edition needs no more looking at.
func (f *Fanout) checkFinished(ctx context.Context, editionID int64) (bool, error) {
	ed, err := f.st.GetEdition(ctx, editionID)
	if errors.Is(err, digest.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	switch ed.Status {
	case digest.StatusSent, digest.StatusCancelled:
		return true, nil
	case digest.StatusSending:
	default:
		return false, nil
	}
	left, err := f.jobs(ctx, editionID, outstandingStates(), 1)
	if err != nil {
		return false, err
	}
	if len(left) > 0 {
		return false, nil
	}
	if err := f.recordAbandoned(ctx, editionID); err != nil {
		return false, err
	}
	ok, err := f.st.TransitionEdition(ctx, editionID, []string{digest.StatusSending}, digest.StatusSent)
	if err != nil {
		return false, err
	}
	if !ok {
		// Paused in between, or another process won: look again.
		ed, err := f.st.GetEdition(ctx, editionID)
		return err == nil && (ed.Status == digest.StatusSent || ed.Status == digest.StatusCancelled), err
	}
	// Won: the edition is sent whatever happens to ctx now (River stopping,
	// send-now exiting), so its count and OnFinished (the admins' notice)
	// must not be cut short with it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	stats, err := f.st.DeliveryStats(ctx, editionID)
	if err != nil {
		f.log.Warn("edition stats", slog.Int64("edition_id", editionID), slog.String("error", err.Error()))
	}
	attrs := []any{slog.Int64("edition_id", editionID), slog.String("date", ed.Date)}
	for _, c := range stats {
		attrs = append(attrs, slog.Int(c.Channel+"_"+c.Status, c.N))
	}
	f.log.Info("edition sent", attrs...)
	f.signalFinished(editionID, stats)
	if f.cfg.OnFinished != nil {
		f.cfg.OnFinished(ctx, editionID, stats)
	}
	return true, nil
}

// recordAbandoned records as failed the active subscriptions without a
// record in the ranges of batch jobs that River gave up on: discarded (a
// last attempt that did not end normally: a panic, a database error, a
// process killed during it and rescued) or cancelled. Without it they
// would be neither sent nor counted. It runs only when no batch of the
// edition has work left, so no job sends to these subscriptions any more.
func (f *Fanout) recordAbandoned(ctx context.Context, editionID int64) error {
	jobs, err := f.jobs(ctx, editionID, []rivertype.JobState{rivertype.JobStateDiscarded, rivertype.JobStateCancelled}, 0)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		var a batchArgs
		if err := json.Unmarshal(j.EncodedArgs, &a); err != nil {
			return fmt.Errorf("job %d args: %w", j.ID, err)
		}
		subs, err := f.batchSubscriptions(ctx, a)
		if err != nil {
			return err
		}
		rec, err := f.st.RecordedDeliveries(ctx, editionID, a.FirstID, a.LastID)
		if err != nil {
			return err
		}
		why := fmt.Sprintf("batch job %s after %d attempts", j.State, j.Attempt)
		if n := len(j.Errors); n > 0 {
			why += ": " + j.Errors[n-1].Error
		}
		var ds []Delivery
		for _, sub := range subs {
			if _, ok := rec[sub.ID]; !ok {
				ds = append(ds, Delivery{EditionID: editionID, SubscriptionID: sub.ID, Status: digest.DeliveryFailed,
					Attempts: j.Attempt, LastError: errString(errors.New(why))})
			}
		}
		if len(ds) == 0 {
			continue
		}
		f.log.Warn("batch abandoned: its messages are recorded as failed", slog.Int64("edition_id", editionID),
			slog.Int64("job_id", j.ID), slog.Int("failed", len(ds)), slog.String("error", why))
		if err := f.st.RecordDeliveries(ctx, ds); err != nil {
			return err
		}
	}
	return nil
}

// Progress is where an edition's delivery stands when Wait returns.
type Progress struct {
	Status  string                 // the edition's status: sent, sending (retries pending), paused, cancelled
	Stats   []digest.DeliveryCount // delivery statistics so far
	Pending int                    // messages not delivered yet (waiting for a retry, or paused)
	// NextRetry is when the earliest waiting batch runs again (zero: none).
	NextRetry time.Time
	// Held is the number of batches marked running by another process
	// past their deadline (JobTimeout): most likely a process that was
	// stopped hard (kill -9). Wait waits for them: River gives them to a
	// live worker after RescueAfter, about HeldUntil (River's rescuer
	// looks every 30 s, and the batch then waits for its retry backoff).
	Held      int
	HeldUntil time.Time
}

// Wait returns when the edition is sent (or cancelled), or when what is
// left only waits for retries due later than RetryWait from now, or when
// it is paused; it fails when delivery records cannot be written (the
// database is down, full or read-only). This is `digestbot send-now`: exit 0 when Pending is 0,
// 3 when messages are pending. ctx ends the wait early.
func (f *Fanout) Wait(ctx context.Context, editionID int64) (Progress, error) {
	return f.WaitNotify(ctx, editionID, nil)
}

// WaitNotify is Wait that calls notify (when not nil) each time the batches
// held by a stopped process change (Progress.Held, HeldUntil; Stats and
// Pending are not filled in), so that send-now can say why it waits.
func (f *Fanout) WaitNotify(ctx context.Context, editionID int64, notify func(Progress)) (Progress, error) {
	return f.wait(ctx, editionID, notify)
}

func (f *Fanout) wait(ctx context.Context, editionID int64, notify func(Progress)) (Progress, error) {
	var lastHeld Progress
	for {
		if err := f.ledger.failure(); err != nil {
			// Waiting on would wait for ever: no batch can end while its
			// records cannot be written. What was sent unrecorded (at most
			// MaxUnrecorded per channel) is sent again by the next run.
			return Progress{}, fmt.Errorf("delivery: wait %d: delivery records cannot be written: %w", editionID, err)
		}
		finished := f.finishedSignal()
		ed, err := f.st.GetEdition(ctx, editionID)
		if err != nil {
			return Progress{}, fmt.Errorf("delivery: wait %d: %w", editionID, err)
		}
		switch ed.Status {
		case digest.StatusBuilt:
			return Progress{Status: ed.Status}, ErrNotStarted
		case digest.StatusSent, digest.StatusCancelled:
			if stats := f.takeFinalStats(editionID); stats != nil {
				return Progress{Status: ed.Status, Stats: stats}, nil
			}
			return f.progress(ctx, ed, nil)
		}
		left, err := f.jobs(ctx, editionID, outstandingStates(), 0)
		if err != nil {
			return Progress{}, fmt.Errorf("delivery: wait %d: %w", editionID, err)
		}
		if ed.Status == digest.StatusPaused {
			return f.progress(ctx, ed, left)
		}
		if len(left) == 0 {
			// Finished, perhaps by no one here: look (compare-and-set).
			if _, err := f.checkFinished(ctx, editionID); err != nil {
				return Progress{}, fmt.Errorf("delivery: wait %d: %w", editionID, err)
			}
			continue
		}
		if held := f.held(ed, left); notify != nil && (held.Held != lastHeld.Held || !held.HeldUntil.Equal(lastHeld.HeldUntil)) {
			lastHeld = held
			notify(held)
		}
		horizon := f.now().Add(f.cfg.RetryWait)
		waiting := true
		for _, j := range left {
			if j.State == rivertype.JobStateRunning || !j.ScheduledAt.After(horizon) {
				waiting = false
				break
			}
		}
		if waiting {
			return f.progress(ctx, ed, left)
		}
		select {
		case <-ctx.Done():
			return Progress{}, ctx.Err()
		case <-finished:
		case <-time.After(f.cfg.WaitPoll):
		}
	}
}

// held counts the jobs of left that another River client has been
// running for longer than JobTimeout: a live client would have stopped
// them by then, so their process is most likely gone.
func (f *Fanout) held(ed digest.Edition, left []*rivertype.JobRow) Progress {
	p := Progress{Status: ed.Status}
	now, me := f.now(), f.river.ID()
	for _, j := range left {
		if j.State != rivertype.JobStateRunning || j.AttemptedAt == nil || now.Sub(*j.AttemptedAt) <= f.cfg.JobTimeout {
			continue
		}
		if n := len(j.AttemptedBy); n > 0 && j.AttemptedBy[n-1] == me {
			continue
		}
		p.Held++
		if until := j.AttemptedAt.Add(f.cfg.RescueAfter); until.After(p.HeldUntil) {
			p.HeldUntil = until
		}
	}
	return p
}

func (f *Fanout) progress(ctx context.Context, ed digest.Edition, left []*rivertype.JobRow) (Progress, error) {
	p := f.held(ed, left)
	var err error
	if p.Stats, err = f.st.DeliveryStats(ctx, ed.ID); err != nil {
		return p, fmt.Errorf("delivery: stats %d: %w", ed.ID, err)
	}
	for _, j := range left {
		var a batchArgs
		if err := json.Unmarshal(j.EncodedArgs, &a); err != nil {
			return p, fmt.Errorf("delivery: job %d args: %w", j.ID, err)
		}
		subs, err := f.batchSubscriptions(ctx, a)
		if err != nil {
			return p, err
		}
		rec, err := f.st.RecordedDeliveries(ctx, ed.ID, a.FirstID, a.LastID)
		if err != nil {
			return p, err
		}
		for _, s := range subs {
			if _, ok := rec[s.ID]; !ok {
				p.Pending++
			}
		}
		if p.NextRetry.IsZero() || j.ScheduledAt.Before(p.NextRetry) {
			p.NextRetry = j.ScheduledAt
		}
	}
	return p, nil
}

// minLevel passes on only records at or above level: River logs routine
// producer statistics at info every few seconds, which would drown the
// operator's log.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.level}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.level}
}

// plannedBatch is one batch job of a fan-out and when it is due (zero:
// now).
type plannedBatch struct {
	args batchArgs
	due  time.Time
}

// plan cuts the active subscriptions of ch into batch jobs. Without
// readers who chose their own delivery hour, a batch is an id range, sent
// now. With them, the readers are grouped by when the edition is due to
// them (subscribers.LocalTime.At on the edition's date; now for those on
// the newsletter's schedule and for those whose hour has passed), and a
// batch is the list of its readers' ids, scheduled for its group's time:
// the plan is fixed when the edition starts, so a reader who changes their
// hour meanwhile is in exactly one batch of it, never two, never none.
func (f *Fanout) plan(ctx context.Context, ed digest.Edition, ch subscribers.Channel) ([]plannedBatch, error) {
	size := f.cfg.Channels[ch].BatchSize
	local, err := f.st.HasLocalTimes(ctx, ch)
	if err != nil {
		return nil, err
	}
	var out []plannedBatch
	if !local {
		ranges, err := f.st.SubscriptionBatches(ctx, ch, size)
		if err != nil {
			return nil, err
		}
		// The ranges hold size readers each but perhaps the last: cut again
		// (reading the plan twice, cheap for a short send) as if it were full.
		if even := evenBatchSize(len(ranges)*size, size, f.cfg.Channels[ch].Workers); even != size {
			if ranges, err = f.st.SubscriptionBatches(ctx, ch, even); err != nil {
				return nil, err
			}
		}
		for _, r := range ranges {
			out = append(out, plannedBatch{args: batchArgs{EditionID: ed.ID, Channel: ch, FirstID: r[0], LastID: r[1]}})
		}
		return out, nil
	}
	ids, lts, err := f.st.ActiveLocalTimes(ctx, ch)
	if err != nil {
		return nil, err
	}
	now := f.now()
	var zones subscribers.Zones
	dueOf := make(map[*subscribers.LocalTime]time.Time) // ActiveLocalTimes shares one value per (zone, hour)
	groups := make(map[time.Time][]int64)
	for i, id := range ids {
		var due time.Time // zero: now
		if lt := lts[i]; lt != nil {
			d, ok := dueOf[lt]
			if !ok {
				if d, err = lt.At(ed.Date, &zones); err != nil {
					f.log.Warn("delivery hour not usable, sending now", slog.Int64("subscription_id", id), slog.Any("error", err))
					d = time.Time{}
				} else if !d.After(now) {
					d = time.Time{} // the hour has passed: at once
				}
				d = d.UTC()
				dueOf[lt] = d
			}
			due = d
		}
		groups[due] = append(groups[due], id)
	}
	dues := slices.SortedFunc(maps.Keys(groups), time.Time.Compare)
	for _, due := range dues {
		g := groups[due]
		cut := evenBatchSize(len(g), size, f.cfg.Channels[ch].Workers)
		for start := 0; start < len(g); start += cut {
			part := g[start:min(start+cut, len(g))]
			out = append(out, plannedBatch{due: due, args: batchArgs{EditionID: ed.ID, Channel: ch,
				FirstID: part[0], LastID: part[len(part)-1], IDs: slices.Clone(part)}})
		}
	}
	return out, nil
}

// evenBatchSize is the batch size that cuts a send of readers, in batches
// of at most size run workers at a time, into whole rounds: a last round
// of fewer batches than workers leaves the connections to a few batches
// at the end of the send, and a batch alone fills them less well than
// several (in a 10k send of 10 batches on 4 workers, the last 2 went at
// about 60 % of the rate). Only short sends are cut again, where that last
// round is a large share.
func evenBatchSize(readers, size, workers int) int {
	n := (readers + size - 1) / size
	rounds := (n + workers - 1) / workers
	if workers <= 1 || n <= workers || n%workers == 0 || rounds > 4 {
		return size
	}
	return (readers + rounds*workers - 1) / (rounds * workers)
}

// batchSubscriptions reads the active subscriptions of a batch: its ids,
// or its id range.
func (f *Fanout) batchSubscriptions(ctx context.Context, a batchArgs) ([]subscribers.Subscription, error) {
	if len(a.IDs) > 0 {
		return f.st.RecipientsByID(ctx, a.Channel, a.IDs)
	}
	return f.st.RecipientsInRange(ctx, a.Channel, a.FirstID, a.LastID)
}
