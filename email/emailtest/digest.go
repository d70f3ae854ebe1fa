package emailtest

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/email"
	"github.com/digestbot/digestbot/subscribers"
)

// The settings of the messages NewBuilder makes, which CheckDigest expects.
const (
	Secret = "test-secret"
	Base   = "https://news.example.com"
	From   = "Daily Headlines <news@example.com>"
)

// Edition is a realistic edition: ten items over three sections, which
// makes a message of about 7 KB like the one in PERF-NOTES.
func Edition(id int64, date string) digest.Edition {
	leads := []string{
		"The city council voted 7–2 on Tuesday night to extend the harbour ferry service through the winter, citing record ridership over the summer and pressure from commuters on the east shore.",
		"Officials said the new schedule will add two early-morning departures and one late-evening return, funded by a reallocation from the road maintenance budget.",
		"Researchers at the university's marine lab reported that the kelp forest off the northern point has recovered to nearly half of its 2010 extent, a result they called “cautiously encouraging”.",
		"After three seasons of losses, the Harbourview Rovers won their home opener 3–1, with two goals from a 19-year-old forward signed from the youth academy in the spring.",
		"The regional transit authority will pilot contactless fares on four bus lines starting next month; paper transfers will remain valid until the end of the year.",
	}
	sections := []string{"Local", "Local", "Science", "Sports", "Local", "Business", "Science", "Sports", "Business", "Local"}
	e := digest.Edition{
		ID: id, Newsletter: digest.DefaultNewsletter, Date: date, Title: "Daily Headlines",
		Status: digest.StatusBuilt, CreatedAt: time.Date(2026, 1, 5, 6, 0, 0, 0, time.UTC),
	}
	for i := range 10 {
		e.Items = append(e.Items, digest.Item{
			ArticleID:   int64(100 + i),
			Section:     sections[i],
			Title:       fmt.Sprintf("Headline number %d: ferry service, kelp forests and a home win — what happened today", i+1),
			URL:         fmt.Sprintf("https://harborview-herald.example/news/2026/01/05/story-%d", i+1),
			Lead:        leads[i%len(leads)],
			Source:      "Harborview Herald",
			PublishedAt: time.Date(2026, 1, 5, 5, i, 0, 0, time.UTC),
			AlsoIn:      []string{"Globe News", "Meridian"}[:i%3],
			Score:       float64(10 - i),
		})
	}
	return e
}

// RenderOptions are the render settings of NewBuilder's messages.
func RenderOptions() digest.RenderOptions {
	return digest.RenderOptions{
		Title: "Daily Headlines", BaseURL: Base,
		PostalAddress: "Harborview Herald, 1 Quay Street, Harborview",
		Location:      time.UTC,
		Sections:      []string{"Local", "Science", "Sports", "Business"},
	}
}

// NewBuilder is a message builder with the settings above and, when dk
// is set, DKIM signing; the tokens check the links in its messages.
func NewBuilder(t testing.TB, dk *email.DKIMSigner) (*email.Builder, *subscribers.Tokens) {
	t.Helper()
	tokens := subscribers.NewTokens(Secret, nil)
	b, err := email.NewBuilder(email.BuilderConfig{
		From: From, UnsubscribeMailto: "unsubscribe@example.com",
		Render: RenderOptions(), Tokens: tokens, DKIM: dk,
	})
	if err != nil {
		t.Fatalf("NewBuilder: %v", err)
	}
	return b, tokens
}

// Subs are n active email subscriptions from id first on.
func Subs(first int64, n int) []subscribers.Subscription {
	subs := make([]subscribers.Subscription, n)
	for i := range subs {
		id := first + int64(i)
		subs[i] = subscribers.Subscription{
			ID: id, Channel: subscribers.Email, Status: subscribers.Active,
			Address: fmt.Sprintf("reader%d@example.org", id),
		}
	}
	return subs
}

// Parsed is a message taken apart the way a mail client would.
type Parsed struct {
	Header     mail.Header
	Subject    string
	PartTypes  []string
	Text, HTML string
}

