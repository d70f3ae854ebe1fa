package articles

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/mmcdole/gofeed"
)

func TestZZProbe(t *testing.T) {
	for _, name := range []string{"malformed.xml", "hostile.xml", "meridian.feed.json", "globe-news.atom.xml"} {
		data, _ := os.ReadFile("../testdata/feeds/" + name)
		p := gofeed.NewParser()
		f, err := p.Parse(bytes.NewReader(data))
		fmt.Println(name, err)
		if f != nil {
			for _, it := range f.Items {
				fmt.Printf("  %q pub=%q parsed=%v link=%q cats=%q\n", it.Title[:min(len(it.Title), 60)], it.Published, it.PublishedParsed, it.Link, it.Categories)
			}
		}
	}
}
