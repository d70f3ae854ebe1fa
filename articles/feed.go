package articles

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/itlightning/dateparse"
	"github.com/mmcdole/gofeed"
	gfatom "github.com/mmcdole/gofeed/atom"
	gfjson "github.com/mmcdole/gofeed/json"
	gfrss "github.com/mmcdole/gofeed/rss"
	"golang.org/x/net/html/charset"
)

// ErrNotFeed is wrapped when the input is not RSS, Atom or JSON Feed.
var ErrNotFeed = errors.New("not an RSS, Atom or JSON feed")

// feedParseError is a document that is not a readable feed; its message
// names the feed.
type feedParseError struct {
	feed string
	err  error
}

func (e *feedParseError) Error() string {
	if e.feed == "" {
		return "articles: parse feed: " + e.err.Error()
	}
	return fmt.Sprintf("articles: parse feed %q: %v", e.feed, e.err)
}

func (e *feedParseError) Unwrap() error { return e.err }

// FeedResult is what one feed document yields.
type FeedResult struct {
	Title    string // the feed's own title, plain text
	Articles []Article
	Skipped  []Skipped // items left out, each with its reason
}

// Skipped names an item that was not turned into an article, and why.
type Skipped struct {
	GUID   string
	Title  string
	Reason string
}

// ParseFeed parses an RSS, Atom or JSON Feed document into clean articles
// (see ParseFeedResult).
func ParseFeed(data []byte, f Feed, now time.Time) ([]Article, error) {
	res, err := ParseFeedResult(data, f, now)
	return res.Articles, err
}

