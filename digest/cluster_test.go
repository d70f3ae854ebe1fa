package digest

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/digestbot/digestbot/articles"
)

// fixtureRow is one article of testdata/feeds/README.md §4: outlet, guid,
// section, published (UTC), answer-key cluster, title, and the lead as a
// cleaner would make it from the item's summary.
type fixtureRow struct {
	outlet, guid, section, published, cluster, title, lead string
}

var fixtureRows = []fixtureRow{
	{"Pacific Stripes Daily", "stripes-11284015", "military", "2023-09-13T18:40Z", "house-defense-bill-vote-pulled", "House GOP leaders shelve Pentagon funding vote amid conservative revolt", "A procedural vote to open debate on the fiscal 2024 defense appropriations bill was scrapped Wednesday after several hard-right Republicans said they would oppose it until they win deeper cuts elsewhere. The setback comes with less than three weeks left before the Sept. 30 funding deadline."},
	{"Pacific Stripes Daily", "stripes-11283746", "world", "2023-09-13T13:05Z", "kim-putin-summit", "Kim promises Putin full backing as leaders meet at Russian spaceport", "North Korea’s Kim Jong Un told Vladimir Putin that ties with Moscow come first for Pyongyang and backed Russia’s war in Ukraine, as the two met at the Vostochny Cosmodrome in Russia’s Far East. Putin hinted at help with satellites and said there were “prospects” for cooperation despite U.N."},
	{"Pacific Stripes Daily", "stripes-11283402", "military", "2023-09-13T08:30Z", "sevastopol-shipyard-strike", "Ukrainian strike sets Sevastopol shipyard ablaze, damaging 2 Russian vessels", "Russia’s Defense Ministry said 10 cruise missiles and three sea drones targeted the Black Sea Fleet’s repair yard in occupied Crimea overnight, and that two ships under repair were hit."},
	{"Pacific Stripes Daily", "stripes-11283350", "military", "2023-09-13T06:45Z", "south-korea-defense-nominee", "Seoul picks retired general Shin Won-sik to lead defense ministry", "President Yoon Suk Yeol nominated the ruling-party lawmaker and former three-star Army general to replace Defense Minister Lee Jong-sup, hours after the North’s latest missile launch. Shin still faces a parliamentary confirmation hearing."},
	{"Pacific Stripes Daily", "stripes-11283311", "military", "2023-09-13T03:55Z", "north-korea-missile-launch", "North Korea launches 2 ballistic missiles while Kim is away in Russia", "South Korea’s Joint Chiefs of Staff said the short-range missiles were fired from the Pyongyang area toward waters off the east coast late Wednesday morning. It was the first known launch by the North while its leader was outside the country."},
	{"Pacific Stripes Daily", "stripes-11282871", "military", "2023-09-12T21:15Z", "tuberville-promotions-hold", "Senate returns with hundreds of military promotions still frozen by Tuberville hold", "Sen. Tommy Tuberville’s blanket hold, aimed at the Pentagon’s abortion travel policy, has left more than 300 senior officer nominations waiting, including the top uniformed posts of the Army, Navy and Marine Corps. Acting leaders are filling those jobs while the standoff drags on."},
	{"Pacific Stripes Daily", "stripes-11282455", "world", "2023-09-12T16:10Z", "derna-floods", "Libya flood deaths climb into the thousands after dams give way in Derna", "Two dams above the eastern Libyan city burst when Storm Daniel dumped torrential rain, sending a wall of water through neighborhoods near the sea. Officials in the east put the death toll above 5,000, and the Red Cross said about 10,000 people were unaccounted for."},
	{"Pacific Stripes Daily", "stripes-11282530", "world", "2023-09-12T14:30Z", "morocco-earthquake", "Morocco quake toll nears 2,900 as troops reach cut-off mountain villages", "Soldiers and rescue teams pushed deeper into the High Atlas on Tuesday as the Interior Ministry raised the death toll from Friday’s magnitude-6.8 earthquake to nearly 2,900. Morocco has so far accepted search teams from only four countries: Spain, Britain, Qatar and the United Arab Emirates."},
	{"Pacific Stripes Daily", "stripes-11282160", "military", "2023-09-12T14:00Z", "military-pay-raise-ndaa", "Troops’ 5.2% raise on track as lawmakers work to merge defense policy bills", "Both the House and Senate versions of the annual defense policy bill back a 5.2% basic pay increase for service members in 2024, the largest in more than two decades. Negotiators still have to reconcile the two bills, which split sharply on social-policy provisions."},
	{"Pacific Stripes Daily", "stripes-11281902", "world", "2023-09-12T04:20Z", "kim-putin-summit", "Kim’s armored train rolls into Russia ahead of expected Putin summit", "Kim Jong Un crossed into Russia’s Far East early Tuesday aboard his armored train, his first trip abroad since the pandemic began. The Kremlin confirmed he would hold talks with Vladimir Putin, and U.S. officials again warned against any arms transfers."},
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
	{"Meridian Business & Tech", "mbt-2023-0913-0231", "business", "2023-09-13T23:52Z", "arm-ipo", "Arm prices IPO at top of range, valuing chip designer near $55 billion", "SoftBank-owned Arm Holdings sold shares at $51 each, raising about $4.87 billion in the year’s largest U.S. listing."},
	{"Meridian Business & Tech", "mbt-2023-0913-0224", "business", "2023-09-13T22:50Z", "uaw-strike-deadline", "UAW will target select plants if no deal by Thursday midnight, Fain says", "The union plans to start with strikes at a limited set of plants and widen them if talks stall."},
	{"Meridian Business & Tech", "mbt-2023-0913-0219", "tech", "2023-09-13T21:20Z", "senate-ai-forum", "Musk, Zuckerberg and Altman join senators for closed-door AI summit", "Senate Majority Leader Chuck Schumer convened tech chiefs, labor leaders and civil-society groups to discuss how Congress should regulate artificial intelligence. Participants said there was broad agreement that government has a role, but little on the specifics."},
	{"Meridian Business & Tech", "mbt-2023-0913-0188", "business", "2023-09-13T13:05Z", "us-cpi-august", "Gasoline drives biggest monthly US price rise in more than a year", "Consumer prices rose 0.6% in August and 3.7% from a year earlier."},
	{"Meridian Business & Tech", "mbt-2023-0913-0171", "world", "2023-09-13T10:30Z", "kim-putin-summit", "Kim–Putin summit raises stakes for sanctions on North Korean arms", "Putin said Russia would respect existing restrictions while exploring ‘opportunities’ with Pyongyang."},
	{"Meridian Business & Tech", "mbt-2023-0913-0102", "tech", "2023-09-13T00:15Z", "unity-runtime-fee", "Unity’s new per-install fee sparks revolt among game developers", "Studios say the fee could upend the economics of free-to-play and indie games."},
	{"Meridian Business & Tech", "mbt-2023-0912-0311", "tech", "2023-09-12T21:45Z", "google-antitrust-trial", "Justice Department tells court Google paid billions to stay the default search engine", "The government’s biggest tech monopoly case in a generation opened in Washington."},
	{"Meridian Business & Tech", "mbt-2023-0912-0296", "business", "2023-09-12T20:30Z", "oracle-shares", "Oracle shares suffer worst day in two decades after soft cloud outlook", "The stock fell about 13.5% after revenue and guidance missed forecasts."},
	{"Meridian Business & Tech", "mbt-2023-0912-0254", "tech", "2023-09-12T19:10Z", "iphone15-launch", "iPhone 15 Pro: titanium, an ‘Action button’ and an unchanged $999 starting price", "Apple held the base price of its Pro model; the Pro Max now starts at $1,199."},
	{"Meridian Business & Tech", "mbt-2023-0912-0140", "business", "2023-09-12T07:45Z", "uk-wages", "UK pay growth holds at record 7.8% even as jobless rate rises", "Regular wages grew 7.8% in the three months to July; unemployment rose to 4.3%."},
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

// fixtureArticles builds articles from fixtureRows, ingested at now.
func fixtureArticles(t testing.TB, now time.Time) ([]articles.Article, map[string]string) {
	t.Helper()
	feeds := map[string]int64{}
	key := map[string]string{}
	var as []articles.Article
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
			Title: r.title, Lead: r.lead, Section: r.section, PublishedAt: pub, IngestedAt: now,
			URL: "https://example.test/" + fmt.Sprint(i+1),
		})
		key[r.guid] = r.cluster
	}
	return as, key
}

