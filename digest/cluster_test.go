package digest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/digestbot/digestbot/articles"
)

// fixtureRow is one article of testdata/feeds/README.md §4 (the answer key):
// outlet, guid, section, published (UTC), cluster, title, and the lead that
// articles.ParseFeed makes of the item. Clustering is tuned on these by hand
// and checked against the parsed feeds in TestRankFixtureFeeds.
type fixtureRow struct {
	outlet, guid, section, published, cluster, title, lead string
}

var fixtureRows = []fixtureRow{
	{"Pacific Stripes Daily", "stripes-11284015", "military", "2023-09-13T18:40Z", "house-defense-bill-vote-pulled", "House GOP leaders shelve Pentagon funding vote amid conservative revolt", "House Republican leaders on Wednesday called off a procedural vote that would have opened debate on the annual Pentagon spending bill, after members of the Freedom Caucus said they would vote no until leaders commit to deeper cuts in the other 11 appropriations bills."},
	{"Pacific Stripes Daily", "stripes-11283746", "world", "2023-09-13T13:05Z", "kim-putin-summit", "Kim promises Putin full backing as leaders meet at Russian spaceport", "SEOUL — North Korean leader Kim Jong Un called his country’s relations with Russia his top priority and pledged full support to President Vladimir Putin and his government amid the war in Ukraine, as the leaders met Wednesday for the first time in four years at a space facility in Russia’s far east."},
	{"Pacific Stripes Daily", "stripes-11283402", "military", "2023-09-13T08:30Z", "sevastopol-shipyard-strike", "Ukrainian strike sets Sevastopol shipyard ablaze, damaging 2 Russian vessels", "A large fire burned at the Sevmorzavod shipyard in Sevastopol early Wednesday after what appeared to be one of the heaviest Ukrainian attacks yet on the home port of Russia’s Black Sea Fleet."},
	{"Pacific Stripes Daily", "stripes-11283350", "military", "2023-09-13T06:45Z", "south-korea-defense-nominee", "Seoul picks retired general Shin Won-sik to lead defense ministry", "Shin Won-sik, a People Power Party lawmaker who once served as vice chairman of South Korea’s Joint Chiefs of Staff, was named in a partial Cabinet shake-up that also replaced the culture and gender-equality ministers."},
	{"Pacific Stripes Daily", "stripes-11283311", "military", "2023-09-13T03:55Z", "north-korea-missile-launch", "North Korea launches 2 ballistic missiles while Kim is away in Russia", "Japan’s government said the missiles appeared to land outside its exclusive economic zone. No damage was reported."},
	{"Pacific Stripes Daily", "stripes-11282871", "military", "2023-09-12T21:15Z", "tuberville-promotions-hold", "Senate returns with hundreds of military promotions still frozen by Tuberville hold", "The Alabama Republican has blocked the usual practice of confirming military promotions in batches by unanimous consent since February. Defense Secretary Lloyd Austin has said the hold is hurting readiness & family stability across the force."},
	{"Pacific Stripes Daily", "stripes-11282455", "world", "2023-09-12T16:10Z", "derna-floods", "Libya flood deaths climb into the thousands after dams give way in Derna", "Two dams above the eastern Libyan city burst when Storm Daniel dumped torrential rain, sending a wall of water through neighborhoods near the sea."},
	{"Pacific Stripes Daily", "stripes-11282530", "world", "2023-09-12T14:30Z", "morocco-earthquake", "Morocco quake toll nears 2,900 as troops reach cut-off mountain villages", "Many of the hardest-hit villages in Al Haouz province can be reached only on damaged mountain roads, and survivors have been sleeping outdoors since the quake struck late Friday."},
	{"Pacific Stripes Daily", "stripes-11282160", "military", "2023-09-12T14:00Z", "military-pay-raise-ndaa", "Troops’ 5.2% raise on track as lawmakers work to merge defense policy bills", "The raise would take effect Jan. 1 if the final bill keeps it. Junior enlisted troops would see the biggest dollar gains under separate proposals in the House version."},
	{"Pacific Stripes Daily", "stripes-11281902", "world", "2023-09-12T04:20Z", "kim-putin-summit", "Kim’s armored train rolls into Russia ahead of expected Putin summit", "The train passed through the border station at Khasan, where Russian officials welcomed the North Korean delegation with a military band, according to Russian media. Putin was in Vladivostok for the Eastern Economic Forum. The Kremlin did not say where the two leaders would meet."},
	{"Wire-A News Service", "https://wire-a.example/world/2023/09/13/brazil-supreme-court-jan-8-trials-0b7d", "world", "2023-09-13T20:10Z", "brazil-jan8-trials", "Brazil’s Supreme Court opens first trials over Jan. 8 riots in Brasília", "Justices began hearing cases against people charged with storming government buildings in the capital in January, when supporters of former President Jair Bolsonaro refused to accept his election defeat."},
	{"Wire-A News Service", "https://wire-a.example/us/2023/09/13/romney-not-seeking-reelection-2c66", "us", "2023-09-13T15:20Z", "romney-retirement", "Romney says he won’t run again, calls for a new generation of leaders", "Sen. Mitt Romney of Utah, 76, said he will not seek a second Senate term in 2024, arguing it is time for younger leaders to take over. He added that both President Joe Biden and Donald Trump should make way for the next generation."},
	{"Wire-A News Service", "https://wire-a.example/us/2023/09/13/cavalcante-captured-pennsylvania-e552", "us", "2023-09-13T13:30Z", "cavalcante-captured", "Escaped Pennsylvania killer caught in woods after two-week manhunt", "Danelo Cavalcante, who broke out of the Chester County Prison on Aug. 31, was captured Wednesday morning after a search plane picked up his heat signature overnight. A Border Patrol police dog subdued him; a rifle he had stolen was within reach, police said."},
	{"Wire-A News Service", "https://wire-a.example/world/2023/09/13/libya-derna-flood-aid-b204", "world", "2023-09-13T09:40Z", "derna-floods", "Derna counts its dead as aid trickles into Libya’s flood-wrecked east", "Rescue crews from Egypt, Turkey and the United Arab Emirates began arriving in eastern Libya as bodies were recovered from the streets and from the sea off Derna. Roads into the city were cut, and Libya’s split between rival governments in Tripoli and the east slowed the response."},
	{"Wire-A News Service", "https://wire-a.example/world/2023/09/13/putin-kim-vostochny-talks-a71c", "world", "2023-09-13T05:12Z", "kim-putin-summit", "Putin gives Kim tour of Far East launch site, signals openness to closer military ties", "Russian President Vladimir Putin welcomed North Korea’s Kim Jong Un to the Vostochny Cosmodrome on Wednesday — their first meeting since 2019 — and walked him through rocket-assembly halls before the talks began."},
	{"Wire-A News Service", "https://wire-a.example/world/2023/09/13/mexico-congress-ufo-hearing-f018", "world", "2023-09-13T02:15Z", "mexico-ufo-hearing", "Mexican lawmakers shown purported ‘non-human’ bodies at UFO hearing", "A longtime UFO promoter displayed two small mummified figures he claimed were ancient non-human beings found in Peru, a presentation scientists quickly dismissed. Similar claims by the same presenter have been debunked before."},
	{"Wire-A News Service", "https://wire-a.example/tech/2023/09/12/apple-iphone-15-usb-c-titanium-c9e1", "tech", "2023-09-12T18:25Z", "iphone15-launch", "Apple unveils iPhone 15 line with USB-C charging, titanium Pro models", "Apple replaced its Lightning port with USB-C across the new iPhones, bowing to a European Union rule, and gave the Pro models a lighter titanium frame & a new A17 Pro chip. The iPhone 15 starts at $799; the 15 Pro Max, with a 5x zoom camera, starts at $1,199."},
	{"Wire-A News Service", "https://wire-a.example/us/2023/09/12/mccarthy-biden-impeachment-inquiry-d310", "us", "2023-09-12T16:05Z", "biden-impeachment-inquiry", "McCarthy orders impeachment inquiry into Biden without House vote", "House Speaker Kevin McCarthy said three committees would investigate whether President Joe Biden benefited from his family’s business dealings; Republicans have yet to show evidence that he did. The White House called the move politics at its worst."},
	{"Wire-A News Service", "https://wire-a.example/world/2023/09/12/armenia-us-eagle-partner-drills-19a4", "world", "2023-09-12T10:05Z", "armenia-us-drills", "U.S. and Armenian troops begin peacekeeping drills, irritating Moscow", "About 85 American soldiers and 175 Armenian troops are training together near Yerevan through Sept. 20 in the Eagle Partner exercise. The Kremlin, Armenia’s traditional security patron, has said it is watching the drills with concern."},
	{"Wire-A News Service", "https://wire-a.example/world/2023/09/12/iran-prisoner-swap-waiver-6-billion-3e90", "world", "2023-09-12T01:30Z", "iran-prisoner-deal-waiver", "U.S. clears way for $6 billion Iran fund transfer in prisoner deal", "The Biden administration issued a sanctions waiver letting banks move about $6 billion in frozen Iranian oil money from South Korea to Qatar, a step toward freeing five Americans held in Iran. Republicans criticized the arrangement as a ransom payment."},
	{"The Globe News", "tag:globe-news.example,2023-09-13:/world/44790", "world", "2023-09-13T21:30Z", "derna-floods", "Libya’s Derna: tens of thousands homeless as flood toll keeps rising", "The UN migration agency said at least 30,000 people in Derna had been displaced by the floods, and the city’s mayor warned the final death toll could reach 18,000 to 20,000 given how many districts were destroyed."},
	{"The Globe News", "tag:globe-news.example,2023-09-13:/world/44761", "world", "2023-09-13T16:30Z", "lampedusa-arrivals", "Thousands of migrants land on Lampedusa in a day, swamping reception centre", "More than 100 boats reached the small Italian island within about 24 hours, bringing more new arrivals than its roughly 6,000 residents. Local officials said the island’s reception centre, built for a few hundred people, was overwhelmed."},
	{"The Globe News", "tag:globe-news.example,2023-09-13:/world/44752", "tech", "2023-09-13T13:25Z", "france-iphone12-radiation", "France halts iPhone 12 sales over radiation reading; Apple disputes test", "France’s frequency regulator ANFR said the 2020 model exceeded the EU limit for energy absorbed by the body when held in the hand or kept in a pocket, and ordered sales stopped until Apple fixes it. Apple says the phone is certified compliant worldwide."},
	{"The Globe News", "tag:globe-news.example,2023-09-13:/world/44733", "world", "2023-09-13T10:15Z", "kerala-nipah", "India’s Kerala races to contain deadly Nipah virus outbreak", "Health officials in Kozhikode district declared containment zones across several village councils after two deaths were linked to the bat-borne virus and more infections were confirmed. There is no approved vaccine or cure for Nipah."},
	{"The Globe News", "tag:globe-news.example,2023-09-13:/world/44729", "world", "2023-09-13T09:40Z", "japan-cabinet-reshuffle", "Kishida shakes up cabinet, naming Kamikawa Japan’s foreign minister", "Prime Minister Fumio Kishida replaced his foreign and defence ministers in a reshuffle aimed at lifting sagging approval ratings, appointing former justice minister Yoko Kamikawa to lead diplomacy and Minoru Kihara at defence. The new line-up includes five women, matching a record."},
	{"The Globe News", "tag:globe-news.example,2023-09-13:/world/44718", "business", "2023-09-13T08:55Z", "eu-china-ev-probe", "Von der Leyen launches EU probe into Chinese electric-car subsidies", "In her annual State of the Union speech in Strasbourg, the European Commission president said cheap Chinese electric cars were flooding global markets with prices kept artificially low by state support, and announced an anti-subsidy investigation."},
	{"The Globe News", "tag:globe-news.example,2023-09-13:/world/44706", "business", "2023-09-13T07:10Z", "uk-gdp-july", "UK economy shrank 0.5% in July as strikes and rain hit output", "Official figures showed a sharper contraction than economists had expected, with strikes in health and education and an unusually wet summer weighing on activity. The data arrive a week before the Bank of England’s next interest-rate decision."},
	{"The Globe News", "tag:globe-news.example,2023-09-13:/world/44701", "world", "2023-09-13T06:48Z", "kim-putin-summit", "Kim tells Putin Russia’s war is a ‘sacred’ fight as pair discuss space help", "At the Vostochny Cosmodrome in the Amur region, Kim Jong Un said North Korea would always stand with the Kremlin, while Vladimir Putin suggested Russia could help Pyongyang with satellite technology. Western governments fear the meeting could seal a deal for North Korean artillery ammunition."},
	{"The Globe News", "tag:globe-news.example,2023-09-12:/world/44655", "tech", "2023-09-12T19:40Z", "iphone15-launch", "Apple’s new iPhones go USB-C as EU rules loom", "The iPhone 15 range, unveiled in California, swaps Apple’s own charging connector for the USB-C standard the European Union will require from late 2024. Apple also showed a new Apple Watch with a ‘double tap’ finger gesture."},
	{"The Globe News", "tag:globe-news.example,2023-09-12:/world/44641", "world", "2023-09-12T18:20Z", "israel-court-hearing", "Israel’s full Supreme Court hears challenge to law curbing its own powers", "For the first time, all 15 justices sat together to weigh petitions against a law that bars courts from striking down government decisions as “unreasonable”. The hearing is a key test in the fight over Benjamin Netanyahu’s judicial overhaul."},
	{"Meridian Business & Tech", "mbt-2023-0913-0231", "business", "2023-09-13T23:52Z", "arm-ipo", "Arm prices IPO at top of range, valuing chip designer near $55 billion", "SoftBank-owned Arm Holdings sold shares at $51 each, raising about $4.87 billion in the year’s largest U.S. listing. The stock is set to begin trading on the Nasdaq on Thursday under the ticker ARM."},
	{"Meridian Business & Tech", "mbt-2023-0913-0224", "business", "2023-09-13T22:50Z", "uaw-strike-deadline", "UAW will target select plants if no deal by Thursday midnight, Fain says", "With contracts at General Motors, Ford and Stellantis expiring at 11:59 p.m. Thursday, United Auto Workers President Shawn Fain said the union would begin with strikes at a limited set of plants & escalate if talks stall."},
	{"Meridian Business & Tech", "mbt-2023-0913-0219", "tech", "2023-09-13T21:20Z", "senate-ai-forum", "Musk, Zuckerberg and Altman join senators for closed-door AI summit", "Senate Majority Leader Chuck Schumer convened tech chiefs, labor leaders and civil-society groups to discuss how Congress should regulate artificial intelligence. Participants said there was broad agreement that government has a role, but little on the specifics."},
	{"Meridian Business & Tech", "mbt-2023-0913-0188", "business", "2023-09-13T13:05Z", "us-cpi-august", "Gasoline drives biggest monthly US price rise in more than a year", "The consumer price index climbed 0.6% in August and 3.7% from a year earlier, with energy accounting for more than half of the monthly gain. Core inflation eased to 4.3% on an annual basis, leaving the Federal Reserve expected to hold rates steady at its Sept. 19–20 meeting."},
	{"Meridian Business & Tech", "mbt-2023-0913-0171", "world", "2023-09-13T10:30Z", "kim-putin-summit", "Kim–Putin summit raises stakes for sanctions on North Korean arms", "Vladimir Putin hosted Kim Jong Un at Russia’s Vostochny spaceport on Wednesday and said Moscow would respect existing restrictions while exploring “opportunities” for cooperation. Any North Korean arms sales to Russia would breach U.N. Security Council resolutions that Moscow itself voted for."},
	{"Meridian Business & Tech", "mbt-2023-0913-0102", "tech", "2023-09-13T00:15Z", "unity-runtime-fee", "Unity’s new per-install fee sparks revolt among game developers", "The game-engine maker said it will charge developers each time a qualifying game is installed once revenue and install thresholds are crossed, starting Jan. 1, 2024. Studios said the fee could upend the economics of free-to-play & indie titles."},
	{"Meridian Business & Tech", "mbt-2023-0912-0311", "tech", "2023-09-12T21:45Z", "google-antitrust-trial", "Justice Department tells court Google paid billions to stay the default search engine", "Opening the government’s biggest tech monopoly case in a generation, a Justice Department lawyer said Google spends more than $10 billion a year on default-placement deals with Apple and others. Google countered that people use its search engine because it is better, not because they are locked in."},
	{"Meridian Business & Tech", "mbt-2023-0912-0296", "business", "2023-09-12T20:30Z", "oracle-shares", "Oracle shares suffer worst day in two decades after soft cloud outlook", "The stock slid about 13.5% after the database company’s quarterly revenue and guidance came in below Wall Street forecasts, overshadowing demand for its AI-focused cloud capacity."},
	{"Meridian Business & Tech", "mbt-2023-0912-0254", "tech", "2023-09-12T19:10Z", "iphone15-launch", "iPhone 15 Pro: titanium, an ‘Action button’ and an unchanged $999 starting price", "Apple held the base price of its Pro model while moving the 15 Pro Max to $1,199 with double the starting storage. Apple shares slipped on the day. Preorders open Friday and the phones reach stores Sept. 22."},
	{"Meridian Business & Tech", "mbt-2023-0912-0140", "business", "2023-09-12T07:45Z", "uk-wages", "UK pay growth holds at record 7.8% even as jobless rate rises", "Regular wages in Britain grew 7.8% in the three months to July, matching the fastest pace on record, while unemployment rose to 4.3%. The figures complicate the Bank of England’s choice on whether to raise rates again."},
	{"Harborview Herald", "https://harborview.example/?p=48297", "us", "2023-09-13T22:45Z", "paxton-trial", "Paxton impeachment trial nears its end in Texas Senate", "House managers and defense lawyers for suspended Texas Attorney General Ken Paxton are wrapping up testimony in the state Senate, where a two-thirds vote is needed to convict. Paxton, who denies wrongdoing, has not taken the stand."},
	{"Harborview Herald", "https://harborview.example/?p=48281", "us", "2023-09-13T21:05Z", "hurricane-lee", "Hurricane Lee expected to turn north, with New England and Atlantic Canada in view", "Forecasters said the large storm would bring dangerous surf and rip currents to much of the East Coast this week before nearing New England or Atlantic Canada over the weekend. Its exact track remained uncertain…"},
	{"Harborview Herald", "https://harborview.example/?p=48240", "us", "2023-09-13T14:10Z", "hunter-biden-indictment", "Hunter Biden indictment on gun charge expected within weeks", "Special counsel David Weiss has told a federal court he plans to seek an indictment before the end of September, after a plea agreement collapsed in July. Hunter Biden’s lawyers argue an earlier diversion deal still protects him."},
	{"Harborview Herald", "https://harborview.example/?p=48213", "world", "2023-09-13T06:40Z", "kim-putin-summit", "North Korea’s Kim and Putin meet in Russia’s Far East", "The two leaders shook hands at a remote spaceport and sat down for talks expected to cover weapons and space technology. North Korea coverage continues. Washington has warned that any arms deal would bring new sanctions."},
	{"Harborview Herald", "https://harborview.example/?p=48163", "us", "2023-09-13T00:30Z", "cdc-covid-shots", "CDC recommends updated COVID shots for everyone 6 months and older", "CDC Director Mandy Cohen signed off on her advisers’ recommendation hours after their vote, clearing the way for the reformulated vaccines to reach pharmacies within days. The shots target a recent omicron subvariant."},
	{"Harborview Herald", "https://harborview.example/?p=48150", "us", "2023-09-12T23:05Z", "lahaina-aftermath", "A month after Lahaina burned, families still wait to see what’s left", "Most of the Lahaina burn zone remains closed while federal crews remove hazardous debris, and Maui County officials say residents will be allowed back in phases. Thousands of evacuees are still living in hotel rooms across the island."},
	{"Harborview Herald", "https://harborview.example/?p=48131", "business", "2023-09-12T21:30Z", "uaw-strike-deadline", "Auto workers brace for possible strike as contract deadline nears", "About 146,000 UAW members at Ford, General Motors and Stellantis could walk out when their contracts expire Thursday night. Parts suppliers and dealers say even a short strike would ripple through the region’s economy."},
	{"Harborview Herald", "https://harborview.example/?p=48118", "us", "2023-09-12T19:00Z", "rodgers-injury", "Jets confirm Aaron Rodgers tore his Achilles, ending his season", "An MRI confirmed the four-time MVP ruptured his left Achilles tendon four snaps into his New York Jets debut on Monday night. The team is turning back to Zach Wilson at quarterback."},
	{"Harborview Herald", "https://harborview.example/?p=48102", "world", "2023-09-12T17:20Z", "derna-floods", "Thousands feared dead as floods sweep Libyan coastal city", "Storm Daniel’s rains broke two dams above Derna late Sunday, washing entire blocks into the Mediterranean. Aid groups said thousands of people were missing."},
	{"Harborview Herald", "https://harborview.example/?p=48095", "us", "2023-09-12T16:45Z", "biden-impeachment-inquiry", "Speaker launches formal impeachment inquiry into President Biden", "Kevin McCarthy directed the Oversight, Judiciary and Ways and Means committees to investigate the president over his son Hunter’s overseas business ventures, dropping his earlier promise of a floor vote first. Democrats called the inquiry baseless."},
}

