package articles

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The five news feeds of the fixture set and their answer-key counts
// (testdata/feeds/README.md §1).
var fixtureFeeds = []struct {
	file     string
	entries  int // items in the file
	articles int // unique guids
}{
	{"pacific-stripes.rss.xml", 10, 10},
	{"wire-a.rss.xml", 11, 10},
	{"globe-news.atom.xml", 10, 10},
	{"meridian.feed.json", 10, 10},
	{"harborview-herald.rss.xml", 10, 10},
}

func parseFixture(t *testing.T, file string) FeedResult {
	t.Helper()
	res, err := ParseFeedResult(readFixture(t, file), Feed{ID: 7, Section: "fallback"}, testNow)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return res
}

func TestFixtureFeedsCounts(t *testing.T) {
	entries, unique := 0, 0
	for _, ff := range fixtureFeeds {
		res := parseFixture(t, ff.file)
		if got := len(res.Articles); got != ff.articles {
			t.Errorf("%s: %d articles, want %d", ff.file, got, ff.articles)
		}
		if got := len(res.Articles) + len(res.Skipped); got != ff.entries {
			t.Errorf("%s: %d entries seen, want %d", ff.file, got, ff.entries)
		}
		for _, s := range res.Skipped {
			if s.Reason != "duplicate guid in the same feed" {
				t.Errorf("%s: unexpected skip %+v", ff.file, s)
			}
		}
		guids := map[string]bool{}
		for _, a := range res.Articles {
			if guids[a.GUID] {
				t.Errorf("%s: guid %q twice", ff.file, a.GUID)
			}
			guids[a.GUID] = true
			if a.FeedID != 7 {
				t.Errorf("%s: FeedID %d", ff.file, a.FeedID)
			}
			if a.URL == "" || a.Title == "" || a.Lead == "" || a.Section == "" || a.Source == "" || a.ContentHash == "" {
				t.Errorf("%s: incomplete article %+v", ff.file, a)
			}
			if strings.Contains(a.URL, "utm_") || strings.Contains(a.URL, "#") {
				t.Errorf("%s: URL not canonical: %s", ff.file, a.URL)
			}
			if a.PublishedAt.Location() != time.UTC {
				t.Errorf("%s: %s not in UTC", ff.file, a.GUID)
			}
			if a.PublishedAt.Before(time.Date(2023, 9, 12, 0, 0, 0, 0, time.UTC)) || a.PublishedAt.After(time.Date(2023, 9, 13, 23, 59, 0, 0, time.UTC)) {
				t.Errorf("%s: %s published %s, outside the fixture days", ff.file, a.GUID, a.PublishedAt)
			}
			if n := utf8.RuneCountInString(a.Lead); n > MaxLead {
				t.Errorf("%s: %s lead has %d characters", ff.file, a.GUID, n)
			}
			for _, bad := range []string{"<", "&amp;", "&#", "&nbsp;", "\u00a0", "Sign Up", "Sign up"} {
				if strings.Contains(a.Title+a.Lead+a.Byline, bad) {
					t.Errorf("%s: %s has %q: %q / %q", ff.file, a.GUID, bad, a.Title, a.Lead)
				}
			}
		}
		entries += len(res.Articles) + len(res.Skipped)
		unique += len(res.Articles)
	}
	if entries != 51 || unique != 50 {
		t.Errorf("totals: %d entries, %d unique, want 51 and 50", entries, unique)
	}
}

