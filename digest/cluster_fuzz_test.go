package digest

import (
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/digestbot/digestbot/articles"
)

// FuzzMakeToken holds the tokenizer's ASCII fast paths to the plain rule
// they stand for: a word's lower form is each rune lower-cased, commas
// dropped, accents folded when the word is not ASCII; its flags read the
// word as written.
func FuzzMakeToken(f *testing.F) {
	for _, s := range []string{"Russia", "2,900", "UAW", "Andrés", "ÉCOLE", "İstanbul", "7.1", "ǅemal", "a,b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, word string) {
		if word == "" || !utf8.ValidString(word) {
			t.Skip()
		}
		tk := makeToken(word, true, false)
		var b strings.Builder
		ascii := true
		for _, r := range word {
			if r >= utf8.RuneSelf {
				ascii = false
			}
			if r != ',' {
				b.WriteRune(unicode.ToLower(r))
			}
		}
		want := b.String()
		if !ascii {
			want = foldAccents(want)
		}
		if tk.lower != want {
			t.Fatalf("makeToken(%q).lower = %q, want %q", word, tk.lower, want)
		}
		first, _ := utf8.DecodeRuneInString(word)
		if tk.caps != unicode.IsUpper(first) {
			t.Fatalf("makeToken(%q).caps = %v", word, tk.caps)
		}
	})
}

// FuzzCluster: any titles and leads give a partition of the articles
// (every index once, groups ascending), the same for the same input, and
// tokens that are never empty.
func FuzzCluster(f *testing.F) {
	f.Add("Kim meets Putin at Russian spaceport\nKim Jong Un met Vladimir Putin on Wednesday.\nPutin gives Kim tour of spaceport\nVladimir Putin showed Kim Jong Un around.")
	f.Add("Quake of 7.1 hits Chile\n\n\n2,900 dead, ‘Andrés’ says\nUAW: NSW — «x»")
	f.Fuzz(func(t *testing.T, text string) {
		lines := strings.Split(text, "\n")
		if len(lines) > 40 {
			lines = lines[:40]
		}
		at := time.Date(2026, 12, 8, 6, 0, 0, 0, time.UTC)
		var as []articles.Article
		for i := 0; i+1 < len(lines); i += 2 {
			as = append(as, articles.Article{ID: int64(i), FeedID: int64(i % 3), Title: lines[i], Lead: lines[i+1],
				PublishedAt: at.Add(time.Duration(i) * time.Minute)})
		}
		for _, a := range as {
			for _, tk := range appendTokens(appendTokens(nil, a.Title, true), a.Lead, false) {
				if tk.lower == "" {
					t.Fatalf("empty token from %q / %q", a.Title, a.Lead)
				}
			}
		}
		groups := Cluster(as)
		var all []int
		for _, g := range groups {
			if !slices.IsSorted(g) {
				t.Fatalf("group %v not ascending", g)
			}
			all = append(all, g...)
		}
		slices.Sort(all)
		for i, k := range all {
			if i != k {
				t.Fatalf("groups %v are not each of the %d articles once", groups, len(as))
			}
		}
		if len(all) != len(as) {
			t.Fatalf("groups %v cover %d of %d articles", groups, len(all), len(as))
		}
		if again := Cluster(as); !slices.EqualFunc(groups, again, slices.Equal[[]int]) {
			t.Fatalf("two runs differ: %v and %v", groups, again)
		}
	})
}