// fixtureArticles builds the 50 fixture articles, ingested at now, and the
// answer key: guid → cluster.
func fixtureArticles(t testing.TB, now time.Time) ([]articles.Article, map[string]string) {
	t.Helper()
	feeds := map[string]int64{}
	key := map[string]string{}
	as := make([]articles.Article, 0, len(fixtureRows))
	for i, r := range fixtureRows {
		pub, err := time.Parse("2006-01-02T15:04Z", r.published)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := feeds[r.outlet]; !ok {
			feeds[r.outlet] = int64(len(feeds) + 1)
		}
		as = append(as, articles.Article{
			ID: int64(i + 1), GUID: r.guid, FeedID: feeds[r.outlet], Source: r.outlet,
			URL:   fmt.Sprintf("https://fixture.example/%d", i+1),
			Title: r.title, Lead: r.lead, Section: r.section, PublishedAt: pub, IngestedAt: now,
		})
		key[r.guid] = r.cluster
	}
	return as, key
}

// clusterErrors compares groups with the answer key: pairs put together
// that belong apart, and pairs kept apart that belong together.
func clusterErrors(as []articles.Article, key map[string]string, groups [][]int) (merged, split []string) {
	group := make([]int, len(as))
	for g, m := range groups {
		for _, i := range m {
			group[i] = g
		}
	}
	for i := range as {
		for j := i + 1; j < len(as); j++ {
			same := key[as[i].GUID] == key[as[j].GUID]
			together := group[i] == group[j]
			pair := fmt.Sprintf("%q / %q", as[i].Title, as[j].Title)
			switch {
			case together && !same:
				merged = append(merged, pair)
			case same && !together:
				split = append(split, pair)
			}
		}
	}
	return merged, split
}

