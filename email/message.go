package email

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/subscribers"
)

// BuilderConfig configures the email message Builder.
type BuilderConfig struct {
	// From is email.from: "news@example.com" or "Daily Headlines <news@example.com>".
	From string
	// UnsubscribeMailto is the optional mailbox for the mailto: form of
	// List-Unsubscribe (RFC 2369).
	UnsubscribeMailto string
	// Render carries newsletter.title, base_url, postal_address, the time
	// zone and the sections; the per-subscriber URLs are filled in here.
	Render digest.RenderOptions
	// Tokens signs the unsubscribe and preferences links.
	Tokens *subscribers.Tokens
	// DKIM signs every message when set (see LoadDKIM).
	DKIM *DKIMSigner
	// Now is the clock for Date headers; nil means time.Now.
	Now func() time.Time
	// CacheSize bounds the pre-built messages kept (one per edition and
	// sections choice); 0 means 64.
	CacheSize int
	// ReturnPath, when set, is the envelope sender of the message of an
	// edition to a subscription (VERP, bounces.ReturnPath.Address); nil:
	// the From address.
	ReturnPath func(editionID, subscriptionID int64) string
	// Letters are the instance's newsletters when it has several: an
	// edition of one is sent from its From (empty: From above) under its
	// Title, and its unsubscribe links leave that letter only
	// (?newsletter=SLUG). None or one: every edition is the one letter.
	Letters []Letter
}

// Letter is one newsletter's sender and name.
type Letter struct {
	Slug, Title, From string
	// ArchivePath is the letter's archive ("/archive/weekly"; empty: the
	// default "/archive"), Templates its templates (nil: BuilderConfig.Render's).
	ArchivePath string
	Templates   *digest.Templates
}

// letter is a Letter, checked.
type letter struct {
	title   string
	fromHdr string // "From: ...\r\n"
	from    string // addr-spec
	query   string // "?newsletter=SLUG" after the unsubscribe token; "" with one letter
	archive string
	tmpl    *digest.Templates
}

// Builder turns an edition into ready-to-send email messages. Rendering and
// MIME encoding happen once per edition and sections choice; per subscriber
// only the To, Date, Message-ID and List-Unsubscribe headers are written
// and the tokens copied into place (PERF-NOTES: encoding per recipient was a
// sixth of the CPU). It is safe for concurrent use.
type Builder struct {
	from      *mail.Address
	fromHdr   string // "From: ...\r\n"
	domain    string // of the From address: Message-IDs, List-Id
	baseURL   string // no trailing slash
	mailto    string
	render    digest.RenderOptions
	tokens    *subscribers.Tokens
	dkim      *DKIMSigner
	now       func() time.Time
	cacheSize int
	retPath   func(editionID, subscriptionID int64) string
	phUnsub   string
	phPrefs   string

	letters map[string]letter // by slug; nil: one letter
	first   string            // the default letter's slug ("" with one)

	mu    sync.Mutex
	cache map[tmplKey]*template

	lastDate atomic.Pointer[stampedDate] // dateOf's last second
}

type tmplKey struct {
	editionID int64
	date      string
	sections  string
}

