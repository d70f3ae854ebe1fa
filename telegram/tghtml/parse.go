package tghtml

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The parser follows the Bot API's HTML style rules and the shape of TDLib's
// parse_html (the code behind the Bot API server): same tag set, byte offsets
// and error wording where TDLib reports an error, and stricter rules — marked
// "strict:" below — where TDLib silently repairs or ignores.

// entityType maps each supported tag (lower case, as TDLib folds tag names)
// to the MessageEntity type it produces. "Formatting options" → "HTML style".
var entityType = map[string]string{
	"b": "bold", "strong": "bold",
	"i": "italic", "em": "italic",
	"u": "underline", "ins": "underline",
	"s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
	"span": "spoiler", "tg-spoiler": "spoiler",
	"a":          "text_link",
	"tg-emoji":   "custom_emoji",
	"code":       "code",
	"pre":        "pre",
	"blockquote": "blockquote",
}

// openTag is one start tag waiting for its end tag.
type openTag struct {
	name    string // lower case
	pos     int    // byte offset of '<'
	ent     int    // index in *ents, or -1
	start16 int    // UTF-16 offset of its text
}

type parser struct {
	s     string
	emit  func(string)
	ents  *[]Entity
	off16 int
	stack []openTag
}

func errAt(off int, format string, args ...any) error {
	return &ParseError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// parse walks s once. emit, when not nil, receives the plain text in pieces;
// ents, when not nil, receives the entities.
func parse(s string, emit func(string), ents *[]Entity) error {
	if !utf8.ValidString(s) {
		return ErrNotUTF8
	}
	var stackBuf [8]openTag
	p := parser{s: s, emit: emit, ents: ents, stack: stackBuf[:0]}
	textStart := 0
	for i := 0; i < len(s); {
		switch s[i] {
		case '<':
			p.text(s[textStart:i])
			next, err := p.tag(i)
			if err != nil {
				return err
			}
			i, textStart = next, next
		case '&':
			p.text(s[textStart:i])
			r, next, err := entity(s, i)
			if err != nil {
				return err
			}
			p.text(string(r))
			i, textStart = next, next
		default:
			i++
		}
	}
	p.text(s[textStart:])
	if len(p.stack) > 0 {
		return errAt(len(s), "Can't find end tag corresponding to start tag \"%s\"", p.stack[len(p.stack)-1].name)
	}
	return nil
}

func (p *parser) text(t string) {
	if t == "" {
		return
	}
	if p.emit != nil {
		p.emit(t)
	}
	if p.ents != nil {
		for _, r := range t {
			p.off16 += len16(r)
		}
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// tag parses the tag starting at s[begin] == '<' and returns the offset just
// past its '>'.
func (p *parser) tag(begin int) (int, error) {
	s := p.s
	i := begin + 1
	if i < len(s) && s[i] == '/' {
		end := strings.IndexByte(s[i:], '>')
		if end < 0 {
			return 0, errAt(begin, "Unclosed end tag at byte offset %d", begin)
		}
		end += i
		name := strings.ToLower(s[i+1 : end])
		if len(p.stack) == 0 {
			return 0, errAt(begin, "Unexpected end tag at byte offset %d", begin)
		}
		top := p.stack[len(p.stack)-1]
		// strict: TDLib also accepts the empty end tag "</>".
		if name != top.name {
			return 0, errAt(begin, "Unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", begin, top.name, name)
		}
		p.stack = p.stack[:len(p.stack)-1]
		if top.ent >= 0 {
			e := &(*p.ents)[top.ent]
			e.Length = p.off16 - top.start16
			if e.Length == 0 { // TDLib drops empty entities
				*p.ents = append((*p.ents)[:top.ent], (*p.ents)[top.ent+1:]...)
			}
		}
		return end + 1, nil
	}

	nameStart := i
	for i < len(s) && !isSpace(s[i]) && s[i] != '>' {
		i++
	}
	if i >= len(s) {
		return 0, errAt(begin, "Unclosed start tag at byte offset %d", begin)
	}
	name := strings.ToLower(s[nameStart:i])
	if _, ok := entityType[name]; !ok {
		return 0, errAt(begin, "Unsupported start tag \"%s\" at byte offset %d", name, begin)
	}

	var href, class, emojiID string
	var hasHref, hasClass, hasEmojiID, expandable bool
	seen := ""
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return 0, errAt(begin, "Unclosed start tag at byte offset %d", begin)
		}
		if s[i] == '>' {
			break
		}
		attrStart := i
		for i < len(s) && !isSpace(s[i]) && s[i] != '=' && s[i] != '>' {
			i++
		}
		attr := strings.ToLower(s[attrStart:i])
		if attr == "" {
			return 0, errAt(begin, "Empty attribute name in the tag \"%s\" at byte offset %d", name, begin)
		}
		// strict: TDLib ignores repeated and unknown attributes.
		if strings.Contains(seen, " "+attr+" ") {
			return 0, errAt(attrStart, "Duplicate attribute \"%s\" in the tag \"%s\" at byte offset %d", attr, name, begin)
		}
		seen += " " + attr + " "
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return 0, errAt(begin, "Unclosed start tag at byte offset %d", begin)
		}
		if s[i] != '=' {
			// The one valueless attribute: <blockquote expandable>.
			if name == "blockquote" && attr == "expandable" {
				expandable = true
				continue
			}
			return 0, errAt(begin, "Expected equal sign in declaration of an attribute of the tag \"%s\" at byte offset %d", name, begin)
		}
		i++
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return 0, errAt(begin, "Unclosed start tag at byte offset %d", begin)
		}
		q := s[i]
		if q != '"' && q != '\'' {
			// strict: TDLib accepts an unquoted name token here.
			return 0, errAt(i, "Unquoted value of the attribute \"%s\" in the tag \"%s\" at byte offset %d", attr, name, i)
		}
		i++
		var val strings.Builder
		for {
			if i >= len(s) {
				return 0, errAt(begin, "Unclosed start tag at byte offset %d", begin)
			}
			c := s[i]
			if c == q {
				i++
				break
			}
			switch c {
			case '&':
				r, next, err := entity(s, i)
				if err != nil {
					return 0, err
				}
				val.WriteRune(r)
				i = next
			case '<':
				// strict: TDLib takes anything up to the closing quote.
				return 0, errAt(i, "Unescaped \"<\" in the value of the attribute \"%s\" at byte offset %d", attr, i)
			default:
				val.WriteByte(c)
				i++
			}
		}
		switch {
		case name == "a" && attr == "href":
			href, hasHref = val.String(), true
		case (name == "code" || name == "span") && attr == "class":
			class, hasClass = val.String(), true
		case name == "tg-emoji" && attr == "emoji-id":
			emojiID, hasEmojiID = val.String(), true
		default:
			return 0, errAt(attrStart, "Unsupported attribute \"%s\" in the tag \"%s\" at byte offset %d", attr, name, begin)
		}
	}
	end := i + 1 // past '>'

	typ := entityType[name]
	var lang string
	switch name {
	case "span":
		// TDLib's own message for a span that is not a spoiler.
		if !hasClass || class != "tg-spoiler" {
			return 0, errAt(begin, "Tag \"span\" must have class \"tg-spoiler\" at byte offset %d", begin)
		}
	case "a":
		// strict: TDLib drops a link with an invalid URL; here it is an error
		// so that no javascript: or relative link reaches a message unnoticed.
		if !hasHref {
			return 0, errAt(begin, "Tag \"a\" must have attribute \"href\" at byte offset %d", begin)
		}
		if !validURL(href) {
			return 0, errAt(begin, "Unsupported URL %q in the tag \"a\" at byte offset %d", href, begin)
		}
	case "tg-emoji":
		if !hasEmojiID || !isDigits(emojiID) {
			return 0, errAt(begin, "Tag \"tg-emoji\" must have a numeric attribute \"emoji-id\" at byte offset %d", begin)
		}
	case "code":
		if hasClass {
			// "Use nested pre and code tags, to define programming language
			// for pre entity. Programming language can't be specified for
			// standalone code tags."
			l, ok := strings.CutPrefix(class, "language-")
			if !ok || l == "" {
				return 0, errAt(begin, "Unsupported class %q in the tag \"code\" at byte offset %d", class, begin)
			}
			if len(p.stack) == 0 || p.stack[len(p.stack)-1].name != "pre" {
				return 0, errAt(begin, "Tag \"code\" with a language must be nested in \"pre\" at byte offset %d", begin)
			}
			lang = l
		}
	case "blockquote":
		if expandable {
			typ = "expandable_blockquote"
		}
	}
	if err := p.checkNesting(name, begin); err != nil {
		return 0, err
	}

	ent := -1
	if p.ents != nil {
		if name == "code" && len(p.stack) > 0 && p.stack[len(p.stack)-1].name == "pre" {
			// <pre><code class="language-x"> is one pre entity with a language.
			if lang != "" {
				for k := len(*p.ents) - 1; k >= 0; k-- {
					if (*p.ents)[k].Type == "pre" {
						(*p.ents)[k].Language = lang
						break
					}
				}
			}
		} else {
			e := Entity{Type: typ, Offset: p.off16}
			switch name {
			case "a":
				e.URL = href
			case "tg-emoji":
				e.CustomEmojiID = emojiID
			}
			*p.ents = append(*p.ents, e)
			ent = len(*p.ents) - 1
		}
	}
	p.stack = append(p.stack, openTag{name: name, pos: begin, ent: ent, start16: p.off16})
	return end, nil
}

