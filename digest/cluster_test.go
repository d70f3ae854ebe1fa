package digest

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"html"
	"strings"
	"testing"

	"github.com/mmcdole/gofeed"
)

func TestZZDump(t *testing.T) {
	tag := regexp.MustCompile(`<[^>]*>`)
	for _, name := range []string{"pacific-stripes.rss.xml", "wire-a.rss.xml", "globe-news.atom.xml", "meridian.feed.json", "harborview-herald.rss.xml"} {
		data, _ := os.ReadFile("../testdata/feeds/" + name)
		f, err := gofeed.NewParser().Parse(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range f.Items {
			d := it.Description
			if d == "" { d = it.Content }
			d = html.UnescapeString(tag.ReplaceAllString(html.UnescapeString(d), " "))
			d = strings.Join(strings.Fields(d), " ")
			if len(d) > 300 { d = d[:300] }
			fmt.Printf("%s\t%s\t%s\t%s\n", name, it.GUID, it.Title, d)
		}
	}
}