// NewBuilder checks cfg and returns a Builder.
func NewBuilder(cfg BuilderConfig) (*Builder, error) {
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("delivery: email.from %q: %w", cfg.From, err)
	}
	if _, err := addrSpec(from.Address); err != nil {
		return nil, fmt.Errorf("delivery: email.from: %w", err)
	}
	base := strings.TrimRight(cfg.Render.BaseURL, "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		!isPrintableASCII(base) || strings.ContainsAny(base, " <>\"") {
		return nil, fmt.Errorf("delivery: newsletter.base_url %q: want an absolute http(s) URL", cfg.Render.BaseURL)
	}
	mailto := ""
	if cfg.UnsubscribeMailto != "" {
		a, err := addrSpec(strings.TrimPrefix(cfg.UnsubscribeMailto, "mailto:"))
		if err != nil {
			return nil, fmt.Errorf("delivery: email.unsubscribe_mailto: %w", err)
		}
		mailto = a
	}
	if cfg.Tokens == nil {
		return nil, errors.New("delivery: builder needs Tokens")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 64
	}
	fromHdr := from.String()
	if from.Name == "" {
		fromHdr = from.Address
	}
	var letters map[string]letter
	if len(cfg.Letters) > 1 {
		letters = make(map[string]letter, len(cfg.Letters))
		for _, l := range cfg.Letters {
			x := letter{title: l.Title, fromHdr: "From: " + fromHdr + "\r\n", from: from.Address,
				query: "?newsletter=" + url.QueryEscape(l.Slug), archive: l.ArchivePath, tmpl: l.Templates}
			if l.From != "" {
				a, err := mail.ParseAddress(l.From)
				if err != nil {
					return nil, fmt.Errorf("delivery: newsletter %s from %q: %w", l.Slug, l.From, err)
				}
				if _, err := addrSpec(a.Address); err != nil {
					return nil, fmt.Errorf("delivery: newsletter %s from: %w", l.Slug, err)
				}
				h := a.String()
				if a.Name == "" {
					h = a.Address
				}
				x.fromHdr, x.from = "From: "+h+"\r\n", a.Address
			}
			if x.title == "" {
				x.title = cfg.Render.Title
			}
			letters[l.Slug] = x
		}
	}
	first := ""
	if letters != nil {
		first = cfg.Letters[0].Slug
	}
	b := &Builder{
		letters:   letters,
		first:     first,
		from:      from,
		fromHdr:   "From: " + fromHdr + "\r\n",
		domain:    strings.ToLower(from.Address[strings.LastIndexByte(from.Address, '@')+1:]),
		baseURL:   base,
		mailto:    mailto,
		render:    cfg.Render,
		tokens:    cfg.Tokens,
		dkim:      cfg.DKIM,
		now:       cfg.Now,
		cacheSize: cfg.CacheSize,
		retPath:   cfg.ReturnPath,
		// The placeholders have the length of a token and only letters
		// and digits, like no token-free text would.
		phUnsub: placeholder("Zq9UnsubscribeTokenPlaceholder"),
		phPrefs: placeholder("Zq9PreferencesTokenPlaceholder"),
		cache:   make(map[tmplKey]*template),
	}
	return b, nil
}

func placeholder(tag string) string {
	return tag + strings.Repeat("X", subscribers.TokenLen-len(tag))
}

// EnvelopeFrom is the SMTP reverse-path (MAIL FROM): the From address.
func (b *Builder) EnvelopeFrom() string { return b.from.Address }

// template is one edition, for one sections choice, encoded once.
type template struct {
	editionID int64
	date      string
	empty     bool   // no items for these sections: nothing to send
	idPrefix  string // Message-ID left of the subscription id
	subject   []byte // "Subject: ...\r\n"
	rest      []byte // headers after List-Unsubscribe, blank line, body
	holes     []qpHole
	unsubURL  string // List-Unsubscribe's HTTPS URL without the token
	unsubTail string // after the token: the letter's query, if any
	fromHdr   string // "From: ...\r\n"
	from      string // envelope sender without VERP
}

// sectionsKey is a canonical form of a sections choice.
func sectionsKey(sections []string) string {
	if len(sections) == 0 {
		return ""
	}
	s := slices.Clone(sections)
	slices.Sort(s)
	return strings.Join(slices.Compact(s), "\x00")
}

// template returns the pre-built message of ed for sections, building it on
// first use.
func (b *Builder) template(ed digest.Edition, sections []string) (*template, error) {
	key := tmplKey{ed.ID, ed.Date, sectionsKey(sections)}
	b.mu.Lock()
	t := b.cache[key]
	b.mu.Unlock()
	if t != nil {
		return t, nil
	}
	t, err := b.build(ed, sections)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if old := b.cache[key]; old != nil {
		return old, nil
	}
	if len(b.cache) >= b.cacheSize {
		// Editions go out one after the other: drop the other editions
		// first, then everything.
		for k := range b.cache {
			if k.editionID != ed.ID {
				delete(b.cache, k)
			}
		}
		if len(b.cache) >= b.cacheSize {
			clear(b.cache)
		}
	}
	b.cache[key] = t
	return t, nil
}

