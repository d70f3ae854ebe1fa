package articles

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// MaxLead is the longest lead digestbot stores, in characters (runes).
const MaxLead = 300

// maxLeadSentences is how many sentences a lead holds at most.
const maxLeadSentences = 3

// classRe admits class and id values made of words only. It is compiled
// when the first Cleaner is built, not at start-up: the bounded repetition
// of a Unicode class takes 14 ms to compile, which every command paid.
var classRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[\p{L}\p{N}_\- ]{1,200}$`) })

// Cleaner turns outside text (HTML fragments, plain text, titles) into the
// plain text digestbot stores. Build it once with NewCleaner: it holds a
// bluemonday policy, which is safe for concurrent use, and no other state.
type Cleaner struct {
	policy *bluemonday.Policy
}

// NewCleaner builds the sanitizing policy. The policy keeps only structure
// (blocks, figures, captions) and the class/id hints used to recognise
// boilerplate; everything that can execute or load (script, style, iframe,
// object, event handlers, URLs) is gone before any text is read, and the
// content of interactive and boilerplate elements (forms, buttons, nav,
// asides) is dropped with them.
func NewCleaner() *Cleaner {
	p := bluemonday.NewPolicy()
	p.AllowElements(
		"p", "div", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6",
		"ul", "ol", "li", "dl", "dt", "dd", "blockquote", "pre",
		"figure", "figcaption", "section", "article", "main", "header", "footer",
		"table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption",
		"span", "b", "i", "em", "strong", "u", "s", "small", "sub", "sup", "code",
		"q", "cite", "abbr", "time", "mark", "a",
	)
	// class, id and aria-hidden carry no script; they tell boilerplate
	// ("newsletter-promo", "ad-slot", hidden mobile copies) from the story.
	p.AllowAttrs("class", "id").Matching(classRe()).Globally()
	p.AllowAttrs("aria-hidden", "hidden").Globally()
	p.SkipElementsContent(
		"script", "style", "noscript", "template", "iframe", "frame", "frameset",
		"object", "embed", "applet", "svg", "math", "canvas", "audio", "video",
		"form", "button", "select", "textarea", "option", "label",
		"nav", "aside", "head", "title",
	)
	p.AddSpaceWhenStrippingTag(true)
	return &Cleaner{policy: p}
}

// para is one paragraph of extracted text. caption marks text that came
// from a figure caption; such text never becomes a lead.
type para struct {
	text    string
	caption bool
	noLead  bool // body text that never leads: table cells
	links   int  // runes of the text inside links
}

// Paragraphs returns the cleaned body paragraphs of an HTML fragment:
// sanitized, stripped to plain text, whitespace normalized, photo captions
// and promos removed, repeated paragraphs kept once.
func (c *Cleaner) Paragraphs(fragment string) []string {
	return texts(cleanBody(c.htmlParagraphs(fragment)))
}

// Text is Paragraphs joined by blank lines.
func (c *Cleaner) Text(fragment string) string {
	return strings.Join(c.Paragraphs(fragment), "\n\n")
}

// Lead returns the lead of an HTML fragment: see LeadOf. Captions and
// repeated paragraphs are never lead candidates.
func (c *Cleaner) Lead(fragment string) string {
	return leadOf(cleanBody(c.htmlParagraphs(fragment)))
}

// TextParagraphs is Paragraphs for plain text (a scraper's text file, a
// JSON Feed content_text): paragraphs are separated by blank lines, or by
// line breaks when the text has no blank line at all. Markup-looking text is
// kept as the literal text it is.
func TextParagraphs(text string) []string {
	return texts(cleanBody(plainParagraphs(text)))
}

// TextLead is Lead for plain text.
func TextLead(text string) string {
	return leadOf(cleanBody(plainParagraphs(text)))
}

// Title cleans a headline into plain text (SPEC §4): real markup is
// stripped (script and style with their content), entities are decoded,
// text that only looks like markup ("5 < 6") stays, and whitespace is
// normalized, so a CR/LF can never reach an email Subject header.
func (c *Cleaner) Title(raw string) string {
	ps := c.htmlParagraphs(raw)
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		parts = append(parts, p.text)
	}
	return strings.Join(parts, " ")
}

// htmlParagraphs sanitizes fragment and splits its text into paragraphs at
// block boundaries.
func (c *Cleaner) htmlParagraphs(fragment string) []para {
	if strings.TrimSpace(fragment) == "" {
		return nil
	}
	if !strings.ContainsAny(fragment, "<&") {
		// No markup and no entity: HTML whitespace rules make it one paragraph.
		if t := NormalizeText(fragment); t != "" {
			return []para{{text: t}}
		}
		return nil
	}
	safe := c.policy.Sanitize(fragment)
	ps, hinted := splitBlocks(safe, true)
	if len(ps) == 0 && hinted {
		// Class names alone must not lose the whole text (a wrapper
		// called "entry-content has-ads"): read it again without them.
		ps, _ = splitBlocks(safe, false)
	}
	return ps
}

// splitBlocks walks sanitized HTML. Text inside hidden elements, and with
// useHints inside boilerplate ones (by class or id: newsletter, promo, ad,
// related, share, cookie …), is skipped; hinted reports such a skip by
// class. Figcaption text is flagged as caption.
func splitBlocks(safe string, useHints bool) (out []para, hinted bool) {
	z := html.NewTokenizer(strings.NewReader(safe))
	var (
		cur      strings.Builder
		caption  int // depth inside figcaption/caption elements
		table    int // depth inside tables: data, never a lead
		skip     int // depth inside skipped elements, 0 = reading
		skipTag  []atom.Atom
		capStack []bool
		link     int // depth inside <a>
		linkText int // runes of link text in cur
	)
	flush := func() {
		t := NormalizeText(cur.String())
		cur.Reset()
		if t != "" {
			out = append(out, para{text: t, caption: caption > 0, noLead: table > 0, links: min(linkText, utf8.RuneCountInString(t))})
		}
		linkText = 0
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			flush()
			return out, hinted
		case html.TextToken:
			if skip == 0 {
				txt := z.Text()
				cur.Write(txt)
				if link > 0 {
					linkText += utf8.RuneCountInString(NormalizeText(string(txt)))
				}
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			if skip > 0 {
				if tt == html.StartTagToken && !isVoid(a) {
					skipTag = append(skipTag, a)
					skip++
				}
				continue
			}
			isCaption := a == atom.Figcaption || a == atom.Caption
			hidden := false
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				switch string(k) {
				case "class", "id":
					if useHints && boilerplateHint(string(v)) {
						hidden, hinted = true, true
					}
					if captionHint(string(v)) {
						isCaption = true
					}
				case "aria-hidden":
					if string(v) == "true" {
						hidden = true
					}
				case "hidden":
					hidden = true
				}
			}
			if hidden && tt == html.StartTagToken && !isVoid(a) {
				flush()
				skip = 1
				skipTag = append(skipTag[:0], a)
				continue
			}
			if isBlock(a) {
				flush()
			}
			if tt == html.StartTagToken && !isVoid(a) {
				capStack = append(capStack, isCaption)
				if isCaption {
					flush()
					caption++
				}
				if a == atom.Table {
					table++
				}
				if a == atom.A {
					link++
				}
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			if skip > 0 {
				// Unbalanced markup: close back to the matching open tag.
				for i := len(skipTag) - 1; i >= 0; i-- {
					if skipTag[i] == a {
						skip = i
						skipTag = skipTag[:i]
						break
					}
				}
				continue
			}
			if isBlock(a) {
				flush()
			}
			if a == atom.Table && table > 0 {
				table--
			}
			if a == atom.A && link > 0 {
				link--
			}
			if n := len(capStack); n > 0 {
				if capStack[n-1] {
					flush()
					caption--
				}
				capStack = capStack[:n-1]
			}
		}
	}
}

func isVoid(a atom.Atom) bool {
	switch a {
	case atom.Br, atom.Hr, atom.Img, atom.Input, atom.Meta, atom.Link, atom.Wbr,
		atom.Area, atom.Base, atom.Col, atom.Embed, atom.Source, atom.Track, atom.Param:
		return true
	}
	return false
}

func isBlock(a atom.Atom) bool {
	switch a {
	case atom.P, atom.Div, atom.Br, atom.Hr, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6,
		atom.Ul, atom.Ol, atom.Li, atom.Dl, atom.Dt, atom.Dd, atom.Blockquote, atom.Pre,
		atom.Figure, atom.Figcaption, atom.Section, atom.Article, atom.Main, atom.Header, atom.Footer,
		atom.Table, atom.Tr, atom.Td, atom.Th, atom.Caption, atom.Aside, atom.Nav:
		return true
	}
	return false
}

// boilerplateWords are class/id words that mark page furniture rather than
// the story. Words are whole tokens of the class (split at space, - and _),
// so "ad-slot" matches and "headline" does not.
var boilerplateWords = map[string]bool{
	"ad": true, "ads": true, "adslot": true, "advert": true, "advertisement": true,
	"sponsor": true, "sponsored": true, "promo": true, "promotion": true,
	"newsletter": true, "newsletters": true, "signup": true, "subscribe": true,
	"subscription": true, "related": true, "recirc": true, "share": true,
	"sharing": true, "social": true, "cookie": true, "cookies": true, "consent": true,
	"breadcrumb": true, "breadcrumbs": true, "comments": true, "paywall": true,
	"popup": true, "modal": true, "outbrain": true, "taboola": true, "tags": true,
	"skip": true, "print": true,
}

func boilerplateHint(v string) bool {
	for _, w := range classWords(v) {
		if boilerplateWords[w] {
			return true
		}
	}
	// "sign-up" splits into two words.
	return strings.Contains(strings.ToLower(v), "sign-up")
}

func captionHint(v string) bool {
	for _, w := range classWords(v) {
		if w == "caption" || w == "figcaption" || w == "credit" {
			return true
		}
	}
	return false
}

func classWords(v string) []string {
	return strings.FieldsFunc(strings.ToLower(v), func(r rune) bool {
		return r == ' ' || r == '-' || r == '_'
	})
}

// plainParagraphs splits plain text into paragraphs.
func plainParagraphs(text string) []para {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	var chunks []string
	if strings.Contains(text, "\n\n") || strings.Contains(text, "\n \n") {
		chunks = splitBlankLines(text)
	} else {
		chunks = strings.Split(text, "\n")
	}
	out := make([]para, 0, len(chunks))
	for _, ch := range chunks {
		if t := NormalizeText(ch); t != "" {
			out = append(out, para{text: t})
		}
	}
	return out
}

func splitBlankLines(text string) []string {
	var (
		out  []string
		cur  strings.Builder
		have bool
	)
	for line := range strings.SplitSeq(text, "\n") {
		if strings.TrimSpace(line) == "" {
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
			continue
		}
		if have {
			cur.WriteByte(' ')
		}
		cur.WriteString(line)
		have = true
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// NormalizeText makes one line of plain text: invalid UTF-8 replaced, every
// control character (CR, LF, tab, C1) and every Unicode space (NBSP, thin
// space …) turned into a plain space, runs of spaces collapsed, ends
// trimmed. Format characters are kept: bidi controls such as U+202E and the
// zero-width joiners of emoji sequences are part of the text; renderers
// isolate them.
func NormalizeText(s string) string {
	if isNormalASCII(s) {
		return s
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if r == '\ufeff' || r == '\u200b' { // BOM and zero-width space: invisible noise
			continue
		}
		if r < 0x80 {
			if r <= ' ' || r == 0x7f {
				space = true
				continue
			}
		} else if unicode.IsSpace(r) || unicode.Is(unicode.Zs, r) || unicode.IsControl(r) ||
			r == '\u2028' || r == '\u2029' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// isNormalASCII reports printable ASCII with single inner spaces and no
// outer ones: already normalized, the common case.
func isNormalASCII(s string) bool {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' {
		return s == ""
	}
	prev := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c >= 0x7f || c == ' ' && prev == ' ' {
			return false
		}
		prev = c
	}
	return true
}

// creditRe matches a trailing parenthesized (or bracketed) photo credit
// (isCreditTail bounds its length first).
var creditRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(?:\([^()]+\)|\[[^\[\]]+\])$`) })