// reportClusterErrors reports each pair clusterErrors finds: merged
// different stories through merged (t.Errorf: a story lost inside another
// is the failure a digest must not have), split stories through split
// (t.Logf where recall is measured, not required).
func reportClusterErrors(t testing.TB, merged, split func(format string, args ...any), as []articles.Article, key map[string]string, groups [][]int) {
	t.Helper()
	m, s := clusterErrors(as, key, groups)
	for _, p := range m {
		merged("merged different stories: %s", p)
	}
	for _, p := range s {
		split("split one story: %s", p)
	}
}

// fixtureMaxStories is the number of groups the clusterer makes of the
// fixture day (testdata/feeds, 38 stories in the key): the paraphrased
// follow-ups of Derna, Kim–Putin and the UAW deadline stay apart (see
// TestClusterFixture). A change that splits more fails here.
const fixtureMaxStories = 43

// TestClusterFixture holds the clusterer to the fixture day's answer key:
// no two stories merged, every article once, at most fixtureMaxStories
// groups. The stories it splits are logged.
func TestClusterFixture(t *testing.T) {
	as, key := fixtureArticles(t, time.Date(2023, 9, 14, 0, 0, 0, 0, time.UTC))
	groups := Cluster(as)
	reportClusterErrors(t, t.Errorf, t.Logf, as, key, groups)
	if len(groups) < 38 || len(groups) > fixtureMaxStories {
		t.Errorf("%d clusters, want 38 to %d", len(groups), fixtureMaxStories)
	}
	// Every index exactly once.
	var all []int
	for _, g := range groups {
		all = append(all, g...)
	}
	slices.Sort(all)
	for i, k := range all {
		if i != k {
			t.Fatalf("indexes %v are not each article once", all)
		}
	}
}

