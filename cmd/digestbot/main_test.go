package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/digestbot/digestbot/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// digestbot runs one command line in process and returns its exit code and
// output.
func digestbot(t *testing.T, environ map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, env{
		stdin:  strings.NewReader(""),
		stdout: &out,
		stderr: &errb,
		getenv: func(k string) string { return environ[k] },
	})
	return code, out.String(), errb.String()
}

// testConfig writes a config for a fresh SQLite database and outbox in a
// temp dir; extra is appended (TOML).
func testConfig(t *testing.T, extra string) (path, dir string) {
	t.Helper()
	dir = t.TempDir()
	body := `
[newsletter]
title = "Daily Headlines"
base_url = "https://news.example"
timezone = "America/New_York"
sections = ["world", "us", "military", "business", "tech"]
postal_address = "1 Example Plaza, Springfield"
max_age = "0s"
[database]
dsn = "` + filepath.Join(dir, "db.sqlite") + `"
[http]
listen = "127.0.0.1:0"
[security]
secret = "test-secret-0123456789abcdef"
[email]
from = "Daily Headlines <headlines@news.example>"
outbox_dir = "` + filepath.Join(dir, "outbox") + `"
` + extra
	path = filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, dir
}

func TestHelpEverywhere(t *testing.T) {
	for _, c := range commands() {
		args := append(strings.Fields(c.name), "--help")
		code, out, _ := digestbot(t, nil, args...)
		if code != 0 || !strings.Contains(out, "Usage") {
			t.Errorf("%v: exit %d, output %q", args, code, out)
		}
	}
	if code, out, _ := digestbot(t, nil, "--help"); code != 0 || !strings.Contains(out, "send-now") {
		t.Errorf("--help: %d %q", code, out)
	}
	if code, out, _ := digestbot(t, nil, "version"); code != 0 || !strings.HasPrefix(out, "digestbot ") {
		t.Errorf("version: %d %q", code, out)
	}
	if code, _, errOut := digestbot(t, nil, "frobnicate"); code != exitUsage || !strings.Contains(errOut, "unknown command") {
		t.Errorf("unknown command: %d %q", code, errOut)
	}
}

func TestConfigErrorsAreOneLineNamingTheKey(t *testing.T) {
	cfg, _ := testConfig(t, "[telegram]\nrate_per_second = 100\n")
	code, _, errOut := digestbot(t, nil, "migrate", "--config", cfg)
	if code != exitError || !strings.Contains(errOut, "telegram.rate_per_second") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	cfg, _ = testConfig(t, "[newsletter.extra]\nx = 1\n")
	if code, _, errOut := digestbot(t, nil, "migrate", "--config", cfg); code != exitError || !strings.Contains(errOut, "newsletter.extra") {
		t.Errorf("unknown key: exit %d, stderr %q", code, errOut)
	}
}

