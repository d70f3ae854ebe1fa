package telegram

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/subscribers"
)

// Callback data of the buttons under a digest. The bot answers them; both
// are far below the Bot API's 64-byte limit on callback_data
// (https://core.telegram.org/bots/api#inlinekeyboardbutton).
const (
	CallbackSettings    = "settings"
	CallbackUnsubscribe = "unsub"
)

// DigestKeyboard is the pair of buttons under the last message of a digest.
func DigestKeyboard() *tgbotapi.InlineKeyboardMarkup {
	kb := tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(
		tgbotapi.NewInlineKeyboardButtonData("⚙️ Settings", CallbackSettings),
		tgbotapi.NewInlineKeyboardButtonData("Unsubscribe", CallbackUnsubscribe),
	))
	return &kb
}

// SenderOptions configure a Sender.
type SenderOptions struct {
	// Render is passed to digest.RenderTelegram: Title, BaseURL, Location,
	// Sections (newsletter.sections). The unsubscribe and preferences URLs
	// may stay empty: in Telegram those are buttons.
	Render digest.RenderOptions
	// Letters are each newsletter's render settings by slug (title,
	// archive path, templates); an edition of a letter not named here is
	// rendered with Render.
	Letters map[string]digest.RenderOptions
	// Workers is how many messages one Send keeps in flight (default 32).
	// The limiter, not this, sets the rate; enough workers keep the global
	// rate busy while single chats wait out their one-second spacing.
	Workers int
	// TempRetries is how often a message is retried in place after a
	// network error or 5xx before the recipient is reported as Retry
	// (default 2), with RetryBackoff doubling between tries (default 500 ms).
	TempRetries  int
	RetryBackoff time.Duration
	Log          *slog.Logger
	// RenderFunc replaces the default, digest.RenderTelegram of
	// ed.ForSections(sections) (tests). No message means the reader has
	// nothing today: Skipped.
	RenderFunc func(ed digest.Edition, sections []string, o digest.RenderOptions) ([]string, error)
}

// Sender is the Telegram channel of the delivery fan-out: it implements
// delivery's ChannelSender. One Sender (one Client, one Limiter) serves
// every concurrent Send, so concurrent batch jobs share the rate limit.
type Sender struct {
	c    *Client
	opts SenderOptions
	log  *slog.Logger

	cacheMu sync.Mutex
	cache   map[string][]string

	stats senderCounters
}

type senderCounters struct {
	messages, sent, blocked, failed, retry, skipped, migrated, badHTML, tooLong atomic.Int64
}

// SenderStats counts what a Sender did since NewSender.
type SenderStats struct {
	Messages int64 // messages accepted by Telegram
	Sent     int64 // recipients with every message delivered
	Blocked  int64
	Failed   int64
	Retry    int64
	Skipped  int64 // no item in the reader's sections
	Migrated int64 // group chats that moved to a supergroup
	BadHTML  int64 // "can't parse entities": a renderer bug
	TooLong  int64 // "message is too long": a renderer bug
}

// NewSender returns the Telegram sender over c.
func NewSender(c *Client, o SenderOptions) *Sender {
	if o.Workers <= 0 {
		o.Workers = 32
	}
	if o.TempRetries <= 0 {
		o.TempRetries = 2
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = 500 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = c.log
	}
	if o.RenderFunc == nil {
		o.RenderFunc = renderTelegram
	}
	return &Sender{c: c, opts: o, log: o.Log, cache: make(map[string][]string)}
}

// Stats returns the sender's counters.
func (s *Sender) Stats() SenderStats {
	c := &s.stats
	return SenderStats{
		Messages: c.messages.Load(), Sent: c.sent.Load(), Blocked: c.blocked.Load(), Failed: c.failed.Load(),
		Retry: c.retry.Load(), Skipped: c.skipped.Load(), Migrated: c.migrated.Load(), BadHTML: c.badHTML.Load(), TooLong: c.tooLong.Load(),
	}
}

// ErrNothingToSend is returned by Deliver and SendPreview when the
// edition has no item in the reader's sections.
var ErrNothingToSend = errors.New("telegram: no item in these sections")