func TestClusterSmall(t *testing.T) {
	if g := Cluster(nil); g != nil {
		t.Errorf("Cluster(nil) = %v", g)
	}
	one := []articles.Article{{ID: 1, Title: "Only story"}}
	if g := Cluster(one); len(g) != 1 || len(g[0]) != 1 {
		t.Errorf("one article: %v", g)
	}
	// Identical wire copies are one story; empty text is its own.
	as := []articles.Article{
		{ID: 1, Title: "Storm Daniel floods Derna, Libya", Lead: "Dams burst above the city."},
		{ID: 2, Title: "Storm Daniel floods Derna, Libya", Lead: "Dams burst above the city."},
		{ID: 3},
		{ID: 4},
	}
	if g := Cluster(as); !slices.EqualFunc(g, [][]int{{0, 1}, {2}, {3}}, slices.Equal) {
		t.Errorf("Cluster = %v", g)
	}
}

// syntheticWindow makes n articles shaped like a day's window: stories of
// one to six outlets, each article mixing the story's own names and words
// with everyday words drawn from a Zipf distribution.
func syntheticWindow(n int, seed uint64) []articles.Article {
	r := rand.New(rand.NewPCG(seed, seed))
	common := rand.NewZipf(r, 1.1, 2, 20000)
	word := func() string { return fmt.Sprintf("w%d", common.Uint64()) }
	var as []articles.Article
	for story := 0; len(as) < n; story++ {
		names := []string{"Na" + letters(story) + "a", "Na" + letters(story) + "b", "Pl" + letters(story)}
		topic := []string{fmt.Sprintf("topic%da", story), fmt.Sprintf("topic%db", story)}
		size := 1 + r.IntN(6)
		for k := 0; k < size && len(as) < n; k++ {
			var title, lead []string
			title = append(title, names[r.IntN(2)], topic[r.IntN(2)])
			for range 6 {
				title = append(title, word())
			}
			lead = append(lead, "The", names[0], names[1], "in", names[2], topic[0], topic[1])
			for range 30 {
				lead = append(lead, word())
			}
			r.Shuffle(len(title)-1, func(i, j int) { title[i+1], title[j+1] = title[j+1], title[i+1] })
			as = append(as, articles.Article{
				ID: int64(len(as) + 1), Source: fmt.Sprintf("Outlet %d", k),
				Title: strings.Join(title, " "), Lead: strings.Join(lead, " ") + ".",
			})
		}
	}
	return as
}

