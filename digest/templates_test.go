package digest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTemplates(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadTemplates(t *testing.T) {
	e := Edition{Date: "2026-03-04", Items: []Item{{
		Title: `<script>alert(1)</script> Storm`, URL: "https://news.example/storm", Source: "Wire", Section: "world",
	}}}

	t.Run("a file replaces the embedded one, the others stay", func(t *testing.T) {
		dir := writeTemplates(t, map[string]string{
			WebPageFile: `<!DOCTYPE html><title>{{.Heading}}</title><h1 class="mine">{{.Title}}</h1>` +
				`{{range .Sections}}{{range .Items}}<a href="{{.URL}}">{{.Title}}</a>{{end}}{{end}}<a href="{{.ArchiveListURL}}">all</a>`,
		})
		tm, err := LoadTemplates(dir)
		if err != nil {
			t.Fatal(err)
		}
		o := renderTestOptions()
		o.Templates, o.ArchivePath = tm, "/archive/weekly"
		page, err := RenderWebPage(e, o)
		if err != nil {
			t.Fatal(err)
		}
		// Still html/template: the hostile title is escaped in the
		// publisher's template too.
		if !strings.Contains(page, `class="mine"`) || strings.Contains(page, "<script>") || !strings.Contains(page, "&lt;script&gt;") {
			t.Errorf("custom page:\n%s", page)
		}
		if !strings.Contains(page, `href="https://news.example/archive/weekly/"`) {
			t.Errorf("archive list link is not the letter's:\n%s", page)
		}
		want, _ := RenderEmailText(e, renderTestOptions())
		got, _ := RenderEmailText(e, o)
		if strings.ReplaceAll(got, "/archive/weekly/", "/archive/") != want {
			t.Errorf("email text should stay embedded:\n%s\nwant\n%s", got, want)
		}
	})

	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"unknown field", map[string]string{EmailTextFile: "{{.Headline}}"}, "Headline"},
		{"syntax", map[string]string{EmailHTMLFile: "{{if .Title}}"}, EmailHTMLFile},
		{"unknown function", map[string]string{WebPageFile: "{{shout .Title}}"}, "shout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadTemplates(writeTemplates(t, tc.files))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadTemplates: %v, want an error naming %q", err, tc.want)
			}
		})
	}
	if _, err := LoadTemplates(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("a missing directory loads")
	}
	if DefaultTemplates() == nil {
		t.Error("no embedded templates")
	}
}

// TestExportTemplates: the exported files load back as a template_dir and
// render what the embedded ones do; a second export overwrites nothing.
func TestExportTemplates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "week")
	names, err := ExportTemplates(dir)
	if err != nil || len(names) != 3 {
		t.Fatalf("ExportTemplates: %v %v", names, err)
	}
	tm, err := LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := Edition{Date: "2026-03-04", Items: []Item{{Title: "Storm", URL: "https://news.example/storm", Section: "world"}}}
	o := renderTestOptions()
	want, _ := RenderEmailHTML(e, o)
	o.Templates = tm
	if got, _ := RenderEmailHTML(e, o); got != want {
		t.Error("exported templates render differently")
	}
	if _, err := ExportTemplates(dir); err == nil {
		t.Error("a second export overwrote the files")
	}
}