// creditLineRe matches a photo credit written out rather than in
// parentheses, as outlets do: "Photo: Jane Doe/Reuters", "Credit: …",
// "— Getty Images", "Jane Doe/AFP via Getty Images", "| AP".
var creditLineRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)^(?:` +
		`(?:[—–|/-]\s*)?(?:photo(?:graph)?s?|pictures?|images?|credits?|fotos?|illustration|video|source)\b\s*(?::|by\b|\|)|` +
		`[—–|-]\s*\S|` +
		`[^.!?]{0,80}/\s*[^.!?/]{1,60}$|` +
		`[^.!?]{0,80}\b(?:getty images|reuters|associated press|ap photo|afp|epa|shutterstock|istock|alamy|pool|via)\b[^.!?]{0,40}$` +
		`)`)
})

// agencyCreditRe recognises a paragraph that ends with a photo credit even
// when the caption is not repeated elsewhere: "(AP Photo/Jane Doe)".
var agencyCreditRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)\((?:[^()]*\b(?:photo|photos|photograph|getty|pool|reuters|ap|afp|epa|courtesy|credit|images?|file)\b[^()]*)\)$`)
})

// creditEndRe recognises a credit written out after a caption's last
// sentence: "… 2023. Photo: Jane Doe/Reuters", "… Monday. Credit: …",
// "… Monday. — Getty Images", "… Monday. Jane Doe/AFP via Getty Images",
// "… Monday. [Reuters]", "… Monday. | Jane Doe".
var creditEndRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)[.!?”"’)]\s+(?:` +
		`(?:[—–|-]\s*)?(?:photo(?:graph)?s?|pictures?|images?|credits?|fotos?)\s*(?::|by\b)\s*[^.!?]{1,100}|` +
		`[—–|]\s*[^.!?]{1,60}|` +
		`\[[^\[\].!?]{1,60}\]|` +
		`[^.!?/]{1,60}/[^.!?/]{1,60}` +
		`)$`)
})

