package digest

import (
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"
)

// Template file names, in the embedded set and in a newsletter's
// template_dir.
const (
	EmailHTMLFile = "email.html.tmpl"
	EmailTextFile = "email.txt.tmpl"
	WebPageFile   = "web.html.tmpl"
)

// Templates are the email and archive-page templates of one newsletter:
// the embedded ones (DefaultTemplates), or a directory's files in their
// place (LoadTemplates). A parsed set is only read afterwards, so one value
// may render from many goroutines.
type Templates struct {
	emailHTML *htmltemplate.Template
	emailText *texttemplate.Template
	web       *htmltemplate.Template
}

var emailHTMLFuncs = htmltemplate.FuncMap{
	// Outlook on Windows ignores max-width, so it gets a fixed 600px
	// ghost table; other clients skip the conditional comment.
	"msoOpen":  func() htmltemplate.HTML { return msoOpen },
	"msoClose": func() htmltemplate.HTML { return msoClose },
	// Invisible filler after the preheader, so that inbox previews do
	// not run on into the body text.
	"preheaderPad": func() htmltemplate.HTML { return preheaderPad },
}

var emailTextFuncs = texttemplate.FuncMap{
	"wrap":  func(first, rest, s string) string { return wrapText(s, first, rest, textWidth) },
	"rule":  func(s string) string { return strings.Repeat("=", min(utf8.RuneCountInString(s), textWidth)) },
	"upper": strings.ToUpper,
	"meta":  metaLine,
}

// defaultTemplates are the embedded templates, parsed once at package
// initialisation and never changed afterwards.
var defaultTemplates = mustParse(templateFS, "templates")

// DefaultTemplates returns the embedded templates.
func DefaultTemplates() *Templates { return defaultTemplates }

func mustParse(fsys fs.FS, dir string) *Templates {
	t, err := parseTemplates(fsys, dir, nil)
	if err != nil {
		panic(err)
	}
	return t
}

// LoadTemplates reads a newsletter's template directory: each of
// email.html.tmpl, email.txt.tmpl and web.html.tmpl found there replaces the
// embedded one, the others stay. HTML templates are html/template, so every
// value is escaped for where it appears, as in the embedded ones. Each
// template is tried on a sample edition, so that a template naming a field
// that does not exist fails here, at start-up, not at the first send.
func LoadTemplates(dir string) (*Templates, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("digest: templates: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("digest: templates: %s is not a directory", dir)
	}
	t, err := parseTemplates(os.DirFS(dir), ".", defaultTemplates)
	if err != nil {
		return nil, fmt.Errorf("digest: templates in %s: %w", dir, err)
	}
	if err := t.try(); err != nil {
		return nil, fmt.Errorf("digest: templates in %s: %w", dir, err)
	}
	return t, nil
}

// parseTemplates parses the files of dir in fsys; a file that is absent
// keeps base's template (base nil: every file must be there).
func parseTemplates(fsys fs.FS, dir string, base *Templates) (*Templates, error) {
	t := &Templates{}
	if base != nil {
		*t = *base
	}
	read := func(name string) (string, bool, error) {
		b, err := fs.ReadFile(fsys, filepath.ToSlash(filepath.Join(dir, name)))
		if errors.Is(err, fs.ErrNotExist) && base != nil {
			return "", false, nil
		}
		if err != nil {
			return "", false, err
		}
		return string(b), true, nil
	}
	if src, ok, err := read(EmailHTMLFile); err != nil {
		return nil, err
	} else if ok {
		if t.emailHTML, err = htmltemplate.New(EmailHTMLFile).Funcs(emailHTMLFuncs).Parse(src); err != nil {
			return nil, err
		}
	}
	if src, ok, err := read(EmailTextFile); err != nil {
		return nil, err
	} else if ok {
		if t.emailText, err = texttemplate.New(EmailTextFile).Funcs(emailTextFuncs).Parse(src); err != nil {
			return nil, err
		}
	}
	if src, ok, err := read(WebPageFile); err != nil {
		return nil, err
	} else if ok {
		if t.web, err = htmltemplate.New(WebPageFile).Parse(src); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// try renders a sample edition, and an empty one, with every template.
func (t *Templates) try() error {
	sample := Edition{
		Date: "2026-01-02", Title: "Sample",
		Items: []Item{{Title: "A headline", URL: "https://news.example/a", Source: "Outlet", AlsoIn: []string{"Other"}, Lead: "The lead.", Section: "world"}},
	}
	o := RenderOptions{
		BaseURL: "https://news.example", PostalAddress: "1 Main St",
		UnsubscribeURL: "https://news.example/unsubscribe/T", PreferencesURL: "https://news.example/preferences/T",
		Location: time.UTC, Templates: t,
	}
	for _, e := range []Edition{sample, {Date: sample.Date}} {
		if _, err := RenderEmailHTML(e, o); err != nil {
			return err
		}
		if _, err := RenderEmailText(e, o); err != nil {
			return err
		}
		if _, err := RenderWebPage(e, o); err != nil {
			return err
		}
	}
	return nil
}

// ExportTemplates writes the embedded templates into dir (made if need be),
// as a start for a newsletter's template_dir; it never overwrites a file.
// It returns the names written.
func ExportTemplates(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("digest: export templates: %w", err)
	}
	var names []string
	for _, name := range []string{EmailHTMLFile, EmailTextFile, WebPageFile} {
		src, err := templateFS.ReadFile("templates/" + name)
		if err != nil {
			return names, fmt.Errorf("digest: export templates: %w", err)
		}
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return names, fmt.Errorf("digest: export templates: %w", err)
		}
		_, err = f.Write(src)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return names, fmt.Errorf("digest: export templates: %w", err)
		}
		names = append(names, name)
	}
	return names, nil
}

func (o RenderOptions) templates() *Templates {
	if o.Templates != nil {
		return o.Templates
	}
	return defaultTemplates
}
