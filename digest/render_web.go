package digest

import (
	"fmt"
	"strings"
)

// RenderWebPage renders the archive page of the edition (GET
// /archive/{date}): a full HTML document. It carries no per-subscriber link.
func RenderWebPage(e Edition, o RenderOptions) (string, error) {
	o.PreferencesURL, o.UnsubscribeURL = "", ""
	var b strings.Builder
	b.Grow(4096 + 1024*len(e.Items))
	if err := o.templates().web.Execute(&b, newView(e, o)); err != nil {
		return "", fmt.Errorf("digest: render web page %s: %w", e.Date, err)
	}
	return b.String(), nil
}
