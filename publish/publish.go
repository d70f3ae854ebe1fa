// Package publish makes an edition go out: "the edition of this newsletter
// and date — build it if needed, start it". The scheduler, the CLI's
// send-now, POST /api/v1/editions and the bot's /sendnow all call
// Service.Publish, so an edition is built and started in one place and
// the same way whoever asks.
package publish

import (
	"context"
	"fmt"
	"time"

	"github.com/digestbot/digestbot/digest"
)

// Builder builds editions; *digest.Builder implements it.
type Builder interface {
	// Date is the newsletter date of t.
	Date(t time.Time) string
	// Build returns the edition of date, building and storing it when it
	// does not exist yet (created); digest.ErrEmpty when nothing is new
	// and empty editions are skipped.
	Build(ctx context.Context, date string) (ed digest.Edition, created bool, err error)
}

// Starter starts an edition's delivery; *delivery.Fanout implements it.
// false: the edition was no longer built (another caller started it).
type Starter interface {
	Start(ctx context.Context, editionID int64) (bool, error)
}

// Editions reads an edition back; *store.Store implements it.
type Editions interface {
	GetEdition(ctx context.Context, id int64) (digest.Edition, error)
}

// Service publishes the editions of one newsletter.
type Service struct {
	Builder  Builder
	Fanout   Starter
	Editions Editions
	// OnBuilt, when set, is called for each edition this service built
	// (the metrics' editions built).
	OnBuilt func(digest.Edition)
	// Warm, when set, is called as Publish begins, so that the senders
	// open their connections while the edition is built.
	Warm func()
}

var _ digest.Publisher = (*Service)(nil)

// Date is the newsletter date of t.
func (s *Service) Date(t time.Time) string { return s.Builder.Date(t) }

// Publish builds the edition of date unless it is stored, and starts its
// delivery while it is still built (just built, or left built by a crash
// between building and starting). The returned edition is as it stands
// after the call: sending when this call started it, else whatever state
// another caller left it in (sending, sent, paused, cancelled). An error
// wrapping digest.ErrEmpty means there was nothing new to send.
func (s *Service) Publish(ctx context.Context, date string) (digest.Published, error) {
	if s.Warm != nil {
		s.Warm()
	}
	ed, created, err := s.Builder.Build(ctx, date)
	if err != nil {
		return digest.Published{}, err
	}
	p := digest.Published{Edition: ed, Built: created}
	if created && s.OnBuilt != nil {
		s.OnBuilt(ed)
	}
	if ed.Status != digest.StatusBuilt {
		return p, nil
	}
	if p.Started, err = s.Fanout.Start(ctx, ed.ID); err != nil {
		return p, fmt.Errorf("publish: start edition %d: %w", ed.ID, err)
	}
	// Started or not, the state has moved on from built: read it back.
	if p.Edition, err = s.Editions.GetEdition(ctx, ed.ID); err != nil {
		return p, fmt.Errorf("publish: reload edition %d: %w", ed.ID, err)
	}
	return p, nil // the builder and the fan-out log what they did
}
