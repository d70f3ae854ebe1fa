// Package delivery sends editions to subscriptions: the senders (SMTP, the
// file outbox), rate limits, retries, the per-(edition, subscription)
// delivery records, and the fan-out as durable River jobs.
package delivery

import "time"

// Delivery status values (SPEC §3).
const (
	StatusSent    = "sent"
	StatusFailed  = "failed"
	StatusSkipped = "skipped"
)

// Delivery is the record of one edition sent (or not) to one subscription.
// (edition, subscription) is unique: a recorded row is never sent again.
type Delivery struct {
	EditionID      int64
	SubscriptionID int64
	Status         string
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
)

// Result is the outcome of one recipient in a batch.
type Result struct {
	SubscriptionID int64
	Outcome        Outcome
	Err            error  // nil when Sent
	NewAddress     string // set when the channel moved the address (Telegram group migration)
}

// Count is one line of an edition's delivery statistics. Status is a
// delivery status, or "bounced" / "blocked" for failed rows whose
// subscription ended that way.
type Count struct {
	Channel string
	Status  string
	N       int
}
