package digest

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

const (
	msoOpen      = `<!--[if mso]><table role="presentation" width="600" align="center" cellpadding="0" cellspacing="0" border="0"><tr><td><![endif]-->`
	msoClose     = `<!--[if mso]></td></tr></table><![endif]-->`
	preheaderPad = `&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;`
	textWidth    = 72
)

// Subject is the email subject: "Daily Headlines — Wednesday, September 13,
// 2023". It is one line (no CR, LF or other control character, so nothing
// from a title can inject a header) of at most 200 characters.
func Subject(e Edition, o RenderOptions) string {
	_, _, _, heading := editionHeading(e, o)
	return displayText(heading, maxSubjectRunes)
}

// RenderEmailHTML renders the HTML part of the edition's email.
func RenderEmailHTML(e Edition, o RenderOptions) (string, error) {
	var b strings.Builder
	b.Grow(4096 + 1536*len(e.Items))
	if err := o.templates().emailHTML.Execute(&b, newView(e, o)); err != nil {
		return "", fmt.Errorf("digest: render email html %s: %w", e.Date, err)
	}
	return b.String(), nil
}

// RenderEmailText renders the plain-text part of the edition's email.
func RenderEmailText(e Edition, o RenderOptions) (string, error) {
	var b strings.Builder
	b.Grow(1024 + 512*len(e.Items))
	if err := o.templates().emailText.Execute(&b, newView(e, o)); err != nil {
		return "", fmt.Errorf("digest: render email text %s: %w", e.Date, err)
	}
	return b.String(), nil
}

// metaLine is "Source · Also in: A, B" with either part optional.
func metaLine(source, alsoIn string) string {
	switch {
	case source == "":
		return "Also in: " + alsoIn
	case alsoIn == "":
		return source
	}
	return source + " · Also in: " + alsoIn
}

// wrapText wraps s (one line, single spaces) at width columns, counting
// runes: the first line starts with first, the others with rest. A word
// longer than a line (a URL) stays whole on its own line.
func wrapText(s, first, rest string, width int) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/width*(len(rest)+1) + len(first))
	b.WriteString(first)
	col := utf8.RuneCountInString(first)
	lineStart := true
	for w := range strings.FieldsSeq(s) {
		n := utf8.RuneCountInString(w)
		if !lineStart && col+1+n > width {
			b.WriteByte('\n')
			b.WriteString(rest)
			col = utf8.RuneCountInString(rest)
			lineStart = true
		}
		if !lineStart {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += n
		lineStart = false
	}
	return b.String()
}
