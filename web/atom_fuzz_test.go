package web

import (
	"encoding/xml"
	"regexp"
	"strings"
	"testing"

	"github.com/digestbot/digestbot/digest"
)

// ourTags are the tags atomContent writes.
var ourTags = regexp.MustCompile(`</?(h2|ul|li)>|<br>|<a href="https?://[^"<>]*">|</a>`)

// FuzzAtomContent: whatever an outlet's strings hold, an entry's HTML
// carries no markup of theirs, and the entry is well-formed XML.
func FuzzAtomContent(f *testing.F) {
	f.Add("Summit <script>alert(1)</script>", "https://news.example/a?b=1&c=2", "Wire", "Lead & more", "World")
	f.Add("\x00\xff\ufffe", "javascript:alert(1)", "<img src=x onerror=alert(1)>", "]]>", "")
	f.Fuzz(func(t *testing.T, title, link, source, lead, section string) {
		e := digest.Edition{Items: []digest.Item{{Title: title, URL: link, Source: source, Lead: lead, Section: section}}}
		content := atomContent(e)
		// Every "<" left once our own tags are taken out came from outside.
		if rest := ourTags.ReplaceAllString(content, ""); strings.Contains(rest, "<") || strings.Contains(rest, ">") {
			t.Fatalf("outside markup in %q", content)
		}
		if strings.Contains(strings.ToLower(content), `href="javascript:`) {
			t.Fatalf("a javascript: link: %q", content)
		}
		out, err := xml.Marshal(atomEntry{Title: title, Summary: atomSummary(e), Content: atomHTML{Type: "html", Body: content}})
		if err != nil {
			return // encoding/xml refuses strings it cannot write (invalid UTF-8 is replaced, control characters refused)
		}
		var back atomEntry
		if err := xml.Unmarshal(out, &back); err != nil {
			t.Fatalf("entry does not parse back: %v\n%s", err, out)
		}
	})
}