func evalClusters(as []articles.Article, key map[string]string, groups [][]int) (falseMerge, missed int) {
	pred := map[int]int{}
	for g, m := range groups {
		for _, i := range m {
			pred[i] = g
		}
	}
	for i := range as {
		for j := i + 1; j < len(as); j++ {
			same := key[as[i].GUID] == key[as[j].GUID]
			got := pred[i] == pred[j]
			if got && !same {
				falseMerge++
			}
			if same && !got {
				missed++
			}
		}
	}
	return
}

func TestZZSweep(t *testing.T) {
	as, key := fixtureArticles(t, time.Now())
	for _, tw := range []float64{1, 1.5, 2, 3} {
		for _, bw := range []float64{0, 0.5, 1} {
			for _, eb := range []float64{1, 1.5, 2, 3} {
				for _, d := range []float64{0, 0.03, 0.06} {
					best, bestT := 1000, 0.0
					for T := 0.03; T < 0.4; T += 0.005 {
						p := clusterParams{tw, bw, eb, T + d, T}
						fm, mi := evalClusters(as, key, clusterWith(as, p))
						if fm+mi < best {
							best, bestT = fm+mi, T
						}
					}
					fmt.Println("RES", best, tw, bw, eb, d, bestT)
				}
			}
		}
	}
}