// letters spells n in the letters a–z, so that synthetic names are words
// the clusterer can take for names (a word with a digit is a number).
func letters(n int) string {
	b := []byte{byte('a' + n%26)}
	for n /= 26; n > 0; n /= 26 {
		b = append(b, byte('a'+n%26))
	}
	return string(b)
}

// BenchmarkCluster clusters a window of 3,000 articles, a busy day.
func BenchmarkCluster(b *testing.B) {
	as := syntheticWindow(3000, 1)
	b.ReportAllocs()
	for b.Loop() {
		Cluster(as)
	}
}

func TestAppendTokens(t *testing.T) {
	got := appendTokens(nil, "Russia’s 2,900 quake-hit Andrés: UAW", false)
	var lower []string
	for _, tk := range got {
		lower = append(lower, tk.lower)
	}
	want := []string{"russia", "2900", "quake", "hit", "andres", "uaw"}
	if !slices.Equal(lower, want) {
		t.Fatalf("tokens %q, want %q", lower, want)
	}
	if !got[0].start || !got[0].caps || got[1].start || !got[1].digit || got[2].caps {
		t.Errorf("flags of russia/2,900/quake: %+v %+v %+v", got[0], got[1], got[2])
	}
	if !got[5].start || !got[5].upper || got[4].start {
		t.Errorf("a colon opens a sentence, UAW is upper case: %+v %+v", got[4], got[5])
	}
	// Two-digit decimals stay one word; a sentence's full stop is not one.
	got = appendTokens(nil, "A 7.1 quake. Then", true)
	if len(got) != 4 || got[1].lower != "7.1" || !got[3].start || !got[3].title {
		t.Errorf("tokens %+v", got)
	}
}

