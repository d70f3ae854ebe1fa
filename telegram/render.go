package telegram

import "github.com/digestbot/digestbot/digest"

// renderTelegram is the default SenderOptions.RenderFunc.
func renderTelegram(ed digest.Edition, sections []string, o digest.RenderOptions) ([]string, error) {
	return digest.RenderTelegram(ed.ForSections(sections), o)
}
