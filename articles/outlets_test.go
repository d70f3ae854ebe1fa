package articles

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Inputs from outlets the development fixtures do not cover: other credit
// formats, datelines, promos and encodings (articles/testdata).

func readLocal(t testing.TB, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", rel))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Scraped article texts: the lead starts at the story, the caption is kept
// at most once and never with its credit, and trailing boilerplate is gone.
func TestOutletTexts(t *testing.T) {
	for _, tc := range []struct {
		file      string
		lead      string   // prefix of the expected lead
		caption   string   // text that may appear at most once, never in the lead
		gone      []string // must not remain in the body
		kept      []string // must remain in the body
		notInLead []string
	}{
		{
			file:    "reuters-credit-line.txt",
			lead:    "LONDON, Sept 13 (Reuters) - Britain's economy shrank by 0.5% in July, official data showed on Wednesday,",
			caption: "A worker inspects solar panels",
			gone:    []string{"Photo: Jane Doe/Reuters", "Read more:", "©", "All rights reserved"},
		},
		{
			file:    "ap-photo-credit.txt",
			lead:    "WASHINGTON (AP) — The Senate voted 77-19 on Tuesday",
			caption: "Firefighters battle the Clearwater fire",
			gone:    []string{"AP Photo/John Smith", "Advertisement", "Sign up", "Share this", "Facebook", "Twitter", "Copyright"},
			kept:    []string{"The House is expected to take up the measure on Thursday"},
		},
		{
			file:    "credit-label.txt",
			lead:    "TBILISI, Georgia — Thousands of protesters rallied",
			caption: "Protesters gather outside parliament",
			gone:    []string{"Credit: Anna Kay", "Get the latest headlines", "Click here"},
		},
		{
			file:    "getty-dash.txt",
			lead:    "ROME — Italy's tiny island of Lampedusa received more than 5,000 migrants",
			caption: "Migrants wait to disembark",
			gone:    []string{"Getty Images", "originally appeared"},
		},
		{
			// Once, no period, then a dateline: the caption is not the lead.
			file:      "caption-once-no-period.txt",
			lead:      "MARRAKECH, Morocco (Reuters) - Moroccan soldiers and rescue workers reached remote mountain villages",
			notInLead: []string{"Rescue workers search the rubble"},
			gone:      []string{"Subscribe"},
		},
		{
			file:      "promo-mid-body.txt",
			lead:      "PARIS — French President Emmanuel Macron said on Wednesday that France would keep its ambassador in Niger despite a demand by the junta to withdraw him. Sign-up for the national draft lottery opened on Monday",
			gone:      []string{"Sign Up for The Morning Briefing", "Sign up for our daily briefing"},
			kept:      []string{"Sign-up for the national draft lottery opened on Monday, officials said"},
			notInLead: []string{"briefing"},
		},
		{
			file:      "copyright-promo.txt",
			lead:      "NEW YORK, Sept. 13 (Reuters) - Arm Holdings priced its initial public offering at the top of its marketed range on Wednesday, valuing the chip designer at $54.5 billion. The pricing was a boost",
			gone:      []string{"Related:", "Advertisement", "Share this"},
			notInLead: []string{"Instacart"},
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data := string(readLocal(t, filepath.Join("outlets", tc.file)))
			lead := TextLead(data)
			body := strings.Join(TextParagraphs(data), "\n")
			if !strings.HasPrefix(lead, tc.lead) {
				t.Errorf("lead\n got %q\nwant %q…", lead, tc.lead)
			}
			if utf8.RuneCountInString(lead) > MaxLead {
				t.Errorf("lead of %d characters", utf8.RuneCountInString(lead))
			}
			if tc.caption != "" {
				if n := strings.Count(body, tc.caption); n > 1 {
					t.Errorf("caption kept %d times", n)
				}
				if strings.Contains(lead, tc.caption) {
					t.Errorf("caption in lead %q", lead)
				}
			}
			for _, g := range tc.gone {
				if strings.Contains(body, g) {
					t.Errorf("%q left in body:\n%s", g, body)
				}
			}
			for _, k := range tc.kept {
				if !strings.Contains(body, k) {
					t.Errorf("%q lost from body:\n%s", k, body)
				}
			}
			for _, x := range tc.notInLead {
				if strings.Contains(lead, x) {
					t.Errorf("%q in lead %q", x, lead)
				}
			}
		})
	}
}

