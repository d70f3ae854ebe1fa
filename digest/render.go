package digest

import (
	"embed"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Rendering: one pure function per format (render_email.go,
// render_telegram.go, render_web.go), all fed by the same view built here.
//
// Every outside string (titles, leads, outlet and section names, the
// newsletter title) goes through displayText before any format sees it:
//
//   - control characters, CR and LF become spaces and whitespace runs
//     collapse, so a title can never start a new mail header or a new
//     Telegram line;
//   - the bidi embedding/override/isolate controls U+202A–U+202E and
//     U+2066–U+2069 are removed. An override such as U+202E inside
//     "report\u202Efdp.exe" makes it display as "reportexe.pdf"; removing the
//     controls (rather than wrapping each string in FSI…PDI) keeps the text
//     identical for every plain-text consumer and is what Telegram's own
//     input cleaning does for U+202A–U+202E. Right-to-left text still lays out
//     correctly: HTML formats put dir="auto" on each item, and the implicit
//     marks U+200E/U+200F, which cannot reorder other text, are kept.
//     (Unicode TR #9, "Explicit Directional Overrides"; Unicode TR #36 §2.)
//   - long strings are cut at a word boundary with "…": a title at 300
//     characters, a lead at 1,000, an outlet name at 100.
//
// Links are rendered only for absolute http and https URLs (safeLink): a
// javascript:, data:, relative or scheme-relative link becomes plain text.
// Each format then escapes for its target: html/template for HTML,
// tghtml.Escape for Telegram, nothing for plain text.

//go:embed templates
var templateFS embed.FS

// RenderOptions are the newsletter settings a rendering needs.
type RenderOptions struct {
	Title, BaseURL, PostalAddress string
	Location                      *time.Location
	// newsletter.sections, in order. Rendering keeps the edition's own order
	// (Rank already groups by these), so it only matters to callers.
	Sections []string
	// Per subscriber, or placeholders filled in at send time. A placeholder
	// must be an absolute https URL whose token is made of ASCII letters,
	// digits, '-', '_' or '.', e.g. https://news.example/unsubscribe/UNSUB_TOKEN:
	// html/template percent-encodes anything else inside href.
	UnsubscribeURL, PreferencesURL string
	// ArchivePath is the newsletter's archive on BaseURL: "/archive" (the
	// default, also when empty) or "/archive/weekly".
	ArchivePath string
	// Templates are the newsletter's (LoadTemplates); nil: the embedded ones.
	Templates *Templates
}

// ForSections returns the edition with only the items of the given sections,
// in their order (a reader who picked sections gets only those); no sections
// means all. The result shares nothing with e.Items, so it can be changed.
func (e Edition) ForSections(sections []string) Edition {
	if len(sections) == 0 {
		e.Items = append([]Item(nil), e.Items...)
		return e
	}
	items := make([]Item, 0, len(e.Items))
	for _, it := range e.Items {
		for _, s := range sections {
			if strings.EqualFold(it.Section, s) {
				items = append(items, it)
				break
			}
		}
	}
	e.Items = items
	return e
}

// Display limits, in runes.
const (
	maxTitleRunes   = 300
	maxLeadRunes    = 1000
	maxSourceRunes  = 100
	maxSectionRunes = 60
	maxAlsoIn       = 10  // outlets named in "Also in"
	maxAlsoInRunes  = 200 // and their names together
	maxSubjectRunes = 200
	maxURLBytes     = 2048 // longer links are shown without a link
	defaultTitle    = "Daily Headlines"
	emptyEditionMsg = "No new headlines today."
)

// view is what every template sees: clean, display-ready, not yet escaped.
type view struct {
	Title          string // newsletter title
	DateLine       string // "Wednesday, September 13, 2023"
	Date           string // YYYY-MM-DD, "" when unknown
	Heading        string // "Daily Headlines — Wednesday, September 13, 2023"
	Preheader      string // the top headlines
	Sections       []viewSection
	Empty          bool
	EmptyMessage   string
	ArchiveURL     string // this edition on the web, "" without a base URL
	ArchiveListURL string
	PreferencesURL string
	UnsubscribeURL string
	PostalAddress  string
}

type viewSection struct {
	Name    string // as stored
	Heading string // for display
	Items   []viewItem
}

type viewItem struct {
	Index  int    // position in Edition.Items
	Title  string // never empty
	URL    string // http(s) only, else ""
	Source string
	AlsoIn string // "A, B"
	Lead   string
}

func newView(e Edition, o RenderOptions) view {
	v := view{
		EmptyMessage:   emptyEditionMsg,
		PreferencesURL: safeLink(o.PreferencesURL),
		UnsubscribeURL: safeLink(o.UnsubscribeURL),
		PostalAddress:  displayText(o.PostalAddress, 300),
	}
	v.Title, v.Date, v.DateLine, v.Heading = editionHeading(e, o)
	if base := strings.TrimRight(safeLink(o.BaseURL), "/"); base != "" {
		path := "/archive"
		if p := strings.TrimRight(o.ArchivePath, "/"); strings.HasPrefix(p, "/archive/") {
			path = p
		}
		v.ArchiveListURL = base + path
		if path != "/archive" {
			v.ArchiveListURL += "/" // GET /archive/{slug} redirects here
		}
		if v.Date != "" {
			v.ArchiveURL = base + path + "/" + v.Date
		}
	}
	v.Sections = groupSections(e.Items)
	v.Empty = len(v.Sections) == 0
	var top []string
	for _, s := range v.Sections {
		for _, it := range s.Items {
			if len(top) < 3 {
				top = append(top, it.Title)
			}
		}
	}
	if len(top) == 0 {
		v.Preheader = emptyEditionMsg
	} else {
		v.Preheader = strings.Join(top, " · ")
	}
	return v
}

// editionHeading returns the newsletter title, the edition date (ISO and
// long) and the heading "Daily Headlines — Wednesday, September 13, 2023".
func editionHeading(e Edition, o RenderOptions) (title, date, dateLine, heading string) {
	title = displayText(e.Title, 200)
	if title == "" {
		title = displayText(o.Title, 200)
	}
	if title == "" {
		title = defaultTitle
	}
	date, dateLine = editionDate(e, o)
	heading = title
	if dateLine != "" {
		heading += " — " + dateLine
	}
	return title, date, dateLine, heading
}

// editionDate returns the edition's date as YYYY-MM-DD and as a long English
// date. Edition.Date is already the newsletter date in the publisher's zone;
// without it the end of the cutoff window, in o.Location, stands in.
func editionDate(e Edition, o RenderOptions) (iso, long string) {
	if d, err := time.Parse(time.DateOnly, e.Date); err == nil {
		return e.Date, d.Format("Monday, January 2, 2006")
	}
	if !e.CutoffTo.IsZero() {
		loc := o.Location
		if loc == nil {
			loc = time.UTC
		}
		d := e.CutoffTo.In(loc)
		return d.Format(time.DateOnly), d.Format("Monday, January 2, 2006")
	}
	return "", displayText(e.Date, 40)
}

// groupSections groups the items by section, sections in the order of their
// first item and items in edition order, so a section heading is shown once
// even if the items were not contiguous. Items with no title and no lead
// are dropped: an empty bullet tells the reader nothing.
func groupSections(items []Item) []viewSection {
	var out []viewSection
	pos := map[string]int{}
	for i, it := range items {
		vi, ok := newViewItem(i, it)
		if !ok {
			continue
		}
		name := displayText(it.Section, maxSectionRunes)
		k, seen := pos[name]
		if !seen {
			k = len(out)
			pos[name] = k
			out = append(out, viewSection{Name: it.Section, Heading: sectionHeading(name)})
		}
		out[k].Items = append(out[k].Items, vi)
	}
	return out
}

func newViewItem(i int, it Item) (viewItem, bool) {
	vi := viewItem{
		Index:  i,
		Title:  displayText(it.Title, maxTitleRunes),
		URL:    safeLink(it.URL),
		Source: displayText(it.Source, maxSourceRunes),
		Lead:   displayText(it.Lead, maxLeadRunes),
	}
	if vi.Title == "" {
		// A blank title (hostile-07, hostile-14) borrows the start of the
		// lead; a lead short enough to be the whole title is not repeated.
		vi.Title = displayText(it.Lead, 80)
		if vi.Title == vi.Lead {
			vi.Lead = ""
		}
	}
	if vi.Title == "" {
		return viewItem{}, false
	}
	var also []string
	for _, a := range it.AlsoIn {
		if a = displayText(a, maxSourceRunes); a != "" && a != vi.Source && len(also) < maxAlsoIn {
			also = append(also, a)
		}
	}
	vi.AlsoIn = truncate(strings.Join(also, ", "), maxAlsoInRunes)
	return vi, true
}

// sectionHeading turns a section key ("world", "us") into a heading. A name
// the publisher already capitalised is kept as is.
func sectionHeading(name string) string {
	switch name {
	case "":
		return "Headlines"
	case "us":
		return "U.S."
	case "uk":
		return "U.K."
	case "eu", "ai":
		return strings.ToUpper(name)
	}
	if strings.ToLower(name) != name {
		return name
	}
	r, n := utf8.DecodeRuneInString(name)
	return string(unicode.ToTitle(r)) + name[n:]
}

// isBidiControl reports the explicit embedding, override and isolate
// controls (Unicode TR #9 §2.1–2.4) that displayText removes.
func isBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069
}

// displayText makes an outside string safe to display on one line in any
// format (see the comment at the top of this file) and cuts it to at most
// limit runes.
func displayText(s string, limit int) string {
	if isDisplayReady(s, limit) {
		return s // the common case: nothing to change, nothing to allocate
	}
	var b strings.Builder
	b.Grow(min(len(s), 4*limit+4))
	space := false
	n := 0
	for _, r := range s { // invalid UTF-8 decodes as U+FFFD
		if n > limit {
			break // enough to know it must be cut; keeps huge inputs cheap
		}
		switch {
		case isBidiControl(r) || r == '\uFEFF':
			continue
		case unicode.IsSpace(r) || unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
			n++
		}
		b.WriteRune(r)
		n++
	}
	return truncate(b.String(), limit)
}

// isDisplayReady reports whether displayText would return s unchanged.
func isDisplayReady(s string, limit int) bool {
	n := 0
	prevSpace := true // no leading space
	for _, r := range s {
		n++
		switch {
		case n > limit:
			return false
		case r == ' ':
			if prevSpace {
				return false
			}
			prevSpace = true
			continue
		case r < 0x80:
			if r < ' ' || r == 0x7f {
				return false
			}
		case r == utf8.RuneError || isBidiControl(r) || r == '\uFEFF' || unicode.IsSpace(r) || unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			return false // U+FFFD may stand for invalid UTF-8: take the slow path
		}
		prevSpace = false
	}
	return !prevSpace || n == 0
}

// truncate cuts s to at most limit runes, "…" included, preferring a word
// boundary in the last quarter, and never leaves a dangling joiner.
func truncate(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	if limit <= 0 {
		return ""
	}
	if limit == 1 {
		return "…"
	}
	cut, n := 0, 0
	for i := range s {
		if n == limit-1 {
			cut = i
			break
		}
		n++
	}
	t := s[:cut]
	if sp := strings.LastIndexByte(t, ' '); sp > 0 && utf8.RuneCountInString(t[sp:]) <= limit/4+1 {
		t = t[:sp]
	}
	t = strings.TrimRightFunc(t, func(r rune) bool {
		return unicode.IsSpace(r) || r == '\u200D' || unicode.Is(unicode.Variation_Selector, r) || unicode.IsPunct(r) && r != ')' && r != ']' && r != '"' && r != '\''
	})
	return t + "…"
}

// safeLink returns u when it is an absolute http or https URL a reader can
// follow, else "". Only these two schemes are ever rendered as links; a URL
// with user info ("https://bank.example@evil.example/") is refused too.
func safeLink(u string) string {
	u = strings.TrimSpace(u)
	if u == "" || len(u) > maxURLBytes || strings.ContainsFunc(u, func(r rune) bool {
		return r <= ' ' || r == 0x7f || r == utf8.RuneError || unicode.IsControl(r) || unicode.IsSpace(r) || isBidiControl(r)
	}) {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || p.User != nil {
		return ""
	}
	switch strings.ToLower(p.Scheme) {
	case "http", "https":
		return u
	}
	return ""
}