func TestZZSims(t *testing.T) {
	as, key := fixtureArticles(t, time.Now())
	vs := vectorize(as, defaultClusterParams)
	type pr struct {
		i, j int
		s    float64
	}
	var intra, cross []pr
	for i := range as {
		for j := i + 1; j < len(as); j++ {
			p := pr{i, j, dot(vs[i], vs[j])}
			if key[as[i].GUID] == key[as[j].GUID] {
				intra = append(intra, p)
			} else {
				cross = append(cross, p)
			}
		}
	}
	sort.Slice(intra, func(a, b int) bool { return intra[a].s < intra[b].s })
	sort.Slice(cross, func(a, b int) bool { return cross[a].s > cross[b].s })
	short := func(s string) string {
		if len(s) > 45 {
			return s[:45]
		}
		return s
	}
	idx := map[int32]string{}
	_ = idx
	shared := func(i, j int) string {
		var out []string
		a := contentWords(as[i].Title+" . "+as[i].Lead, false, nil)
		b := contentWords(as[j].Title+" . "+as[j].Lead, false, nil)
		m := map[string]bool{}
		for _, w := range a {
			m[w.text] = true
		}
		seen := map[string]bool{}
		for _, w := range b {
			if m[w.text] && !seen[w.text] {
				seen[w.text] = true
				out = append(out, w.text)
			}
		}
		return strings.Join(out, ",")
	}
	for _, p := range intra {
		fmt.Printf("    %s\n", shared(p.i, p.j))
		fmt.Printf("IN  %.3f %-22s %-45s | %s\n", p.s, key[as[p.i].GUID], short(as[p.i].Title), short(as[p.j].Title))
	}
	for _, p := range cross[:20] {
		fmt.Printf("    %s\n", shared(p.i, p.j))
		fmt.Printf("OUT %.3f %-45s | %s\n", p.s, short(as[p.i].Title), short(as[p.j].Title))
	}
	groups := Cluster(as)
	fmt.Println("clusters", len(groups))
	for _, g := range groups {
		if len(g) > 1 {
			var ks []string
			for _, i := range g {
				ks = append(ks, key[as[i].GUID])
			}
			fmt.Println(strings.Join(ks, " "))
		}
	}
}