// checkNesting applies "Formatting options": entities that share characters
// nest fully (guaranteed by the tag stack); bold, italic, underline,
// strikethrough and spoiler may nest with anything except pre and code;
// blockquotes can't be nested; all other entities can't contain each other.
// strict: TDLib repairs violations by splitting or dropping entities; here
// they are errors, and a blockquote must be at the top level.
func (p *parser) checkNesting(name string, begin int) error {
	if len(p.stack) == 0 {
		return nil
	}
	parent := p.stack[len(p.stack)-1]
	bad := func(anc string) error {
		return errAt(begin, "Tag \"%s\" can't be nested in \"%s\" at byte offset %d", name, anc, begin)
	}
	if name == "blockquote" {
		return bad(parent.name)
	}
	switch parent.name {
	case "code", "tg-emoji":
		return bad(parent.name)
	case "pre":
		if name != "code" {
			return bad(parent.name)
		}
	}
	for _, anc := range p.stack {
		switch name {
		case "code", "pre":
			if anc.name != "blockquote" && !(name == "code" && anc.name == "pre" && anc.pos == parent.pos) {
				return bad(anc.name)
			}
		case "a", "tg-emoji":
			if anc.name == "a" {
				return bad(anc.name)
			}
		}
	}
	return nil
}

// validURL accepts the link schemes a bot has a use for. Relative, scheme-
// relative and script URLs are refused.
func validURL(u string) bool {
	if u == "" || strings.ContainsFunc(u, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return false
	}
	lower := strings.ToLower(u)
	for _, p := range []string{"https://", "http://", "tg://", "ton://"} {
		if strings.HasPrefix(lower, p) && len(u) > len(p) {
			return true
		}
	}
	return strings.HasPrefix(lower, "mailto:") && len(u) > len("mailto:")
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// entity decodes the character reference at s[i] == '&'. "All numerical
// HTML entities are supported. The API currently supports only the
// following named HTML entities: &lt;, &gt;, &amp; and &quot;."
// strict: TDLib keeps an undecodable '&' as a literal character and makes
// the ';' optional; here both are errors.
func entity(s string, i int) (rune, int, error) {
	j := i + 1
	if j < len(s) && s[j] == '#' {
		j++
		base := 10
		if j < len(s) && (s[j] == 'x' || s[j] == 'X') {
			base = 16
			j++
		}
		start := j
		for j < len(s) && isDigitBase(s[j], base) && j-start < 8 {
			j++
		}
		if j == start || j >= len(s) || s[j] != ';' {
			return 0, 0, errAt(i, "Invalid numeric HTML entity %q at byte offset %d", snippet(s, i, j), i)
		}
		code, err := strconv.ParseUint(s[start:j], base, 32)
		r := rune(code)
		if err != nil || code == 0 || code > utf8.MaxRune || (r >= 0xD800 && r <= 0xDFFF) {
			return 0, 0, errAt(i, "Invalid numeric HTML entity %q at byte offset %d", s[i:j+1], i)
		}
		return r, j + 1, nil
	}
	start := j
	for j < len(s) && j-start < 32 && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
		j++
	}
	if j == start || j >= len(s) || s[j] != ';' {
		return 0, 0, errAt(i, "Unescaped \"&\" at byte offset %d: write it as \"&amp;\"", i)
	}
	switch s[start:j] {
	case "lt":
		return '<', j + 1, nil
	case "gt":
		return '>', j + 1, nil
	case "amp":
		return '&', j + 1, nil
	case "quot":
		return '"', j + 1, nil
	}
	return 0, 0, errAt(i, "Unsupported HTML entity %q at byte offset %d", s[i:j+1], i)
}

func isDigitBase(c byte, base int) bool {
	if c >= '0' && c <= '9' {
		return true
	}
	return base == 16 && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F')
}

func snippet(s string, i, j int) string {
	if j < len(s) {
		j++
	}
	return s[i:j]
}
