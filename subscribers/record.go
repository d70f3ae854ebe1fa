package subscribers

import "time"

// Record is everything stored about one subscription, for a reader's data
// request (digestbot subscribers export, GET /api/v1/subscribers/{address}):
// the subscription and every delivery of an edition to it.
type Record struct {
	ID             int64            `json:"id"`
	Channel        Channel          `json:"channel"`
	Address        string           `json:"address"`
	Status         Status           `json:"status"`
	Sections       []string         `json:"sections"` // empty: every section
	Source         string           `json:"source"`
	CreatedAt      time.Time        `json:"created_at"`
	ConfirmedAt    time.Time        `json:"confirmed_at,omitzero"`
	UnsubscribedAt time.Time        `json:"unsubscribed_at,omitzero"`
	Deliveries     []DeliveryRecord `json:"deliveries"`
}

// NewRecord starts the record of sub, with no deliveries yet.
func NewRecord(sub Subscription) Record {
	sections := sub.Sections
	if sections == nil {
		sections = []string{}
	}
	return Record{
		ID: sub.ID, Channel: sub.Channel, Address: sub.Address, Status: sub.Status, Sections: sections,
		Source: sub.Source, CreatedAt: sub.CreatedAt, ConfirmedAt: sub.ConfirmedAt, UnsubscribedAt: sub.UnsubscribedAt,
		Deliveries: []DeliveryRecord{},
	}
}

// DeliveryRecord is one edition sent (or tried) to a subscription.
type DeliveryRecord struct {
	EditionID  int64     `json:"edition_id"`
	Newsletter string    `json:"newsletter"`
	Date       string    `json:"date"`
	Status     string    `json:"status"`
	Attempts   int       `json:"attempts"`
	LastError  string    `json:"last_error,omitempty"`
	SentAt     time.Time `json:"sent_at,omitzero"`
}

// Export answers a data request: every Record stored under Address.
type Export struct {
	Address       string   `json:"address"`
	Subscriptions []Record `json:"subscriptions"`
}