// datelineRe matches the dateline that opens a wire story: "WASHINGTON (AP)
// —", "LONDON, Sept 13 (Reuters) -", "SEOUL —", "ADANA, Turkey (AP) —",
// then the story's first word, capitalized ("NATO — which …" is no dateline).
var datelineRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^\p{Lu}[\p{Lu}\p{M} .'’-]{1,40}(?:,[\p{L}\p{M} .'’]{1,40}){0,2}(?:,?\s*\d{1,2})?\s*(?:\([^()]{1,40}\))?\s*(?:—|–|--?)\s+[\p{Lu}\p{N}"“‘']`)
})

// isCreditTail reports whether rest, what a paragraph adds to a repeated
// caption, is a photo credit and not more story: a parenthesized credit, a
// credit line, or a few words with no sentence in them.
func isCreditTail(rest string) bool {
	rest = strings.TrimSpace(rest)
	if rest == "" || utf8.RuneCountInString(rest) > 150 {
		return false
	}
	if creditRe().MatchString(rest) || creditLineRe().MatchString(rest) {
		return true
	}
	return !endsSentence(rest) && len(strings.Fields(rest)) <= 10
}

// endsSentence reports whether text ends like a sentence (closing quotes
// and brackets aside): a heading, a caption without a period, a button or
// a table cell does not.
func endsSentence(text string) bool {
	t := strings.TrimRightFunc(text, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(`"'”’»)]`, r)
	})
	r, _ := utf8.DecodeLastRuneInString(t)
	return isTerminator(r) || r == '.'
}