// Render returns the messages of ed for a reader of sections (nil: all),
// cached per edition and set of sections: a fan-out renders each
// combination once, not once per reader. It returns no message when the
// edition has no item in those sections; the reader is then skipped, as
// the email channel skips them.
func (s *Sender) Render(ed digest.Edition, sections []string) ([]string, error) {
	secs := slices.Clone(sections)
	slices.Sort(secs)
	secs = slices.Compact(secs)
	key := ""
	if ed.ID != 0 { // an unsaved edition (a preview) is not cached
		key = strconv.FormatInt(ed.ID, 10) + "\x00" + strings.Join(secs, "\x00")
		s.cacheMu.Lock()
		msgs, ok := s.cache[key]
		s.cacheMu.Unlock()
		if ok {
			return msgs, nil
		}
	}
	o := s.opts.Render
	if lo, ok := s.opts.Letters[ed.Newsletter]; ok {
		o = lo
	}
	msgs, err := s.opts.RenderFunc(ed, sections, o)
	if err != nil {
		return nil, fmt.Errorf("telegram: render edition %d: %w", ed.ID, err)
	}
	if key != "" {
		s.cacheMu.Lock()
		if len(s.cache) >= 256 { // editions change daily; a crude bound is enough
			clear(s.cache)
		}
		s.cache[key] = msgs
		s.cacheMu.Unlock()
	}
	return msgs, nil
}

// Send delivers ed to a batch of Telegram subscriptions (delivery's
// ChannelSender); see SendEach.
func (s *Sender) Send(ctx context.Context, ed digest.Edition, subs []subscribers.Subscription) ([]delivery.Result, error) {
	results := make([]delivery.Result, len(subs))
	pos := make(map[int64]int, len(subs))
	for i, sub := range subs {
		pos[sub.ID] = i
	}
	if err := s.SendEach(ctx, ed, subs, delivery.EmitFunc(func(r delivery.Result) { results[pos[r.SubscriptionID]] = r })); err != nil {
		return nil, err
	}
	return results, nil
}

// SendEach delivers ed to a batch of Telegram subscriptions and reports
// each reader's Result to sink as soon as it is known (delivery's
// StreamSender), so the fan-out records deliveries while the batch goes
// on. A reader's first message waits for sink.Admit.
//
// Each reader gets the messages of their sections in order, the last with
// the Settings and Unsubscribe buttons; a reader with no item in their
// sections is Skipped. Messages of one batch are interleaved across
// readers, so that the one-second spacing within a chat never idles the
// global rate.
//
// Per reader: Sent; Blocked on 403 or "chat not found"; Failed on any
// other 400 ("can't parse entities" and "message is too long" are logged at
// error level with the edition id and counted); Retry after repeated 429s,
// 5xx or network errors, or when ctx ends. A group that became a
// supergroup is followed to its new id, reported in Result.NewAddress.
//
// The error is non-nil when nothing was delivered and every reader is Retry
// (the Bot API unreachable, the token refused), or when rendering failed:
// the job should run again.
func (s *Sender) SendEach(ctx context.Context, ed digest.Edition, subs []subscribers.Subscription, sink delivery.Sink) error {
	if len(subs) == 0 {
		return nil
	}
	start := time.Now()
	b := &batch{s: s, ed: ed, subs: subs, sink: sink}
	jobs := make([]*sendJob, 0, len(subs))
	var early []delivery.Result
	for i, sub := range subs {
		if _, err := strconv.ParseInt(sub.Address, 10, 64); err != nil || sub.Channel != subscribers.Telegram {
			early = append(early, delivery.Result{SubscriptionID: sub.ID, Outcome: delivery.Failed,
				Err: fmt.Errorf("telegram: subscription %d: not a Telegram chat id: %q", sub.ID, sub.Address)})
			continue
		}
		msgs, err := s.Render(ed, sub.Sections)
		if err != nil {
			s.log.ErrorContext(ctx, "telegram: render failed, batch not sent", slog.Int64("edition_id", ed.ID), slog.String("error", err.Error()))
			return err
		}
		if len(msgs) == 0 {
			early = append(early, delivery.Result{SubscriptionID: sub.ID, Outcome: delivery.Skipped})
			continue
		}
		jobs = append(jobs, &sendJob{idx: i, chat: sub.Address, msgs: msgs})
	}
	for _, r := range early {
		b.report(r)
	}
	b.run(ctx, jobs)

	n := b.counts
	s.log.InfoContext(ctx, "telegram: batch sent", slog.Int64("edition_id", ed.ID), slog.Int("recipients", len(subs)),
		slog.Int("sent", n[delivery.Sent]), slog.Int("skipped", n[delivery.Skipped]), slog.Int("blocked", n[delivery.Blocked]),
		slog.Int("failed", n[delivery.Failed]), slog.Int("retry", n[delivery.Retry]), slog.Duration("took", time.Since(start)))
	if n[delivery.Retry] == len(subs) {
		err := b.lastErr
		if err == nil {
			err = errors.New("no recipient reached")
		}
		return fmt.Errorf("telegram: edition %d: batch of %d not sent: %w", ed.ID, len(subs), err)
	}
	return nil
}

