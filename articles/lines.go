package articles

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// utf8BOM is the byte order mark some editors and exporters put first.
var utf8BOM = []byte("\xef\xbb\xbf")

// maxLineBytes bounds one JSON line (an article with its full content).
const maxLineBytes = 16 << 20

// jsonLine is one article as a JSON-lines file carries it. Several names
// are accepted for the same field, as exporters differ.
type jsonLine struct {
	URL         string          `json:"url"`
	Link        string          `json:"link"`
	GUID        string          `json:"guid"`
	ID          json.RawMessage `json:"id"`
	Title       string          `json:"title"`
	Lead        string          `json:"lead"`
	Summary     string          `json:"summary"`
	Description string          `json:"description"`
	Content     string          `json:"content"`
	ContentHTML string          `json:"content_html"`
	ContentText string          `json:"content_text"`
	Text        string          `json:"text"`
	Byline      string          `json:"byline"`
	Author      json.RawMessage `json:"author"`
	Image       string          `json:"image"`
	ImageURL    string          `json:"image_url"`
	Section     string          `json:"section"`
	Source      string          `json:"source"`
	Published   string          `json:"published"`
	PublishedAt string          `json:"published_at"`
	Date        string          `json:"date"`
}

// ParseJSONLines reads one JSON object per line. Fields: url (or link),
// guid, title, lead (plain text), summary/description/content (HTML),
// content_text/text (plain text), byline (or author), image (or
// image_url), section, source, published (or published_at, date). The
// first of lead, summary, content that yields text is the lead; an empty
// title falls back to the lead's first sentence. Blank lines are skipped.
// A line that is not a JSON object, or has neither title nor text, is an
// error naming its line number; nothing is returned then. A URL that is not
// http(s) is dropped, like any hostile link. The same URL twice keeps the
// first.
func ParseJSONLines(r io.Reader, now time.Time) ([]Article, error) {
	c := NewCleaner()
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		out  []Article
		seen = map[string]bool{}
		n    int
	)
	for {
		line, err := readLine(br)
		if len(line) > 0 || err == nil {
			n++
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("articles: json lines: line %d: %w", n, err)
		}
		if n == 1 {
			line = bytes.TrimPrefix(line, utf8BOM)
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			a, perr := c.jsonLineArticle(t, now)
			if perr != nil {
				return nil, fmt.Errorf("articles: json lines: line %d: %w", n, perr)
			}
			if a.URL == "" || !seen[a.URL] {
				if a.URL != "" {
					seen[a.URL] = true
				}
				out = append(out, a)
			}
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
	}
}

// readLine reads one line without its newline, refusing lines longer than
// maxLineBytes rather than buffering an endless one.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxLineBytes {
			return nil, fmt.Errorf("line longer than %d bytes", maxLineBytes)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimRight(line, "\r\n"), err
	}
}

func (c *Cleaner) jsonLineArticle(line []byte, now time.Time) (Article, error) {
	if line[0] != '{' {
		return Article{}, errors.New("not a JSON object")
	}
	var l jsonLine
	if err := json.Unmarshal(line, &l); err != nil {
		return Article{}, err
	}
	a := Article{
		GUID:       strings.TrimSpace(firstNonEmpty(l.GUID, rawString(l.ID))),
		Source:     NormalizeText(l.Source),
		Section:    NormalizeText(l.Section),
		Byline:     cleanByline(firstNonEmpty(l.Byline, authorName(l.Author))),
		IngestedAt: now,
	}
	if u, err := CanonicalURL(firstNonEmpty(l.URL, l.Link)); err == nil {
		a.URL = u
	}
	if u, err := CanonicalURL(firstNonEmpty(l.Image, l.ImageURL)); err == nil {
		a.ImageURL = u
	}
	if strings.TrimSpace(l.Lead) != "" {
		a.Lead = TextLead(l.Lead) // an editor's lead: plain text
	}
	for _, h := range []string{l.Summary, l.Description, l.ContentHTML, l.Content} {
		if a.Lead != "" {
			break
		}
		if strings.TrimSpace(h) != "" {
			a.Lead = c.Lead(h)
		}
	}
	for _, t := range []string{l.ContentText, l.Text} {
		if a.Lead != "" {
			break
		}
		if strings.TrimSpace(t) != "" {
			a.Lead = TextLead(t)
		}
	}
	a.Title = c.Title(l.Title) // markup removed, as for feed titles
	if a.Title == "" {
		a.Title = FirstSentence(a.Lead)
	}
	if a.Title == "" {
		return Article{}, errors.New("no title and no text")
	}
	a.PublishedAt = clampDate(parseDateLenient(firstNonEmpty(l.Published, l.PublishedAt, l.Date)), now)
	a.ContentHash = contentHash(a.Title, a.Lead)
	return a, nil
}

// rawString reads a JSON id that may be a string or a number.
func rawString(m json.RawMessage) string {
	if len(m) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(m, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(m, &n) == nil {
		return n.String()
	}
	return ""
}

// authorName reads "author" as a string, an object with a name, or a list.
func authorName(m json.RawMessage) string {
	if len(m) == 0 {
		return ""
	}
	var v any
	if json.Unmarshal(m, &v) != nil {
		return ""
	}
	return ldNames(v)
}

// ParseText makes an article of a plain-text file (a scraper's output) and
// a title given by the caller. The text is cleaned like any body: repeated
// captions and their credits, and trailing promos, are removed before the
// lead is cut. The article has no URL.
func ParseText(data []byte, title string, now time.Time) (Article, error) {
	t := NormalizeText(title)
	if t == "" {
		return Article{}, fmt.Errorf("articles: plain text: %w (give one with --title)", ErrNoTitle)
	}
	a := Article{
		Title:      t,
		Lead:       TextLead(string(data)),
		IngestedAt: now,
	}
	a.ContentHash = contentHash(a.Title, a.Lead)
	return a, nil
}
