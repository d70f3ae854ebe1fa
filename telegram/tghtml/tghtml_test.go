package tghtml

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	test := func(in, want string) {
		t.Helper()
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
	test("", "")
	test("plain", "plain")
	test(`<script>alert(1)</script> & "quotes"`, `&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;`)
	test("AT&amp;T", "AT&amp;amp;T")
	test("a\xffb", "a\uFFFDb")
	test("👨‍👩‍👧‍👦 'x'", "👨‍👩‍👧‍👦 'x'")
}

func TestLen16(t *testing.T) {
	test := func(in string, want, wantRaw int) {
		t.Helper()
		if got := Len16(in); got != want {
			t.Errorf("Len16(%q) = %d, want %d", in, got, want)
		}
		if got := Len16Raw(in); got != wantRaw {
			t.Errorf("Len16Raw(%q) = %d, want %d", in, got, wantRaw)
		}
	}
	test("", 0, 0)
	test("abc", 3, 3)
	test("é", 1, 1)
	test("😀", 2, 2)         // outside the BMP: a surrogate pair
	test("🇲🇦", 4, 4)        // two regional indicators
	test("<b>ab</b>", 2, 9) // tags are not counted
	test("&lt;&#x1F600;", 3, 13)
	test("<b>unclosed", 11, 11) // invalid: falls back to the raw length
}

func TestValidateAccepts(t *testing.T) {
	ok := []string{
		"",
		"plain text > with a bare greater-than",
		"<b>bold</b> <strong>strong</strong> <i>i</i> <em>em</em> <u>u</u> <ins>ins</ins>",
		"<s>s</s> <strike>strike</strike> <del>del</del>",
		`<span class="tg-spoiler">spoiler</span> <tg-spoiler>spoiler</tg-spoiler>`,
		`<a href="https://example.com/?a=1&amp;b=2">link</a>`,
		`<a href='http://example.com/'>single quotes</a>`,
		`<a href="tg://user?id=123456789">mention</a>`,
		`<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>`,
		"<code>inline</code>",
		"<pre>block</pre>",
		`<pre><code class="language-python">print(1)</code></pre>`,
		"<blockquote>quote</blockquote>",
		"<blockquote expandable>long quote</blockquote>",
		"<blockquote><b>bold</b> and <a href=\"https://x.example\">link</a> in a quote</blockquote>",
		"<b>bold <i>italic <u>underline <s>strike <tg-spoiler>spoiler</tg-spoiler></s></u></i></b>",
		"<b><a href=\"https://x.example\">bold link</a></b>",
		"<a href=\"https://x.example\"><b>link bold</b></a>",
		"<B>case-insensitive</B>",
		"&lt;&gt;&amp;&quot; &#65; &#x41; &#X1F600;",
		"<b >spaces</b>",
		"<a  href = \"https://x.example\" >spaced attribute</a>",
		"line one\nline two",
	}
	for _, s := range ok {
		if err := Validate(s); err != nil {
			t.Errorf("Validate(%q) = %v, want nil", s, err)
		}
	}
}