// sendJob is one reader's messages; next is the one to send.
type sendJob struct {
	idx   int
	chat  string
	msgs  []string
	next  int
	ready time.Time // not before: the chat's spacing
	seq   int       // FIFO among equal ready times
}

type jobQueue []*sendJob

func (q jobQueue) Len() int { return len(q) }
func (q jobQueue) Less(i, j int) bool {
	if !q[i].ready.Equal(q[j].ready) {
		return q[i].ready.Before(q[j].ready)
	}
	return q[i].seq < q[j].seq
}
func (q jobQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *jobQueue) Push(x any)   { *q = append(*q, x.(*sendJob)) }
func (q *jobQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// batch is one Send in progress.
type batch struct {
	s    *Sender
	ed   digest.Edition
	subs []subscribers.Subscription
	sink delivery.Sink

	emitMu sync.Mutex
	counts map[delivery.Outcome]int

	mu        sync.Mutex
	cond      *sync.Cond
	queue     jobQueue
	admitting bool // admit is still queueing readers
	inFlight  int
	seq       int
	abortErr  error // set: every job not finished is Retry
	tempRun   int   // consecutive recipients lost to temporary errors
	lastErr   error
}

// run sends every job with a pool of workers taking the job that may go
// first: a reader's next message is queued again one chat interval after
// the previous one, behind the other readers' messages. Readers enter the
// queue as the sink admits them (admit), so a worker never waits for
// admission while readers already started have parts to send.
func (b *batch) run(ctx context.Context, jobs []*sendJob) {
	b.cond = sync.NewCond(&b.mu)
	b.admitting = true
	go b.admit(ctx, jobs)
	var wg sync.WaitGroup
	for range min(b.s.opts.Workers, len(jobs)) {
		wg.Go(func() { b.worker(ctx) })
	}
	wg.Wait()
}

// admit queues the jobs one by one as sink.Admit lets them in; when
// admission fails (the slice or the job ended) or the batch is aborted,
// the readers not queued are reported Retry.
func (b *batch) admit(ctx context.Context, jobs []*sendJob) {
	defer func() {
		b.mu.Lock()
		b.admitting = false
		b.mu.Unlock()
		b.cond.Broadcast()
	}()
	for i, j := range jobs {
		err := b.sink.Admit(ctx, b.subs[j.idx].ID)
		b.mu.Lock()
		if err == nil {
			err = b.abortErr
		}
		if err != nil {
			b.mu.Unlock()
			for _, rest := range jobs[i:] {
				b.finish(rest, delivery.Retry, err)
			}
			return
		}
		j.ready, j.seq = b.s.c.now(), b.seq
		b.seq++
		heap.Push(&b.queue, j)
		b.mu.Unlock()
		b.cond.Signal()
	}
}

func (b *batch) worker(ctx context.Context) {
	for {
		b.mu.Lock()
		for len(b.queue) == 0 && (b.inFlight > 0 || b.admitting) {
			b.cond.Wait()
		}
		if len(b.queue) == 0 {
			b.mu.Unlock()
			b.cond.Broadcast()
			return
		}
		j := heap.Pop(&b.queue).(*sendJob)
		// A reader who has part of the digest already gets the rest,
		// even when the batch's time slice ends, the job is stopped or
		// the batch gave up on the Bot API: a retry would send the first
		// part again. (Their own tries still end: startedRetries.)
		sendCtx, abortErr := ctx, b.abortErr
		if j.next > 0 {
			sendCtx, abortErr = context.WithoutCancel(ctx), nil
		}
		if abortErr != nil || sendCtx.Err() != nil {
			err := abortErr
			if err == nil {
				err = sendCtx.Err()
			}
			b.mu.Unlock()
			b.finish(j, delivery.Retry, err)
			continue
		}
		b.inFlight++
		b.mu.Unlock()

		if d := j.ready.Sub(b.s.c.now()); d > 0 {
			// Only an optimisation: the limiter enforces the chat spacing
			// anyway; sleeping here keeps this worker from holding the
			// chat's turn while other readers are ready.
			_ = b.s.c.sleep(sendCtx, d)
		}
		out, err := b.sendMessage(sendCtx, j)

		b.mu.Lock()
		b.inFlight--
		if out == delivery.Sent && j.next+1 < len(j.msgs) {
			j.next++
			j.ready = b.s.c.now().Add(b.s.c.limiter.ChatInterval(j.chat))
			j.seq = b.seq
			b.seq++
			heap.Push(&b.queue, j)
			b.mu.Unlock()
			b.cond.Broadcast()
			continue
		}
		b.mu.Unlock()
		b.finish(j, out, err)
		b.cond.Broadcast()
	}
}

// finish reports a reader's outcome.
func (b *batch) finish(j *sendJob, out delivery.Outcome, err error) {
	r := delivery.Result{SubscriptionID: b.subs[j.idx].ID, Outcome: out, Err: err}
	if j.chat != b.subs[j.idx].Address {
		r.NewAddress = j.chat
	}
	b.report(r)
	b.mu.Lock()
	defer b.mu.Unlock()
	if out == delivery.Retry && err != nil {
		b.lastErr = err
	}
	if out == delivery.Retry && Classify(err) == ClassTemporary {
		b.tempRun++
		// The Bot API has been unreachable for several readers in a row,
		// each after its own retries: stop hammering it; the job will run
		// again later.
		if b.tempRun >= 3 && b.abortErr == nil {
			b.abortErr = fmt.Errorf("telegram: Bot API unreachable: %w", err)
		}
	} else if out == delivery.Sent {
		b.tempRun = 0
	}
}

// report counts r and hands it to emit, one call at a time.
func (b *batch) report(r delivery.Result) {
	c := &b.s.stats
	switch r.Outcome {
	case delivery.Sent:
		c.sent.Add(1)
	case delivery.Blocked:
		c.blocked.Add(1)
	case delivery.Failed:
		c.failed.Add(1)
	case delivery.Retry:
		c.retry.Add(1)
	case delivery.Skipped:
		c.skipped.Add(1)
	}
	b.emitMu.Lock()
	defer b.emitMu.Unlock()
	if b.counts == nil {
		b.counts = make(map[delivery.Outcome]int)
	}
	b.counts[r.Outcome]++
	b.sink.Emit(r)
}

// startedRetries is how often a message to a reader who has part of the
// digest already is tried in place after network errors or 5xx (backoff
// doubling from RetryBackoff, at most 5 s apart: about 18 s in all).
const startedRetries = 6

// sendMessage sends j's next message and classifies the outcome. Sent
// means that message went; the caller queues the next one.
func (b *batch) sendMessage(ctx context.Context, j *sendJob) (delivery.Outcome, error) {
	s := b.s
	sub := b.subs[j.idx]
	var kb *tgbotapi.InlineKeyboardMarkup
	if j.next == len(j.msgs)-1 {
		kb = DigestKeyboard()
	}
	log := s.log.With(slog.Int64("edition_id", b.ed.ID), slog.Int64("subscription_id", sub.ID))
	temp, migrations, floods := 0, 0, 0
	for {
		_, err := s.c.send(ctx, Message{Chat: j.chat, Text: j.msgs[j.next], Keyboard: kb, Paid: s.c.paid})
		cls := Classify(err)
		var ae *APIError
		errors.As(err, &ae)
		switch cls {
		case ClassNone:
			s.stats.messages.Add(1)
			return delivery.Sent, nil
		case ClassMigrated:
			// "group chat was upgraded to a supergroup chat": the group has a
			// new id; send there and report it so the address is updated.
			if migrations++; migrations > 2 {
				return delivery.Failed, err
			}
			log.InfoContext(ctx, "telegram: group moved to a supergroup", slog.String("chat_id", j.chat), slog.Int64("new_chat_id", ae.MigrateTo))
			j.chat = ChatID(ae.MigrateTo)
			s.stats.migrated.Add(1)
			continue
		case ClassBlocked:
			log.InfoContext(ctx, "telegram: chat unreachable, subscription blocked", slog.String("error", ae.Description))
			return delivery.Blocked, err
		case ClassBadHTML:
			s.stats.badHTML.Add(1)
			log.ErrorContext(ctx, "telegram: Telegram refused the digest's HTML (renderer bug)", slog.Int("message", j.next), slog.String("error", ae.Description))
			return delivery.Failed, err
		case ClassTooLong:
			s.stats.tooLong.Add(1)
			log.ErrorContext(ctx, "telegram: digest message over 4096 characters (renderer bug)", slog.Int("message", j.next), slog.String("error", ae.Description))
			return delivery.Failed, err
		case ClassBadRequest:
			log.WarnContext(ctx, "telegram: message refused", slog.Int("message", j.next), slog.String("error", ae.Description))
			return delivery.Failed, err
		case ClassUnauthorized:
			b.mu.Lock()
			if b.abortErr == nil {
				b.abortErr = err
			}
			b.mu.Unlock()
			log.ErrorContext(ctx, "telegram: token refused, batch stopped", slog.String("error", ae.Description))
			return delivery.Retry, err
		case ClassRateLimited:
			// The client held every send for retry_after a few times over
			// already. A reader not started is retried later at no cost; one
			// with part of the digest waits on: a Retry would send them the
			// first part again.
			if j.next > 0 && floods < startedRetries {
				floods++
				continue
			}
			return delivery.Retry, err
		case ClassCanceled:
			return delivery.Retry, err
		default: // ClassTemporary, ClassConflict
			// A reader who has part of the digest is worth more tries: a
			// Retry sends them the whole digest again later.
			limit := s.opts.TempRetries
			if j.next > 0 {
				limit = max(limit, startedRetries)
			}
			if temp++; temp > limit {
				log.WarnContext(ctx, "telegram: send failed, will retry later", slog.String("error", err.Error()))
				return delivery.Retry, err
			}
			if s.c.sleep(ctx, min(s.opts.RetryBackoff<<(temp-1), 5*time.Second)) != nil {
				// The slice ended (or the job stopped) during the backoff:
				// an interruption like a message not tried, not a reader
				// lost to the Bot API, which would count towards
				// "unreachable" and fail the batch instead of yielding.
				return delivery.Retry, fmt.Errorf("%w (waiting to retry after: %v)", ctx.Err(), err)
			}
		}
	}
}

// Deliver sends ed's messages for sections (nil: all) to one chat now, the
// last with the digest buttons: /latest. It stops at the first refusal.
func (s *Sender) Deliver(ctx context.Context, chatID int64, ed digest.Edition, sections []string) error {
	return s.deliverTo(ctx, chatID, ed, sections, DigestKeyboard())
}

// SendPreview sends ed's messages to one chat without buttons (an admin's
// /preview of an edition that is not sent yet).
func (s *Sender) SendPreview(ctx context.Context, chatID int64, ed digest.Edition) error {
	return s.deliverTo(ctx, chatID, ed, nil, nil)
}

// deliverTo renders ed for sections and sends it to one chat, kb under the
// last message; ErrNothingToSend when there is no message.
func (s *Sender) deliverTo(ctx context.Context, chatID int64, ed digest.Edition, sections []string, kb *tgbotapi.InlineKeyboardMarkup) error {
	msgs, err := s.Render(ed, sections)
	if err != nil {
		return err
	}
	if len(msgs) == 0 {
		return ErrNothingToSend
	}
	return s.sendAll(ctx, ChatID(chatID), msgs, kb)
}

// Post publishes ed in a channel of telegram.channels ("@name" or the
// channel's id): every section, and under the last message a button that
// opens a private chat with the bot (a t.me deep link with the payload
// "channel", recorded as the subscription's source).
func (s *Sender) Post(ctx context.Context, chat string, ed digest.Edition) error {
	msgs, err := s.Render(ed, nil)
	if err != nil {
		return err
	}
	if len(msgs) == 0 {
		s.log.InfoContext(ctx, "telegram: empty edition not posted", slog.Int64("edition_id", ed.ID), slog.String("chat_id", chat))
		return nil
	}
	var kb *tgbotapi.InlineKeyboardMarkup
	if u := s.c.Username(); u != "" {
		k := tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(
			tgbotapi.NewInlineKeyboardButtonURL("Get it in a private chat", "https://t.me/"+u+"?start=channel")))
		kb = &k
	}
	if err := s.sendAll(ctx, chat, msgs, kb); err != nil {
		return fmt.Errorf("telegram: post edition %d to %s: %w", ed.ID, chat, err)
	}
	return nil
}

// sendAll sends msgs to one chat in order, kb under the last. These are
// single messages, not a broadcast: no allow_paid_broadcast.
func (s *Sender) sendAll(ctx context.Context, chat string, msgs []string, kb *tgbotapi.InlineKeyboardMarkup) error {
	for i, text := range msgs {
		m := Message{Chat: chat, Text: text}
		if i == len(msgs)-1 {
			m.Keyboard = kb
		}
		if _, err := s.c.send(ctx, m); err != nil {
			if c := Classify(err); c == ClassBadHTML || c == ClassTooLong {
				s.log.ErrorContext(ctx, "telegram: Telegram refused a rendered message (renderer bug)", slog.String("chat_id", chat), slog.String("error", err.Error()))
			}
			return err
		}
		s.stats.messages.Add(1)
	}
	return nil
}