// ParseMessage takes data apart, failing t on anything a strict mail
// client would refuse (bare LF, long lines, a leading dot).
func ParseMessage(t testing.TB, data []byte) Parsed {
	t.Helper()
	for i, line := range bytes.Split(data, []byte("\n")) {
		if i < len(bytes.Split(data, []byte("\n")))-1 && !bytes.HasSuffix(line, []byte("\r")) {
			t.Fatalf("line %d does not end in CRLF: %q", i+1, line)
		}
		if len(line) > 999 {
			t.Fatalf("line %d longer than 998 characters", i+1)
		}
		if bytes.HasPrefix(line, []byte(".")) {
			t.Fatalf("line %d starts with a dot: %q", i+1, line)
		}
	}
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse message: %v", err)
	}
	var p Parsed
	p.Header = m.Header
	dec := new(mime.WordDecoder)
	if p.Subject, err = dec.DecodeHeader(m.Header.Get("Subject")); err != nil {
		t.Fatalf("decode subject: %v", err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		body, err := io.ReadAll(part) // decodes quoted-printable
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		p.PartTypes = append(p.PartTypes, ct)
		switch ct {
		case "text/plain":
			p.Text = string(body)
		case "text/html":
			p.HTML = string(body)
		}
	}
	return p
}

// CheckDigest checks everything SPEC §5 asks of a digest message to sub,
// as NewBuilder makes it.
func CheckDigest(t testing.TB, tokens *subscribers.Tokens, data []byte, sub subscribers.Subscription) {
	t.Helper()
	p := ParseMessage(t, data)
	h := p.Header
	want := map[string]string{
		"From":                  `"Daily Headlines" <news@example.com>`,
		"To":                    sub.Address,
		"MIME-Version":          "1.0",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		"Precedence":            "bulk",
		"Auto-Submitted":        "auto-generated",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: got %q, want %q", k, got, v)
		}
	}
	if !strings.Contains(p.Subject, "2026") {
		t.Errorf("Subject %q lacks the edition date", p.Subject)
	}
	if _, err := mail.ParseDate(h.Get("Date")); err != nil {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	if id := h.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") || strings.Count(id, "@") != 1 {
		t.Errorf("Message-ID %q not on the From domain", id)
	}
	lu := h.Get("List-Unsubscribe")
	prefix := "<" + Base + "/unsubscribe/"
	if !strings.HasPrefix(lu, prefix) || !strings.Contains(lu, ", <mailto:unsubscribe@example.com?subject=unsubscribe>") {
		t.Fatalf("List-Unsubscribe %q", lu)
	}
	tok := lu[len(prefix) : len(prefix)+subscribers.TokenLen]
	if id, err := tokens.Check(subscribers.PurposeUnsubscribe, tok); err != nil || id != sub.ID {
		t.Errorf("List-Unsubscribe token names %d (%v), want %d", id, err, sub.ID)
	}
	if len(p.PartTypes) != 2 || p.PartTypes[0] != "text/plain" || p.PartTypes[1] != "text/html" {
		t.Errorf("parts %v, want text/plain then text/html", p.PartTypes)
	}
	unsubURL := Base + "/unsubscribe/" + tok
	prefsURL := Base + "/preferences/" + tokens.Make(subscribers.PurposePreferences, sub.ID)
	for name, body := range map[string]string{"text": p.Text, "html": p.HTML} {
		if !strings.Contains(body, unsubURL) {
			t.Errorf("%s part lacks the unsubscribe link %s", name, unsubURL)
		}
		if !strings.Contains(body, prefsURL) {
			t.Errorf("%s part lacks the preferences link", name)
		}
		if strings.Contains(body, "Placeholder") {
			t.Errorf("%s part still holds a placeholder", name)
		}
		if !strings.Contains(body, "1 Quay Street") {
			t.Errorf("%s part lacks the postal address", name)
		}
	}
}

// NewSender is an SMTP sender to host:port without TLS, four connections
// and short timeouts, closed when the test ends; mod adjusts the options.
func NewSender(t testing.TB, b *email.Builder, srvHost string, port int, mod func(*email.SMTPOptions)) *email.SMTPSender {
	t.Helper()
	opts := email.SMTPOptions{
		Host: srvHost, Port: port, TLS: "none", Connections: 4,
		Timeout: 5 * time.Second, RedialDelay: 20 * time.Millisecond,
	}
	if mod != nil {
		mod(&opts)
	}
	s, err := email.NewSMTPSender(opts, b, logger())
	if err != nil {
		t.Fatalf("NewSMTPSender: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Logger is the log of the email and delivery tests: debug lines under -v
// (or with EMAIL_TEST_LOG set), nothing otherwise.
func Logger(testing.TB) *slog.Logger { return logger() }

func logger() *slog.Logger {
	if testing.Verbose() || os.Getenv("EMAIL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}