func TestFixtureFeedsAnswerKey(t *testing.T) {
	byGUID := map[string]Article{}
	for _, ff := range fixtureFeeds {
		for _, a := range parseFixture(t, ff.file).Articles {
			byGUID[a.GUID] = a
		}
	}
	// A sample of README §4, one or more per file and per date format.
	for _, row := range []struct {
		guid, section, published, title string
	}{
		{"stripes-11284015", "military", "2023-09-13T18:40:00Z", "House GOP leaders shelve Pentagon funding vote amid conservative revolt"},
		{"stripes-11283746", "world", "2023-09-13T13:05:00Z", "Kim promises Putin full backing as leaders meet at Russian spaceport"},
		{"stripes-11281902", "world", "2023-09-12T04:20:00Z", "Kim’s armored train rolls into Russia ahead of expected Putin summit"},
		{"https://wire-a.example/world/2023/09/13/libya-derna-flood-aid-b204", "world", "2023-09-13T09:40:00Z", "Derna counts its dead as aid trickles into Libya’s flood-wrecked east"},
		{"https://wire-a.example/tech/2023/09/12/apple-iphone-15-usb-c-titanium-c9e1", "tech", "2023-09-12T18:25:00Z", "Apple unveils iPhone 15 line with USB-C charging, titanium Pro models"},
		{"tag:globe-news.example,2023-09-13:/world/44752", "tech", "2023-09-13T13:25:00Z", "France halts iPhone 12 sales over radiation reading; Apple disputes test"},
		{"tag:globe-news.example,2023-09-13:/world/44706", "business", "2023-09-13T07:10:00Z", "UK economy shrank 0.5% in July as strikes and rain hit output"},
		{"tag:globe-news.example,2023-09-12:/world/44641", "world", "2023-09-12T18:20:00Z", "Israel’s full Supreme Court hears challenge to law curbing its own powers"},
		{"mbt-2023-0913-0231", "business", "2023-09-13T23:52:00Z", "Arm prices IPO at top of range, valuing chip designer near $55 billion"},
		{"mbt-2023-0913-0219", "tech", "2023-09-13T21:20:00Z", "Musk, Zuckerberg and Altman join senators for closed-door AI summit"},
		{"mbt-2023-0912-0140", "business", "2023-09-12T07:45:00Z", "UK pay growth holds at record 7.8% even as jobless rate rises"},
		{"https://harborview.example/?p=48281", "us", "2023-09-13T21:05:00Z", "Hurricane Lee expected to turn north, with New England and Atlantic Canada in view"},
		{"https://harborview.example/?p=48213", "world", "2023-09-13T06:40:00Z", "North Korea’s Kim and Putin meet in Russia’s Far East"},
		{"https://harborview.example/?p=48131", "business", "2023-09-12T21:30:00Z", "Auto workers brace for possible strike as contract deadline nears"},
	} {
		a, ok := byGUID[row.guid]
		if !ok {
			t.Errorf("%s missing", row.guid)
			continue
		}
		if a.Section != row.section {
			t.Errorf("%s: section %q, want %q", row.guid, a.Section, row.section)
		}
		if got := a.PublishedAt.Format(time.RFC3339); got != row.published {
			t.Errorf("%s: published %s, want %s", row.guid, got, row.published)
		}
		if a.Title != row.title {
			t.Errorf("%s: title %q, want %q", row.guid, a.Title, row.title)
		}
	}

	// Entities: double-escaped in wire-a, &rsquo; in Atom, &#8217; and
	// &nbsp; in JSON Feed, &#038; in WordPress links.
	check := func(guid, wantIn string) {
		t.Helper()
		if a := byGUID[guid]; !strings.Contains(a.Lead, wantIn) {
			t.Errorf("%s: lead %q lacks %q", guid, a.Lead, wantIn)
		}
	}
	check("https://wire-a.example/world/2023/09/13/libya-derna-flood-aid-b204", "Libya’s split")
	check("https://wire-a.example/world/2023/09/13/putin-kim-vostochny-talks-a71c", "Cosmodrome on Wednesday — their first meeting")
	check("https://wire-a.example/us/2023/09/13/cavalcante-captured-pennsylvania-e552", "on Aug. 31, was captured")
	check("tag:globe-news.example,2023-09-13:/world/44790", "the city’s mayor")
	check("tag:globe-news.example,2023-09-13:/world/44718", "prices kept artificially low") // content type="xhtml"
	check("mbt-2023-0913-0231", "$4.87 billion in the year’s largest")
	check("https://harborview.example/?p=48281", "Its exact track remained uncertain…")

	if a := byGUID["https://wire-a.example/us/2023/09/13/cavalcante-captured-pennsylvania-e552"]; a.URL != "https://wire-a.example/us/2023/09/13/cavalcante-captured-pennsylvania-e552" {
		t.Errorf("wire-a link with utm_: %s", a.URL)
	}
	if a := byGUID["https://harborview.example/?p=48281"]; a.URL != "https://harborview.example/2023/09/13/hurricane-lee-forecast-new-england/" {
		t.Errorf("harborview &#038; link: %s", a.URL)
	}
	if a := byGUID["https://harborview.example/?p=48281"]; a.ImageURL != "https://harborview.example/wp-content/uploads/2023/09/hurricane-lee-satellite.jpg" || a.Byline != "Beth Kowalski" {
		t.Errorf("enclosure image / dc:creator: %q %q", a.ImageURL, a.Byline)
	}
	if a := byGUID["tag:globe-news.example,2023-09-13:/world/44790"]; a.ImageURL != "https://globe-news.example/media/2023/09/13/derna-seafront-1600.jpg" || a.Byline != "Amira Salem" {
		t.Errorf("atom enclosure / author: %q %q", a.ImageURL, a.Byline)
	}
	if a := byGUID["mbt-2023-0913-0188"]; a.Byline != "Rachel Ng and Grace Liu" {
		t.Errorf("json authors: %q", a.Byline)
	}
	if a := byGUID["mbt-2023-0912-0254"]; a.URL != "https://meridian-bt.example/tech/apple-iphone-15-pro-titanium-price" {
		t.Errorf("json url (not external_url): %s", a.URL)
	}
	if a := byGUID["stripes-11284015"]; a.ImageURL != "https://stripes.example/img/2023/09/13/capitol-dome-1200x800.jpg" {
		t.Errorf("media:content image: %q", a.ImageURL)
	}
	// Source: the feed's title when the Feed has no name, the name otherwise.
	if a := byGUID["mbt-2023-0913-0231"]; a.Source != "Meridian Business & Tech" {
		t.Errorf("source %q", a.Source)
	}
	res, err := ParseFeedResult(readFixture(t, "wire-a.rss.xml"), Feed{Name: "Wire-A"}, testNow)
	if err != nil || res.Articles[0].Source != "Wire-A" {
		t.Errorf("configured name not the source: %v %+v", err, res.Articles)
	}
}