// isTerminator: runes that end a sentence. CJK full stops need no space
// after them.
func isTerminator(r rune) bool {
	switch r {
	case '.', '!', '?', '…', '。', '！', '？', '｡', '؟', '۔', '।', '॥':
		return true
	}
	return false
}

// captionScan bounds the caption search: captions sit with their photo at
// the top of a story, and the pairwise prefix check is quadratic.
const captionScan = 64

// datelineScan is how far down a story its dateline is looked for.
const datelineScan = 6

// cleanBody turns raw paragraphs into the story's body. Photo captions go:
// a paragraph marked up as a caption, a paragraph that a later one repeats
// with a credit added ("… 2023." then "… 2023. (Name, Agency)" or "… 2023.
// Photo: Name/Agency"), or a leading paragraph ending in a credit. A
// paragraph repeated exactly is kept once but flagged (para.caption), so it
// is never a lead candidate: it is a caption or a pull quote, not the
// story's top. When one of the first paragraphs opens with a wire dateline
// ("WASHINGTON (AP) —"), what stands before it (a caption, a kicker, a
// byline) never leads either. Promos go wherever they are, and more loosely
// at the end.
func cleanBody(ps []para) []para {
	n := len(ps)
	if n == 0 {
		return nil
	}
	drop := make([]bool, n)
	noLead := make([]bool, n)
	for i := range ps {
		drop[i] = ps[i].caption
		noLead[i] = ps[i].noLead
	}
	seen := make(map[string]int, n)
	for i, p := range ps {
		if j, ok := seen[p.text]; ok {
			noLead[j], drop[i] = true, true
			continue
		}
		seen[p.text] = i
	}
	scan := min(n, captionScan)
	for i := 0; i < scan; i++ {
		if utf8.RuneCountInString(ps[i].text) < 20 {
			continue // "Yes." opening a longer quote is no caption
		}
		for j := 0; j < scan; j++ {
			if i == j || len(ps[j].text) <= len(ps[i].text) {
				continue
			}
			if rest, ok := strings.CutPrefix(ps[j].text, ps[i].text); ok {
				if isCreditTail(rest) {
					drop[i], drop[j] = true, true
				}
			}
		}
	}
	for i := 0; i < n && i < 3; i++ {
		t := ps[i].text
		if len(t) >= 600 {
			continue
		}
		// A written-out credit is looser: only a paragraph with more
		// story after it goes.
		if agencyCreditRe().MatchString(t) || i+1 < n && creditEndRe().MatchString(t) {
			drop[i] = true
		}
	}
	// Only short paragraphs can stand before the dateline; a long one is
	// the story's own top, whatever the next paragraph starts with.
	if !datelineRe().MatchString(ps[0].text) {
		for i := 1; i < n && i < datelineScan && len(ps[i-1].text) < 400; i++ {
			if !drop[i] && datelineRe().MatchString(ps[i].text) {
				for j := 0; j < i; j++ {
					noLead[j] = true
				}
				break
			}
		}
	}
	body := make([]para, 0, n)
	for i, p := range ps {
		if drop[i] || isPromo(p.text, false) {
			continue
		}
		body = append(body, para{text: p.text, caption: noLead[i]})
	}
	// Trailing promos are looser: anything promo-like at the very end goes.
	for len(body) > 0 && isPromo(body[len(body)-1].text, true) {
		body = body[:len(body)-1]
	}
	return body
}