// ParseFeedResult parses a feed document fetched for f (f.URL resolves
// relative links; f.Name, when set, is the Source; f.Section is the section
// of items without a category; f.ID becomes FeedID).
//
// XML feeds must be well-formed: gofeed recovers from broken XML and would
// hand back half-parsed items, so the document is checked with a strict
// decoder first and a broken one is refused whole, with the decoder's
// message and line, and nothing returned.
//
// Field rules:
//   - GUID: RSS guid, Atom id, JSON Feed id. A GUID repeated in the document
//     yields one article (the first).
//   - URL: the item link, else a permalink guid, else another link, resolved
//     against the feed URL and canonicalized; a link that is not http(s)
//     (javascript:, data:, …) is dropped, never stored.
//   - Title: plain text. Markup is removed from every item title, whatever
//     the format declares (SPEC §4; see Cleaner.Title), and renderers escape
//     what remains. An empty title falls back to the first sentence of the
//     text; with no text either, the item is skipped.
//   - Lead: from the full content (content:encoded, Atom content, JSON
//     content_html/content_text), else the description/summary.
//   - Section: the first category (Atom: its term), else f.Section.
//   - PublishedAt: UTC; unparseable dates are parsed leniently or left zero;
//     dates after now are clamped to now.
//
// An item with neither a GUID nor a usable link cannot be deduplicated and
// is skipped.
func ParseFeedResult(data []byte, f Feed, now time.Time) (FeedResult, error) {
	fail := func(err error) (FeedResult, error) {
		return FeedResult{}, &feedParseError{feed: feedName(f), err: err}
	}
	// A byte order mark is no content; JSON decoders refuse it.
	data = bytes.TrimPrefix(bytes.TrimLeft(data, " \t\r\n"), utf8BOM)

	// The strict check runs beside gofeed's parse: it doubles the XML work
	// but not the wall time when a second core is free.
	type checked struct {
		types []entryTypes
		err   error
	}
	var check chan checked
	if trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff"); len(trimmed) > 0 && trimmed[0] == '<' {
		check = make(chan checked, 1)
		go func() {
			types, err := checkXML(data)
			check <- checked{types, err}
		}()
	}

	p := gofeed.NewParser()
	p.KeepOriginalFeed = true
	// An <img> in the item's HTML is as often a tracking pixel or an ad as
	// the story's photo; only declared images (media:, enclosure) count.
	p.RSSTranslator = &gofeed.DefaultRSSTranslator{DisableContentImageScan: true}
	gf, err := p.Parse(bytes.NewReader(data))
	var atomTypes []entryTypes
	if check != nil {
		r := <-check
		if r.err != nil {
			return fail(r.err) // the strict decoder's message is the clear one
		}
		atomTypes = r.types
	}
	if err != nil {
		if errors.Is(err, gofeed.ErrFeedTypeNotDetected) {
			return fail(ErrNotFeed)
		}
		return fail(err)
	}

	c := NewCleaner()
	res := FeedResult{Title: NormalizeText(gf.Title)}
	source := f.Name
	if source == "" {
		source = res.Title
	}
	base := feedBase(f.URL, gf.Link)

	var (
		rssItems  []*gfrss.Item
		atomItems []*gfatom.Entry
		jsonItems []*gfjson.Item
	)
	switch o := gf.OriginalFeed().(type) {
	case *gfrss.Feed:
		rssItems = o.Items
	case *gfatom.Feed:
		atomItems = o.Entries
	case *gfjson.Feed:
		jsonItems = o.Items
	}

	srcs := make([]itemSource, len(gf.Items))
	for i, it := range gf.Items {
		src := itemSource{item: it, contentHTML: true, summaryHTML: true}
		switch {
		case i < len(rssItems):
			if g := rssItems[i].GUID; g != nil && !strings.EqualFold(strings.TrimSpace(g.IsPermalink), "false") {
				src.permalinkGUID = g.Value
			}
		case i < len(atomItems):
			if cats := atomItems[i].Categories; len(cats) > 0 {
				src.section = cats[0].Term
				if src.section == "" {
					src.section = cats[0].Label
				}
			}
			if i < len(atomTypes) {
				t := atomTypes[i]
				src.summaryHTML = isMarkupType(t.summary)
				src.contentHTML = t.content == "" || isMarkupType(t.content)
			}
		case i < len(jsonItems):
			// JSON Feed 1.1: title and summary are plain text, content_text
			// is plain text, only content_html is HTML.
			src.summaryHTML = false
			src.contentHTML = jsonItems[i].ContentHTML != ""
		}
		srcs[i] = src
	}
	built := c.feedArticles(srcs, base, now)

	seen := make(map[string]bool, len(gf.Items))
	res.Articles = make([]Article, 0, len(gf.Items))
	for i, b := range built {
		a := b.article
		if b.reason != "" {
			it := gf.Items[i]
			res.Skipped = append(res.Skipped, Skipped{GUID: it.GUID, Title: NormalizeText(it.Title), Reason: b.reason})
			continue
		}
		key := "g:" + a.GUID
		if a.GUID == "" {
			key = "u:" + a.URL
		}
		if seen[key] {
			res.Skipped = append(res.Skipped, Skipped{GUID: a.GUID, Title: a.Title, Reason: "duplicate guid in the same feed"})
			continue
		}
		seen[key] = true
		a.FeedID = f.ID
		a.Source = source
		if a.Section == "" {
			a.Section = f.Section
		}
		res.Articles = append(res.Articles, a)
	}
	return res, nil
}

// feedBase is what relative item links resolve against (xml:base, when
// the feed has it, gofeed has already applied): the site's own address, the
// feed's <link> (resolved against the feed URL), as feed readers do, since
// the feed document often lives elsewhere (a feed host, /feeds/rss.xml);
// else the feed URL.
func feedBase(feedURL, siteLink string) string {
	if strings.TrimSpace(siteLink) != "" {
		if u, err := ResolveURL(feedURL, siteLink); err == nil {
			return u
		}
	}
	if _, err := CanonicalURL(feedURL); err == nil {
		return feedURL
	}
	return ""
}

// builtItem is one item's article, or why it has none.
type builtItem struct {
	article Article
	reason  string
}

// itemsPerWorker is the least work worth a goroutine of its own.
const itemsPerWorker = 64

// feedArticles cleans the items on every core: items are independent, and
// the cleaning is a third of ingestion's CPU time. The result is in item
// order, the same as a sequential run.
func (c *Cleaner) feedArticles(srcs []itemSource, base string, now time.Time) []builtItem {
	out := make([]builtItem, len(srcs))
	workers := min(runtime.GOMAXPROCS(0), 8, (len(srcs)+itemsPerWorker-1)/itemsPerWorker)
	if workers <= 1 {
		for i, s := range srcs {
			out[i].article, out[i].reason = c.feedArticle(s, base, now)
		}
		return out
	}
	var wg sync.WaitGroup
	chunk := (len(srcs) + workers - 1) / workers
	for lo := 0; lo < len(srcs); lo += chunk {
		hi := min(lo+chunk, len(srcs))
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				out[i].article, out[i].reason = c.feedArticle(srcs[i], base, now)
			}
		})
	}
	wg.Wait()
	return out
}