func TestValidateRefuses(t *testing.T) {
	test := func(in, wantErr string) {
		t.Helper()
		err := Validate(in)
		if err == nil {
			t.Errorf("Validate(%q) = nil, want %q", in, wantErr)
			return
		}
		if err.Error() != wantErr {
			t.Errorf("Validate(%q) = %q, want %q", in, err.Error(), wantErr)
		}
	}
	const p = "Bad Request: can't parse entities: "
	// The Bot API's own messages (TDLib parse_html).
	test("<script>alert(1)</script>", p+`Unsupported start tag "script" at byte offset 0`)
	test("a < b", p+`Unsupported start tag "" at byte offset 2`)
	test("x <br/>", p+`Unsupported start tag "br/" at byte offset 2`)
	test("<b>bold", p+`Can't find end tag corresponding to start tag "b"`)
	test("<b>x</i>", p+`Unmatched end tag at byte offset 4, expected "</b>", found "</i>"`)
	test("x</b>", p+`Unexpected end tag at byte offset 1`)
	test("<b>x</b", p+`Unclosed end tag at byte offset 4`)
	test("<b", p+`Unclosed start tag at byte offset 0`)
	test(`<a href="https://x.example">x`, p+`Can't find end tag corresponding to start tag "a"`)
	test(`<a href="https://x.example`, p+`Unclosed start tag at byte offset 0`)
	test(`<a href>x</a>`, p+`Expected equal sign in declaration of an attribute of the tag "a" at byte offset 0`)
	test(`<span>x</span>`, p+`Tag "span" must have class "tg-spoiler" at byte offset 0`)
	test(`<span class="red">x</span>`, p+`Tag "span" must have class "tg-spoiler" at byte offset 0`)
	test("\xff", "Bad Request: strings must be encoded in UTF-8")
	// Stricter than the server.
	test("AT&T", p+`Unescaped "&" at byte offset 2: write it as "&amp;"`)
	test("a & b", p+`Unescaped "&" at byte offset 2: write it as "&amp;"`)
	test("&nbsp;", p+`Unsupported HTML entity "&nbsp;" at byte offset 0`)
	test("&lt", p+`Unescaped "&" at byte offset 0: write it as "&amp;"`)
	test("&#0;", p+`Invalid numeric HTML entity "&#0;" at byte offset 0`)
	test("&#xD800;", p+`Invalid numeric HTML entity "&#xD800;" at byte offset 0`)
	test("&#x110000;", p+`Invalid numeric HTML entity "&#x110000;" at byte offset 0`)
	test("&#;", p+`Invalid numeric HTML entity "&#;" at byte offset 0`)
	test(`<a href=https://x.example>x</a>`, p+`Unquoted value of the attribute "href" in the tag "a" at byte offset 8`)
	test(`<a href="javascript:alert(1)">x</a>`, p+`Unsupported URL "javascript:alert(1)" in the tag "a" at byte offset 0`)
	test(`<a href="//evil.example/">x</a>`, p+`Unsupported URL "//evil.example/" in the tag "a" at byte offset 0`)
	test(`<a>x</a>`, p+`Tag "a" must have attribute "href" at byte offset 0`)
	test(`<b class="x">x</b>`, p+`Unsupported attribute "class" in the tag "b" at byte offset 0`)
	test(`<a href="https://a.example" href="https://b.example">x</a>`, p+`Duplicate attribute "href" in the tag "a" at byte offset 0`)
	test(`<a href="https://a.example/<">x</a>`, p+`Unescaped "<" in the value of the attribute "href" at byte offset 27`)
	test(`<code class="language-go">x</code>`, p+`Tag "code" with a language must be nested in "pre" at byte offset 0`)
	test(`<pre><code class="lang-go">x</code></pre>`, p+`Unsupported class "lang-go" in the tag "code" at byte offset 5`)
	test(`<tg-emoji>x</tg-emoji>`, p+`Tag "tg-emoji" must have a numeric attribute "emoji-id" at byte offset 0`)
	test("<code><b>x</b></code>", p+`Tag "b" can't be nested in "code" at byte offset 6`)
	test("<pre><b>x</b></pre>", p+`Tag "b" can't be nested in "pre" at byte offset 5`)
	test("<b><code>x</code></b>", p+`Tag "code" can't be nested in "b" at byte offset 3`)
	test(`<a href="https://x.example"><a href="https://y.example">x</a></a>`, p+`Tag "a" can't be nested in "a" at byte offset 28`)
	test("<blockquote><blockquote>x</blockquote></blockquote>", p+`Tag "blockquote" can't be nested in "blockquote" at byte offset 12`)
	test("<b><blockquote>x</blockquote></b>", p+`Tag "blockquote" can't be nested in "b" at byte offset 3`)
	test("</>", p+`Unexpected end tag at byte offset 0`)
	test("<b>x</></b>", p+`Unmatched end tag at byte offset 4, expected "</b>", found "</>"`)
}

func TestParseErrorType(t *testing.T) {
	err := Validate("x <script>")
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Offset != 2 {
		t.Fatalf("Validate: %v, want a *ParseError at offset 2", err)
	}
}

