package articles

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	readability "codeberg.org/readeck/go-readability/v2"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/net/html/charset"
)

// ErrNoTitle is wrapped when a page or text has nothing to use as a title.
var ErrNoTitle = errors.New("no title")

// maxPageElements bounds readability's work on a pathological page.
const maxPageElements = 50000

// ExtractPage reads an article page (HTML) fetched from pageURL ("" when it
// came from a file) into an article.
//
// Metadata comes from what the publisher declares, in order: Open Graph and
// article: meta, <meta name=author>, <link rel=canonical>, JSON-LD
// (schema.org NewsArticle and friends), then the document itself (<title>,
// <h1>, <time>) and readability's guesses. The URL is the declared canonical
// URL (link rel=canonical, og:url, JSON-LD url), canonicalized, else
// pageURL: that is what makes a page and its feed item one article.
//
// The lead is taken from the story's body, found by readability after page
// furniture (cookie banners, nav, header/footer, asides, forms, ad slots,
// sign-up boxes, related links, hidden copies) is removed; it is cleaned as
// any other text (captions and promos out). Without a usable body the page's
// description is the lead.
func ExtractPage(data []byte, pageURL string, now time.Time) (Article, error) {
	a, _, err := NewCleaner().extractPage(data, pageURL, now)
	return a, err
}

// extractPage is ExtractPage that also returns the body paragraphs.
func (c *Cleaner) extractPage(data []byte, pageURL string, now time.Time) (Article, []string, error) {
	fail := func(err error) (Article, []string, error) {
		if pageURL != "" {
			return Article{}, nil, fmt.Errorf("articles: extract page %q: %w", pageURL, err)
		}
		return Article{}, nil, fmt.Errorf("articles: extract page: %w", err)
	}
	r, err := charset.NewReader(bytes.NewReader(data), "")
	if err != nil {
		return fail(err)
	}
	doc, err := html.Parse(r)
	if err != nil {
		return fail(err)
	}
	m := collectMeta(doc)

	base := ""
	if u, err := CanonicalURL(pageURL); err == nil {
		base = u
	}
	a := Article{IngestedAt: now}
	for _, cand := range []string{m.canonical, m.get("og:url"), m.ld.url, pageURL} {
		if cand == "" {
			continue
		}
		if u, err := ResolveURL(base, cand); err == nil {
			a.URL = u
			break
		}
	}
	if base == "" {
		base = a.URL // relative images resolve against the declared URL
	}

	a.Title = NormalizeText(firstNonEmpty(m.get("og:title"), m.ld.headline, m.get("twitter:title"), trimSiteName(m.title, m.get("og:site_name")), m.h1))
	a.Source = NormalizeText(firstNonEmpty(m.get("og:site_name"), m.ld.publisher))
	a.Section = NormalizeText(firstNonEmpty(m.get("article:section"), m.ld.section))
	if a.Source == "" && a.URL != "" {
		// Readers need an outlet name ("Also in …"); the host is the one
		// every page has.
		if u, err := url.Parse(a.URL); err == nil {
			a.Source = strings.TrimPrefix(u.Hostname(), "www.")
		}
	}

	for _, cand := range []string{m.get("author"), m.ld.author, m.get("article:author"), m.get("byl"), m.get("parsely-author")} {
		if cand == "" || looksLikeURL(cand) {
			continue // article:author is often a profile URL, not a name
		}
		a.Byline = cleanByline(cand)
		break
	}
	for _, cand := range []string{m.get("og:image"), m.get("og:image:url"), m.get("og:image:secure_url"), m.get("twitter:image"), m.ld.image} {
		if cand == "" {
			continue
		}
		if u, err := ResolveURL(base, cand); err == nil {
			a.ImageURL = u
			break
		}
	}
	for _, cand := range []string{m.get("article:published_time"), m.ld.published, m.get("datepublished"), m.get("pubdate"), m.get("publish-date"), m.get("parsely-pub-date"), m.get("date"), m.timeTag} {
		if t := parseDateLenient(cand); !t.IsZero() {
			a.PublishedAt = clampDate(t, now)
			break
		}
	}

	removeFurniture(doc)
	var pu *url.URL
	if base != "" {
		pu, _ = url.Parse(base)
	}
	ps := readability.NewParser()
	ps.MaxElemsToParse = maxPageElements
	art, rerr := ps.ParseAndMutate(doc, pu)
	var body []para
	if rerr == nil && art.Node != nil {
		var buf bytes.Buffer
		if err := html.Render(&buf, art.Node); err == nil {
			body = cleanBody(c.htmlParagraphs(buf.String()))
		}
		if a.Byline == "" {
			a.Byline = cleanByline(art.Byline())
		}
		if a.PublishedAt.IsZero() {
			if t, err := art.PublishedTime(); err == nil {
				a.PublishedAt = clampDate(t, now)
			}
		}
		if a.Title == "" {
			a.Title = NormalizeText(art.Title())
		}
	}
	// The headline often opens the extracted body; it is not the lead.
	for len(body) > 0 && body[0].text == a.Title {
		body = body[1:]
	}
	a.Lead = leadOf(body)
	if a.Lead == "" {
		desc := firstNonEmpty(m.get("og:description"), m.get("description"), m.ld.description, m.get("twitter:description"))
		a.Lead = TextLead(desc)
	}
	if a.Title == "" {
		a.Title = FirstSentence(a.Lead)
	}
	if a.Title == "" {
		return fail(ErrNoTitle)
	}
	a.ContentHash = contentHash(a.Title, a.Lead)
	return a, texts(body), nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

func looksLikeURL(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "/")
}