// The seed article carried in an RSS item: README §5.
func TestSeedFeedItem(t *testing.T) {
	var seed Article
	for _, a := range parseFixture(t, "pacific-stripes.rss.xml").Articles {
		if a.GUID == "stripes-11283746" {
			seed = a
		}
	}
	checkSeed(t, "feed item", seed)
	if seed.URL != seedURL {
		t.Errorf("URL %q", seed.URL)
	}
	if seed.Title != "Kim promises Putin full backing as leaders meet at Russian spaceport" {
		t.Errorf("title %q", seed.Title)
	}
}

const (
	seedURL     = "https://stripes.example/theaters/asia_pacific/2023-09-13/kim-jong-un-putin-vostochny-cosmodrome-11283746.html"
	seedLead    = "SEOUL — North Korean leader Kim Jong Un called his country’s relations with Russia his top priority"
	seedCaption = "Russian President Vladimir Putin, left, and North Korea’s leader Kim Jong Un during their meeting at the Vostochny cosmodrome"
	seedCredit  = "(Vladimir Smirnov, Sputnik, Kremlin Pool Photo)"
)

func checkSeed(t *testing.T, form string, a Article) {
	t.Helper()
	if !strings.HasPrefix(a.Lead, seedLead) {
		t.Errorf("%s: lead %q", form, a.Lead)
	}
	all := storedText(a)
	if n := strings.Count(all, seedCaption); n > 1 {
		t.Errorf("%s: caption stored %d times", form, n)
	}
	if strings.Contains(a.Lead, seedCaption) || strings.Contains(all, seedCredit) {
		t.Errorf("%s: caption or credit stored: %q", form, a.Lead)
	}
	if strings.Contains(strings.ToLower(all), "sign up") {
		t.Errorf("%s: promo stored", form)
	}
	if n := utf8.RuneCountInString(a.Lead); n > MaxLead {
		t.Errorf("%s: lead %d characters", form, n)
	}
}

