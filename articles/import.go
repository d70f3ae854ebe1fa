package articles

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// ArticleStore is what importing needs from the store (store.Store
// implements it; see docs/architecture.md).
type ArticleStore interface {
	// UpsertArticles stores articles in one transaction, deduplicating by
	// (feed, guid) when both are set, else by canonical URL.
	UpsertArticles(ctx context.Context, as []Article) (stored []Article, created int, err error)
}

// DefaultMaxFileBytes caps an imported file.
const DefaultMaxFileBytes = 256 << 20

// Kind is what an input turned out to be.
type Kind int

// Input kinds, as Sniff tells them.
const (
	KindText      Kind = iota // plain text
	KindFeed                  // RSS, Atom or JSON Feed
	KindPage                  // an HTML article page
	KindJSONLines             // one JSON object per line
)

func (k Kind) String() string {
	switch k {
	case KindFeed:
		return "feed"
	case KindPage:
		return "page"
	case KindJSONLines:
		return "json-lines"
	}
	return "text"
}

// Sniff tells a feed from a page, JSON lines and plain text by content,
// not by file name or Content-Type, which are often wrong: the first
// element of markup (rss, feed, rdf:RDF → feed; anything else → page,
// except other XML, which goes to the feed parser to be refused with its
// reason), a JSON document whose version is a jsonfeed.org URL (JSON Feed),
// other JSON (JSON lines), else text.
func Sniff(data []byte) Kind {
	d := bytes.TrimPrefix(data, utf8BOM)
	d = bytes.TrimLeft(d, " \t\r\n")
	if len(d) == 0 {
		return KindText
	}
	switch d[0] {
	case '<':
		name, xmlDecl := firstElement(d)
		switch strings.ToLower(name) {
		case "rss", "feed", "rdf:rdf":
			return KindFeed
		case "html", "head", "body", "!doctype":
			return KindPage
		}
		if xmlDecl {
			return KindFeed // XML, but no feed: the feed parser says why
		}
		return KindPage
	case '{':
		var probe struct {
			Version string `json:"version"`
		}
		dec := json.NewDecoder(bytes.NewReader(d))
		if dec.Decode(&probe) == nil && strings.Contains(probe.Version, "jsonfeed.org") {
			return KindFeed
		}
		return KindJSONLines
	}
	return KindText
}

// firstElement returns the name of the first element, skipping the XML
// declaration, processing instructions and comments; "!doctype" for a
// doctype. xmlDecl reports an <?xml …?> declaration.
func firstElement(d []byte) (name string, xmlDecl bool) {
	for i := 0; i < 64 && len(d) > 0; i++ {
		d = bytes.TrimLeft(d, " \t\r\n")
		if len(d) < 2 || d[0] != '<' {
			return "", xmlDecl
		}
		switch {
		case bytes.HasPrefix(d, []byte("<?")):
			if bytes.HasPrefix(bytes.ToLower(d), []byte("<?xml")) {
				xmlDecl = true
			}
			end := bytes.Index(d, []byte("?>"))
			if end < 0 {
				return "", xmlDecl
			}
			d = d[end+2:]
		case bytes.HasPrefix(d, []byte("<!--")):
			end := bytes.Index(d, []byte("-->"))
			if end < 0 {
				return "", xmlDecl
			}
			d = d[end+3:]
		case len(d) >= 9 && strings.EqualFold(string(d[:9]), "<!doctype"):
			return "!doctype", xmlDecl
		default:
			end := bytes.IndexAny(d[1:], " \t\r\n/>")
			if end < 0 {
				return string(d[1:]), xmlDecl
			}
			return string(d[1 : end+1]), xmlDecl
		}
	}
	return "", xmlDecl
}

// ImportOptions are the caller's additions to imported input.
type ImportOptions struct {
	Title   string // title of a plain-text input (required for it, ignored otherwise)
	Section string // when set, the section of every imported article
}

// Importer stores articles from one file or URL: a feed, an article page,
// JSON lines or plain text.
type Importer struct {
	Store        ArticleStore
	Fetcher      *Fetcher // for http(s) sources; nil: a zero Fetcher
	Log          *slog.Logger
	Now          func() time.Time
	MaxFileBytes int64 // 0: DefaultMaxFileBytes
}