func (b *Builder) build(ed digest.Edition, sections []string) (*template, error) {
	o := b.render
	lt := letter{title: o.Title, fromHdr: b.fromHdr, from: b.from.Address}
	if l, ok := b.letters[ed.Newsletter]; ok {
		lt = l
		o.Title, o.ArchivePath = l.title, l.archive
		if l.tmpl != nil {
			o.Templates = l.tmpl
		}
	}
	o.UnsubscribeURL = b.baseURL + "/unsubscribe/" + b.phUnsub + lt.query
	o.PreferencesURL = b.baseURL + "/preferences/" + b.phPrefs
	sel := ed.ForSections(sections)
	t := &template{
		editionID: ed.ID,
		date:      ed.Date,
		empty:     len(sel.Items) == 0,
		unsubURL:  b.baseURL + "/unsubscribe/",
		unsubTail: lt.query,
		fromHdr:   lt.fromHdr,
		from:      lt.from,
		// RFC 5322 §3.6.4: unique, on our own domain (not the host
		// name), and the same when the same message is sent again after a
		// crash, so that a receiver may recognise the duplicate.
		idPrefix: "<" + strings.ReplaceAll(ed.Date, "-", "") + "." + strconv.FormatInt(ed.ID, 10) + ".",
	}
	if t.empty {
		return t, nil
	}
	text, err := digest.RenderEmailText(sel, o)
	if err != nil {
		return nil, fmt.Errorf("delivery: render text of edition %d: %w", ed.ID, err)
	}
	html, err := digest.RenderEmailHTML(sel, o)
	if err != nil {
		return nil, fmt.Errorf("delivery: render html of edition %d: %w", ed.ID, err)
	}
	t.subject = []byte("Subject: " + headerText(digest.Subject(sel, o), len("Subject: ")) + "\r\n")

	// The boundary starts with "=_", which quoted-printable text cannot
	// contain (RFC 2045 §6.7), so it never occurs in a part.
	sum := sha256.Sum256([]byte(ed.Date + "\x00" + strconv.FormatInt(ed.ID, 10) + "\x00" + sectionsKey(sections)))
	boundary := "=_dgst_" + hex.EncodeToString(sum[:12])

	rest := make([]byte, 0, 2*(len(text)+len(html))+1024)
	// RFC 8058 §3.1: the POST body a receiver sends to the List-Unsubscribe URL.
	rest = append(rest, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"...)
	// RFC 2919: a stable list identifier receivers can filter on.
	rest = append(rest, "List-Id: "+phrase(o.Title)+" <"+listIDLabel(ed.Newsletter)+"."+b.domain+">\r\n"...)
	rest = append(rest, "MIME-Version: 1.0\r\n"...)
	// RFC 2076 / common practice for bulk mail; RFC 3834 §5: auto-responders
	// must not answer an auto-generated message.
	rest = append(rest, "Precedence: bulk\r\nAuto-Submitted: auto-generated\r\n"...)
	rest = append(rest, "Content-Type: multipart/alternative;\r\n boundary=\""+boundary+"\"\r\n\r\n"...)
	// RFC 2046 §5.1.4: the last part is the preferred one, so HTML goes last.
	phs := []string{b.phUnsub, b.phPrefs}
	var holes []qpHole
	for _, part := range []struct{ ctype, body string }{{"text/plain", text}, {"text/html", html}} {
		rest = append(rest, "--"+boundary+"\r\nContent-Type: "+part.ctype+"; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"...)
		var h []qpHole
		rest, h = qpEncode(rest, part.body, phs)
		holes = append(holes, h...)
		rest = append(rest, "\r\n"...)
	}
	rest = append(rest, "--"+boundary+"--\r\n"...)
	t.rest, t.holes = rest, holes
	return t, nil
}

func listIDLabel(newsletter string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(newsletter) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "digest"
	}
	return b.String()
}

// msgParams are the per-subscriber parts of one message.
type msgParams struct {
	to    string // checked addr-spec
	date  string // RFC 5322 date-time
	subID int64
}

// appendHead appends the reader's header fields of t for p to dst (From to
// List-Unsubscribe, with CRLF line ends; t.rest follows them), then the
// reader's unsubscribe and preferences tokens, and returns dst and where
// the headers end: dst[headLen:] is the two tokens, TokenLen bytes each
// (headLen -1: the signer made a token of another length).
func (b *Builder) appendHead(dst []byte, t *template, p *msgParams) ([]byte, int) {
	dst = append(dst, t.fromHdr...)
	dst = append(dst, "To: "...)
	dst = append(dst, p.to...)
	dst = append(dst, "\r\n"...)
	dst = append(dst, t.subject...)
	dst = append(dst, "Date: "...)
	dst = append(dst, p.date...)
	dst = append(dst, "\r\nMessage-ID: "...)
	dst = append(dst, t.idPrefix...)
	dst = strconv.AppendInt(dst, p.subID, 10)
	dst = append(dst, '@')
	dst = append(dst, b.domain...)
	dst = append(dst, ">\r\nList-Unsubscribe: <"...)
	dst = append(dst, t.unsubURL...)
	at := len(dst)
	dst = b.tokens.AppendMake(dst, subscribers.PurposeUnsubscribe, p.subID)
	unsub := dst[at:]
	dst = append(dst, t.unsubTail...)
	dst = append(dst, '>')
	if b.mailto != "" {
		dst = append(dst, ",\r\n <mailto:"...)
		dst = append(dst, b.mailto...)
		dst = append(dst, "?subject=unsubscribe>"...)
	}
	dst = append(dst, "\r\n"...)
	headLen := len(dst)
	dst = append(dst, unsub...)
	dst = b.tokens.AppendMake(dst, subscribers.PurposePreferences, p.subID)
	if len(unsub) != subscribers.TokenLen || len(dst)-headLen != 2*subscribers.TokenLen {
		return dst, -1
	}
	return dst, headLen
}

