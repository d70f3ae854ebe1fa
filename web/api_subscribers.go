package web

import (
	"encoding/csv"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/digestbot/digestbot/subscribers"
)

// exportPage is how many subscriptions one store query reads: the export
// streams, so memory stays flat however many there are.
const exportPage = 1000

// exportTimeout is the write deadline of the CSV export.
const exportTimeout = 10 * time.Minute

// exportSubscribers is GET /api/v1/subscribers: CSV with the columns
// id,channel,address,status,sections,source,created_at (sections joined
// with ";", as `subscribers import` reads them).
func (s *Server) exportSubscribers(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	first, err := s.store.ListSubscriptions(ctx, 0, exportPage)
	if err != nil {
		return err // nothing written yet: a JSON error is still possible
	}
	// A large list outlasts the server's WriteTimeout, which is sized for
	// pages; this response alone gets longer.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(exportTimeout))
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="subscribers.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "channel", "address", "status", "sections", "source", "created_at"})
	for page := first; len(page) > 0; {
		for _, sub := range page {
			created := ""
			if !sub.CreatedAt.IsZero() {
				created = sub.CreatedAt.UTC().Format(time.RFC3339)
			}
			_ = cw.Write([]string{
				strconv.FormatInt(sub.ID, 10), string(sub.Channel), csvSafe(sub.Address), string(sub.Status),
				csvSafe(strings.Join(sub.Sections, ";")), csvSafe(sub.Source), created,
			})
		}
		if len(page) < exportPage {
			break
		}
		if page, err = s.store.ListSubscriptions(ctx, page[len(page)-1].ID, exportPage); err != nil {
			// The 200 is out: all we can do is cut the response short so
			// the client sees a broken transfer, not a complete file.
			s.log.ErrorContext(ctx, "export subscribers", slog.Any("error", err))
			cw.Flush()
			panic(http.ErrAbortHandler)
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe defuses spreadsheet formulas (CWE-1236): a cell starting with
// = + - @ or a control character gets a leading quote. Numbers (a
// Telegram group's negative chat id) are left as they are.
func csvSafe(v string) string {
	if v == "" || !strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return v
	}
	if _, err := strconv.ParseInt(v, 10, 64); err == nil {
		return v
	}
	return "'" + v
}

type subscriberIn struct {
	Email    string   `json:"email"`
	Sections []string `json:"sections"`
}

type subscriptionJSON struct {
	ID             int64      `json:"id"`
	Channel        string     `json:"channel"`
	Address        string     `json:"address"`
	Status         string     `json:"status"`
	Sections       []string   `json:"sections"`
	Source         string     `json:"source"`
	CreatedAt      *time.Time `json:"created_at,omitempty"`
	ConfirmedAt    *time.Time `json:"confirmed_at,omitempty"`
	UnsubscribedAt *time.Time `json:"unsubscribed_at,omitempty"`
}

// addSubscriber is POST /api/v1/subscribers {"email", "sections"}: an
// active subscription with source "api", no confirmation mail (the
// operator vouches for it). 201 when new, 200 when it existed.
func (s *Server) addSubscriber(w http.ResponseWriter, r *http.Request) error {
	var in subscriberIn
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	sub, created, err := s.subs.AddConfirmedEmail(r.Context(), in.Email, in.Sections, subscribers.SourceAPI)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	secs := sub.Sections
	if secs == nil {
		secs = []string{}
	}
	writeJSON(w, status, subscriptionJSON{
		ID: sub.ID, Channel: string(sub.Channel), Address: sub.Address, Status: string(sub.Status),
		Sections: secs, Source: sub.Source, CreatedAt: timePtr(sub.CreatedAt),
		ConfirmedAt: timePtr(sub.ConfirmedAt), UnsubscribedAt: timePtr(sub.UnsubscribedAt),
	})
	return nil
}

// pathAddress reads the {address} of the route: an email address or a
// Telegram chat id.
func pathAddress(r *http.Request) (string, error) {
	a, err := subscribers.NormalizeAddress(r.PathValue("address"))
	if err != nil {
		return "", errStatus(http.StatusBadRequest, "address must be an email address or a Telegram chat id")
	}
	return a, nil
}

// subscriberData is GET /api/v1/subscribers/{address}: everything stored
// about the address (a reader's data request), 404 when nothing is.
func (s *Server) subscriberData(w http.ResponseWriter, r *http.Request) error {
	address, err := pathAddress(r)
	if err != nil {
		return err
	}
	recs, err := s.store.SubscriberRecords(r.Context(), address)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return errStatus(http.StatusNotFound, "nothing stored about this address")
	}
	writeJSON(w, http.StatusOK, subscribers.Export{Address: address, Subscriptions: recs})
	return nil
}

// forgetSubscriber is DELETE /api/v1/subscribers/{address}: the address is
// erased, its deliveries kept only as counts; {"deleted": n}, 404 when
// nothing was stored.
func (s *Server) forgetSubscriber(w http.ResponseWriter, r *http.Request) error {
	address, err := pathAddress(r)
	if err != nil {
		return err
	}
	n, err := s.store.ForgetSubscriber(r.Context(), address)
	if err != nil {
		return err
	}
	if n == 0 {
		return errStatus(http.StatusNotFound, "nothing stored about this address")
	}
	s.log.InfoContext(r.Context(), "subscriber erased on request", slog.Int("subscriptions", n))
	writeJSON(w, http.StatusOK, map[string]int{"deleted": n})
	return nil
}
