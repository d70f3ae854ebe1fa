package email

import (
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"unicode/utf8"
)

// qpMaxLine is the longest encoded line before the soft line break "=":
// RFC 2045 §6.7 rule 5 allows 76 characters including the "=".
const qpMaxLine = 75

const hexUpper = "0123456789ABCDEF"

// qpHole is where qpEncode wrote one of the placeholders it was given: the
// offset in dst and the placeholder's index.
type qpHole struct {
	off int
	ph  int
}

// qpEncode appends src, quoted-printable encoded (RFC 2045 §6.7) with CRLF
// hard line breaks, to dst. Each occurrence of a placeholder is written
// verbatim and never split by a soft line break, so that a per-subscriber
// value of the same length and of characters QP leaves alone (a token) can
// later be copied over it without changing any line length; where they went
// is returned. Placeholders must be ASCII letters and digits.
//
// Beyond RFC 2045 it encodes a "." at the start of a line (=2E), so the
// encoded text needs no SMTP dot-stuffing (RFC 5321 §4.5.2), and the "F" of
// a "From " at the start of a line, which mbox readers would mangle.
func qpEncode(dst []byte, src string, placeholders []string) ([]byte, []qpHole) {
	var holes []qpHole
	lineLen := 0
	softBreak := func() {
		dst = append(dst, '=', '\r', '\n')
		lineLen = 0
	}
	for i := 0; i < len(src); {
		c := src[i]
		// Hard line break: CRLF, LF or a lone CR.
		if c == '\n' || c == '\r' {
			dst = append(dst, '\r', '\n')
			lineLen = 0
			if c == '\r' && i+1 < len(src) && src[i+1] == '\n' {
				i++
			}
			i++
			continue
		}
		if ph, ok := placeholderAt(src, i, placeholders); ok {
			if lineLen+len(placeholders[ph]) > qpMaxLine {
				softBreak()
			}
			holes = append(holes, qpHole{off: len(dst), ph: ph})
			dst = append(dst, placeholders[ph]...)
			lineLen += len(placeholders[ph])
			i += len(placeholders[ph])
			continue
		}
		literal := c >= 33 && c <= 126 && c != '='
		switch {
		case c == ' ' || c == '\t':
			// Whitespace is literal unless it ends a line (rule 3).
			literal = i+1 < len(src) && src[i+1] != '\n' && src[i+1] != '\r'
		case lineLen == 0 && c == '.':
			literal = false
		case lineLen == 0 && c == 'F' && strings.HasPrefix(src[i:], "From "):
			literal = false
		}
		w := 1
		if !literal {
			w = 3
		}
		if lineLen+w > qpMaxLine {
			softBreak()
			// A soft break moves the character to the start of a line.
			if c == '.' || (c == 'F' && strings.HasPrefix(src[i:], "From ")) {
				literal, w = false, 3
			}
		}
		if literal {
			dst = append(dst, c)
		} else {
			dst = append(dst, '=', hexUpper[c>>4], hexUpper[c&15])
		}
		lineLen += w
		i++
	}
	return dst, holes
}

func placeholderAt(src string, i int, placeholders []string) (int, bool) {
	for k, p := range placeholders {
		if len(p) > 0 && src[i] == p[0] && strings.HasPrefix(src[i:], p) {
			return k, true
		}
	}
	return 0, false
}

// headerText makes an outside string safe for an unstructured header field
// body (RFC 5322 §3.2.5): control characters, CR and LF included, become
// spaces, so no outside string can end the field and start another
// (header injection); runs of whitespace collapse; non-ASCII text becomes
// RFC 2047 encoded-words. The result is folded (RFC 5322 §2.2.3) so that
// no line exceeds 78 characters where it can be helped; nameLen is the
// length of "Name: " before it.
func headerText(s string, nameLen int) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return r < 0x20 || r == 0x7f || r == ' ' || r == utf8.RuneError ||
			(r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029'
	}), " ")
	if isPrintableASCII(s) {
		return fold(s, nameLen)
	}
	// Every space inside encoded-words is encoded, so the spaces left
	// separate encoded-words: fold there (RFC 2047 §2: each word ≤ 75).
	return fold(mime.QEncoding.Encode("utf-8", s), nameLen)
}

// fold breaks a header field body at spaces so that lines stay within 78
// characters where a space allows it (RFC 5322 §2.2.3).
func fold(s string, nameLen int) string {
	if nameLen+len(s) <= 78 {
		return s
	}
	var b strings.Builder
	lineLen := nameLen
	for i, w := range strings.Split(s, " ") {
		if i > 0 {
			if lineLen+1+len(w) > 78 {
				b.WriteString("\r\n ")
				lineLen = 1
			} else {
				b.WriteByte(' ')
				lineLen++
			}
		}
		b.WriteString(w)
		lineLen += len(w)
	}
	return b.String()
}

// phrase encodes a display name (RFC 5322 §3.2.5 phrase): a quoted string
// when ASCII, RFC 2047 encoded-words otherwise.
func phrase(s string) string {
	s = headerText(s, 0)
	s = strings.ReplaceAll(s, "\r\n ", " ")
	if strings.HasPrefix(s, "=?") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// ErrBadAddress is returned (wrapped) for an address digestbot cannot send
// to: not a single plain addr-spec, or not ASCII.
var ErrBadAddress = errors.New("invalid email address")

// addrSpec checks that s is one plain ASCII addr-spec (local@domain, no
// display name, no comments, no spaces or control characters) and returns
// it. Only such a string may go into an SMTP command or a To header: it
// can neither end the line nor add a recipient.
func addrSpec(s string) (string, error) {
	if s == "" || len(s) > 254 || !isPrintableASCII(s) || strings.ContainsAny(s, " <>,;\"()\\") {
		return "", fmt.Errorf("%w: %q", ErrBadAddress, s)
	}
	if isDotAtomAddr(s) {
		return s, nil // what nearly every reader's address is: no parse needed
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", fmt.Errorf("%w: %q", ErrBadAddress, s)
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", fmt.Errorf("%w: %q", ErrBadAddress, s)
	}
	return s, nil
}

// isDotAtomAddr reports whether s is local@domain with both sides a
// dot-atom (RFC 5322 §3.2.3: atext runs joined by single dots), the plain
// form of an address, which mail.ParseAddress accepts as it is. It costs a
// tenth of the parse, which runs once a message.
func isDotAtomAddr(s string) bool {
	at := strings.IndexByte(s, '@')
	return at > 0 && isDotAtom(s[:at]) && isDotAtom(s[at+1:])
}

func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.':
			if s[i-1] == '.' {
				return false
			}
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// dotStuff returns msg with every line that starts with "." given one more
// (RFC 5321 §4.5.2), allocating only when there is one. Messages built by
// this package never need it (see qpEncode); transactional ones are checked.
func dotStuff(msg []byte) []byte {
	need := len(msg) > 0 && msg[0] == '.'
	for i := 0; !need && i+1 < len(msg); i++ {
		need = msg[i] == '\n' && msg[i+1] == '.'
	}
	if !need {
		return msg
	}
	out := make([]byte, 0, len(msg)+64)
	for i := 0; i < len(msg); i++ {
		if msg[i] == '.' && (i == 0 || msg[i-1] == '\n') {
			out = append(out, '.')
		}
		out = append(out, msg[i])
	}
	return out
}