func TestNameStem(t *testing.T) {
	for _, c := range [][2]string{
		{"russia", "russ"}, {"russian", "russ"}, {"russians", "russ"}, {"korea", "kore"},
		{"korean", "kore"}, {"chinese", "chin"}, {"china", "chin"}, {"syria", "syri"},
		{"syrian", "syri"}, {"india", "indi"}, {"indian", "indi"}, {"kim", "kim"}, {"peru", "peru"},
		// The endings come off one after another until none applies.
		{"japan", "japa"}, {"japanese", "japa"}, {"turkey", "turk"}, {"turkish", "turk"},
		{"britain", "brit"}, {"british", "brit"}, {"belarus", "belarus"}, {"belarusian", "belarus"},
	} {
		if got := nameStem(c[0]); got != c[1] {
			t.Errorf("nameStem(%q) = %q, want %q", c[0], got, c[1])
		}
	}
}

func TestTimeFactor(t *testing.T) {
	p := defaultClusterParams
	at := time.Date(2026, 5, 12, 12, 0, 0, 0, time.UTC)
	if f := timeFactor(at, at, p); f != 1 {
		t.Errorf("same time: %v", f)
	}
	if f := timeFactor(at, at.Add(p.halfLife), p); math.Abs(f-0.5) > 1e-9 {
		t.Errorf("one half-life apart: %v", f)
	}
	if f := timeFactor(at.Add(p.maxApart), at, p); f != 0 {
		t.Errorf("maxApart apart: %v", f)
	}
	if f := timeFactor(time.Time{}, at, p); f != 1 {
		t.Errorf("no time: %v", f)
	}
}