// itemSource is one gofeed item plus what only the format-specific
// original tells: which fields are markup, the Atom category term, whether
// an RSS guid is a permalink.
type itemSource struct {
	item          *gofeed.Item
	summaryHTML   bool
	contentHTML   bool
	permalinkGUID string
	section       string
}

func isMarkupType(t string) bool {
	t = strings.ToLower(strings.TrimSpace(t))
	return t == "html" || strings.Contains(t, "xhtml") || t == "text/html"
}

// feedArticle builds one article, or says why the item is skipped.
func (c *Cleaner) feedArticle(src itemSource, base string, now time.Time) (Article, string) {
	it := src.item
	a := Article{
		GUID:       strings.TrimSpace(it.GUID),
		IngestedAt: now,
	}

	// Link: the item's link, a permalink guid, then any other link.
	cands := make([]string, 0, 2+len(it.Links))
	cands = append(cands, it.Link, src.permalinkGUID)
	cands = append(cands, it.Links...)
	for _, l := range cands {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if u, err := ResolveURL(base, l); err == nil {
			a.URL = u
			break
		}
	}

	var lead string
	if it.Content != "" {
		lead = c.leadOf(it.Content, src.contentHTML)
	}
	if lead == "" && it.Description != "" {
		lead = c.leadOf(it.Description, src.summaryHTML)
	}
	a.Lead = lead

	// SPEC §4: titles are plain text; markup in a feed title is removed,
	// whatever the format says the title is (RSS titles carry escaped HTML
	// as often as not), and renderers escape what remains.
	a.Title = c.Title(it.Title)
	if a.Title == "" {
		a.Title = FirstSentence(lead)
	}
	if a.Title == "" {
		return a, "no title and no text"
	}
	if a.GUID == "" && a.URL == "" {
		return a, "no guid and no usable link"
	}

	a.Byline = bylineOf(it.Authors)
	a.ImageURL = imageOf(it, base)
	section := src.section
	if section == "" && len(it.Categories) > 0 {
		section = it.Categories[0]
	}
	a.Section = NormalizeText(section)
	a.PublishedAt = publishedOf(it, now)
	a.ContentHash = contentHash(a.Title, a.Lead)
	return a, ""
}

func (c *Cleaner) leadOf(s string, isHTML bool) string {
	if isHTML {
		return c.Lead(s)
	}
	return TextLead(s)
}

// bylineOf joins author names the way a byline reads: "A", "A and B",
// "A, B and C". E-mail addresses alone are not a byline.
func bylineOf(people []*gofeed.Person) string {
	names := make([]string, 0, len(people))
	for _, p := range people {
		if p == nil {
			continue
		}
		if n := cleanByline(p.Name); n != "" {
			names = append(names, n)
		}
	}
	return joinNames(names)
}