func texts(ps []para) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.text
	}
	return out
}

// leadOf builds the lead from the paragraphs that may lead. A paragraph
// that does not end like a sentence (a heading, a caption without its
// period, a "Related: …" line, a table cell) is not lead material: it would
// run into the next sentence with no stop between them. Only when no
// paragraph ends like a sentence (a one-line description) is the text taken
// as it is.
func leadOf(ps []para) string {
	cands := make([]string, 0, min(len(ps), 8))
	var loose []string
	for _, p := range ps {
		if p.caption {
			continue
		}
		if !endsSentence(p.text) {
			if len(cands) == 0 && len(loose) < 8 {
				loose = append(loose, p.text)
			}
			continue
		}
		cands = append(cands, p.text)
		if len(cands) == 8 { // three sentences never need more
			break
		}
	}
	if len(cands) == 0 {
		return LeadOf(loose)
	}
	return LeadOf(cands)
}

// promoRe matches newsletter and subscription calls to action wherever
// they stand; promoTailRe and newsletterRe add patterns that only count at
// the end of a story (attribution lines of syndicated feeds, copyright
// lines, social buttons, a sentence about the newsletter). A call to action
// speaks to the reader: "Sign up for our newsletter", "Subscribe today",
// or a button's few words ("Sign Up Now"); "Sign-up for the draft opened
// Monday." is news and stays (see isPromo).
var (
	promoRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)^(?:` +
			`(?:sign[ -]?up|subscribe|register)\b.{0,80}\b(?:newsletters?|e-?mails?|inbox|alerts?|briefings?|headlines|updates|digest|our|your|free|today|now|here|to (?:receive|get))\b|` +
			`(?:get|receive|want) (?:our|the|a|more)\b.{0,80}\b(?:newsletter|inbox|e-?mail|headlines|briefing)|` +
			`(?:join|try) (?:our|the)\b.{0,40}\bnewsletter|` +
			`(?:click|tap) here\b|` +
			`don[’']t miss\b.{0,80}\b(?:newsletter|sign|subscribe|inbox)|` +
			`never miss\b|` +
			`already a (?:subscriber|member)\b|` +
			`advertisement$|` +
			`sponsored(?: content)?$|` +
			`(?:related|see also|also read|read also|read more|more on this(?: story)?|recommended)(?: coverage| stories| articles| content| reading)?\s*(?::.{0,200})?$` +
			`)`)
	})
	// promoButtonRe: a call to action of a few words with no sentence in it.
	promoButtonRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)^(?:sign[ -]?up|subscribe|register)\b[^.]{0,60}$`)
	})
	promoTailRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)^(?:` +
			`read more|continue reading|follow us|like us on|download (?:our|the) app|support (?:our|local|independent) journalism|become a (?:member|subscriber)|share this|more from\b|` +
			`the post .{1,300} appeared first on .{1,200}$|` +
			`this (?:article|story) (?:was )?(?:originally |first )?(?:appeared|published)\b|` +
			`this (?:is a (?:developing|breaking)(?: news)? story|story (?:is developing|will be updated|has been updated))\b|` +
			`(?:©|\(c\)|copyright\b).{0,200}$|` +
			`all rights reserved\b|` +
			`(?:share|email|e-mail|print|facebook|twitter|x|linkedin|whatsapp|reddit|pinterest|telegram|copy link|comments?|tweet)[.:!]?$` +
			`)`)
	})
	newsletterRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)\bnewsletter\b.{0,120}\b(?:sign[ -]?up|subscribe|inbox)\b|\b(?:sign[ -]?up|subscribe)\b.{0,120}\bnewsletter\b`)
	})
	// attributionRe: reporting, not a promo ("Click here, the senator
	// said, …").
	attributionRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)\b(?:said|says|told|according to|reported)\b`) })
)