// trimSiteName drops " | Site" or " - Site" from a <title>.
func trimSiteName(title, site string) string {
	title = NormalizeText(title)
	for _, sep := range []string{" | ", " – ", " — ", " - "} {
		if i := strings.LastIndex(title, sep); i > 0 {
			tail := title[i+len(sep):]
			if site == "" || strings.EqualFold(tail, NormalizeText(site)) || len(tail) < len(title)/3 {
				return title[:i]
			}
		}
	}
	return title
}

// pageMeta is what a page declares about itself.
type pageMeta struct {
	meta      map[string]string // first value per lower-case property/name/itemprop
	canonical string
	title     string
	h1        string
	timeTag   string
	ld        ldArticle
}

func (m *pageMeta) get(k string) string { return m.meta[k] }

// ldArticle holds the schema.org Article fields digestbot uses.
type ldArticle struct {
	headline, description, url, author, image, published, section, publisher string
}

func collectMeta(doc *html.Node) pageMeta {
	m := pageMeta{meta: map[string]string{}}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Meta:
				key := strings.ToLower(firstNonEmpty(attr(n, "property"), attr(n, "name"), attr(n, "itemprop")))
				val := attr(n, "content")
				if key != "" && val != "" {
					if _, ok := m.meta[key]; !ok {
						m.meta[key] = val
					}
				}
			case atom.Link:
				if m.canonical == "" && hasToken(attr(n, "rel"), "canonical") {
					m.canonical = attr(n, "href")
				}
			case atom.Title:
				if m.title == "" && !inSVG(n) {
					m.title = textOf(n)
				}
			case atom.H1:
				if m.h1 == "" {
					m.h1 = textOf(n)
				}
			case atom.Time:
				if m.timeTag == "" {
					m.timeTag = attr(n, "datetime")
				}
			case atom.Script:
				if strings.Contains(strings.ToLower(attr(n, "type")), "ld+json") && m.ld.headline == "" {
					if ld, ok := parseLD(textOf(n)); ok {
						m.ld = ld
					}
				}
			}
		}
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			walk(ch)
		}
	}
	walk(doc)
	return m
}

func inSVG(n *html.Node) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		if p.DataAtom == atom.Svg {
			return true
		}
	}
	return false
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && strings.EqualFold(a.Key, key) {
			return strings.TrimSpace(a.Val)
		}
	}
	return ""
}

func hasToken(list, tok string) bool {
	for _, f := range strings.Fields(strings.ToLower(list)) {
		if f == tok {
			return true
		}
	}
	return false
}

// textOf is the text content of n (no rendering rules: for metadata).
func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			walk(ch)
		}
	}
	walk(n)
	return b.String()
}

