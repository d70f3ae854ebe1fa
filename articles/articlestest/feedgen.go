// Package articlestest holds test helpers for ingestion: a generator of
// large, realistic feeds for benchmarks.
package articlestest

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"time"
)

var (
	sections = []string{"world", "us", "military", "business", "tech"}
	places   = []string{"SEOUL", "WASHINGTON", "KYIV", "TRIPOLI", "BRUSSELS", "TOKYO", "NAIROBI", "LIMA"}
	subjects = []string{"Lawmakers", "Officials", "Rescue crews", "Investors", "Union leaders", "Regulators", "Health workers", "Diplomats"}
	verbs    = []string{"weighed new measures", "met behind closed doors", "warned of delays", "announced a review", "pressed for answers", "signed an agreement"}
)

// WriteRSS writes an RSS 2.0 feed of n items to w. Each item looks like a
// wire story: a headline, a link with utm_ parameters, a guid, a date, an
// author, a category, a media:content image and a description of about
// 1 KB of entity-escaped HTML (a photo caption repeated with its credit,
// three body paragraphs with entities and "U.S."-style abbreviations, and a
// trailing newsletter promo on every fifth item). The output for a given n
// and start is always the same.
func WriteRSS(w io.Writer, n int, start time.Time) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprint(bw, `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:media="http://search.yahoo.com/mrss/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
<title>Benchmark Wire – Headlines</title>
<link>https://bench.example/</link>
<description>Generated feed for ingestion benchmarks.</description>
<language>en-us</language>
`)
	for i := range n {
		sec := sections[i%len(sections)]
		place := places[i%len(places)]
		subj := subjects[(i/3)%len(subjects)]
		verb := verbs[(i/7)%len(verbs)]
		pub := start.Add(-time.Duration(i) * time.Minute).UTC().Format(time.RFC1123Z)
		caption := fmt.Sprintf("%s gather outside the ministry in %s on Tuesday, Sept. 12, 2023, as talks on item %d continued.", subj, place, i)
		body := fmt.Sprintf(
			`<p>%s</p><p>%s (Jane Doe, Bench Wire pool)</p>`+
				`<p>%s — %s on Wednesday as the U.S. and its allies %s over story number %d, according to people familiar with the talks who spoke on the condition of anonymity because they weren&#8217;t authorized to comment.</p>`+
				`<p>The discussions, which Gen. Maria Lopez described as &ldquo;frank &amp; constructive,&rdquo; are expected to resume next week. A spokesman for the ministry declined to comment on the details, citing the sensitivity of the negotiations.</p>`+
				`<p>Analysts said the outcome could shape budgets for years.&nbsp;Markets were little changed after the news, with the benchmark index up 0.3%% by midday.</p>`,
			caption, caption, place, subj, verb, i)
		if i%5 == 0 {
			body += `<div class="newsletter-promo"><h3>Sign Up for Daily Headlines</h3><p>Sign up to receive a daily email of today&#8217;s top stories.</p><p><a href="https://bench.example/newsletters/">Sign Up Now</a></p></div>`
		}
		fmt.Fprintf(bw, `<item>
<title>%s %s in %s as allies press on with talks (%d)</title>
<link>https://bench.example/%s/2023/09/13/story-%d.html?utm_source=rss&amp;utm_medium=feed</link>
<guid isPermaLink="false">bench-%d</guid>
<pubDate>%s</pubDate>
<dc:creator>Reporter %d</dc:creator>
<category>%s</category>
<description>%s</description>
<media:content url="https://bench.example/img/%d-1200x800.jpg" medium="image" type="image/jpeg" width="1200" height="800"/>
</item>
`, subj, verb, place, i, sec, i, i, pub, i%40, sec, html.EscapeString(body), i)
	}
	fmt.Fprint(bw, "</channel>\n</rss>\n")
	return bw.Flush()
}
