// Package tghtml escapes, measures and strictly validates text in the Bot
// API's HTML parse mode ("Formatting options" → "HTML style",
// https://core.telegram.org/bots/api#html-style).
//
// The digest renderer uses it to build messages and its tests to check them;
// the fake Bot API server (telegram/telegramtest) uses Validate/Check to
// refuse what the real server would refuse, with the same error text.
//
// The validator is deliberately stricter than Telegram: everything it accepts
// is accepted by the real server, but some things the server tolerates (a
// bare "&", an unknown attribute, an unquoted attribute value, entities
// nested in ways the server silently repairs) are errors here, so that a
// renderer bug shows up in tests instead of as a quietly mangled message.
package tghtml

import (
	"strings"
	"unicode/utf8"
)

// MaxMessageLen is the Bot API limit on sendMessage text: "1-4096 characters
// after entities parsing", counted in UTF-16 code units like every offset in
// the Bot API ("MessageEntity": offset and length are in UTF-16 code units).
const MaxMessageLen = 4096

// The Bot API's answers, word for word, so that the fake server can return
// them as the error description: a string that is not valid UTF-8, a message
// whose parsed text is blank, and one longer than MaxMessageLen.
// They are constants (see APIError), compared with errors.Is or ==.
const (
	ErrNotUTF8 APIError = "Bad Request: strings must be encoded in UTF-8"
	ErrEmpty   APIError = "Bad Request: message text is empty"
	ErrTooLong APIError = "Bad Request: message is too long"
)

// APIError is an error whose text is a Bot API error description.
type APIError string

func (e APIError) Error() string { return string(e) }

// ParseError is a refused message. Its text mirrors the Bot API's
// ("Bad Request: can't parse entities: Unsupported start tag "script" at
// byte offset 0"); Offset is the byte offset in the raw string.
type ParseError struct {
	Offset int
	Msg    string // without the "Bad Request: can't parse entities: " prefix
}

func (e *ParseError) Error() string {
	return "Bad Request: can't parse entities: " + e.Msg
}

// Escape makes s safe as text and as a double-quoted attribute value in
// Telegram HTML. The Bot API requires `<`, `>` and `&` outside tags to be
// written as entities and supports only &lt; &gt; &amp; &quot; by name;
// `"` is escaped too so that the result also fits inside href="…".
//
// Invalid UTF-8 is replaced with U+FFFD: the Bot API refuses such a string
// outright, so the result of Escape is always a sendable text.
func Escape(s string) string {
	// Fast path: most headlines need nothing.
	if utf8.ValidString(s) && !strings.ContainsAny(s, `<>&"`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '<':
				b.WriteString("&lt;")
			case '>':
				b.WriteString("&gt;")
			case '&':
				b.WriteString("&amp;")
			case '"':
				b.WriteString("&quot;")
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// Len16Raw is the length of s itself in UTF-16 code units (invalid UTF-8
// bytes count one unit each, as U+FFFD would). It is an upper bound of Len16:
// parsing only removes tags and shortens entities.
func Len16Raw(s string) int {
	n := 0
	for _, r := range s {
		n += len16(r)
	}
	return n
}

// Len16 is the length, in UTF-16 code units, of the text Telegram counts
// against MaxMessageLen: the message after entity parsing (tags removed,
// entities decoded). Leading and trailing whitespace, which the server
// trims, is still counted, so the figure is never below the server's.
// When s is not valid Telegram HTML it returns Len16Raw(s), again an upper
// bound, so a caller that only checks the length never under-counts.
func Len16(s string) int {
	n := 0
	err := parse(s, func(text string) {
		for _, r := range text {
			n += len16(r)
		}
	}, nil)
	if err != nil {
		return Len16Raw(s)
	}
	return n
}

func len16(r rune) int {
	if r >= 0x10000 && r <= utf8.MaxRune {
		return 2
	}
	return 1
}

// Validate reports whether s is a message the Bot API accepts in HTML parse
// mode (strictly, see the package comment). It does not check the length;
// Check does.
func Validate(s string) error {
	return parse(s, nil, nil)
}

// Text returns the plain text of a valid message: tags removed, entities
// decoded. It is the text Telegram would display and count.
func Text(s string) (string, error) {
	var b strings.Builder
	b.Grow(len(s))
	if err := parse(s, func(t string) { b.WriteString(t) }, nil); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Check validates s as sendMessage would: valid HTML, a parsed text that is
// not blank and at most MaxMessageLen UTF-16 code units.
func Check(s string) error {
	text, err := Text(s)
	if err != nil {
		return err
	}
	if strings.TrimSpace(text) == "" {
		return ErrEmpty
	}
	if Len16Raw(text) > MaxMessageLen {
		return ErrTooLong
	}
	return nil
}

// Entity is one formatting span of a parsed message, shaped like the Bot
// API's MessageEntity (offset and length in UTF-16 code units) so that a fake
// server can return it as is.
type Entity struct {
	Type          string `json:"type"` // bold, italic, underline, strikethrough, spoiler, text_link, custom_emoji, code, pre, blockquote, expandable_blockquote
	Offset        int    `json:"offset"`
	Length        int    `json:"length"`
	URL           string `json:"url,omitempty"`
	Language      string `json:"language,omitempty"`
	CustomEmojiID string `json:"custom_emoji_id,omitempty"`
}

// Parse returns the plain text of a valid message and its entities, in the
// order their start tags appear.
func Parse(s string) (string, []Entity, error) {
	var b strings.Builder
	b.Grow(len(s))
	var ents []Entity
	err := parse(s, func(t string) { b.WriteString(t) }, &ents)
	if err != nil {
		return "", nil, err
	}
	return b.String(), ents, nil
}
