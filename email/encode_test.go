package email

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

const (
	testPhA = "Zq9AaaaPlaceholderXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
	testPhB = "Zq9BbbbPlaceholderXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
)

// checkQP checks the encoding of src: lines of at most 76 characters, CRLF
// only, no line starting with "." or "From ", every placeholder whole at
// the offsets reported, and a decoding equal to src with CRLF line ends.
func checkQP(t *testing.T, src string) {
	t.Helper()
	phs := []string{testPhA, testPhB}
	enc, holes := qpEncode(nil, src, phs)
	for i, line := range strings.Split(string(enc), "\r\n") {
		if len(line) > 76 {
			t.Fatalf("line %d has %d characters: %q", i, len(line), line)
		}
		if strings.ContainsAny(line, "\r\n") {
			t.Fatalf("bare CR or LF in line %d: %q", i, line)
		}
		if strings.HasPrefix(line, ".") || strings.HasPrefix(line, "From ") {
			t.Fatalf("line %d starts with %q", i, line[:1])
		}
		if strings.HasSuffix(line, " ") || strings.HasSuffix(line, "\t") {
			t.Fatalf("line %d ends in whitespace: %q", i, line)
		}
	}
	for _, h := range holes {
		if got := string(enc[h.off : h.off+len(phs[h.ph])]); got != phs[h.ph] {
			t.Fatalf("hole at %d holds %q", h.off, got)
		}
	}
	if want := strings.Count(src, testPhA) + strings.Count(src, testPhB); len(holes) != want {
		t.Fatalf("%d holes for %d placeholders", len(holes), want)
	}
	dec, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(enc)))
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, enc)
	}
	want := strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(src, "\r\n", "\n"), "\r", "\n"), "\n", "\r\n")
	if string(dec) != want {
		t.Fatalf("round trip:\n got %q\nwant %q", dec, want)
	}
}

func TestQPEncode(t *testing.T) {
	long := strings.Repeat("word ", 40)
	for _, src := range []string{
		"",
		"plain ascii line",
		"trailing space \nand tab\t\nend ",
		".leading dot\n..two\nFrom the start\nFrom: not mbox",
		"é — “quotes” 日本語 and = signs ==",
		long + "\n" + strings.Repeat("x", 200),
		strings.Repeat("é", 100),
		"link: https://news.example.com/unsubscribe/" + testPhA + "\nagain " + testPhB + testPhA,
		strings.Repeat("a", 74) + testPhA + strings.Repeat(".", 80),
		"<a href=\"https://x.example/unsubscribe/" + testPhA + "\" style=\"color:#111\">Unsubscribe</a>",
		"crlf\r\nlines\rold mac\n",
		strings.Repeat("a", 75) + ".b",
		strings.Repeat("a", 74) + " \n",
	} {
		checkQP(t, src)
	}
}

func FuzzQPEncode(f *testing.F) {
	f.Add("hello .world\nFrom x", 10)
	f.Add("é "+testPhA+" x", 3)
	f.Fuzz(func(t *testing.T, s string, at int) {
		if at >= 0 && at <= len(s) && at%2 == 0 {
			s = s[:at] + testPhA + s[at:]
		}
		checkQP(t, s)
	})
}

func TestHeaderText(t *testing.T) {
	dec := new(mime.WordDecoder)
	for _, tc := range []struct{ in, want string }{
		{"Daily Headlines — Monday", "Daily Headlines — Monday"},
		{"evil\r\nBcc: victim@example.org", "evil Bcc: victim@example.org"},
		{"tab\tand\x00nul\u2028sep", "tab and nul sep"},
		{strings.Repeat("long words ", 20), strings.TrimSpace(strings.Repeat("long words ", 20))},
		{strings.Repeat("é", 120), strings.Repeat("é", 120)},
	} {
		got := headerText(tc.in, len("Subject: "))
		for i, line := range strings.Split(got, "\r\n") {
			if i > 0 && !strings.HasPrefix(line, " ") {
				t.Errorf("%q: continuation line %q does not start with a space", tc.in, line)
			}
			if len(line) > 998 || strings.ContainsAny(line, "\r\n\x00") {
				t.Errorf("%q: bad line %q", tc.in, line)
			}
		}
		unfolded := strings.ReplaceAll(got, "\r\n ", " ")
		decoded, err := dec.DecodeHeader(unfolded)
		if err != nil {
			t.Fatalf("%q: %v", got, err)
		}
		if decoded != tc.want {
			t.Errorf("headerText(%q) decodes to %q, want %q", tc.in, decoded, tc.want)
		}
	}
}

