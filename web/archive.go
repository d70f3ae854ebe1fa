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

// archiveOf is the newsletter an archive route names and the path of its
// archive: /archive/{slug} for GET /archive/{slug}/…, else the default
// newsletter's /archive (SPEC's contract paths, unchanged).
func (s *Server) archiveOf(r *http.Request) (Letter, string, error) {
	slug := r.PathValue("slug")
	if slug == "" {
		return s.cfg.Letters[0], "/archive", nil
	}
	l, ok := s.letter(slug)
	if !ok {
		return Letter{}, "", errStatus(http.StatusNotFound, "There is no such newsletter.")
	}
	return l, "/archive/" + l.Slug, nil
}

// archiveList is GET /archive (the default newsletter) and GET
// /archive/{slug}/: the editions, latest first.
func (s *Server) archiveList(w http.ResponseWriter, r *http.Request) error {
	l, path, err := s.archiveOf(r)
	if err != nil {
		return err
	}
	eds, err := s.store.ListEditions(r.Context(), l.Slug, archiveLimit)
	if err != nil {
		return err
	}
	v := s.view()
	v.Newsletter, v.Archive = l.Title, path
	if s.several() {
		for _, x := range s.cfg.Letters {
			v.Letters = append(v.Letters, letterBox{Slug: x.Slug, Title: x.Title, Checked: x.Slug == l.Slug})
		}
	}
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

// archiveEdition is GET /archive/{date} (the default newsletter) and GET
// /archive/{slug}/{date}, the "view in browser" page. It is the same for
// every reader: no per-reader links. GET /archive/{slug} (no slash) is sent
// on to that letter's archive.
func (s *Server) archiveEdition(w http.ResponseWriter, r *http.Request) error {
	date := r.PathValue("date")
	if d, err := time.Parse(time.DateOnly, date); err != nil || d.Format(time.DateOnly) != date {
		if l, ok := s.letter(date); ok && r.PathValue("slug") == "" {
			http.Redirect(w, r, "/archive/"+l.Slug+"/", http.StatusMovedPermanently)
			return nil
		}
		return errNotFound
	}
	l, path, err := s.archiveOf(r)
	if err != nil {
		return err
	}
	e, err := s.store.GetEditionByDate(r.Context(), l.Slug, date)
	if errors.Is(err, digest.ErrNotFound) || err == nil && !public(e) {
		return errStatus(http.StatusNotFound, "There is no edition for this date.")
	}
	if err != nil {
		return err
	}
	html, err := digest.RenderWebPage(e, digest.RenderOptions{
		Title: l.Title, BaseURL: s.cfg.BaseURL, PostalAddress: s.cfg.PostalAddress,
		Location: s.cfg.Location, Sections: s.cfg.Sections,
		ArchivePath: path, Templates: l.Templates,
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
