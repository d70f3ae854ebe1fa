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
	// RenderFunc replaces digest.RenderTelegram(ed.ForSections(sections), o)
	// (tests).
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
	messages, sent, blocked, failed, retry, migrated, badHTML, tooLong atomic.Int64
}

// SenderStats counts what a Sender did since NewSender.
type SenderStats struct {
	Messages int64 // messages accepted by Telegram
	Sent     int64 // recipients with every message delivered
	Blocked  int64
	Failed   int64
	Retry    int64
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
		Retry: c.retry.Load(), Migrated: c.migrated.Load(), BadHTML: c.badHTML.Load(), TooLong: c.tooLong.Load(),
	}
}

// Render returns the messages of ed for a reader of sections (nil: all),
// cached per edition and set of sections: a fan-out renders each
// combination once, not once per reader.
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
	msgs, err := s.opts.RenderFunc(ed, sections, s.opts.Render)
	if err != nil {
		return nil, fmt.Errorf("telegram: render edition %d: %w", ed.ID, err)
	}
	if len(msgs) == 0 {
		return nil, fmt.Errorf("telegram: render edition %d: no message", ed.ID)
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
// ChannelSender). Each reader gets the messages of their sections in order,
// the last with the Settings and Unsubscribe buttons. Messages of one batch
// are interleaved across readers so that the one-second spacing within a
// chat never idles the global rate.
//
// Per reader: Sent; Blocked on 403 or "chat not found"; Failed on any
// other 400 ("can't parse entities" and "message is too long" are logged at
// error level with the edition id and counted); Retry after repeated 429s,
// 5xx or network errors, or when ctx ends. A group that became a supergroup
// is followed to its new id and reported in Result.NewAddress.
//
// The error is non-nil only when nothing was delivered and every reader is
// Retry (the Bot API is unreachable, the token refused, or rendering
// failed): nothing is to be recorded and the job should run again.
func (s *Sender) Send(ctx context.Context, ed digest.Edition, subs []subscribers.Subscription) ([]delivery.Result, error) {
	if len(subs) == 0 {
		return nil, nil
	}
	start := time.Now()
	results := make([]delivery.Result, len(subs))
	jobs := make([]*sendJob, 0, len(subs))
	for i, sub := range subs {
		results[i].SubscriptionID = sub.ID
		if _, err := strconv.ParseInt(sub.Address, 10, 64); err != nil || sub.Channel != subscribers.Telegram {
			results[i].Outcome = delivery.Failed
			results[i].Err = fmt.Errorf("telegram: subscription %d: not a Telegram chat id: %q", sub.ID, sub.Address)
			s.stats.failed.Add(1)
			continue
		}
		msgs, err := s.Render(ed, sub.Sections)
		if err != nil {
			s.log.ErrorContext(ctx, "telegram: render failed, batch not sent", slog.Int64("edition_id", ed.ID), slog.String("error", err.Error()))
			return nil, err
		}
		jobs = append(jobs, &sendJob{idx: i, chat: sub.Address, msgs: msgs})
	}

	b := &batch{s: s, ed: ed, subs: subs, results: results}
	b.run(ctx, jobs)

	var n [5]int
	for _, r := range results {
		n[r.Outcome]++
	}
	s.log.InfoContext(ctx, "telegram: batch sent", slog.Int64("edition_id", ed.ID), slog.Int("recipients", len(subs)),
		slog.Int("sent", n[delivery.Sent]), slog.Int("blocked", n[delivery.Blocked]), slog.Int("failed", n[delivery.Failed]),
		slog.Int("retry", n[delivery.Retry]), slog.Duration("took", time.Since(start)))
	if n[delivery.Retry] == len(results) {
		err := b.lastErr
		if err == nil {
			err = errors.New("no recipient reached")
		}
		return nil, fmt.Errorf("telegram: edition %d: batch of %d not sent: %w", ed.ID, len(subs), err)
	}
	return results, nil
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
	s       *Sender
	ed      digest.Edition
	subs    []subscribers.Subscription
	results []delivery.Result

	mu       sync.Mutex
	cond     *sync.Cond
	queue    jobQueue
	inFlight int
	seq      int
	abortErr error // set: every job not finished is Retry
	tempRun  int   // consecutive recipients lost to temporary errors
	lastErr  error
}

// run sends every job with a pool of workers taking the job that may go
// first: a reader's next message is queued again one chat interval after
// the previous one, behind the other readers' messages.
func (b *batch) run(ctx context.Context, jobs []*sendJob) {
	b.cond = sync.NewCond(&b.mu)
	for _, j := range jobs {
		j.seq = b.seq
		b.seq++
		b.queue = append(b.queue, j)
	}
	heap.Init(&b.queue)
	var wg sync.WaitGroup
	for range min(b.s.opts.Workers, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.worker(ctx)
		}()
	}
	wg.Wait()
}

