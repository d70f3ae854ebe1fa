package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func noEnv(string) string { return "" }

func TestExampleLoads(t *testing.T) {
	c, err := Load("../config.example.toml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Newsletter.Location.String() != "America/New_York" || c.Newsletter.MaxAge.Duration != 36*time.Hour {
		t.Errorf("newsletter = %+v", c.Newsletter)
	}
	if c.TelegramEnabled() || c.SMTPEnabled() {
		t.Error("example must run with Telegram off and emails to the outbox")
	}
	if len(c.Feeds) != 0 {
		t.Errorf("feeds = %+v", c.Feeds)
	}
}

// TestComposeConfigLoads: the config compose.yaml mounts, with the
// environment compose.yaml sets.
func TestComposeConfigLoads(t *testing.T) {
	env := map[string]string{
		"DIGESTBOT_DATABASE_DSN": "postgres://digestbot:pw@db:5432/digestbot?sslmode=disable",
		"DIGESTBOT_SECRET":       "change-me-to-a-long-random-value",
	}
	c, err := Load("../deploy/compose.toml", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Database.Driver != "postgres" || c.Database.DSN != env["DIGESTBOT_DATABASE_DSN"] || c.Log.Format != "json" || c.HTTP.Listen != ":8080" {
		t.Errorf("database %+v, log %+v, listen %q", c.Database, c.Log, c.HTTP.Listen)
	}
}

func TestFeedWeightDefaultsToOne(t *testing.T) {
	c, err := Load(write(t, "[security]\nsecret = \"0123456789abcdef0\"\n[[feeds]]\nurl = \"https://a.example/feed\"\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Feeds) != 1 || c.Feeds[0].Weight != 1 {
		t.Errorf("feeds = %+v", c.Feeds)
	}
}

func TestEnvOverrides(t *testing.T) {
	env := map[string]string{
		"DIGESTBOT_SECRET":         "from-the-environment-123",
		"DIGESTBOT_TELEGRAM_TOKEN": "123:abc",
		"DIGESTBOT_DATABASE_DSN":   "/tmp/x.db",
		"DIGESTBOT_ADMIN_TOKEN":    "admin-token-0123456789",
		"DIGESTBOT_SMTP_PASSWORD":  "pw",
	}
	c, err := Load(write(t, "[security]\nsecret = \"short\"\n"), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Security.Secret != env["DIGESTBOT_SECRET"] || c.Telegram.Token != "123:abc" || c.Database.DSN != "/tmp/x.db" ||
		c.HTTP.AdminToken != env["DIGESTBOT_ADMIN_TOKEN"] || c.Email.SMTP.Password != "pw" {
		t.Errorf("overrides not applied: %+v", c)
	}
}

func TestValidationNamesTheKey(t *testing.T) {
	const ok = "[security]\nsecret = \"0123456789abcdef0\"\n"
	test := func(body, wantKey string) {
		t.Helper()
		_, err := Load(write(t, ok+body), noEnv)
		if err == nil || !strings.Contains(err.Error(), wantKey) {
			t.Errorf("%q: error %v, want it to name %s", body, err, wantKey)
		}
	}
	test("[newsletter]\nschedule = \"61 7 * * *\"\n", "newsletter.schedule")
	test("[newsletter]\ntimezone = \"Mars/Olympus\"\n", "newsletter.timezone")
	test("[newsletter]\nbase_url = \"not a url\"\n", "newsletter.base_url")
	test("[newsletter]\nmax_age = \"soon\"\n", "max_age")
	test("[newsletter]\ncolour = \"red\"\n", "newsletter.colour")
	test("[nope]\nx = 1\n", "nope")
	test("[database]\ndriver = \"mysql\"\n", "database.driver")
	test("[email.smtp]\ntls = \"ssl\"\n", "email.smtp.tls")
	test("[email]\nfrom = \"nobody\"\n", "email.from")
	test("[telegram]\napi_endpoint = \"http://x/%s\"\n", "telegram.api_endpoint")
	test("[telegram]\nrate_per_second = 100\n", "telegram.rate_per_second")
	test("[[feeds]]\nurl = \"ftp://x/feed\"\n", "feeds[0].url")
	test("[email.smtp]\nusername = \"u\"\n", "email.smtp.password")
	test("[email.smtp]\nusername = \"u\"\npassword = \"p\"\ntls = \"none\"\n", "email.smtp.tls")
	test("[delivery]\nslice_time = \"20s\"\nrescue_after = \"30s\"\n", "delivery.rescue_after")
	test("[delivery]\nretry_backoff = \"0s\"\n", "delivery.retry_backoff")

	if _, err := Load(write(t, ""), noEnv); err == nil || !strings.Contains(err.Error(), "security.secret") {
		t.Errorf("missing secret: %v", err)
	}
}

// TestNewsletters: [newsletter] alone is one letter, "daily"; with
// [[newsletters]] each entry takes [newsletter]'s values for what it leaves
// out, the first is the default, and mistakes name the entry.
func TestNewsletters(t *testing.T) {
	const ok = "[security]\nsecret = \"0123456789abcdef0\"\n"
	c, err := Load(write(t, ok+"[newsletter]\ntitle = \"Morning\"\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if ls := c.Letters(); len(ls) != 1 || ls[0].Slug != DefaultSlug || ls[0].Title != "Morning" || c.Newsletter.Slug != DefaultSlug {
		t.Fatalf("one letter: %+v", ls)
	}

	c, err = Load(write(t, ok+`[newsletter]
base_url = "https://news.example"
timezone = "Europe/Berlin"
sections = ["world", "sport"]
[[newsletters]]
slug = "daily"
title = "Daily Headlines"
[[newsletters]]
slug = "week"
title = "Week in Review"
schedule = "0 8 * * 0"
window = "7d"
max_items = 40
from = "Week in Review <week@news.example>"
sections = ["world"]
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	ls := c.Letters()
	if len(ls) != 2 || c.Newsletter.Slug != "daily" {
		t.Fatalf("letters %+v, default %q", ls, c.Newsletter.Slug)
	}
	d, w := ls[0], ls[1]
	if d.Timezone != "Europe/Berlin" || d.Location == nil || d.Schedule != "0 7 * * *" || d.MaxAge.Duration != 36*time.Hour || len(d.Sections) != 2 {
		t.Errorf("daily did not inherit [newsletter]: %+v", d)
	}
	if w.MaxAge.Duration != 7*24*time.Hour || w.MaxItems != 40 || w.BaseURL != "https://news.example" || w.Schedule != "0 8 * * 0" || len(w.Sections) != 1 || w.From == "" {
		t.Errorf("week = %+v", w)
	}
	if got, ok := c.Letter("week"); !ok || got.Title != "Week in Review" {
		t.Errorf("Letter(week) = %+v, %v", got, ok)
	}
	if _, ok := c.Letter("nope"); ok {
		t.Error("Letter(nope) found")
	}

	test := func(body, wantKey string) {
		t.Helper()
		_, err := Load(write(t, ok+body), noEnv)
		if err == nil || !strings.Contains(err.Error(), wantKey) {
			t.Errorf("%q: error %v, want it to name %s", body, err, wantKey)
		}
	}
	test("[[newsletters]]\nslug = \"a\"\n[[newsletters]]\nslug = \"a\"\n", "newsletters[1].slug")
	test("[[newsletters]]\nslug = \"Big Letter\"\n", "newsletters[0].slug")
	test("[[newsletters]]\ntitle = \"no slug\"\n", "newsletters[0].slug")
	test("[[newsletters]]\nslug = \"w\"\nschedule = \"every day\"\n", "newsletters[0].schedule")
	test("[[newsletters]]\nslug = \"w\"\nfrom = \"nobody\"\n", "newsletters[0].from")
	test("[[newsletters]]\nslug = \"w\"\nwindow = \"1.5d\"\n", "window")
	test("[[newsletters]]\nslug = \"w\"\ntemplate_dir = \"/nonexistent/templates\"\n", "newsletters[0].template_dir")
	test("[[newsletters]]\nslug = \"2026-01-01\"\n", "newsletters[0].slug") // /archive/{date} would shadow it
}