// Credits in other formats after a repeated caption, and a caption that
// appears once but carries its credit.
func TestCaptionCreditFormats(t *testing.T) {
	caption := "Firefighters battle a blaze in the hills above Santa Barbara, Calif., on Monday."
	story := "WASHINGTON (AP) — The Senate voted Tuesday to keep the government open. The measure now goes to the House."
	for _, credit := range []string{
		"(AP Photo/John Smith)", "Photo: Jane Doe/Reuters", "Credit: John Smith for The Globe",
		"— Getty Images", "Jane Doe/AFP via Getty Images", "[Reuters]", "| Jane Doe",
		"Photograph by Jane Doe", "Image: Courtesy of the city",
	} {
		for _, in := range []string{
			caption + "\n\n" + caption + " " + credit + "\n\n" + story,
			caption + " " + credit + "\n\n" + story,
		} {
			if got := TextLead(in); got != story {
				t.Errorf("credit %q: lead %q", credit, got)
			}
			if got := TextParagraphs(in); strings.Contains(strings.Join(got, " "), credit) {
				t.Errorf("credit %q left in body %q", credit, got)
			}
		}
	}
	// A paragraph that repeats an earlier one and goes on with a sentence
	// is story, not a credit.
	// An acronym and a dash opening the second paragraph is no dateline:
	// the first paragraph still leads.
	in := "The alliance met on Tuesday. It agreed to more aid.\n\nNATO — which has 31 members — will meet again in July."
	if got := TextLead(in); !strings.HasPrefix(got, "The alliance met on Tuesday.") {
		t.Errorf("acronym taken for a dateline: %q", got)
	}
	p1 := "The council met on Tuesday to discuss the plan."
	p2 := p1 + " It voted 5-4 to approve it after a long debate."
	if got := TextParagraphs(p1 + "\n\n" + p2); len(got) != 2 {
		t.Errorf("story continuation taken for a credit: %q", got)
	}
}

// Promos are dropped as standalone lines; the same words inside reporting
// stay.
func TestPromoBoundaries(t *testing.T) {
	story := "The council approved the plan on Tuesday. It takes effect in May."
	for _, promo := range []string{
		"Subscribe to our newsletter", "Sign up for our daily briefing", "Get the latest headlines in your inbox",
		"Click here to subscribe", "Read more: Council delays vote", "Related: Council delays vote", "Related coverage",
		"Advertisement", "Share this article", "© 2023 The Daily. All rights reserved.", "Copyright 2023 Reuters",
		"This article originally appeared on The Conversation.", "Sign Up Now", "Register for free",
	} {
		if got := TextParagraphs(story + "\n\n" + promo); len(got) != 1 || got[0] != story {
			t.Errorf("trailing %q kept: %q", promo, got)
		}
	}
	// In the middle: call-to-action lines go; the lead never carries them.
	for _, promo := range []string{"Sign up for our daily briefing", "Advertisement", "Related: Council delays vote", "Subscribe today"} {
		in := "First sentence here.\n\n" + promo + "\n\nSecond paragraph here."
		if got := TextLead(in); got != "First sentence here. Second paragraph here." {
			t.Errorf("mid-body %q: lead %q", promo, got)
		}
	}
	for _, real := range []string{
		"Click here to read the full report, the senator said on Tuesday, adding that it was damning.",
		"Sign-up for the national draft lottery opened on Monday.",
		"Subscribers to the water service will pay more.",
		"Copyright lawyers said the ruling would reshape the industry.",
		"Related charges were filed against two other men.",
		"Advertisements for the event ran for weeks.",
	} {
		if got := TextParagraphs(real + "\n\n" + story); len(got) != 2 {
			t.Errorf("real sentence %q taken for a promo: %q", real, got)
		}
	}
}