func FuzzHeaderText(f *testing.F) {
	f.Add("Subject\r\nBcc: x")
	f.Add("é — ok")
	f.Fuzz(func(t *testing.T, s string) {
		got := headerText(s, 9)
		for i, line := range strings.Split(got, "\r\n") {
			if strings.ContainsAny(line, "\r\n") || (i > 0 && !strings.HasPrefix(line, " ")) {
				t.Fatalf("injection: %q", got)
			}
			for _, r := range line {
				if r < 0x20 || r > 0x7e {
					t.Fatalf("non-ASCII or control in header: %q", got)
				}
			}
		}
		decoded, err := new(mime.WordDecoder).DecodeHeader(strings.ReplaceAll(got, "\r\n ", " "))
		if err != nil {
			t.Fatalf("%q: %v", got, err)
		}
		if utf8.ValidString(s) && strings.Join(strings.Fields(decoded), " ") != decoded {
			t.Fatalf("whitespace not collapsed: %q", decoded)
		}
	})
}

func TestAddrSpec(t *testing.T) {
	for in, ok := range map[string]bool{
		"reader@example.org":         true,
		"first.last+tag@sub.example": true,
		"":                           false,
		"no-at-sign":                 false,
		"a@b.c\r\nRCPT TO:<x@y>":     false,
		"Name <a@b.c>":               false,
		"a@b.c>":                     false,
		"a b@c.d":                    false,
		"josé@example.org":           false,
		"a@":                         false,
		"@b.c":                       false,
	} {
		got, err := addrSpec(in)
		if ok != (err == nil) || (ok && got != in) {
			t.Errorf("addrSpec(%q) = %q, %v", in, got, err)
		}
		if err != nil && !errors.Is(err, ErrBadAddress) {
			t.Errorf("addrSpec(%q): %v is not ErrBadAddress", in, err)
		}
	}
}

// FuzzDotAtomAddr: the fast path of addrSpec accepts nothing that
// mail.ParseAddress would not accept as the same bare address.
func FuzzDotAtomAddr(f *testing.F) {
	for _, s := range []string{"reader@example.org", "first.last+tag@sub.example", "a..b@c", ".a@b", "a@b.", "a@@b", "\"q\"@b", "a@[1.2.3.4]", "x!#$%&'*+-/=?^_`{|}~@y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !isDotAtomAddr(s) {
			return
		}
		a, err := mail.ParseAddress(s)
		if err != nil || a.Name != "" || a.Address != s {
			t.Fatalf("%q: fast path accepts it, mail.ParseAddress gives %+v, %v", s, a, err)
		}
	})
}

func TestDotStuff(t *testing.T) {
	for in, want := range map[string]string{
		"a\r\nb\r\n":       "a\r\nb\r\n",
		".a\r\n.\r\nb..":   "..a\r\n..\r\nb..",
		"x\r\n.hidden\r\n": "x\r\n..hidden\r\n",
	} {
		if got := string(dotStuff([]byte(in))); got != want {
			t.Errorf("dotStuff(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPlaceholderLength(t *testing.T) {
	for _, p := range []string{placeholder("Zq9UnsubscribeTokenPlaceholder"), placeholder("Zq9PreferencesTokenPlaceholder"), testPhA, testPhB} {
		if len(p) != 46 {
			t.Errorf("placeholder %q has length %d", p, len(p))
		}
	}
}

// dateOf formats once a second: within one it repeats, at the next it moves.
func TestDateOf(t *testing.T) {
	b := &Builder{}
	t0 := time.Date(2026, 3, 1, 6, 0, 0, 100, time.UTC)
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{t0, "Sun, 01 Mar 2026 06:00:00 +0000"},
		{t0.Add(900 * time.Millisecond), "Sun, 01 Mar 2026 06:00:00 +0000"},
		{t0.Add(time.Second), "Sun, 01 Mar 2026 06:00:01 +0000"},
		{t0, "Sun, 01 Mar 2026 06:00:00 +0000"},
	} {
		if got := b.dateOf(c.at); got != c.want {
			t.Errorf("dateOf(%v) = %q, want %q", c.at, got, c.want)
		}
	}
}
