package digest

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// fuzzEdition builds an edition of 1–40 items from the fuzzer's strings,
// varied per item so that splitting, sections, links and truncation all get
// exercised: some items repeat the lead many times, some have no link, the
// section changes every few items.
func fuzzEdition(title, lead, source, link, section string, n uint8, repeat uint16) Edition {
	e := Edition{Date: "2023-09-13", Title: "Daily Headlines"}
	count := int(n)%40 + 1
	for i := range count {
		it := Item{
			ArticleID: int64(i + 1),
			Title:     title,
			Lead:      lead,
			Source:    source,
			URL:       link,
			Section:   section,
		}
		switch i % 4 {
		case 1:
			it.Title = title + " " + strconv.Itoa(i)
			it.URL = "https://x.example/" + strconv.Itoa(i)
			it.AlsoIn = []string{source, lead}
		case 2:
			it.Lead = strings.Repeat(lead, min(int(repeat)%400, 8000/(len(lead)+1))+1)
			it.Section = section + strconv.Itoa(i/8)
		case 3:
			it.Title = strings.Repeat(title, min(int(repeat)%50, 4000/(len(title)+1))+1)
			it.URL = ""
		}
		e.Items = append(e.Items, it)
	}
	return e
}

func fuzzSeeds(f *testing.F) {
	f.Add(`<script>alert(1)</script> & "quotes"`, "Lead & <b>x</b>", "Outlet", "https://x.example/a?b=1&c=2", "world", uint8(3), uint16(1))
	f.Add(strings.Repeat("x", 3000), strings.Repeat("😀", 2000), "&&&", "javascript:alert(1)", "us", uint8(30), uint16(300))
	f.Add("report\u202Efdp.exe", "\u202Egnp.kcilc\u202C", "\r\nBcc: x", "//evil.example/", "", uint8(10), uint16(7))
	f.Add("", "   ", "", "data:text/html;base64,PHNjcmlwdD4=", "\x00\xff", uint8(0), uint16(0))
	f.Add(`<b>Breaking</b>: AT&amp;T <i>unclosed <a href="x">tag`, `Price < $5 > cost </code></pre> <tg-spoiler>`, "عاجل 👨‍👩‍👧‍👦", "https://hostile.example/"+strings.Repeat("&q=\"", 600), "§", uint8(39), uint16(399))
}

// FuzzRenderTelegram: any edition renders to messages that pass the strict
// validator, each within 4096 UTF-16 units, and the split loses and repeats
// nothing: every item is in exactly one message, in order, its title intact
// or visibly shortened (checkTelegram).
func FuzzRenderTelegram(f *testing.F) {
	fuzzSeeds(f)
	o := renderTestOptions()
	f.Fuzz(func(t *testing.T, title, lead, source, link, section string, n uint8, repeat uint16) {
		checkTelegram(t, fuzzEdition(title, lead, source, link, section, n, repeat), o)
	})
}

// FuzzRenderEmailHTML: the email and the web page parse as HTML, hold no
// script, no event handler and no link other than http(s), and show the
// title as text; the subject stays one short line.
func FuzzRenderEmailHTML(f *testing.F) {
	fuzzSeeds(f)
	o := renderTestOptions()
	f.Fuzz(func(t *testing.T, title, lead, source, link, section string, n uint8, repeat uint16) {
		e := fuzzEdition(title, lead, source, link, section, n%5, repeat%20)
		subject := Subject(e, o)
		if strings.ContainsAny(subject, "\r\n") || utf8.RuneCountInString(subject) > maxSubjectRunes {
			t.Fatalf("Subject = %q", subject)
		}
		for _, render := range []func(Edition, RenderOptions) (string, error){RenderEmailHTML, RenderWebPage} {
			out, err := render(e, o)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(strings.ToLower(out), "<script") {
				t.Fatalf("<script in the output")
			}
			doc, err := html.Parse(strings.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			walk(doc, func(n *html.Node) {
				if n.Type != html.ElementNode {
					return
				}
				switch n.Data {
				case "script", "iframe", "object", "embed", "form", "img":
					t.Fatalf("<%s> in the output", n.Data)
				}
				for _, a := range n.Attr {
					if strings.HasPrefix(a.Key, "on") {
						t.Fatalf("event handler %s=%q", a.Key, a.Val)
					}
					if a.Key == "href" {
						l := strings.ToLower(a.Val)
						if !strings.HasPrefix(l, "https://") && !strings.HasPrefix(l, "http://") {
							t.Fatalf("link %q", a.Val)
						}
					}
				}
			})
			text := nodeText(doc)
			for _, s := range groupSections(e.Items) {
				for _, it := range s.Items {
					if !strings.Contains(text, it.Title) {
						t.Fatalf("title %q is not in the text", it.Title)
					}
				}
			}
		}
		if _, err := RenderEmailText(e, o); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzDisplayText: the cleaned form is stable, one line, within its limit,
// free of bidi controls, and the fast path agrees with the slow one.
func FuzzDisplayText(f *testing.F) {
	for _, s := range []string{"", " a  b ", "report\u202Efdp.exe", "\xff", strings.Repeat("word ", 80), "a\u00a0b\tc\r\nd", "\u2067x\u2069"} {
		f.Add(s, uint16(20))
	}
	f.Fuzz(func(t *testing.T, s string, limit uint16) {
		l := int(limit%400) + 1
		d := displayText(s, l)
		if utf8.RuneCountInString(d) > l || !utf8.ValidString(d) {
			t.Fatalf("displayText(%q, %d) = %q", s, l, d)
		}
		if strings.ContainsFunc(d, func(r rune) bool { return r < ' ' || isBidiControl(r) || r == '\u2028' || r == '\u2029' }) {
			t.Fatalf("displayText(%q) = %q keeps a control", s, d)
		}
		if d != strings.TrimSpace(d) || strings.Contains(d, "  ") {
			t.Fatalf("displayText(%q) = %q: stray spaces", s, d)
		}
		if again := displayText(d, l); again != d {
			t.Fatalf("not stable: %q → %q → %q", s, d, again)
		}
	})
}
