// Package subscribers holds subscriptions per channel, their life cycle
// (double opt-in, preferences, unsubscribe) and the signed tokens that
// readers' links carry.
package subscribers

import (
	"errors"
	"slices"
	"time"
)

// Channel is how a subscription is delivered.
type Channel string

const (
	Email    Channel = "email"
	Telegram Channel = "telegram"
)

// Status is where a subscription is in its life cycle.
type Status string

const (
	Pending      Status = "pending"
	Active       Status = "active"
	Unsubscribed Status = "unsubscribed"
	Bounced      Status = "bounced"
	Blocked      Status = "blocked"
)

// Source says where a subscription came from.
const (
	SourceWeb      = "web"
	SourceTelegram = "telegram"
	SourceImport   = "import"
	SourceAPI      = "api"
)

// Subscription is one reader on one channel.
type Subscription struct {
	ID             int64
	Channel        Channel
	Address        string // email address, or Telegram chat id in decimal
	Status         Status
	Sections       []string // empty means every section
	Source         string   // web, telegram, import, api, or a /start payload
	CreatedAt      time.Time
	ConfirmedAt    time.Time
	UnsubscribedAt time.Time
	// Local is the reader's own delivery hour; nil: the newsletter's
	// schedule.
	Local *LocalTime
	// Newsletters are the slugs of the letters the reader gets; empty: the
	// default (first) newsletter only, as every subscription made before
	// there were several.
	Newsletters []string
}

// Gets reports whether the reader gets the newsletter slug, where
// defaultSlug is the instance's first newsletter.
func (s Subscription) Gets(slug, defaultSlug string) bool {
	if len(s.Newsletters) == 0 {
		return slug == defaultSlug
	}
	return slices.Contains(s.Newsletters, slug)
}

// Wants reports whether the subscriber asked for section (no choice means all).
func (s Subscription) Wants(section string) bool {
	if len(s.Sections) == 0 {
		return true
	}
	for _, x := range s.Sections {
		if x == section {
			return true
		}
	}
	return false
}

// ErrNotFound is returned by stores when a subscription does not exist.
var ErrNotFound = errors.New("subscription not found")
