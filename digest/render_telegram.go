package digest

import (
	"strings"
	"unicode/utf8"

	"github.com/digestbot/digestbot/telegram/tghtml"
)

// Telegram messages use the Bot API's HTML parse mode ("Formatting
// options" → "HTML style"): only <b>, <i> and <a href> are used, every
// outside string goes through tghtml.Escape (which escapes < > & and ").
//
// Limits: the Bot API counts a message's text after entity parsing, in
// UTF-16 code units, against 4096 (tghtml.MaxMessageLen); tghtml.Len16
// measures exactly that. The raw HTML is also kept under tgMaxRawBytes so
// that links and entities can never make a request the server refuses.
// Messages are split only between items; each continuation message repeats
// its section heading. An item that would not fit even in a message of its
// own has its lead, then its title, shortened with "…".

const (
	tgMaxLen      = tghtml.MaxMessageLen
	tgMaxRawBytes = 16 << 10
	tgMaxHrefLen  = 4096 // escaped href bytes; a longer link is shown as bold text
	tgMinTitle    = 40
)

// tgMessage is one rendered message and the Edition.Items indexes it carries,
// in order (tests check that the split loses and repeats nothing).
type tgMessage struct {
	HTML   string
	Items  []int
	Titles []string // each item's title as shown, maybe shortened
}

// RenderTelegram renders the edition as Telegram HTML messages, in order,
// the header (bold title and the date) on the first. Each is valid Telegram
// HTML of at most 4096 UTF-16 code units.
func RenderTelegram(e Edition, o RenderOptions) ([]string, error) {
	msgs := renderTelegram(e, o)
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.HTML
	}
	return out, nil
}

// tgChunk is a balanced piece of Telegram HTML with its measured sizes.
type tgChunk struct {
	html string
	n16  int // UTF-16 units of its text
	raw  int // bytes
}

func newChunk(s string) tgChunk { return tgChunk{html: s, n16: tghtml.Len16(s), raw: len(s)} }

type tgBuilder struct {
	msgs   []tgMessage
	b      strings.Builder
	n16    int
	raw    int
	items  []int
	titles []string
}

func (t *tgBuilder) add(c tgChunk) {
	html := c.html
	if t.b.Len() == 0 {
		html = strings.TrimPrefix(html, "\n")
	}
	t.b.WriteString(html)
	t.n16 += c.n16
	t.raw += c.raw
}

func (t *tgBuilder) addItem(c tgChunk, index int, title string) {
	t.add(c)
	t.items = append(t.items, index)
	t.titles = append(t.titles, title)
}

func (t *tgBuilder) fits(cs ...tgChunk) bool {
	n16, raw := t.n16, t.raw
	for _, c := range cs {
		n16 += c.n16
		raw += c.raw
	}
	return n16 <= tgMaxLen && raw <= tgMaxRawBytes
}

func (t *tgBuilder) flush() {
	if t.b.Len() == 0 {
		return
	}
	// Telegram trims trailing whitespace anyway; the counts stay an upper bound.
	t.msgs = append(t.msgs, tgMessage{HTML: strings.TrimRight(t.b.String(), "\n"), Items: t.items, Titles: t.titles})
	t.b.Reset()
	t.n16, t.raw, t.items, t.titles = 0, 0, nil, nil
}

func renderTelegram(e Edition, o RenderOptions) []tgMessage {
	v := newView(e, o)
	var t tgBuilder
	header := "<b>" + tghtml.Escape(v.Title) + "</b>"
	if v.DateLine != "" {
		header += "\n" + tghtml.Escape(v.DateLine)
	}
	t.add(newChunk(header + "\n"))
	if v.Empty {
		t.add(newChunk("\n" + tghtml.Escape(v.EmptyMessage) + "\n"))
	}
	for _, s := range v.Sections {
		heading := newChunk("\n<b>" + tghtml.Escape(strings.ToUpper(s.Heading)) + "</b>\n")
		headed := false
		for _, it := range s.Items {
			var need []tgChunk
			if !headed {
				need = append(need, heading)
			}
			if t.items != nil {
				// Try the current message with the item as it would appear
				// in a continuation message; else start one.
				c, title := tgItem(it, tgMaxLen-heading.n16, tgMaxRawBytes-heading.raw)
				if t.fits(append(need, c)...) {
					for _, n := range need {
						t.add(n)
					}
					t.addItem(c, it.Index, title)
					headed = true
					continue
				}
				t.flush()
				need = []tgChunk{heading}
			}
			// An empty message (or one holding only the header): the item
			// goes here, shortened if even this much room is too little.
			n16, raw := t.n16, t.raw
			for _, n := range need {
				n16 += n.n16
				raw += n.raw
			}
			c, title := tgItem(it, tgMaxLen-n16, tgMaxRawBytes-raw)
			for _, n := range need {
				t.add(n)
			}
			t.addItem(c, it.Index, title)
			headed = true
		}
	}
	if v.ArchiveURL != "" {
		link := newChunk("\n<a href=\"" + tghtml.Escape(v.ArchiveURL) + "\">View in browser</a>")
		if !t.fits(link) {
			t.flush()
		}
		t.add(link)
	}
	t.flush()
	return t.msgs
}

// tgItem renders one item: a bullet and the title, linked when the item has
// an http(s) URL and bold otherwise; the outlets in italics on the next line;
// then the lead. It shortens the lead, then the outlets line, then the
// title, until the item fits in n16 UTF-16 units and raw bytes, and returns
// the title as shown.
func tgItem(it viewItem, n16, raw int) (tgChunk, string) {
	lead, title, meta := it.Lead, it.Title, ""
	if it.Source != "" || it.AlsoIn != "" {
		meta = metaLine(it.Source, it.AlsoIn)
	}
	href := ""
	if it.URL != "" {
		if h := tghtml.Escape(it.URL); len(h) <= tgMaxHrefLen {
			href = h
		}
	}
	for {
		var b strings.Builder
		b.WriteString("\n• ")
		if href != "" {
			b.WriteString(`<a href="`)
			b.WriteString(href)
			b.WriteString(`">`)
			b.WriteString(tghtml.Escape(title))
			b.WriteString("</a>")
		} else {
			b.WriteString("<b>")
			b.WriteString(tghtml.Escape(title))
			b.WriteString("</b>")
		}
		b.WriteByte('\n')
		if meta != "" {
			b.WriteString("<i>")
			b.WriteString(tghtml.Escape(meta))
			b.WriteString("</i>\n")
		}
		if lead != "" {
			b.WriteString(tghtml.Escape(lead))
			b.WriteByte('\n')
		}
		c := newChunk(b.String())
		over := max(c.n16-n16, c.raw-raw)
		if over <= 0 {
			return c, title
		}
		// Every rune removed takes at least one unit and one byte away.
		switch {
		case lead != "":
			lead = truncate(lead, utf8.RuneCountInString(lead)-over-1)
		case meta != "":
			meta = truncate(meta, utf8.RuneCountInString(meta)-over-1)
		case utf8.RuneCountInString(title) > tgMinTitle:
			title = truncate(title, max(tgMinTitle, utf8.RuneCountInString(title)-over-1))
		default:
			return c, title // cannot happen with the display limits
		}
	}
}