func TestImportPreviewAndSendToOutbox(t *testing.T) {
	cfg, dir := testConfig(t, "")
	feeds := []string{"pacific-stripes.rss.xml", "wire-a.rss.xml", "globe-news.atom.xml", "meridian.feed.json", "harborview-herald.rss.xml"}
	total := 0
	for _, f := range feeds {
		code, out, errOut := digestbot(t, nil, "import", "--config", cfg, filepath.Join("..", "..", "testdata", "feeds", f))
		if code != 0 {
			t.Fatalf("import %s: exit %d: %s", f, code, errOut)
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if cols := strings.Split(line, "\t"); len(cols) != 3 || cols[1] == "" {
				t.Errorf("import %s: line %q is not ID<TAB>TITLE<TAB>LEAD", f, line)
			}
			total++
		}
		if strings.Contains(out, "Sign Up") {
			t.Errorf("import %s printed a sign-up promo", f)
		}
	}
	if total != 50 {
		t.Errorf("imported %d articles, want 50", total)
	}
	// The article page is the seed item again: same id, same lead.
	code, out, _ := digestbot(t, nil, "import", "--config", cfg, "../../testdata/feeds/article-page.html")
	if code != 0 || !strings.Contains(out, "\tSEOUL — North Korean leader Kim Jong Un called his country’s relations with Russia his top priority") {
		t.Errorf("article page: exit %d, %q", code, out)
	}
	code, _, errOut := digestbot(t, nil, "import", "--config", cfg, "../../testdata/feeds/malformed.xml")
	if code == 0 || !strings.Contains(errOut, "line 19") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("malformed feed: exit %d, stderr %q (want one line)", code, errOut)
	}

	code, text, errOut := digestbot(t, nil, "preview", "--config", cfg)
	if code != 0 {
		t.Fatalf("preview: %d %s", code, errOut)
	}
	first := strings.Index(text, "* ")
	if first < 0 || !strings.HasPrefix(text[first:], "* Kim promises Putin full backing") {
		t.Errorf("the summit is not the first item:\n%s", text)
	}
	if n := strings.Count(text, "Kim promises Putin full backing"); n != 1 {
		t.Errorf("summit shown %d times", n)
	}
	code, tg, _ := digestbot(t, nil, "preview", "--config", cfg, "--format", "telegram")
	if code != 0 || !strings.Contains(tg, "<b>") {
		t.Errorf("telegram preview: %d %q", code, tg)
	}
	code, html, _ := digestbot(t, nil, "preview", "--config", cfg, "--format", "html")
	if code != 0 || !strings.Contains(html, "<table") {
		t.Errorf("html preview: %d", code)
	}
	if code, _, _ := digestbot(t, nil, "preview", "--config", cfg, "--format", "pdf"); code != exitUsage {
		t.Errorf("unknown format: exit %d", code)
	}

	csv := filepath.Join(dir, "subs.csv")
	// A BOM, a header, a bad address, a repeat (in another case), an
	// unknown section, a stray quote and an unterminated one: only the bad
	// rows go, each named by its line.
	os.WriteFile(csv, []byte("\uFEFFemail,sections\nann@example.com,world;tech\nnot-an-address\nbob@example.com\nAnn@Example.com\ncat@example.com,astrology\nx\"y@example.com,world\n\"dan@example.com,world\neve@example.com\n"), 0o600)
	code, out, errOut = digestbot(t, nil, "subscribers", "import", "--config", cfg, csv)
	if code != 0 || strings.TrimSpace(out) != "imported 3, skipped 5" {
		t.Errorf("subscribers import: exit %d, %q\n%s", code, out, errOut)
	}
	for _, want := range []string{"line 3:", "line 5: ann@example.com repeats line 2", "line 6:", "line 7:", "line 8:"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("bad rows not named: %q lacks %q", errOut, want)
		}
	}

	code, out, errOut = digestbot(t, nil, "send-now", "--config", cfg)
	if code != 0 {
		t.Fatalf("send-now: exit %d\n%s\n%s", code, out, errOut)
	}
	emls, _ := filepath.Glob(filepath.Join(dir, "outbox", "*.eml"))
	if len(emls) != 3 {
		t.Errorf("outbox holds %d messages, want 3: %v", len(emls), emls)
	}
	code, out, _ = digestbot(t, nil, "send-now", "--config", cfg)
	if code != 0 || !strings.Contains(out, "already sent") {
		t.Errorf("second send-now: exit %d, %q", code, out)
	}
}

// A part that cannot start (Telegram unreachable) is one clear line and
// exit 1, after closing what was already open.
func TestStartFailureIsOneLine(t *testing.T) {
	cfg, _ := testConfig(t, "[telegram]\ntoken = \"999:WRONG\"\napi_endpoint = \"http://127.0.0.1:1/bot%s/%s\"\n")
	if code, _, errOut := digestbot(t, nil, "send-now", "--config", cfg); code != exitError || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("send-now: exit %d, stderr %q: want one line", code, errOut)
	}
	for _, cmd := range []string{"send-now", "serve"} {
		code, _, errOut := digestbot(t, nil, cmd, "--config", cfg)
		last := strings.TrimSpace(errOut[strings.LastIndex(strings.TrimSpace(errOut), "\n")+1:])
		if code != exitError || !strings.HasPrefix(last, "digestbot: telegram: getMe") || strings.Contains(errOut, "WRONG") {
			t.Errorf("%s: exit %d, last line %q", cmd, code, last)
		}
	}
}