func (b *batch) worker(ctx context.Context) {
	for {
		b.mu.Lock()
		for len(b.queue) == 0 && b.inFlight > 0 {
			b.cond.Wait()
		}
		if len(b.queue) == 0 {
			b.mu.Unlock()
			b.cond.Broadcast()
			return
		}
		j := heap.Pop(&b.queue).(*sendJob)
		if b.abortErr != nil || ctx.Err() != nil {
			err := b.abortErr
			if err == nil {
				err = ctx.Err()
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
			_ = b.s.c.sleep(ctx, d)
		}
		out, err := b.sendMessage(ctx, j)

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

// finish records a reader's outcome.
func (b *batch) finish(j *sendJob, out delivery.Outcome, err error) {
	r := &b.results[j.idx]
	r.Outcome, r.Err = out, err
	if j.chat != b.subs[j.idx].Address {
		r.NewAddress = j.chat
	}
	c := &b.s.stats
	switch out {
	case delivery.Sent:
		c.sent.Add(1)
	case delivery.Blocked:
		c.blocked.Add(1)
	case delivery.Failed:
		c.failed.Add(1)
	case delivery.Retry:
		c.retry.Add(1)
	}
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
	temp, migrations := 0, 0
	for {
		_, err := s.c.SendMessage(ctx, Message{Chat: j.chat, Text: j.msgs[j.next], Keyboard: kb, Paid: s.c.paid})
		cls := Classify(err)
		if cls == ClassCanceled && ctx.Err() == nil {
			cls = ClassTemporary // the request's own timeout, not the caller's
		}
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
			j.chat = strconv.FormatInt(ae.MigrateTo, 10)
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
		case ClassCanceled, ClassRateLimited:
			return delivery.Retry, err
		default: // ClassTemporary, ClassConflict
			if temp++; temp > s.opts.TempRetries {
				log.WarnContext(ctx, "telegram: send failed, will retry later", slog.String("error", err.Error()))
				return delivery.Retry, err
			}
			if s.c.sleep(ctx, s.opts.RetryBackoff<<(temp-1)) != nil {
				return delivery.Retry, err
			}
		}
	}
}

// Deliver sends ed's messages for sections (nil: all) to one chat now, the
// last with the digest buttons: /latest. It stops at the first refusal.
func (s *Sender) Deliver(ctx context.Context, chatID int64, ed digest.Edition, sections []string) error {
	msgs, err := s.Render(ed, sections)
	if err != nil {
		return err
	}
	return s.sendAll(ctx, ChatID(chatID), msgs, DigestKeyboard(), false)
}

// SendPreview sends ed's messages to one chat without buttons (an admin's
// /preview of an edition that is not sent yet).
func (s *Sender) SendPreview(ctx context.Context, chatID int64, ed digest.Edition) error {
	msgs, err := s.Render(ed, nil)
	if err != nil {
		return err
	}
	return s.sendAll(ctx, ChatID(chatID), msgs, nil, false)
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
	var kb *tgbotapi.InlineKeyboardMarkup
	if u := s.c.Username(); u != "" {
		k := tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(
			tgbotapi.NewInlineKeyboardButtonURL("Get it in a private chat", "https://t.me/"+u+"?start=channel")))
		kb = &k
	}
	if err := s.sendAll(ctx, chat, msgs, kb, s.c.paid); err != nil {
		return fmt.Errorf("telegram: post edition %d to %s: %w", ed.ID, chat, err)
	}
	return nil
}

// Notify sends an admin an HTML message (the caller escapes outside
// strings with tghtml.Escape).
func (s *Sender) Notify(ctx context.Context, chatID int64, html string) error {
	_, err := s.c.SendMessage(ctx, Message{Chat: ChatID(chatID), Text: html})
	return err
}

func (s *Sender) sendAll(ctx context.Context, chat string, msgs []string, kb *tgbotapi.InlineKeyboardMarkup, paid bool) error {
	for i, text := range msgs {
		m := Message{Chat: chat, Text: text, Paid: paid}
		if i == len(msgs)-1 {
			m.Keyboard = kb
		}
		if _, err := s.c.SendMessage(ctx, m); err != nil {
			if c := Classify(err); c == ClassBadHTML || c == ClassTooLong {
				s.log.ErrorContext(ctx, "telegram: Telegram refused a rendered message (renderer bug)", slog.String("chat", chat), slog.String("error", err.Error()))
			}
			return err
		}
		s.stats.messages.Add(1)
	}
	return nil
}