// promoStarts and tailStarts are the first letters of the alternatives of
// promoRe and promoTailRe, lower case: a cheap filter before the regexps,
// which would otherwise run on every paragraph of every item.
var (
	promoStarts = []string{"sign", "subscr", "regist", "get ", "receiv", "want ", "join ", "try ", "click", "tap ", "don", "never", "already", "advert", "sponsor", "related", "see also", "also read", "read", "more on", "recommended"}
	tailStarts  = []string{"read more", "continue", "follow", "like us", "download", "support", "become", "share", "more from", "the post", "this ", "©", "(c)", "copyright", "all rights", "email", "e-mail", "print", "facebook", "twitter", "x", "linkedin", "whatsapp", "reddit", "pinterest", "telegram", "copy link", "comment", "tweet"}
)

func hasPrefixFold(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			return true
		}
	}
	return false
}

func isPromo(text string, tail bool) bool {
	if len(text) > 400 {
		return false // a promo is a line or two; a long paragraph is the story
	}
	if hasPrefixFold(text, promoStarts) && !attributionRe().MatchString(text) {
		if promoRe().MatchString(text) {
			return true
		}
		if len(strings.Fields(text)) <= 8 && !strings.HasSuffix(text, ".") && promoButtonRe().MatchString(text) {
			return true
		}
	}
	if !tail {
		return false
	}
	if hasPrefixFold(text, tailStarts) && promoTailRe().MatchString(text) {
		return true
	}
	return strings.Contains(strings.ToLower(text), "newsletter") && newsletterRe().MatchString(text)
}

// LeadOf builds a lead from body paragraphs: whole sentences, at most three
// and at most MaxLead characters, taken in order from the first paragraphs.
// When even the first sentence is longer than MaxLead it is cut at a word
// boundary and ends with "…".
func LeadOf(body []string) string {
	var (
		b     strings.Builder
		count int
		runes int
	)
	for _, p := range body {
		for _, s := range splitSentences(p) {
			n := utf8.RuneCountInString(s)
			if count == 0 {
				if n > MaxLead {
					return cutWords(s, MaxLead)
				}
				b.WriteString(s)
				runes, count = n, 1
				continue
			}
			sep := 1
			if joinsTight(b.String()) {
				sep = 0 // 。 ends a sentence with no space after it
			}
			if runes+sep+n > MaxLead || count >= maxLeadSentences {
				return b.String()
			}
			if sep == 1 {
				b.WriteByte(' ')
			}
			b.WriteString(s)
			runes += sep + n
			count++
		}
		if count >= maxLeadSentences {
			break
		}
	}
	return b.String()
}

