package web

import (
	"encoding/xml"
	"html"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/digestbot/digestbot/digest"
)

// atomEntries is how many editions the archive's feed carries.
const atomEntries = 50

// Atom (RFC 4287) as encoding/xml writes it.
type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Links   []atomLink  `xml:"link"`
	Author  atomAuthor  `xml:"author"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomAuthor struct {
	Name string `xml:"name"`
}

type atomEntry struct {
	ID      string   `xml:"id"`
	Title   string   `xml:"title"`
	Updated string   `xml:"updated"`
	Link    atomLink `xml:"link"`
	Summary string   `xml:"summary"`
	Content atomHTML `xml:"content"`
}

type atomHTML struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

// archiveFeed is GET /archive/feed.atom: the latest editions as an Atom
// feed, each entry the edition's headlines linking to the outlets, for
// readers who follow the letter in a feed reader.
func (s *Server) archiveFeed(w http.ResponseWriter, r *http.Request) error {
	l, path, err := s.archiveOf(r)
	if err != nil {
		return err
	}
	eds, err := s.store.ListEditions(r.Context(), l.Slug, archiveLimit)
	if err != nil {
		return err
	}
	base := strings.TrimRight(s.cfg.BaseURL, "/")
	f := atomFeed{
		ID: base + path, Title: l.Title, Author: atomAuthor{Name: l.Title},
		Links: []atomLink{
			{Rel: "self", Type: "application/atom+xml", Href: base + path + "/feed.atom"},
			{Rel: "alternate", Type: "text/html", Href: base + path},
		},
	}
	var newest time.Time
	for _, e := range eds {
		if !public(e) {
			continue
		}
		if len(f.Entries) == atomEntries {
			break
		}
		updated := e.SentAt
		if updated.IsZero() {
			updated = e.CreatedAt
		}
		if updated.After(newest) {
			newest = updated
		}
		label := e.Date
		if d, err := time.Parse(time.DateOnly, e.Date); err == nil {
			label = d.Format("Monday, January 2, 2006")
		}
		link := base + path + "/" + e.Date
		f.Entries = append(f.Entries, atomEntry{
			ID: link, Title: l.Title + " — " + label, Updated: updated.UTC().Format(time.RFC3339),
			Link: atomLink{Rel: "alternate", Type: "text/html", Href: link}, Summary: atomSummary(e),
			Content: atomHTML{Type: "html", Body: atomContent(e)},
		})
	}
	if newest.IsZero() {
		newest = s.now()
	}
	f.Updated = newest.UTC().Format(time.RFC3339)
	out, err := xml.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/atom+xml; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
	return nil
}

// atomSummary is the edition's headlines in plain text.
func atomSummary(e digest.Edition) string {
	titles := make([]string, 0, len(e.Items))
	for _, it := range e.Items {
		titles = append(titles, it.Title)
	}
	return strings.Join(titles, " · ")
}

// atomContent is the edition as a list of headlines linking to the
// outlets; every outside string is escaped here, and links other than
// http(s) are left out (the XML encoder escapes the whole again).
func atomContent(e digest.Edition) string {
	var b strings.Builder
	section := ""
	open := false
	for _, it := range e.Items {
		if it.Section != section || !open {
			if open {
				b.WriteString("</ul>")
			}
			section = it.Section
			if section != "" {
				b.WriteString("<h2>" + html.EscapeString(section) + "</h2>")
			}
			b.WriteString("<ul>")
			open = true
		}
		b.WriteString("<li>")
		if u, err := url.Parse(it.URL); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
			b.WriteString(`<a href="` + html.EscapeString(u.String()) + `">` + html.EscapeString(it.Title) + "</a>")
		} else {
			b.WriteString(html.EscapeString(it.Title))
		}
		if it.Source != "" {
			b.WriteString(" — " + html.EscapeString(it.Source))
		}
		if it.Lead != "" {
			b.WriteString("<br>" + html.EscapeString(it.Lead))
		}
		b.WriteString("</li>")
	}
	if open {
		b.WriteString("</ul>")
	}
	return b.String()
}
