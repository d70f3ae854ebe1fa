package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/digestbot/digestbot/articles"
)

// articleJSON is an article as the admin API shows it.
type articleJSON struct {
	ID          int64      `json:"id"`
	URL         string     `json:"url,omitempty"`
	GUID        string     `json:"guid,omitempty"`
	FeedID      int64      `json:"feed_id,omitempty"`
	Source      string     `json:"source,omitempty"`
	Title       string     `json:"title"`
	Lead        string     `json:"lead,omitempty"`
	Byline      string     `json:"byline,omitempty"`
	ImageURL    string     `json:"image_url,omitempty"`
	Section     string     `json:"section,omitempty"`
	PublishedAt *time.Time `json:"published_at,omitempty"`
	IngestedAt  *time.Time `json:"ingested_at,omitempty"`
	Pinned      bool       `json:"pinned"`
	Hidden      bool       `json:"hidden"`
	Priority    int        `json:"priority"`
}

func toArticleJSON(a articles.Article) articleJSON {
	return articleJSON{
		ID: a.ID, URL: a.URL, GUID: a.GUID, FeedID: a.FeedID, Source: a.Source,
		Title: a.Title, Lead: a.Lead, Byline: a.Byline, ImageURL: a.ImageURL, Section: a.Section,
		PublishedAt: timePtr(a.PublishedAt), IngestedAt: timePtr(a.IngestedAt),
		Pinned: a.Pinned, Hidden: a.Hidden, Priority: a.Priority,
	}
}

// timePtr makes a zero time (unknown) disappear from the JSON.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// articleIn is the body of POST /api/v1/articles: {url, section}, and
// the page or feed at url is fetched and imported; or an article given in
// full (a title or a lead at least), cleaned like a JSON-lines import.
type articleIn struct {
	URL         string     `json:"url"`
	Section     string     `json:"section"`
	Title       string     `json:"title"`
	Lead        string     `json:"lead"`
	Byline      string     `json:"byline"`
	ImageURL    string     `json:"image_url"`
	Source      string     `json:"source"`
	GUID        string     `json:"guid"`
	PublishedAt *time.Time `json:"published_at"`
}

// createArticle is POST /api/v1/articles; 201 with the stored articles.
func (s *Server) createArticle(w http.ResponseWriter, r *http.Request) error {
	var in articleIn
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.URL != "" && !webURL(in.URL) {
		return errStatus(http.StatusBadRequest, "url must be an absolute http or https URL")
	}
	if in.ImageURL != "" && !webURL(in.ImageURL) {
		return errStatus(http.StatusBadRequest, "image_url must be an absolute http or https URL")
	}
	if err := s.checkSection(in.Section); err != nil {
		return err
	}
	var (
		stored []articles.Article
		err    error
	)
	switch {
	case strings.TrimSpace(in.Title) != "" || strings.TrimSpace(in.Lead) != "":
		stored, err = s.storeArticle(r.Context(), in)
	case in.URL != "":
		if s.importer == nil {
			return errUnavailable
		}
		stored, err = s.importer.Import(r.Context(), in.URL, articles.ImportOptions{Section: in.Section})
		if err != nil {
			return &importError{err}
		}
		if len(stored) == 0 {
			return errStatus(http.StatusUnprocessableEntity, "nothing to import at that URL")
		}
	default:
		return errStatus(http.StatusBadRequest, "give a url to fetch, or an article with a title")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, articleList(stored))
	return nil
}

// storeArticle cleans an article given in full through the JSON-lines
// parser, so it gets exactly the cleaning an import would (markup out of
// the title, a short lead, a canonical URL).
func (s *Server) storeArticle(ctx context.Context, in articleIn) ([]articles.Article, error) {
	line := map[string]string{
		"url": in.URL, "guid": in.GUID, "title": in.Title, "lead": in.Lead, "byline": in.Byline,
		"image_url": in.ImageURL, "section": in.Section, "source": in.Source,
	}
	if in.PublishedAt != nil {
		line["published_at"] = in.PublishedAt.UTC().Format(time.RFC3339)
	}
	b, err := json.Marshal(line)
	if err != nil {
		return nil, err
	}
	arts, err := articles.ParseJSONLines(bytes.NewReader(b), s.now())
	if err != nil {
		return nil, errStatus(http.StatusBadRequest, "article refused: "+strings.TrimPrefix(err.Error(), "articles: json lines: line 1: "))
	}
	stored, _, err := s.store.UpsertArticles(ctx, arts)
	return stored, err
}

func articleList(as []articles.Article) any {
	out := struct {
		Articles []articleJSON `json:"articles"`
	}{Articles: make([]articleJSON, 0, len(as))}
	for _, a := range as {
		out.Articles = append(out.Articles, toArticleJSON(a))
	}
	return out
}

// listArticles is GET /api/v1/articles?limit=N&before=ID: newest first.
func (s *Server) listArticles(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := queryInt(q, "limit", 50, 1, 500)
	if err != nil {
		return err
	}
	before, err := queryInt(q, "before", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	as, err := s.store.ListArticles(r.Context(), int64(before), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, articleList(as))
	return nil
}

// patchArticle is PATCH /api/v1/articles/{id} with an articles.Patch:
// {"pinned": true}, {"hidden": true}, {"priority": 2}, {"section": "World"}.
func (s *Server) patchArticle(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var p articles.Patch
	if err := decodeJSON(w, r, &p); err != nil {
		return err
	}
	if p == (articles.Patch{}) {
		return errStatus(http.StatusBadRequest, "nothing to change: give pinned, hidden, priority or section")
	}
	if p.Section != nil {
		if err := s.checkSection(*p.Section); err != nil {
			return err
		}
	}
	a, err := s.store.UpdateArticle(r.Context(), id, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toArticleJSON(a))
	return nil
}

// checkSection refuses a section newsletter.sections does not list (a
// typo would file the story under the first section).
func (s *Server) checkSection(section string) error {
	if section == "" || len(s.cfg.Sections) == 0 || slices.Contains(s.cfg.Sections, section) {
		return nil
	}
	return errStatus(http.StatusBadRequest, "unknown section "+strconv.Quote(section))
}

func webURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func queryInt(q url.Values, name string, def, lo, hi int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, errStatus(http.StatusBadRequest, name+" must be an integer from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
	}
	return n, nil
}