// FirstSentence returns the first sentence of text, cut like a lead.
func FirstSentence(text string) string {
	ss := splitSentences(NormalizeText(text))
	if len(ss) == 0 {
		return ""
	}
	if utf8.RuneCountInString(ss[0]) > MaxLead {
		return cutWords(ss[0], MaxLead)
	}
	return ss[0]
}

// cutWords cuts s to at most max runes, ellipsis included, at a space.
func cutWords(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	rs := []rune(s)
	cut := max - 1
	for i := cut; i > max/2; i-- {
		if rs[i] == ' ' {
			cut = i
			break
		}
	}
	return strings.TrimRightFunc(string(rs[:cut]), func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsPunct(r) && r != ')' && r != '”' && r != '"'
	}) + "…"
}

// abbreviations end with a period that does not end a sentence (AP style
// titles, months, states and common Latin). Lower-case, without the dot.
var abbreviations = map[string]bool{
	"mr": true, "mrs": true, "ms": true, "dr": true, "prof": true, "sr": true, "jr": true,
	"st": true, "mt": true, "ft": true, "no": true, "vs": true, "etc": true, "inc": true,
	"corp": true, "co": true, "ltd": true, "llc": true, "bros": true,
	"gen": true, "lt": true, "col": true, "maj": true, "capt": true, "cpt": true, "sgt": true,
	"cpl": true, "pvt": true, "adm": true, "cmdr": true, "brig": true, "rear": true,
	"sen": true, "rep": true, "gov": true, "pres": true, "supt": true, "rev": true, "hon": true,
	"atty": true, "sec": true, "dept": true, "est": true, "approx": true,
	"jan": true, "feb": true, "mar": true, "apr": true, "jun": true, "jul": true, "aug": true,
	"sep": true, "sept": true, "oct": true, "nov": true, "dec": true,
	"ala": true, "ariz": true, "ark": true, "calif": true, "colo": true, "conn": true,
	"del": true, "fla": true, "ga": true, "ill": true, "ind": true, "kan": true, "ky": true,
	"la": true, "md": true, "mass": true, "mich": true, "minn": true, "miss": true,
	"mo": true, "mont": true, "neb": true, "nev": true, "okla": true, "ore": true, "pa": true,
	"tenn": true, "va": true, "vt": true, "wash": true, "wis": true, "wyo": true,
	"e.g": true, "i.e": true, "a.m": true, "p.m": true, "u.s": true, "u.n": true, "u.k": true,
	"d.c": true, "e.u": true,
}