func TestTextAndEntities(t *testing.T) {
	in := `<b>Hi</b> 😀 <a href="https://x.example/?a=1&amp;b=2">l&amp;nk</a> <pre><code class="language-go">x</code></pre><blockquote expandable>q</blockquote><i></i>`
	text, ents, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Hi 😀 l&nk xq"; text != want {
		t.Errorf("text = %q, want %q", text, want)
	}
	want := []Entity{
		{Type: "bold", Offset: 0, Length: 2},
		{Type: "text_link", Offset: 6, Length: 4, URL: "https://x.example/?a=1&b=2"},
		{Type: "pre", Offset: 11, Length: 1, Language: "go"},
		{Type: "expandable_blockquote", Offset: 12, Length: 1},
	}
	if !reflect.DeepEqual(ents, want) {
		t.Errorf("entities =\n%+v\nwant\n%+v", ents, want)
	}
	if got, _ := Text(in); got != text {
		t.Errorf("Text = %q, want %q", got, text)
	}
}

func TestCheck(t *testing.T) {
	if err := Check("<b>ok</b>"); err != nil {
		t.Errorf("Check: %v", err)
	}
	if err := Check(" \n<b> </b>"); !errors.Is(err, ErrEmpty) {
		t.Errorf("Check(blank) = %v, want ErrEmpty", err)
	}
	long := "<b>" + strings.Repeat("x", MaxMessageLen) + "</b>"
	if err := Check(long); err != nil {
		t.Errorf("Check(4096 units) = %v", err)
	}
	if err := Check(long + "😀"); !errors.Is(err, ErrTooLong) {
		t.Errorf("Check(4098 units) = %v, want ErrTooLong", err)
	}
	if err := Check("<x>"); err == nil {
		t.Error("Check(<x>) = nil")
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "a<b>&c\"d'", "\xff\xfe", "&amp;", "😀\u202e", "<script>alert(1)</script> & \"quotes\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := Escape(s)
		if err := Validate(e); err != nil {
			t.Fatalf("Validate(Escape(%q)) = %v", s, err)
		}
		text, err := Text(e)
		if err != nil {
			t.Fatalf("Text(Escape(%q)) = %v", s, err)
		}
		if utf8.ValidString(s) {
			if text != s {
				t.Fatalf("Text(Escape(%q)) = %q", s, text)
			}
		} else if text != strings.ToValidUTF8(s, "\uFFFD") && !utf8.ValidString(text) {
			t.Fatalf("Text(Escape(%q)) = %q, not valid UTF-8", s, text)
		}
		if Len16(e) != Len16Raw(text) {
			t.Fatalf("Len16(Escape(%q)) = %d, want %d", s, Len16(e), Len16Raw(text))
		}
		// The escaped form also survives inside an attribute.
		if err := Validate(`<a href="https://x.example/` + e + `">x</a>`); err != nil && !strings.Contains(err.Error(), "Unsupported URL") {
			t.Fatalf("escaped value in href: %v", err)
		}
	})
}

// FuzzValidate checks the validator against itself: it never panics, what it
// accepts has a text no longer than the raw string, and Len16 agrees with
// the text Parse returns.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{
		"<b>x</b>", "<a href=\"https://x.example\">y</a>", "&#x1F600;", "<pre><code class=\"language-go\">x</code></pre>",
		"<b>x", "</b>", "<", "&", "<blockquote expandable>q</blockquote>", "<span class=\"tg-spoiler\">s</span>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		text, ents, err := Parse(s)
		if err != nil {
			if Validate(s) == nil {
				t.Fatalf("Parse refused %q but Validate accepted it", s)
			}
			return
		}
		if Validate(s) != nil {
			t.Fatalf("Validate refused %q but Parse accepted it", s)
		}
		n := Len16Raw(text)
		if n > Len16Raw(s) || Len16(s) != n {
			t.Fatalf("%q: text length %d, Len16 %d, raw %d", s, n, Len16(s), Len16Raw(s))
		}
		for _, e := range ents {
			if e.Offset < 0 || e.Length <= 0 || e.Offset+e.Length > n {
				t.Fatalf("%q: entity %+v outside the text (%d units)", s, e, n)
			}
		}
		// Re-escaping the text gives a valid message with the same text.
		if got, err := Text(Escape(text)); err != nil || got != text {
			t.Fatalf("round trip of %q: %q, %v", text, got, err)
		}
	})
}
