package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/digestbot/digestbot/digest"
)

// archiveLimit is how many editions GET /archive lists: a year of dailies.
const archiveLimit = 366

// cspArchive is the policy of a rendered edition: its markup is ours
// (digest.RenderWebPage escapes every outside string) but styled inline,
// and article images come from the outlets.
const cspArchive = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

type archiveEntry struct {
	Date, Label, Lead string
}

// public reports whether readers may see an edition: one that is going
// out or went out, not one built for a preview, paused or cancelled.
func public(e digest.Edition) bool {
	return e.Status == digest.StatusSending || e.Status == digest.StatusSent
}

// archiveList is GET /archive: the editions, latest first.
func (s *Server) archiveList(w http.ResponseWriter, r *http.Request) error {
	eds, err := s.store.ListEditions(r.Context(), s.cfg.Newsletter, archiveLimit)
	if err != nil {
		return err
	}
	v := s.view()
	for _, e := range eds {
		if !public(e) {
			continue
		}
		entry := archiveEntry{Date: e.Date, Label: e.Date}
		if d, err := time.Parse(time.DateOnly, e.Date); err == nil {
			entry.Label = d.Format("Monday, January 2, 2006")
		}
		if len(e.Items) > 0 {
			entry.Lead = e.Items[0].Title
			if n := len(e.Items); n > 1 {
				entry.Lead += " — and " + strconv.Itoa(n-1) + " more"
			}
		}
		v.Editions = append(v.Editions, entry)
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	s.render(w, r, http.StatusOK, "archive", v)
	return nil
}

// archiveEdition is GET /archive/{date}, the "view in browser" page. It is
// the same for every reader: no per-reader links.
func (s *Server) archiveEdition(w http.ResponseWriter, r *http.Request) error {
	date := r.PathValue("date")
	if d, err := time.Parse(time.DateOnly, date); err != nil || d.Format(time.DateOnly) != date {
		return errNotFound
	}
	e, err := s.store.GetEditionByDate(r.Context(), s.cfg.Newsletter, date)
	if errors.Is(err, digest.ErrNotFound) || err == nil && !public(e) {
		return errStatus(http.StatusNotFound, "There is no edition for this date.")
	}
	if err != nil {
		return err
	}
	html, err := digest.RenderWebPage(e, digest.RenderOptions{
		Title: s.cfg.Title, BaseURL: s.cfg.BaseURL, PostalAddress: s.cfg.PostalAddress,
		Location: s.cfg.Location, Sections: s.cfg.Sections,
	})
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Security-Policy", cspArchive)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write([]byte(html))
	return nil
}