// Import reads src (a file path, or an http/https URL), tells what it is
// (Sniff), cleans it into articles and stores them; it returns what was
// stored, with ids. Hostile content is cleaned, not refused; input that is
// not readable as its kind (a malformed feed, a bad JSON line) is an error
// and nothing is stored.
//
// Outside a polled feed the store deduplicates by canonical URL only, so
// feed and JSON-lines items without a usable link are left out (and logged):
// each import would store them again.
func (im *Importer) Import(ctx context.Context, src string, opts ImportOptions) ([]Article, error) {
	now := time.Now()
	if im.Now != nil {
		now = im.Now()
	}
	log := im.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	data, base, err := im.read(ctx, src)
	if err != nil {
		return nil, err
	}
	kind := Sniff(data)
	fail := func(err error) ([]Article, error) {
		return nil, fmt.Errorf("articles: import %s (%s): %w", src, kind, err)
	}

	var arts []Article
	dropNoLink := true
	switch kind {
	case KindFeed:
		res, err := ParseFeedResult(data, Feed{URL: base}, now)
		if err != nil {
			return fail(err)
		}
		for _, s := range res.Skipped {
			log.InfoContext(ctx, "import: item skipped", slog.String("src", src), slog.String("guid", s.GUID), slog.String("reason", s.Reason))
		}
		arts = res.Articles
	case KindPage:
		a, err := ExtractPage(data, base, now)
		if err != nil {
			return fail(err)
		}
		arts = []Article{a}
		dropNoLink = false
	case KindJSONLines:
		arts, err = ParseJSONLines(bytes.NewReader(data), now)
		if err != nil {
			return fail(err)
		}
	default:
		a, err := ParseText(data, opts.Title, now) // refuses a blank title (ErrNoTitle)
		if err != nil {
			return fail(err)
		}
		arts = []Article{a}
		dropNoLink = false
	}

	kept := arts[:0]
	for _, a := range arts {
		if dropNoLink && a.URL == "" {
			log.InfoContext(ctx, "import: item skipped", slog.String("src", src), slog.String("guid", a.GUID),
				slog.String("reason", "no usable link: it cannot be deduplicated outside a polled feed"))
			continue
		}
		if opts.Section != "" {
			a.Section = NormalizeText(opts.Section)
		}
		kept = append(kept, a)
	}
	if len(kept) == 0 {
		return nil, nil
	}
	stored, created, err := im.Store.UpsertArticles(ctx, kept)
	if err != nil {
		return fail(fmt.Errorf("store: %w", err))
	}
	log.InfoContext(ctx, "import: stored", slog.String("src", src), slog.String("kind", kind.String()),
		slog.Int("stored", len(stored)), slog.Int("created", created))
	return stored, nil
}

// read loads src; base is the URL relative links resolve against.
func (im *Importer) read(ctx context.Context, src string) (data []byte, base string, err error) {
	if isHTTPURL(src) {
		f := im.Fetcher
		if f == nil {
			f = &Fetcher{}
		}
		resp, err := f.Fetch(ctx, src, "", "")
		if err != nil {
			return nil, "", fmt.Errorf("articles: import: %w", err)
		}
		return resp.Body, resp.URL, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	fh, err := os.Open(src)
	if err != nil {
		return nil, "", fmt.Errorf("articles: import: %w", err)
	}
	defer fh.Close()
	max := im.MaxFileBytes
	if max <= 0 {
		max = DefaultMaxFileBytes
	}
	data, err = io.ReadAll(io.LimitReader(fh, max+1))
	if err != nil {
		return nil, "", fmt.Errorf("articles: import: read %s: %w", src, err)
	}
	if int64(len(data)) > max {
		return nil, "", fmt.Errorf("articles: import %s: %w (cap %d bytes)", src, ErrTooLarge, max)
	}
	return data, "", nil
}

func isHTTPURL(s string) bool {
	l := strings.ToLower(strings.TrimSpace(s))
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}
