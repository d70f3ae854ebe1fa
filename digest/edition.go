// Package digest builds editions: it selects the articles of the day, groups
// the same story from several outlets into one item, ranks and sections them,
// renders them for email, Telegram and the web, and runs the daily schedule.
package digest

import (
	"errors"
	"time"
)

// Edition status values (SPEC §3): built → sending → sent | paused | cancelled.
const (
	StatusBuilt     = "built"
	StatusSending   = "sending"
	StatusSent      = "sent"
	StatusPaused    = "paused"
	StatusCancelled = "cancelled"
)

// DefaultNewsletter is the key of the one newsletter an instance runs today;
// editions are unique per (newsletter, date) so more can be added later.
const DefaultNewsletter = "daily"

// Edition is one day's digest.
type Edition struct {
	ID         int64
	Newsletter string    // DefaultNewsletter for now
	Date       string    // newsletter date, YYYY-MM-DD in newsletter.timezone
	Title      string    // newsletter.title at build time
	CutoffFrom time.Time // articles ingested after this...
	CutoffTo   time.Time // ...and up to this instant are in the window
	Status     string
	Items      []Item // in display order, grouped by section
	CreatedAt  time.Time
	SentAt     time.Time // zero until the fan-out has finished
}

// Item is one story in an edition: the representative article of a cluster.
type Item struct {
	ArticleID   int64     `json:"article_id"`
	Section     string    `json:"section"`
	Title       string    `json:"title"`
	URL         string    `json:"url,omitempty"`
	Lead        string    `json:"lead,omitempty"`
	Source      string    `json:"source,omitempty"`
	ImageURL    string    `json:"image_url,omitempty"`
	PublishedAt time.Time `json:"published_at"`
	AlsoIn      []string  `json:"also_in,omitempty"` // other outlets with the same story
	Pinned      bool      `json:"pinned,omitempty"`
	Score       float64   `json:"score"`
}

// ErrNotFound is returned when an edition does not exist.
var ErrNotFound = errors.New("edition not found")

// Delivery status values of one edition to one subscription (SPEC §3).
const (
	DeliverySent    = "sent"
	DeliveryFailed  = "failed"
	DeliverySkipped = "skipped"
)

// DeliveryCount is one line of an edition's delivery statistics. Status is
// a delivery status, or "bounced" / "blocked" for failed rows whose
// subscription ended that way.
type DeliveryCount struct {
	Channel string
	Status  string
	N       int
}
