// Package delivery sends editions to subscriptions: the senders (SMTP, the
// file outbox), rate limits, retries, the per-(edition, subscription)
// delivery records, and the fan-out as durable River jobs.
package delivery

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/subscribers"
)

// Delivery is the record of one edition sent (or not) to one subscription.
// (edition, subscription) is unique: a recorded row is never sent again.
type Delivery struct {
	EditionID      int64
	SubscriptionID int64
	Status         string // digest.DeliverySent, DeliveryFailed or DeliverySkipped
	Attempts       int
	LastError      string
	SentAt         time.Time
}

// Outcome is what happened to one recipient in a send.
type Outcome int

const (
	// Sent: the message was accepted.
	Sent Outcome = iota
	// Retry: a temporary failure (SMTP 4xx, Telegram 429 or 5xx); nothing is
	// recorded and the job tries again later.
	Retry
	// Failed: a permanent failure that is not the reader's fault (a bug such
	// as Telegram's "can't parse entities"); recorded as failed, not retried.
	Failed
	// Bounced: SMTP 5xx for the recipient; the subscription becomes bounced.
	Bounced
	// Blocked: Telegram 403 or "chat not found"; the subscription becomes blocked.
	Blocked
	// Skipped: nothing to send (no item in the subscriber's sections);
	// recorded as skipped.
	Skipped
)

// String names the outcome for logs.
func (o Outcome) String() string {
	switch o {
	case Sent:
		return "sent"
	case Retry:
		return "retry"
	case Failed:
		return "failed"
	case Bounced:
		return "bounced"
	case Blocked:
		return "blocked"
	case Skipped:
		return "skipped"
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// Result is the outcome of one recipient in a batch.
type Result struct {
	SubscriptionID int64
	Outcome        Outcome
	Err            error  // nil when Sent
	NewAddress     string // set when the channel moved the address (Telegram group migration)
}

// A ChannelSender delivers one edition to a batch of subscriptions of its
// channel, one Result per subscription. err != nil means the whole batch
// failed (server down): nothing is recorded, the job retries.
type ChannelSender interface {
	Send(ctx context.Context, ed digest.Edition, subs []subscribers.Subscription) ([]Result, error)
}

// A StreamSender is a ChannelSender that reports each Result as soon as
// it is known, so the fan-out records deliveries while the batch is still
// going. It calls sink.Admit before each recipient's message goes out,
// which is what bounds the messages a crash can repeat (see Sink);
// the error means what Send's does.
type StreamSender interface {
	ChannelSender
	SendEach(ctx context.Context, ed digest.Edition, subs []subscribers.Subscription, sink Sink) error
}

// A Sink takes the results of a StreamSender.
type Sink interface {
	// Admit blocks until the recipient with this subscription id may be
	// sent to: the fan-out lets only FanoutConfig.MaxUnrecorded recipients
	// per channel be sent (or be going out) without a delivery record at
	// once. A sender calls it once per recipient, as late as it can
	// before anything of theirs leaves the process. It fails when ctx
	// ends; the recipient is then reported Retry, not sent.
	Admit(ctx context.Context, subscriptionID int64) error
	// Emit takes one recipient's Result; it is called from one goroutine
	// at a time and does not block on the database.
	Emit(Result)
}

// EmitFunc is a Sink that admits every recipient at once and hands each
// Result to the function: a sender's own Send, tests.
type EmitFunc func(Result)

// Admit returns ctx's error, if any.
func (EmitFunc) Admit(ctx context.Context, _ int64) error { return ctx.Err() }

// Emit calls f.
func (f EmitFunc) Emit(r Result) { f(r) }

// ErrSenderClosed is the error of a Retry result for a message handed to a
// sender that is shutting down: the batch yields rather than fails.
var ErrSenderClosed = errors.New("delivery: sender closed")
