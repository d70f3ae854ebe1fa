package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/digestbot/digestbot/digest"
)

// sendTimeout bounds POST /api/v1/editions, which builds the edition and
// queues its fan-out (the sending itself runs in the background).
const sendTimeout = 2 * time.Minute

type editionJSON struct {
	ID         int64           `json:"id"`
	Newsletter string          `json:"newsletter"`
	Date       string          `json:"date"`
	Title      string          `json:"title"`
	Status     string          `json:"status"`
	CutoffFrom *time.Time      `json:"cutoff_from,omitempty"`
	CutoffTo   *time.Time      `json:"cutoff_to,omitempty"`
	CreatedAt  *time.Time      `json:"created_at,omitempty"`
	SentAt     *time.Time      `json:"sent_at,omitempty"`
	Items      []digest.Item   `json:"items"`
	Deliveries []deliveryCount `json:"deliveries"`
	// Reports are the late bounces and complaints counted against the
	// edition, by kind (hard, soft, complaint).
	Reports map[string]int `json:"reports,omitempty"`
}

type deliveryCount struct {
	Channel string `json:"channel"`
	Status  string `json:"status"`
	N       int    `json:"n"`
}

func toEditionJSON(e digest.Edition, stats []digest.DeliveryCount) editionJSON {
	out := editionJSON{
		ID: e.ID, Newsletter: e.Newsletter, Date: e.Date, Title: e.Title, Status: e.Status,
		CutoffFrom: timePtr(e.CutoffFrom), CutoffTo: timePtr(e.CutoffTo),
		CreatedAt: timePtr(e.CreatedAt), SentAt: timePtr(e.SentAt),
		Items: e.Items, Deliveries: make([]deliveryCount, 0, len(stats)),
	}
	if out.Items == nil {
		out.Items = []digest.Item{}
	}
	for _, c := range stats {
		out.Deliveries = append(out.Deliveries, deliveryCount(c))
	}
	return out
}

// sendEdition is POST /api/v1/editions: build today's edition if needed
// and start its delivery, as /sendnow does in Telegram. 202 when this call
// started it (follow it with GET /api/v1/editions/{id}); 200 with the
// edition as it is when it was already under way, sent, paused or
// cancelled; 409 when there is nothing new to send.
func (s *Server) sendEdition(w http.ResponseWriter, r *http.Request) error {
	pub := s.publisher
	if slug := r.URL.Query().Get("newsletter"); slug != "" && slug != s.cfg.Newsletter {
		var ok bool
		if pub, ok = s.publishers[slug]; !ok {
			return errStatus(http.StatusNotFound, "no newsletter "+strconv.Quote(slug))
		}
	}
	if pub == nil {
		return errUnavailable
	}
	// Building may outlast the server's WriteTimeout, sized for pages.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(sendTimeout + 10*time.Second))
	// A client that hangs up must not abort a build or a start halfway.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), sendTimeout)
	defer cancel()
	p, err := pub.Publish(ctx, pub.Date(s.now()))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if p.Started {
		status = http.StatusAccepted
	}
	e := p.Edition
	writeJSON(w, status, toEditionJSON(e, nil))
	return nil
}

// getEdition is GET /api/v1/editions/{id}, with its delivery counts.
func (s *Server) getEdition(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	e, err := s.store.GetEdition(r.Context(), id)
	if err != nil {
		return err
	}
	stats, err := s.store.DeliveryStats(r.Context(), id)
	if err != nil {
		return err
	}
	out := toEditionJSON(e, stats)
	if out.Reports, err = s.store.EditionReports(r.Context(), id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