// TestClusterDifferentEvent: the same people at another event stay apart,
// the same event in other words joins.
func TestClusterDifferentEvent(t *testing.T) {
	at := time.Date(2023, 9, 13, 6, 0, 0, 0, time.UTC)
	as := []articles.Article{
		{ID: 1, PublishedAt: at, Title: "Kim and Putin meet at Russian spaceport", Lead: "North Korean leader Kim Jong Un met Russian President Vladimir Putin at the Vostochny cosmodrome on Wednesday, promising full support for Moscow."},
		{ID: 2, PublishedAt: at.Add(time.Hour), Title: "Putin gives Kim tour of spaceport as leaders meet", Lead: "Vladimir Putin showed Kim Jong Un around the Vostochny cosmodrome in Russia’s Far East before the two leaders met for talks on Wednesday."},
		{ID: 3, PublishedAt: at.Add(2 * time.Hour), Title: "North Korea fires two ballistic missiles while Kim is in Russia", Lead: "North Korea launched two short-range ballistic missiles into the sea off its east coast on Wednesday, South Korea’s military said, as Kim Jong Un was away visiting Putin."},
		{ID: 4, PublishedAt: at, Title: "Strong earthquake hits Morocco", Lead: "A magnitude 6.8 earthquake struck Morocco’s High Atlas mountains late on Friday, killing hundreds."},
	}
	groups := Cluster(as)
	want := [][]int{{0, 1}, {2}, {3}}
	if !slices.EqualFunc(groups, want, slices.Equal) {
		t.Errorf("groups %v, want %v", groups, want)
	}
}
