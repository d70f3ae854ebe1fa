package web

import (
	"errors"
	"net/http"

	"github.com/digestbot/digestbot/digest"
)

// stats is GET /api/v1/stats: subscriptions by channel and status, the
// spam complaints, the article count and the latest edition with its deliveries.
func (s *Server) stats(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	subs, err := s.store.CountSubscriptions(ctx)
	if err != nil {
		return err
	}
	n, err := s.store.CountArticles(ctx)
	if err != nil {
		return err
	}
	complaints, err := s.store.CountComplaints(ctx)
	if err != nil {
		return err
	}
	out := struct {
		Subscriptions any          `json:"subscriptions"`
		Complaints    int          `json:"complaints"` // readers who left with a spam complaint
		Articles      int          `json:"articles"`
		LatestEdition *editionJSON `json:"latest_edition"`
	}{Subscriptions: subs, Complaints: complaints, Articles: n}
	if out.Subscriptions == nil {
		out.Subscriptions = struct{}{}
	}
	switch e, err := s.store.LatestEdition(ctx, s.cfg.Newsletter); {
	case errors.Is(err, digest.ErrNotFound):
	case err != nil:
		return err
	default:
		d, err := s.store.DeliveryStats(ctx, e.ID)
		if err != nil {
			return err
		}
		ej := toEditionJSON(e, d)
		if ej.Reports, err = s.store.EditionReports(ctx, e.ID); err != nil {
			return err
		}
		ej.Items = nil // counts, not content
		out.LatestEdition = &ej
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