func TestLeadSentenceEdges(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Mr. Smith and Dr. Jones of St. Louis met at 9 a.m. on Jan. 5. They talked.", "Mr. Smith and Dr. Jones of St. Louis met at 9 a.m. on Jan. 5. They talked."},
		{"The U.N. agency said the No. 2 official quit. Rates rose 3.5% after a $1.2 billion deal. Shares fell. Fourth sentence.", "The U.N. agency said the No. 2 official quit. Rates rose 3.5% after a $1.2 billion deal. Shares fell."},
		{"It happened in the U.S. The rest is history. Third. Fourth.", "It happened in the U.S. The rest is history. Third."},
		{"The session ended at 10 p.m. The next begins Sept. 13 in Geneva. Third. Fourth.", "The session ended at 10 p.m. The next begins Sept. 13 in Geneva. Third."},
		{"He said, “We will not back down.” The mayor left. Third. Fourth.", "He said, “We will not back down.” The mayor left. Third."},
		{"He called it \"a disgrace\". The mayor left. Third. Fourth.", "He called it \"a disgrace\". The mayor left. Third."},
		{"Fire!", "Fire!"},
		{"One short sentence.", "One short sentence."},
		// CJK: sentences end at 。 with no space; three of them, joined as written.
		{"金正恩総書記は13日、プーチン大統領と会談した。両首脳は軍事協力について協議した。専門家は懸念を示した。さらに文章が続く。", "金正恩総書記は13日、プーチン大統領と会談した。両首脳は軍事協力について協議した。専門家は懸念を示した。"},
		{"قال الرئيس إن المحادثات كانت مثمرة. وأضاف أن الجانبين اتفقا. وقال مسؤولون إنهم متفائلون. جملة رابعة.", "قال الرئيس إن المحادثات كانت مثمرة. وأضاف أن الجانبين اتفقا. وقال مسؤولون إنهم متفائلون."},
		// A heading or table cell does not run into the next sentence.
		{"What happens next\n\nThe vote is Friday. It will be close.", "The vote is Friday. It will be close."},
	} {
		if got := TextLead(tc.in); got != tc.want {
			t.Errorf("TextLead(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
	// Over 300 characters, in one huge paragraph, in any script: cut at a
	// rune boundary, valid UTF-8, with an ellipsis.
	for _, in := range []string{
		strings.Repeat("The committee heard testimony from many witnesses ", 400) + "today.",
		strings.Repeat("北朝鮮の金正恩総書記は会談した", 400) + "。",
		strings.Repeat("قال الرئيس إن المحادثات كانت مثمرة ", 400) + ".",
		strings.Repeat("x", 5000),
	} {
		got := TextLead(in)
		if n := utf8.RuneCountInString(got); n > MaxLead || n < MaxLead/2 || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
			t.Errorf("long lead: %d runes, valid %v: %q", n, utf8.ValidString(got), got)
		}
	}
}

func parseLocalFeed(t *testing.T, file, feedURL string) FeedResult {
	t.Helper()
	res, err := ParseFeedResult(readLocal(t, filepath.Join("feeds", file)), Feed{URL: feedURL}, testNow)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return res
}

func TestOutletFeeds(t *testing.T) {
	one := func(t *testing.T, res FeedResult) Article {
		t.Helper()
		if len(res.Articles) == 0 {
			t.Fatalf("no articles; skipped %v", res.Skipped)
		}
		return res.Articles[0]
	}
	t.Run("latin1", func(t *testing.T) {
		a := one(t, parseLocalFeed(t, "latin1.rss.xml", ""))
		if a.Title != "Café in Zürich naïvely reopens" || a.Lead != "The café in Zürich reopened on Wednesday. Regulars cheered." {
			t.Errorf("%q / %q", a.Title, a.Lead)
		}
		if !a.PublishedAt.Equal(time.Date(2023, 9, 13, 8, 0, 0, 0, time.UTC)) {
			t.Errorf("published %v", a.PublishedAt)
		}
	})
	t.Run("cp1252", func(t *testing.T) {
		a := one(t, parseLocalFeed(t, "cp1252.rss.xml", ""))
		if a.Title != "“Not for sale” – the € 5 billion deal" || a.Lead != "It’s off, the minister said. Talks ended." {
			t.Errorf("%q / %q", a.Title, a.Lead)
		}
	})
	t.Run("bom", func(t *testing.T) {
		for _, f := range []string{"bom.rss.xml", "bom.feed.json"} {
			if got := Sniff(readLocal(t, filepath.Join("feeds", f))); got != KindFeed {
				t.Errorf("%s sniffed as %v", f, got)
			}
			one(t, parseLocalFeed(t, f, ""))
		}
	})
	t.Run("relative links", func(t *testing.T) {
		// Relative links resolve against the site (channel link), not the
		// feed host; xml:base wins where it is set.
		res := parseLocalFeed(t, "relative.rss.xml", "https://feeds.hosting.example/relative/rss")
		want := []string{
			"https://www.relative.example/world/2023/09/13/story-one.html",
			"https://www.relative.example/business/2023/09/13/story-two.html",
		}
		if len(res.Articles) != 2 {
			t.Fatalf("%d articles", len(res.Articles))
		}
		for i, a := range res.Articles {
			if a.URL != want[i] {
				t.Errorf("URL %q, want %q", a.URL, want[i])
			}
		}
	})
	t.Run("atom alternate", func(t *testing.T) {
		a := one(t, parseLocalFeed(t, "links.atom.xml", "https://atomlinks.example/feed.atom"))
		if a.URL != "https://atomlinks.example/2023/09/13/alternate" || a.ImageURL != "https://atomlinks.example/img/1.jpg" {
			t.Errorf("url %q image %q", a.URL, a.ImageURL)
		}
		if a.Lead != "The alternate link is the story. Others are not." {
			t.Errorf("lead %q", a.Lead)
		}
	})
	t.Run("cdata html", func(t *testing.T) {
		res := parseLocalFeed(t, "cdata-html.rss.xml", "")
		if len(res.Articles) != 2 {
			t.Fatalf("%d articles", len(res.Articles))
		}
		a := res.Articles[0]
		if a.Lead != "The city council adopted a $4.1 billion budget on Tuesday. The plan raises property taxes by 3.5%." {
			t.Errorf("lead %q", a.Lead)
		}
		// Titles lose their markup and their entities are decoded (SPEC §4).
		if a.Title != "Council adopts budget & tax plan" {
			t.Errorf("title %q", a.Title)
		}
		if a.ImageURL != "https://cdata.example/img/budget-thumb.jpg" {
			t.Errorf("media:thumbnail: %q", a.ImageURL)
		}
		b := res.Articles[1]
		if !strings.HasPrefix(b.Lead, "TAFEGHAGHTE, Morocco — Survivors of Friday's earthquake dug through rubble") ||
			strings.Contains(b.Lead, "Villagers") || strings.Contains(b.Lead, "Sign up") {
			t.Errorf("caption-twice content:encoded: lead %q", b.Lead)
		}
	})
	t.Run("json feed", func(t *testing.T) {
		res := parseLocalFeed(t, "summary.feed.json", "")
		if len(res.Articles) != 2 {
			t.Fatalf("%d articles", len(res.Articles))
		}
		a, b := res.Articles[0], res.Articles[1]
		if a.URL != "https://summary.example/a" || a.Lead != "The summary is the lead. It has two sentences." || a.Byline != "Ann Lee and Bo Chen" ||
			!a.PublishedAt.Equal(time.Date(2023, 9, 13, 14, 0, 0, 0, time.UTC)) {
			t.Errorf("1.1 summary-only item: %+v", a)
		}
		if b.Byline != "Cy Doe" || b.Lead != "Plain text body. Second sentence." || b.ImageURL != "https://summary.example/img/b.jpg" {
			t.Errorf("1.0 item: %+v", b)
		}
	})
	t.Run("empty", func(t *testing.T) {
		res := parseLocalFeed(t, "empty.rss.xml", "")
		if len(res.Articles) != 0 || res.Title != "Nothing Today" {
			t.Errorf("%+v", res)
		}
	})
}

func TestJSONLinesEdges(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "feeds", "bom.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	arts, err := ParseJSONLines(f, testNow)
	if err != nil || len(arts) != 2 || arts[0].Title != "First line after a BOM" {
		t.Errorf("BOM + CRLF: %v %+v", err, arts)
	}
	// A bad line is an error naming it; nothing is returned (SPEC: input it
	// cannot read is refused, not half-imported).
	g, err := os.Open(filepath.Join("testdata", "feeds", "bad-line.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	arts, err = ParseJSONLines(g, testNow)
	if err == nil || !strings.Contains(err.Error(), "line 2") || arts != nil {
		t.Errorf("bad line: %v %d", err, len(arts))
	}
}

// A 1 MB description, in the shapes that make naive cleaners quadratic,
// is cleaned in well under a second.
func TestHugeDescriptionIsLinear(t *testing.T) {
	bodies := map[string]string{
		"paragraphs":     strings.Repeat("<p>Word word word. More words here</p>", 30000),
		"one paragraph":  strings.Repeat("word ", 200000),
		"nested divs":    strings.Repeat("<div>", 100000) + "x",
		"abbreviations":  strings.Repeat("Mr. A. B. U.S. ", 70000),
		"repeated lines": strings.Repeat("<p>Same caption line here</p>", 30000),
		"no spaces":      strings.Repeat("北朝鮮", 120000),
		"entities":       strings.Repeat("&amp;amp;", 120000),
	}
	for name, body := range bodies {
		feed := `<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>Big</title><link>https://big.example/a</link><description><![CDATA[` +
			body + `]]></description></item></channel></rss>`
		start := time.Now()
		arts, err := ParseFeed([]byte(feed), Feed{}, testNow)
		took := time.Since(start)
		if err != nil || len(arts) != 1 {
			t.Errorf("%s: %v %d", name, err, len(arts))
			continue
		}
		if utf8.RuneCountInString(arts[0].Lead) > MaxLead {
			t.Errorf("%s: lead of %d runes", name, utf8.RuneCountInString(arts[0].Lead))
		}
		if took > 2*time.Second {
			t.Errorf("%s: %d bytes took %v", name, len(feed), took)
		}
		start = time.Now()
		TextLead(body)
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("%s: TextLead took %v", name, took)
		}
	}
}

func TestCanonicalURLVariants(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://Example.COM/a?UTM_Source=x&id=1", "https://example.com/a?id=1"},
		{"https://example.com/a?Utm_Campaign=x&UTM_MEDIUM=y", "https://example.com/a"},
		{"https://example.com/a?utm_source=x", "https://example.com/a"},
		{"https://example.com/a?", "https://example.com/a"},
		{"https://example.com/a?&&#x", "https://example.com/a"},
		{"https://example.com/a#section-2", "https://example.com/a"},
		{"https://example.com:443/a", "https://example.com/a"},
		{"http://example.com:80/a", "http://example.com/a"},
		{"https://example.com:8443/a", "https://example.com:8443/a"},
		{"https://bücher.example/a", "https://xn--bcher-kva.example/a"},
		{"https://BÜCHER.example/a", "https://xn--bcher-kva.example/a"},
		{"https://xn--bcher-kva.example/a", "https://xn--bcher-kva.example/a"},
		{"https://example.com/%7Euser/caf%c3%a9", "https://example.com/~user/caf%C3%A9"},
		{"https://example.com/~user/café", "https://example.com/~user/caf%C3%A9"},
		{"https://example.com/a?id=%41%2f", "https://example.com/a?id=A%2F"},
		{"https://example.com/path%2Fkept", "https://example.com/path%2Fkept"},
		{"https://example.com./a", "https://example.com/a"},
		{"http://example.com../a", "http://example.com/a"},
		{"https://example.com/a/", "https://example.com/a/"}, // trailing slash kept as given
		{"https://example.com/a", "https://example.com/a"},
		{"https://example.com/amp/a", "https://example.com/amp/a"}, // AMP pages left alone
		{"http://example.com/a", "http://example.com/a"},           // scheme kept
	} {
		checkCanonical(t, tc.in, tc.want)
	}
}