func TestCaptionAndPromoItems(t *testing.T) {
	for _, a := range parseFixture(t, "pacific-stripes.rss.xml").Articles {
		if a.GUID == "stripes-11282455" && (strings.Contains(a.Lead, "Rescuers search") || !strings.HasPrefix(a.Lead, "Two dams above")) {
			t.Errorf("Derna caption in lead: %q", a.Lead)
		}
	}
	for _, a := range parseFixture(t, "harborview-herald.rss.xml").Articles {
		if a.GUID == "https://harborview.example/?p=48150" {
			if strings.Contains(strings.ToLower(storedText(a)), "sign up") || strings.Contains(a.Lead, "daily email") {
				t.Errorf("Lahaina promo kept: %q", a.Lead)
			}
			if !strings.HasPrefix(a.Lead, "Most of the Lahaina burn zone remains closed") {
				t.Errorf("Lahaina lead %q", a.Lead)
			}
		}
	}
}

// hostile.xml: every row of README §6.
func TestHostileFeed(t *testing.T) {
	res, err := ParseFeedResult(readFixture(t, "hostile.xml"), Feed{URL: "https://hostile.example/feed.xml"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]Article{}
	for _, a := range res.Articles {
		by[a.GUID] = a
		for _, field := range []struct{ name, v string }{{"url", a.URL}, {"image", a.ImageURL}} {
			if field.v == "" {
				continue
			}
			u, err := url.Parse(field.v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				t.Errorf("%s: %s %q is not http(s)", a.GUID, field.name, field.v)
			}
			if l := strings.ToLower(field.v); strings.Contains(l, "javascript:") || strings.Contains(l, "data:") {
				t.Errorf("%s: %s %q", a.GUID, field.name, field.v)
			}
		}
		// Lead, byline, section, source: plain text without active markup.
		for _, v := range []string{a.Lead, a.Byline, a.Section} {
			l := strings.ToLower(v)
			for _, bad := range []string{"<script", "onerror", "onclick", "onmouseover", "<iframe", "<object", "<form", "<style", "javascript:"} {
				if strings.Contains(l, bad) {
					t.Errorf("%s: %q in %q", a.GUID, bad, v)
				}
			}
		}
		if strings.ContainsAny(a.Title+a.Lead+a.Byline+a.Source, "\r\n\t") {
			t.Errorf("%s: CR/LF/tab in a text field: %q", a.GUID, a.Title)
		}
		if strings.TrimSpace(a.Title) == "" {
			t.Errorf("%s: empty title", a.GUID)
		}
		if a.PublishedAt.After(testNow) {
			t.Errorf("%s: published in the future: %s", a.GUID, a.PublishedAt)
		}
	}
	if len(res.Articles)+len(res.Skipped) != 15 {
		t.Fatalf("%d articles + %d skipped, want 15 items", len(res.Articles), len(res.Skipped))
	}
	get := func(guid string) Article {
		t.Helper()
		a, ok := by[guid]
		if !ok {
			t.Fatalf("%s not stored (skipped: %+v)", guid, res.Skipped)
		}
		return a
	}

	// 01: SPEC §4: markup in a feed title is removed (the script element
	// with its content); what remains is escaped by each renderer.
	if a := get("hostile-01"); a.Title != `Council votes 5–4 on "pier" plan & budget` ||
		a.Lead != `Budget & "pier" plan approved.` || a.URL != "https://hostile.example/news/council-vote" {
		t.Errorf("01: %q / %q / %q", a.Title, a.Lead, a.URL)
	}
	// 02: javascript: link refused, javascript: hrefs leave no trace.
	if a := get("hostile-02"); a.URL != "" {
		t.Errorf("02: link %q", a.URL)
	}
	// 03: handlers and dangerous elements gone.
	if a := get("hostile-03"); a.Lead != "Caption bold" {
		t.Errorf("03: lead %q", a.Lead)
	}
	// 04: a 3,000-character title is stored whole; renderers truncate.
	if a := get("hostile-04"); len(a.Title) != 3000 || !strings.HasSuffix(a.Title, "[END]") {
		t.Errorf("04: title of %d bytes", len(a.Title))
	}
	// 05: Arabic, Hebrew, emoji and the RLO stored intact.
	if a := get("hostile-05"); !strings.Contains(a.Title, "report\u202efdp.exe") || !strings.Contains(a.Title, "👨\u200d👩\u200d👧\u200d👦") ||
		!strings.HasPrefix(a.Title, "عاجل") || !strings.Contains(a.Lead, "\u202egnp.kcilc\u202c") {
		t.Errorf("05: %q / %q", a.Title, a.Lead)
	}
	// 06: tags removed, entities decoded, the bare "&" kept.
	if a := get("hostile-06"); a.Title != `Breaking: AT&T & T-Mobile unclosed tag` {
		t.Errorf("06: title %q", a.Title)
	}
	// 07 and 14: empty / blank titles fall back to the description.
	if a := get("hostile-07"); a.Title != "An item whose title element is empty." {
		t.Errorf("07: title %q", a.Title)
	}
	if a := get("hostile-14"); a.Title != "The title is only spaces, a no-break space and a tab." {
		t.Errorf("14: title %q", a.Title)
	}
	// 08: no link and a non-permalink guid: kept without a link.
	if a := get("hostile-08"); a.URL != "" || a.Title != "Item with no link element" {
		t.Errorf("08: %q %q", a.URL, a.Title)
	}
	// 09: the future date is clamped to the ingestion time.
	if a := get("hostile-09"); !a.PublishedAt.Equal(testNow) {
		t.Errorf("09: published %s", a.PublishedAt)
	}
	// 10 and 11: zoneless and day-first dates read leniently, as UTC.
	for _, guid := range []string{"hostile-10", "hostile-11"} {
		if a := get(guid); !a.PublishedAt.Equal(time.Date(2023, 9, 13, 14, 5, 0, 0, time.UTC)) {
			t.Errorf("%s: published %s", guid, a.PublishedAt)
		}
	}
	// 12: data: link refused.
	if a := get("hostile-12"); a.URL != "" {
		t.Errorf("12: link %q", a.URL)
	}
	// 13: no CR/LF left for a Subject header.
	if a := get("hostile-13"); a.Title != "Weekly digest Bcc: everyone@hostile.example X-Injected: yes" {
		t.Errorf("13: title %q", a.Title)
	}
	// 15: the protocol-relative link points at a javascript: redirect: refused;
	// the form and its input are gone.
	if a := get("hostile-15"); a.URL != "" || strings.Contains(a.Lead, "password") {
		t.Errorf("15: %q %q", a.URL, a.Lead)
	}
	// The channel title is plain text too.
	if res.Title != `Hostile & "Fixture" Outlet <i>test</i>` {
		t.Errorf("feed title %q", res.Title)
	}
}

func TestProtocolRelativeLinkResolved(t *testing.T) {
	feed := `<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>https://site.example/</link>
<item><title>Relative</title><link>//cdn.site.example/news/1?utm_source=x</link><guid>r-1</guid></item>
<item><title>Path</title><link>/news/2</link><guid>r-2</guid></item></channel></rss>`
	arts, err := ParseFeed([]byte(feed), Feed{URL: "https://site.example/feed.xml"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if arts[0].URL != "https://cdn.site.example/news/1" || arts[1].URL != "https://site.example/news/2" {
		t.Errorf("resolved: %q %q", arts[0].URL, arts[1].URL)
	}
}

func TestMalformedFeed(t *testing.T) {
	arts, err := ParseFeed(readFixture(t, "malformed.xml"), Feed{Name: "Bayside Ledger"}, testNow)
	if err == nil {
		t.Fatalf("malformed feed accepted: %d articles", len(arts))
	}
	if arts != nil {
		t.Errorf("articles returned with the error: %d", len(arts))
	}
	msg := err.Error()
	for _, want := range []string{"Bayside Ledger", "malformed XML", "line 19"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	// Truncated and mismatched documents are refused too.
	for _, doc := range []string{
		`<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><title>A</title>`,
		`<?xml version="1.0"?><rss version="2.0"><channel><title>T</titel></channel></rss>`,
	} {
		if _, err := ParseFeed([]byte(doc), Feed{}, testNow); err == nil {
			t.Errorf("accepted %q", doc)
		}
	}
	// HTML entities in XML are what real feeds carry: accepted.
	ok := `<?xml version="1.0"?><rss version="2.0"><channel><title>T&nbsp;x</title><item><title>A&mdash;B</title><link>https://a.example/1</link></item></channel></rss>`
	arts, err = ParseFeed([]byte(ok), Feed{}, testNow)
	if err != nil || len(arts) != 1 || arts[0].Title != "A—B" {
		t.Errorf("HTML entities: %v %+v", err, arts)
	}
	// Not a feed at all.
	if _, err := ParseFeed([]byte("just some text"), Feed{}, testNow); !errors.Is(err, ErrNotFeed) {
		t.Errorf("text: %v", err)
	}
}

func TestAtomTextTypes(t *testing.T) {
	doc := `<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>F</title>
<entry><id>a</id><title type="html">&lt;b&gt;Bold&lt;/b&gt; &amp;amp; more</title><link href="https://a.example/1"/><summary type="text">1 &lt; 2 &amp; &lt;b&gt;</summary></entry>
<entry><id>b</id><title type="text">&lt;b&gt;Literal&lt;/b&gt;</title><link href="https://a.example/2"/><content type="html">&lt;p&gt;Body &amp;amp; soul.&lt;/p&gt;</content></entry>
</feed>`
	arts, err := ParseFeed([]byte(doc), Feed{}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if arts[0].Title != "Bold & more" || arts[0].Lead != "1 < 2 & <b>" {
		t.Errorf("html title / text summary: %q / %q", arts[0].Title, arts[0].Lead)
	}
	// Markup is removed from every title (SPEC §4), type="text" included.
	if arts[1].Title != "Literal" || arts[1].Lead != "Body & soul." {
		t.Errorf("text title / html content: %q / %q", arts[1].Title, arts[1].Lead)
	}
}

func TestFeedItemsWithoutIdentity(t *testing.T) {
	doc := `<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>No guid, no link</title><description>Text.</description></item>
<item><title></title><description></description><guid>empty</guid></item>
<item><title>Permalink guid</title><guid>https://a.example/p?utm_source=x</guid></item>
<item><title>Non-permalink URL guid</title><guid isPermaLink="false">https://a.example/q</guid></item>
</channel></rss>`
	res, err := ParseFeedResult([]byte(doc), Feed{}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Articles) != 2 || len(res.Skipped) != 2 {
		t.Fatalf("articles %+v skipped %+v", res.Articles, res.Skipped)
	}
	if res.Articles[0].URL != "https://a.example/p" || res.Articles[1].URL != "" {
		t.Errorf("permalink guid rule: %q %q", res.Articles[0].URL, res.Articles[1].URL)
	}
	for _, s := range res.Skipped {
		if s.Reason == "" {
			t.Errorf("skip without a reason: %+v", s)
		}
	}
}

func TestTruncatedJSONFeed(t *testing.T) {
	data := readFixture(t, "meridian.feed.json")
	if _, err := ParseFeed(data[:len(data)/2], Feed{Name: "Meridian"}, testNow); err == nil || !strings.Contains(err.Error(), "Meridian") {
		t.Errorf("truncated JSON Feed: %v", err)
	}
}

func FuzzParseFeed(f *testing.F) {
	for _, name := range []string{"hostile.xml", "malformed.xml", "meridian.feed.json", "globe-news.atom.xml"} {
		f.Add(readFixture(f, name))
	}
	f.Add([]byte(`<?xml version="1.0"?><rss version="2.0"><channel><item><title>a</title><link>https://a.example/</link></item></channel></rss>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		arts, err := ParseFeed(data, Feed{URL: "https://feed.example/rss"}, testNow)
		if err != nil {
			if arts != nil {
				t.Fatalf("articles with error %v", err)
			}
			return
		}
		for _, a := range arts {
			if a.Title == "" || strings.ContainsAny(a.Title, "\r\n") {
				t.Fatalf("title %q", a.Title)
			}
			if utf8.RuneCountInString(a.Lead) > MaxLead {
				t.Fatalf("lead of %d characters", utf8.RuneCountInString(a.Lead))
			}
			if a.URL != "" {
				if c, err := CanonicalURL(a.URL); err != nil || c != a.URL {
					t.Fatalf("URL %q not canonical: %q %v", a.URL, c, err)
				}
			}
			if a.PublishedAt.After(testNow) {
				t.Fatalf("published %s", a.PublishedAt)
			}
		}
	})
}
