package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/digestbot/digestbot/subscribers"
)

//go:embed templates static
var assets embed.FS

// pages holds one parsed template set per page: the layout, the shared
// partials and the page's own "title" and "content".
type pages map[string]*template.Template

var pageNames = []string{"signup", "check", "confirm", "confirmed", "unsubscribe", "preferences", "archive", "error"}

func parsePages() (pages, []byte, error) {
	css, err := assets.ReadFile("static/style.css")
	if err != nil {
		return nil, nil, fmt.Errorf("web: %w", err)
	}
	p := make(pages, len(pageNames))
	for _, name := range pageNames {
		t, err := template.ParseFS(assets, "templates/layout.html", "templates/sections.html", "templates/"+name+".html")
		if err != nil {
			return nil, nil, fmt.Errorf("web: parse template %s: %w", name, err)
		}
		p[name] = t
	}
	return p, css, nil
}

// view is the data of every page; each page uses the fields it needs.
type view struct {
	Lang, Newsletter, PostalAddress string

	CSRF         string
	Email        string // signup: the address typed, refilled after an error
	Error        string // a message for the reader (escaped by the template)
	Notice       string
	Heading      string
	Sections     []sectionBox
	SectionsHint string
	// Letters are the newsletter checkboxes (only with several).
	Letters []letterBox
	// Leaving is the title of the one letter an unsubscribe link leaves
	// (its ?newsletter=), LeaveSlug its slug; "" is every letter.
	Leaving, LeaveSlug string
	// Archive is the path of the archive shown: /archive or /archive/{slug}.
	Archive string

	Sub                          subscribers.Subscription
	Active                       bool
	Token, PrefToken, UnsubToken string

	Editions []archiveEntry

	// Preferences: the delivery hour ("" for the newsletter's schedule)
	// and time zone.
	Hours    []hourOption
	Zone     string
	Schedule string
}

type hourOption struct {
	Value, Label string
	Selected     bool
}

// hourOptions are the choices of the delivery hour, selected as chosen
// says ("" the newsletter's schedule).
func hourOptions(chosen string) []hourOption {
	out := []hourOption{{Value: "", Label: "With the newsletter", Selected: chosen == ""}}
	for h := range 24 {
		v := strconv.Itoa(h)
		out = append(out, hourOption{Value: v, Label: fmt.Sprintf("%02d:00", h), Selected: chosen == v})
	}
	return out
}

type sectionBox struct {
	Name    string
	Checked bool
}

type letterBox struct {
	Slug, Title string
	Checked     bool
}

// several reports whether the instance has more than one newsletter.
func (s *Server) several() bool { return len(s.cfg.Letters) > 1 }

// letterBoxes are the newsletter checkboxes, ticked as gets says; none
// with one newsletter.
func (s *Server) letterBoxes(gets func(slug string) bool) []letterBox {
	if !s.several() {
		return nil
	}
	out := make([]letterBox, len(s.cfg.Letters))
	for i, l := range s.cfg.Letters {
		out[i] = letterBox{Slug: l.Slug, Title: l.Title, Checked: gets(l.Slug)}
	}
	return out
}

// letter returns the newsletter slug names.
func (s *Server) letter(slug string) (Letter, bool) {
	for _, l := range s.cfg.Letters {
		if l.Slug == slug {
			return l, true
		}
	}
	return Letter{}, false
}

func (s *Server) view() view {
	return view{Lang: s.cfg.Lang, Newsletter: s.cfg.Title, PostalAddress: s.cfg.PostalAddress}
}

// formView is the view of a page with a form and the section checkboxes
// (signup, preferences): a CSRF token, and the sections that wants reports
// as chosen ticked, under hint.
func (s *Server) formView(w http.ResponseWriter, r *http.Request, hint string, wants func(string) bool) view {
	v := s.view()
	v.CSRF = s.csrf.token(w, r)
	v.Sections = make([]sectionBox, len(s.cfg.Sections))
	for i, name := range s.cfg.Sections {
		v.Sections[i] = sectionBox{Name: name, Checked: wants(name)}
	}
	v.SectionsHint = hint
	return v
}

// render writes page with status. It renders into a buffer first so that a
// template error becomes a clean 500, not half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		s.log.ErrorContext(r.Context(), "render page", slog.String("page", name), slog.Any("error", err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// pageHandler serves a reader page; a returned error becomes an error page.
type pageHandler func(w http.ResponseWriter, r *http.Request) error

func (s *Server) page(h pageHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Pages may show an address or carry a token: never cache them
		// in a shared cache.
		w.Header().Set("Cache-Control", "no-store")
		if err := h(w, r); err != nil {
			s.errorPage(w, r, err)
		}
	})
}

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := statusOf(err)
	s.logError(r, status, err)
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(int(s.cfg.RateEvery.Seconds()+0.5)))
	}
	v := s.view()
	v.Heading, v.Error = heading(status), msg
	s.render(w, r, status, "error", v)
}

// logError logs server-side failures in full and client mistakes briefly.
// The route pattern is logged, never the path: paths carry tokens.
func (s *Server) logError(r *http.Request, status int, err error) {
	attrs := []slog.Attr{slog.String("route", r.Pattern), slog.Int("status", status), slog.Any("error", err)}
	if status >= 500 {
		s.log.LogAttrs(r.Context(), slog.LevelError, "request failed", attrs...)
		return
	}
	s.log.LogAttrs(r.Context(), slog.LevelDebug, "request refused", attrs...)
}

// stylesheet is GET /static/style.css: a file, not inline styles, so the
// pages' CSP can refuse every inline style and script.
func (s *Server) tzScript(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(s.tzJS)
}

func (s *Server) stylesheet(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(s.css)
}