// body is the reader's part of a message after its head: t.rest with the
// reader's tokens (unsubscribe, then preferences; TokenLen bytes each) in
// its holes.
type body struct {
	t    *template
	toks []byte
}

// appendTo appends the body to dst.
func (bd body) appendTo(dst []byte) []byte {
	at := len(dst)
	dst = append(dst, bd.t.rest...)
	for _, h := range bd.t.holes {
		copy(dst[at+h.off:], bd.token(h))
	}
	return dst
}

// appendSegments appends the body to iov as slices of t.rest and of the
// tokens, in order, copying none of it: what a writev sends.
func (bd body) appendSegments(iov [][]byte) [][]byte {
	prev := 0
	for _, h := range bd.t.holes {
		iov = append(iov, bd.t.rest[prev:h.off], bd.token(h))
		prev = h.off + subscribers.TokenLen
	}
	return append(iov, bd.t.rest[prev:])
}

func (bd body) token(h qpHole) []byte {
	if h.ph == 1 {
		return bd.toks[subscribers.TokenLen : 2*subscribers.TokenLen]
	}
	return bd.toks[:subscribers.TokenLen]
}

// rfc5322Date is the date-time format of RFC 5322 §3.3.
const rfc5322Date = "Mon, 02 Jan 2006 15:04:05 -0700"

// Message is one subscriber's message, ready for SMTP DATA or a file.
type Message struct {
	To   string // envelope recipient
	From string // envelope sender (MAIL FROM): the return path
	Data []byte
	Skip bool // nothing in the subscriber's sections today
}

// errTokenLen: the token signer yielded a token of another length, which
// would corrupt the pre-built message.
var errTokenLen = errors.New("delivery: token length differs from subscribers.TokenLen")

// AppendMessage builds sub's message of ed into dst[:0] (reusing its
// storage) and returns it. An invalid address is an error wrapping
// ErrBadAddress.
func (b *Builder) AppendMessage(dst []byte, ed digest.Edition, sub subscribers.Subscription) (Message, error) {
	t, err := b.template(ed, sub.Sections)
	if err != nil {
		return Message{}, err
	}
	return b.appendFor(dst, t, sub, b.now())
}

func (b *Builder) appendFor(dst []byte, t *template, sub subscribers.Subscription, now time.Time) (Message, error) {
	m, head, bd, err := b.appendParts(dst, t, sub, now)
	if err != nil || m.Skip {
		return m, err
	}
	// The tokens move after the body's copy: they are read from a copy,
	// as the body may be appended over them.
	var toks [2 * subscribers.TokenLen]byte
	bd.toks = toks[:copy(toks[:], bd.toks)]
	data := bd.appendTo(head)
	if b.dkim != nil {
		data, err = b.dkim.Sign(data)
		if err != nil {
			return Message{}, err
		}
	}
	m.Data = data
	return m, nil
}

// appendParts builds sub's message of t as its head (header fields, in
// dst's storage) and its body, not yet put together: the SMTP sender
// writes both with one writev, the body's bytes from the shared template.
// m has To and From, or Skip; its Data is empty. head's storage holds
// the tokens too, after len(head).
func (b *Builder) appendParts(dst []byte, t *template, sub subscribers.Subscription, now time.Time) (m Message, head []byte, bd body, err error) {
	to, err := addrSpec(sub.Address)
	if err != nil {
		return Message{}, nil, body{}, err
	}
	if t.empty {
		return Message{To: to, Skip: true}, nil, body{}, nil
	}
	p := msgParams{to: to, date: b.dateOf(now), subID: sub.ID}
	buf, headLen := b.appendHead(dst[:0], t, &p)
	if headLen < 0 {
		return Message{}, nil, body{}, errTokenLen
	}
	from := t.from
	if b.retPath != nil {
		from = b.retPath(t.editionID, sub.ID)
	}
	return Message{To: to, From: from}, buf[:headLen], body{t: t, toks: buf[headLen:]}, nil
}

// dateOf is the Date header's value for now. The header counts whole
// seconds, so a send formats it once a second, not once a message.
func (b *Builder) dateOf(now time.Time) string {
	sec := now.Unix()
	if d := b.lastDate.Load(); d != nil && d.sec == sec {
		return d.s
	}
	if b.render.Location != nil {
		now = now.In(b.render.Location)
	}
	s := now.Format(rfc5322Date)
	b.lastDate.Store(&stampedDate{sec, s})
	return s
}

type stampedDate struct {
	sec int64
	s   string
}