func joinNames(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// cleanByline normalizes a byline and drops a leading "By".
func cleanByline(s string) string {
	s = NormalizeText(s)
	if len(s) > 3 && strings.EqualFold(s[:3], "by ") {
		s = strings.TrimSpace(s[3:])
	}
	return s
}

// imageOf picks the item's image: the one gofeed found (media:content,
// image enclosure, itunes:image, first <img>), else an image enclosure
// (Atom), else media:thumbnail. Only http(s) URLs are kept.
func imageOf(it *gofeed.Item, base string) string {
	var cands []string
	if it.Image != nil {
		cands = append(cands, it.Image.URL)
	}
	for _, e := range it.Enclosures {
		if e != nil && strings.HasPrefix(strings.ToLower(e.Type), "image/") {
			cands = append(cands, e.URL)
		}
	}
	if media, ok := it.Extensions["media"]; ok {
		for _, t := range media["thumbnail"] {
			cands = append(cands, t.Attrs["url"])
		}
		for _, g := range media["group"] {
			for _, mc := range g.Children["content"] {
				if strings.Contains(mc.Attrs["medium"], "image") || strings.HasPrefix(mc.Attrs["type"], "image/") {
					cands = append(cands, mc.Attrs["url"])
				}
			}
		}
	}
	for _, u := range cands {
		if strings.TrimSpace(u) == "" {
			continue
		}
		if img, err := ResolveURL(base, u); err == nil {
			return img
		}
	}
	return ""
}

// publishedOf returns the item's date in UTC. gofeed's parse comes first;
// a date it could not read ("13/09/2023 2:05 PM") gets one lenient try in
// UTC; a date in the future (a typo, or a publisher pinning an item to the
// top) is clamped to now.
func publishedOf(it *gofeed.Item, now time.Time) time.Time {
	var t time.Time
	switch {
	case it.PublishedParsed != nil:
		t = *it.PublishedParsed
	case it.Published != "":
		t = parseDateLenient(it.Published)
	}
	if t.IsZero() {
		if it.UpdatedParsed != nil {
			t = *it.UpdatedParsed
		} else if it.Updated != "" {
			t = parseDateLenient(it.Updated)
		}
	}
	return clampDate(t, now)
}

func clampDate(t, now time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	t = t.UTC()
	if !now.IsZero() && t.After(now) {
		return now.UTC()
	}
	return t
}

// parseDateLenient reads the dates feeds and pages actually carry; a date
// without a zone is taken as UTC. It returns zero when nothing fits.
func parseDateLenient(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 100 {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC()
	}
	t, err := dateparse.ParseIn(s, time.UTC, dateparse.RetryAmbiguousDateWithSwap(true))
	if err != nil {
		return time.Time{}
	}
	// dateparse reads bare numbers as Unix times; a real date has a year
	// between the web's birth and a little after now.
	if t.Year() < 1990 || t.Year() > 9999 {
		return time.Time{}
	}
	return t.UTC()
}

func qname(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

// entryTypes are the declared type attributes of an Atom entry's text
// constructs, which gofeed does not expose.
type entryTypes struct {
	summary, content string
}

// checkXML runs a strict XML decoder over the whole document, so a feed cut
// off mid-transfer or with a bare "&" is refused with a clear message
// ("XML syntax error on line 19: …") instead of being half-parsed. HTML's
// named entities (&nbsp;) are accepted, as every feed reader does. For
// Atom it also records each entry's summary/content type.
func checkXML(data []byte) ([]entryTypes, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.Entity = xml.HTMLEntity
	d.CharsetReader = charset.NewReaderLabel
	var (
		types   []entryTypes
		stack   []xml.Name // open elements, as written (prefix:local)
		isAtom  bool
		inEnt   bool
		sawRoot bool
	)
	for {
		// RawToken, not Token: no namespace translation (half the cost);
		// the check that end tags match, which Token would do, is the
		// stack below.
		tok, err := d.RawToken()
		if err == io.EOF {
			if len(stack) > 0 {
				return nil, fmt.Errorf("malformed XML: unexpected end of document: <%s> not closed", qname(stack[len(stack)-1]))
			}
			break
		}
		if err != nil {
			return nil, fmt.Errorf("malformed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name)
			sawRoot = true
			depth := len(stack)
			if depth == 1 && t.Name.Local == "feed" {
				isAtom = true
			}
			if !isAtom {
				continue
			}
			switch {
			case depth == 2 && t.Name.Local == "entry":
				types = append(types, entryTypes{})
				inEnt = true
			case depth == 3 && inEnt:
				var typ string
				for _, at := range t.Attr {
					if at.Name.Local == "type" && at.Name.Space == "" {
						typ = at.Value
					}
				}
				e := &types[len(types)-1]
				switch t.Name.Local {
				case "summary":
					e.summary = typ
				case "content":
					e.content = typ
				}
			}
		case xml.EndElement:
			if len(stack) == 0 {
				line, _ := d.InputPos()
				return nil, fmt.Errorf("malformed XML: line %d: unexpected end element </%s>", line, qname(t.Name))
			}
			open := stack[len(stack)-1]
			if open != t.Name {
				line, _ := d.InputPos()
				return nil, fmt.Errorf("malformed XML: line %d: element <%s> closed by </%s>", line, qname(open), qname(t.Name))
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 1 {
				inEnt = false
			}
		}
	}
	if !sawRoot {
		return nil, errors.New("malformed XML: no root element")
	}
	return types, nil
}
