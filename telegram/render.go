package telegram

import "github.com/digestbot/digestbot/digest"

// renderTelegram is the default SenderOptions.RenderFunc: nothing when the
// edition has no item in sections (the reader is skipped, as by email).
func renderTelegram(ed digest.Edition, sections []string, o digest.RenderOptions) ([]string, error) {
	sel := ed.ForSections(sections)
	if len(sel.Items) == 0 {
		return nil, nil
	}
	return digest.RenderTelegram(sel, o)
}
