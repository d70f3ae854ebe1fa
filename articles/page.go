package articles

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

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

	// The page's declared descriptions, in order of trust.
	decl := []string{m.get("og:description"), m.get("description"), m.ld.description, m.get("twitter:description")}
	removeFurniture(doc)
	// The declared body comes first: JSON-LD articleBody, then the
	// element marked itemprop=articleBody. Both are read before
	// readability, which rewrites the document.
	body := c.ldBody(m.ld.body)
	if !hasProse(body) {
		body = nil
		if n := findItemprop(doc, "articlebody"); n != nil {
			body = c.nodeBody(n)
		}
		if !hasProse(body) {
			body = nil
		}
	}
	var pu *url.URL
	if base != "" {
		pu, _ = url.Parse(base)
	}
	ps := readability.NewParser()
	ps.MaxElemsToParse = maxPageElements
	ps.KeepClasses = true // caption and furniture hints survive to splitBlocks
	art, rerr := ps.ParseAndMutate(doc, pu)
	if rerr == nil && art.Node != nil {
		if body == nil {
			body = c.nodeBody(art.Node)
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
	body = trimLeadIn(body, []string{a.Title, NormalizeText(m.h1), NormalizeText(m.ld.headline)})
	a.Lead = pageLead(body, decl)
	if a.Lead == "" {
		a.Lead = TextLead(firstNonEmpty(decl...))
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
	body                                                                     string // articleBody, as declared (text or escaped HTML)
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
			// An @graph lists the page's objects; a WebPage names its
			// article as mainEntity.
			for _, k := range []string{"@graph", "mainEntity"} {
				if g, ok := t[k]; ok {
					if o := find(g, depth+1); o != nil {
						return o
					}
				}
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
		body:        ldString(o["articleBody"]),
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

// Story-opening signals. A story opens with a paragraph that says
// something whole: a wire dateline ("SEOUL —"), or a sentence-ending
// paragraph of at least minLeadWords words that is mostly not link text.
// Kickers, bylines, dates, counters ("23"), short captions, video player
// labels and "Read more: …" lines all fail that test; so does a standfirst
// that repeats the page's declared description, unless it is as long as a
// story's first paragraph usually is (then it is the first paragraph: many
// outlets declare it as the description).
const (
	minLeadWords = 12
	minDekWords  = 25
	// maxLinkShare is the share of a paragraph's text inside links above
	// which it is navigation ("Related: <a>…</a>"), not story.
	maxLinkShare = 0.5
	// leadInScan is how many leading paragraphs may be headline copies.
	leadInScan = 8
	// maxLeadIn is the longest run of header text (a headline and a
	// counter run into one block) cut before a dateline.
	maxLeadIn = 200
)

// datelineInRe finds a wire dateline inside a paragraph, after header text
// that ran into it: "Kim fires missiles 23 SEOUL — North Korean …".
var datelineInRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\s(` + strings.TrimPrefix(datelineRe().String(), "^") + `)`)
})

// ldBody turns a JSON-LD articleBody into paragraphs. Publishers put plain
// text there (paragraphs at line breaks), HTML, or HTML escaped once more
// ("&lt;p&gt;"); entities are decoded either way.
func (c *Cleaner) ldBody(s string) []para {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if strings.Contains(s, "&lt;") {
		s = html.UnescapeString(s)
	}
	if looksLikeMarkup(s) {
		return cleanBody(c.htmlParagraphs(s))
	}
	return cleanBody(plainParagraphs(html.UnescapeString(s)))
}

// nodeBody is the cleaned body paragraphs of the subtree at n.
func (c *Cleaner) nodeBody(n *html.Node) []para {
	var buf bytes.Buffer
	if err := html.Render(&buf, n); err != nil {
		return nil
	}
	return cleanBody(c.htmlParagraphs(buf.String()))
}

// looksLikeMarkup reports text with block or line-break tags in it (not
// merely a "<" in prose).
func looksLikeMarkup(s string) bool {
	l := strings.ToLower(s)
	for _, tag := range []string{"<p>", "<p ", "</p>", "<br", "<div", "</div>", "<h2", "<ul", "<li"} {
		if strings.Contains(l, tag) {
			return true
		}
	}
	return false
}

// findItemprop returns the first element whose itemprop lists prop
// (lower case), outside any nested item of another kind's properties.
func findItemprop(n *html.Node, prop string) *html.Node {
	if n.Type == html.ElementNode && hasToken(attr(n, "itemprop"), prop) {
		return n
	}
	for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
		if f := findItemprop(ch, prop); f != nil {
			return f
		}
	}
	return nil
}

// hasProse reports whether body holds a paragraph a story could open with.
func hasProse(body []para) bool {
	return slices.ContainsFunc(body, func(p para) bool { return isOpening(p, nil) })
}

// isOpening reports whether p can be a story's first paragraph: see the
// story-opening signals above. decl are the page's declared descriptions.
func isOpening(p para, decl []string) bool {
	if p.caption || !endsSentence(p.text) || linkShare(p) > maxLinkShare {
		return false
	}
	if datelineRe().MatchString(p.text) {
		return true
	}
	words := wordCount(p.text)
	if words < minLeadWords {
		return false
	}
	return words >= minDekWords || !matchesAny(p.text, decl)
}

func linkShare(p para) float64 {
	n := utf8.RuneCountInString(p.text)
	if n == 0 {
		return 0
	}
	return float64(p.links) / float64(n)
}

// wordCount counts words; text written without spaces (Chinese, Japanese)
// counts one word per two characters.
func wordCount(s string) int {
	n := len(strings.Fields(s))
	if r := utf8.RuneCountInString(s) / 2; n <= 3 && r > n {
		return r
	}
	return n
}

// sameText compares two texts as a reader would: case, spacing and
// closing punctuation aside.
func sameText(a, b string) bool {
	trim := func(s string) string {
		return strings.TrimRightFunc(NormalizeText(s), func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSpace(r) })
	}
	a, b = trim(a), trim(b)
	return a != "" && strings.EqualFold(a, b)
}

func matchesAny(s string, cands []string) bool {
	for _, c := range cands {
		if sameText(s, c) {
			return true
		}
	}
	return false
}

// trimLeadIn removes copies of the headline from the top of a body: a
// paragraph that is the headline, a headline that opens a paragraph
// ("Headline. SEOUL — …" in an articleBody), and header text (headline,
// counter, date) run into the paragraph before its wire dateline.
func trimLeadIn(body []para, titles []string) []para {
	out := make([]para, 0, len(body))
	for i, p := range body {
		if i >= leadInScan {
			out = append(out, body[i:]...)
			break
		}
		if matchesAny(p.text, titles) {
			continue
		}
		for _, t := range titles {
			if t == "" || len(p.text) <= len(t) || !strings.EqualFold(p.text[:len(t)], t) {
				continue
			}
			rest := strings.TrimLeftFunc(p.text[len(t):], func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSpace(r) })
			if r, _ := utf8.DecodeRuneInString(rest); rest != "" && !unicode.IsLower(r) {
				p.text = rest // the headline ran into the text: a new sentence follows
				p.links = 0
				break
			}
		}
		if matchesAny(p.text, titles) {
			continue // the headline twice over
		}
		if !datelineRe().MatchString(p.text) {
			if loc := datelineInRe().FindStringSubmatchIndex(p.text); loc != nil {
				head := p.text[:loc[2]]
				if utf8.RuneCountInString(head) <= maxLeadIn && !strings.ContainsFunc(head, isTerminator) {
					p.text = p.text[loc[2]:]
					p.links = 0
				}
			}
		}
		out = append(out, p)
	}
	return out
}

// pageLead builds a page's lead: whole sentences from the first paragraph
// that opens the story (see isOpening) and the story paragraphs after it;
// captions, pull quotes and link lines are passed over. Without any
// opening paragraph the body is taken as it is.
func pageLead(body []para, decl []string) string {
	for i, p := range body {
		if !isOpening(p, decl) {
			continue
		}
		rest := make([]para, 0, len(body)-i)
		for _, q := range body[i:] {
			if !q.caption && linkShare(q) <= maxLinkShare {
				rest = append(rest, q)
			}
		}
		return leadOf(rest)
	}
	return leadOf(body)
}