// splitSentences splits one paragraph into sentences. A sentence ends at
// . ! ? or … (with any closing quotes or brackets) followed by a space and
// a capital letter, a digit-free opener or a quote, unless the period ends
// an abbreviation ("U.S.", "Gen.", "Sept.") or an initial ("J.").
func splitSentences(p string) []string {
	var out []string
	start := 0
	rs := p
	for i := 0; i < len(rs); {
		r, size := utf8.DecodeRuneInString(rs[i:])
		i += size
		if !isTerminator(r) {
			continue
		}
		end := i
		// closing punctuation stays with the sentence
		for end < len(rs) {
			c, sz := utf8.DecodeRuneInString(rs[end:])
			if !strings.ContainsRune(`"'”’)]»」』）`, c) && !isTerminator(c) {
				break
			}
			end += sz
		}
		if end >= len(rs) {
			break
		}
		if fullWidthStop(r) {
			// Chinese and Japanese put no space after a full stop.
			if s := strings.TrimSpace(rs[start:end]); s != "" {
				out = append(out, s)
			}
			start, i = end, end
			continue
		}
		if rs[end] != ' ' {
			i = end
			continue
		}
		next, _ := utf8.DecodeRuneInString(rs[end+1:])
		if !(unicode.IsUpper(next) || strings.ContainsRune(`"“‘'(¿¡`, next) || unicode.IsLetter(next) && !unicode.IsLower(next)) {
			i = end
			continue
		}
		if r == '.' && isAbbrevBefore(rs[:i-size]) && !abbrevEndsSentence(rs[:i-size], rs[end+1:]) {
			i = end
			continue
		}
		if s := strings.TrimSpace(rs[start:end]); s != "" {
			out = append(out, s)
		}
		start = end + 1
		i = end + 1
	}
	if s := strings.TrimSpace(rs[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

// joinsTight reports a sentence that ends with a full-width stop (closing
// brackets aside): the next one follows with no space, as in the source.
func joinsTight(s string) bool {
	s = strings.TrimRightFunc(s, func(r rune) bool { return strings.ContainsRune(`"'”’)]»」』）`, r) })
	r, _ := utf8.DecodeLastRuneInString(s)
	return fullWidthStop(r)
}

func fullWidthStop(r rune) bool {
	return r == '。' || r == '！' || r == '？' || r == '｡'
}

// sentenceStarters are words that open a sentence and do not follow a
// title or a name's abbreviation: after "U.S." or "p.m." they show that
// the abbreviation's period also ends the sentence ("… in the U.S. The
// rest …"), while "U.S. Army" or "Gen. The" (never) stay whole.
var sentenceStarters = map[string]bool{
	"The": true, "A": true, "An": true, "He": true, "She": true, "It": true, "They": true,
	"We": true, "I": true, "You": true, "But": true, "And": true, "This": true, "That": true,
	"These": true, "Those": true, "There": true, "His": true, "Her": true, "Its": true,
	"Their": true, "Our": true, "If": true, "When": true, "While": true, "After": true,
	"Before": true, "Since": true, "So": true, "Yet": true, "Still": true, "However": true,
	"Meanwhile": true, "Officials": true, "Police": true, "In": true, "On": true, "As": true,
}

// endingAbbrevs are abbreviations that often end a sentence; titles
// ("Mr.", "Gen.") and months never do.
var endingAbbrevs = map[string]bool{
	"inc": true, "corp": true, "co": true, "ltd": true, "llc": true, "bros": true,
	"jr": true, "sr": true, "etc": true,
}

// abbrevEndsSentence reports whether the abbreviation ending before (its
// period removed) also ends the sentence, because after is a new one: a
// dotted acronym or a company suffix followed by a sentence starter.
func abbrevEndsSentence(before, after string) bool {
	w := after
	if i := strings.IndexFunc(after, func(r rune) bool { return !unicode.IsLetter(r) }); i >= 0 {
		w = after[:i]
	}
	if !sentenceStarters[w] {
		return false
	}
	i := strings.LastIndexFunc(before, unicode.IsSpace)
	word := strings.ToLower(before[i+1:])
	return strings.Contains(word, ".") || endingAbbrevs[word]
}

// isAbbrevBefore reports whether the word ending text (the period already
// removed) is an abbreviation or an initial.
func isAbbrevBefore(text string) bool {
	i := strings.LastIndexFunc(text, func(r rune) bool {
		return unicode.IsSpace(r) || r == '(' || r == '"' || r == '“' || r == '‘' || r == '—' || r == '–' || r == '/'
	})
	word := text
	if i >= 0 {
		_, size := utf8.DecodeRuneInString(text[i:])
		word = text[i+size:]
	}
	if word == "" {
		return false
	}
	if utf8.RuneCountInString(word) == 1 {
		r, _ := utf8.DecodeRuneInString(word)
		return unicode.IsUpper(r) // initial: "John F. Kennedy"
	}
	lw := strings.ToLower(word)
	if abbreviations[lw] {
		return true
	}
	// Dotted acronyms of single letters: "U.S", "U.N", "N.Y", "a.m"
	if strings.Contains(lw, ".") {
		for _, part := range strings.Split(lw, ".") {
			if utf8.RuneCountInString(part) > 1 {
				return false
			}
		}
		return true
	}
	return false
}

// contentHash identifies an article's visible text, so the store can skip
// updates that change nothing.
func contentHash(title, lead string) string {
	h := sha256.New()
	h.Write([]byte(title))
	h.Write([]byte{0})
	h.Write([]byte(lead))
	return hex.EncodeToString(h.Sum(nil)[:16])
}
