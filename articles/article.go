// Package articles holds the Article and Feed types and everything that turns
// outside input (feeds, article pages, JSON lines, plain text) into clean,
// deduplicated articles.
package articles

import (
	"errors"
	"time"
)

// Article is one story as digestbot stores it. Text fields are plain text:
// markup has been removed and entities decoded; each renderer escapes them
// for its own target.
type Article struct {
	ID          int64
	URL         string // canonical URL; "" when the item had no usable link
	GUID        string // the feed's id for the item; unique per feed
	FeedID      int64  // 0 when the article did not come from a feed
	Source      string // outlet name shown to readers ("Pacific Stripes Daily")
	Title       string
	Lead        string // 1–3 sentences, at most 300 characters
	Byline      string
	ImageURL    string
	Section     string
	PublishedAt time.Time // zero when unknown
	IngestedAt  time.Time
	ContentHash string // hash of title+lead, to skip no-op updates
	Pinned      bool
	Hidden      bool
	Priority    int // editor's boost; 0 is neutral
}

// Feed is a source polled on an interval.
type Feed struct {
	ID           int64
	URL          string
	Name         string
	Section      string  // default section for its items
	Weight       float64 // ranking weight of this outlet; 1 is neutral
	ETag         string
	LastModified string
	LastPolledAt time.Time
	LastError    string
	Enabled      bool
}

// Patch is an editor's change to an article; nil fields are left alone.
type Patch struct {
	Pinned   *bool   `json:"pinned,omitempty"`
	Hidden   *bool   `json:"hidden,omitempty"`
	Priority *int    `json:"priority,omitempty"`
	Section  *string `json:"section,omitempty"`
}

// ErrNotFound is returned when an article or feed does not exist.
var ErrNotFound = errors.New("not found")