// parseLD finds the first schema.org article object in a JSON-LD block
// (a single object, an array, or an @graph).
func parseLD(s string) (ldArticle, bool) {
	var v any
	if err := json.Unmarshal([]byte(strings.TrimSpace(s)), &v); err != nil {
		return ldArticle{}, false
	}
	var find func(v any, depth int) map[string]any
	find = func(v any, depth int) map[string]any {
		if depth > 4 {
			return nil
		}
		switch t := v.(type) {
		case []any:
			for _, e := range t {
				if o := find(e, depth+1); o != nil {
					return o
				}
			}
		case map[string]any:
			if isArticleType(t["@type"]) {
				return t
			}
			if g, ok := t["@graph"]; ok {
				return find(g, depth+1)
			}
		}
		return nil
	}
	o := find(v, 0)
	if o == nil {
		return ldArticle{}, false
	}
	ld := ldArticle{
		headline:    ldString(o["headline"]),
		description: ldString(o["description"]),
		url:         ldString(o["url"]),
		author:      ldNames(o["author"]),
		image:       ldURL(o["image"]),
		published:   ldString(o["datePublished"]),
		section:     ldString(o["articleSection"]),
		publisher:   ldNames(o["publisher"]),
	}
	if ld.headline == "" {
		ld.headline = ldString(o["name"])
	}
	if ld.url == "" {
		ld.url = ldURL(o["mainEntityOfPage"])
	}
	return ld, true
}

func isArticleType(t any) bool {
	switch v := t.(type) {
	case string:
		return strings.HasSuffix(v, "Article") || v == "BlogPosting" || v == "Report" || v == "LiveBlogPosting"
	case []any:
		for _, e := range v {
			if isArticleType(e) {
				return true
			}
		}
	}
	return false
}

func ldString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case []any:
		if len(t) > 0 {
			return ldString(t[0])
		}
	}
	return ""
}

func ldURL(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case []any:
		if len(t) > 0 {
			return ldURL(t[0])
		}
	case map[string]any:
		return firstNonEmpty(ldString(t["url"]), ldString(t["@id"]), ldString(t["contentUrl"]))
	}
	return ""
}

func ldNames(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case map[string]any:
		return ldString(t["name"])
	case []any:
		var names []string
		for _, e := range t {
			if n := NormalizeText(ldNames(e)); n != "" {
				names = append(names, n)
			}
		}
		return joinNames(names)
	}
	return ""
}

// furnitureTags never hold the story.
var furnitureTags = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true,
	atom.Iframe: true, atom.Svg: true, atom.Form: true, atom.Button: true, atom.Select: true,
	atom.Textarea: true, atom.Nav: true, atom.Header: true, atom.Footer: true, atom.Aside: true,
	atom.Dialog: true, atom.Object: true, atom.Embed: true,
}

// furnitureRoles are ARIA landmark roles of page furniture.
var furnitureRoles = map[string]bool{
	"dialog": true, "alertdialog": true, "navigation": true, "banner": true,
	"contentinfo": true, "complementary": true, "search": true,
}

// removeFurniture deletes page furniture from the body before readability
// scores it: readability keeps a cookie banner or a sign-up box when it
// sits next to the story. A furniture-looking element that holds most of
// the page's text is kept: a class name alone must not delete the story.
func removeFurniture(doc *html.Node) {
	// Text lengths of every subtree, in one pass: measuring each candidate
	// separately would be quadratic on a deeply nested hostile page.
	lengths := map[*html.Node]int{}
	var measure func(*html.Node) int
	measure = func(n *html.Node) int {
		l := 0
		if n.Type == html.TextNode {
			l = len(strings.TrimSpace(n.Data))
		}
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			l += measure(ch)
		}
		lengths[n] = l
		return l
	}
	total := measure(doc)
	var doomed []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.DataAtom != atom.Html && n.DataAtom != atom.Body && n.DataAtom != atom.Head && isFurniture(n) {
			if l := lengths[n]; n.DataAtom == atom.Script || n.DataAtom == atom.Style || l < 2000 || l < total/4 {
				doomed = append(doomed, n)
				return
			}
		}
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			walk(ch)
		}
	}
	walk(doc)
	for _, n := range doomed {
		if n.Parent != nil {
			n.Parent.RemoveChild(n)
		}
	}
}

func isFurniture(n *html.Node) bool {
	if n.Parent != nil && n.Parent.DataAtom == atom.Head {
		return false // metadata already read; readability wants <title>
	}
	if furnitureTags[n.DataAtom] {
		// JSON-LD was read by collectMeta; every script goes.
		return true
	}
	if strings.EqualFold(attr(n, "aria-hidden"), "true") || hasAttr(n, "hidden") {
		return true
	}
	if furnitureRoles[strings.ToLower(attr(n, "role"))] {
		return true
	}
	if s := strings.ToLower(strings.ReplaceAll(attr(n, "style"), " ", "")); strings.Contains(s, "display:none") || strings.Contains(s, "visibility:hidden") {
		return true
	}
	return boilerplateHint(attr(n, "class")) || boilerplateHint(attr(n, "id"))
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if strings.EqualFold(a.Key, key) {
			return true
		}
	}
	return false
}
