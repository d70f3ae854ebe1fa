package config

import (
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/robfig/cron/v3"
)

// Environment variables that override secrets (SPEC §4), so they need not
// sit in the file.
var envOverrides = []struct {
	name string
	set  func(*Config, string)
}{
	{"DIGESTBOT_TELEGRAM_TOKEN", func(c *Config, v string) { c.Telegram.Token = v }},
	{"DIGESTBOT_SMTP_PASSWORD", func(c *Config, v string) { c.Email.SMTP.Password = v }},
	{"DIGESTBOT_SECRET", func(c *Config, v string) { c.Security.Secret = v }},
	{"DIGESTBOT_ADMIN_TOKEN", func(c *Config, v string) { c.HTTP.AdminToken = v }},
	{"DIGESTBOT_DATABASE_DSN", func(c *Config, v string) { c.Database.DSN = v }},
	{"DIGESTBOT_LOG_FORMAT", func(c *Config, v string) { c.Log.Format = v }},
	{"DIGESTBOT_MAILGUN_SIGNING_KEY", func(c *Config, v string) { c.Bounces.Mailgun.SigningKey = v }},
	{"DIGESTBOT_POSTMARK_PASSWORD", func(c *Config, v string) { c.Bounces.Postmark.Password = v }},
}

// DefaultAPIEndpoint is Telegram's Bot API endpoint format.
const DefaultAPIEndpoint = "https://api.telegram.org/bot%s/%s"

// Default returns the configuration used for every key the file leaves out:
// SQLite under data/, emails to data/outbox/, Telegram off without a token.
func Default() Config {
	return Config{
		Newsletter: Newsletter{
			Title:     "Daily Headlines",
			BaseURL:   "http://localhost:8080",
			Timezone:  "UTC",
			Schedule:  "0 7 * * *",
			MaxItems:  25,
			Sections:  []string{"news"},
			SkipEmpty: true,
			MaxAge:    Duration{36 * time.Hour},
		},
		Database: Database{Driver: "sqlite", DSN: "data/digestbot.db"},
		HTTP:     HTTP{Listen: ":8080"},
		Email: Email{
			From:      "Daily Headlines <digest@localhost>",
			OutboxDir: "data/outbox",
			SMTP:      SMTP{Port: 587, TLS: "starttls", Connections: 8},
		},
		Telegram: Telegram{APIEndpoint: DefaultAPIEndpoint, RatePerSecond: 30},
		Delivery: Delivery{
			RetryBackoff:  Duration{30 * time.Second},
			SliceTime:     Duration{20 * time.Second},
			RescueAfter:   Duration{140 * time.Second},
			MaxUnrecorded: 64,
		},
		Ingest: Ingest{
			PollInterval: Duration{10 * time.Minute},
			FetchTimeout: Duration{20 * time.Second},
			MaxBytes:     10 << 20,
		},
		Log: Log{Format: "auto"},
	}
}

// Load reads the TOML file at path over the defaults, applies the
// environment overrides (getenv may be nil for os.Getenv) and validates the
// result. Every error names the key at fault.
func Load(path string, getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		md, err := toml.Decode(string(data), &c)
		if err != nil {
			return Config{}, fmt.Errorf("config: %s: %w", path, err)
		}
		if und := md.Undecoded(); len(und) > 0 {
			keys := make([]string, len(und))
			for i, k := range und {
				keys[i] = k.String()
			}
			sort.Strings(keys)
			return Config{}, fmt.Errorf("config: %s: unknown key %s", path, strings.Join(keys, ", "))
		}
	}
	for _, o := range envOverrides {
		if v := getenv(o.name); v != "" {
			o.set(&c, v)
		}
	}
	c.inheritNewsletters()
	for i := range c.Feeds {
		if c.Feeds[i].Weight == 0 {
			c.Feeds[i].Weight = 1
		}
	}
	if err := c.validate(); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// TelegramEnabled reports whether the bot and Telegram delivery run.
func (c Config) TelegramEnabled() bool { return c.Telegram.Token != "" }

// SMTPEnabled reports whether email goes to an SMTP server rather than the
// outbox folder.
func (c Config) SMTPEnabled() bool { return c.Email.SMTP.Host != "" }

func (c *Config) validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}

	slugs := map[string]bool{}
	for i := range c.Newsletters {
		n := &c.Newsletters[i]
		key := "newsletter"
		if c.severalInFile {
			key = fmt.Sprintf("newsletters[%d]", i)
		}
		if !validSlug(n.Slug) {
			bad(key+".slug", "%q: use 1 to 32 lower-case letters, digits and '-', starting with a letter or digit, not a date", n.Slug)
		} else if slugs[n.Slug] {
			bad(key+".slug", "%q names two newsletters", n.Slug)
		}
		slugs[n.Slug] = true
		if strings.TrimSpace(n.Title) == "" {
			bad(key+".title", "must not be empty")
		}
		if err := checkURL(n.BaseURL); err != nil {
			bad(key+".base_url", "%v", err)
		}
		n.BaseURL = strings.TrimRight(n.BaseURL, "/")
		loc, err := time.LoadLocation(n.Timezone)
		if err != nil || n.Timezone == "" || strings.EqualFold(n.Timezone, "local") {
			bad(key+".timezone", "unknown time zone %q (use an IANA name such as Europe/Berlin)", n.Timezone)
		} else {
			n.Location = loc
		}
		if _, err := cron.ParseStandard(n.Schedule); err != nil {
			bad(key+".schedule", "bad cron spec %q: %v", n.Schedule, err)
		} else if strings.HasPrefix(strings.TrimSpace(n.Schedule), "CRON_TZ=") || strings.HasPrefix(strings.TrimSpace(n.Schedule), "TZ=") {
			bad(key+".schedule", "set the time zone with %s.timezone, not in the spec", key)
		}
		if n.MaxItems < 1 || n.MaxItems > 200 {
			bad(key+".max_items", "must be between 1 and 200, got %d", n.MaxItems)
		}
		if len(n.Sections) == 0 {
			bad(key+".sections", "must name at least one section")
		}
		seen := map[string]bool{}
		for _, s := range n.Sections {
			if strings.TrimSpace(s) == "" || seen[s] {
				bad(key+".sections", "empty or repeated section %q", s)
			}
			seen[s] = true
		}
		if n.MaxAge.Duration < 0 {
			bad(key+".max_age", "must not be negative")
		}
		if n.From != "" {
			if a, err := mail.ParseAddress(n.From); err != nil || !strings.Contains(a.Address, "@") {
				bad(key+".from", "not an email address: %q", n.From)
			}
		}
		if n.TemplateDir != "" {
			if st, err := os.Stat(n.TemplateDir); err != nil {
				bad(key+".template_dir", "%v", err)
			} else if !st.IsDir() {
				bad(key+".template_dir", "%s is not a directory", n.TemplateDir)
			}
		}
	}
	if len(c.Newsletters) > 0 {
		c.Newsletter = c.Newsletters[0]
	}

	switch c.Database.Driver {
	case "sqlite", "postgres":
	default:
		bad("database.driver", "must be \"sqlite\" or \"postgres\", got %q", c.Database.Driver)
	}
	if c.Database.DSN == "" {
		bad("database.dsn", "must not be empty (or set DIGESTBOT_DATABASE_DSN)")
	}

	if c.HTTP.Listen == "" {
		bad("http.listen", "must not be empty")
	}
	if c.HTTP.AdminToken != "" && len(c.HTTP.AdminToken) < 16 {
		bad("http.admin_token", "must be at least 16 characters")
	}
	c.HTTP.TrustedProxies = nil
	for _, p := range c.HTTP.TrustedProxyCIDRs {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			if a, aerr := netip.ParseAddr(p); aerr == nil {
				pfx, err = a.Prefix(a.BitLen())
			}
		}
		if err != nil {
			bad("http.trusted_proxies", "not an address or CIDR prefix: %q", p)
			continue
		}
		c.HTTP.TrustedProxies = append(c.HTTP.TrustedProxies, pfx)
	}
	if len(c.Security.Secret) < 16 {
		bad("security.secret", "must be at least 16 characters: it signs readers' links (or set DIGESTBOT_SECRET)")
	}

	if a, err := mail.ParseAddress(c.Email.From); err != nil || !strings.Contains(a.Address, "@") {
		bad("email.from", "not an email address: %q", c.Email.From)
	}
	s := &c.Email.SMTP
	if s.Host == "" && c.Email.OutboxDir == "" {
		bad("email.outbox_dir", "must be set when email.smtp.host is empty")
	}
	switch s.TLS {
	case "none", "starttls", "tls":
	default:
		bad("email.smtp.tls", "must be \"none\", \"starttls\" or \"tls\", got %q", s.TLS)
	}
	if s.Port < 1 || s.Port > 65535 {
		bad("email.smtp.port", "must be a TCP port, got %d", s.Port)
	}
	if s.Connections < 1 || s.Connections > 256 {
		bad("email.smtp.connections", "must be between 1 and 256, got %d", s.Connections)
	}
	if s.RatePerSecond < 0 {
		bad("email.smtp.rate_per_second", "must not be negative")
	}
	if s.Username != "" && s.TLS == "none" {
		bad("email.smtp.tls", "\"none\" with email.smtp.username would send the credentials in clear text; use \"starttls\" or \"tls\"")
	}
	if s.Username != "" && s.Password == "" {
		bad("email.smtp.password", "needed with email.smtp.username (or set DIGESTBOT_SMTP_PASSWORD)")
	}
	d := c.Email.DKIM
	if (d.Domain != "" || d.Selector != "" || d.KeyFile != "") && (d.Domain == "" || d.Selector == "" || d.KeyFile == "") {
		bad("email.dkim", "domain, selector and key_file go together")
	}

	bo := &c.Bounces
	if bo.Listen != "" && bo.ReturnPathDomain == "" {
		bad("bounces.listen", "needs bounces.return_path_domain: only mail for the return paths is accepted")
	}
	if d := bo.ReturnPathDomain; d != "" {
		if _, err := mail.ParseAddress("x@" + d); err != nil || strings.ContainsAny(d, "@<> ") {
			bad("bounces.return_path_domain", "%q is not a domain name", d)
		}
	}
	if l := bo.ReturnPathLocal; l != "" {
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
				bad("bounces.return_path_local", "%q: use lower-case letters, digits, '-', '.' or '_'", l)
				break
			}
		}
	}
	if bo.SoftLimit < 0 {
		bad("bounces.soft_limit", "must not be negative (0: the default, 3)")
	}
	if (bo.Postmark.Username == "") != (bo.Postmark.Password == "") {
		bad("bounces.postmark", "username and password go together (or set DIGESTBOT_POSTMARK_PASSWORD)")
	}
	if bo.Postmark.Password != "" && len(bo.Postmark.Password) < 12 {
		bad("bounces.postmark.password", "must be at least 12 characters: it is all that guards the webhook")
	}
	for _, arn := range bo.SES.TopicARNs {
		if !strings.HasPrefix(arn, "arn:aws:sns:") && !strings.HasPrefix(arn, "arn:aws-cn:sns:") {
			bad("bounces.ses.topic_arns", "%q is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)", arn)
		}
	}

	t := &c.Telegram
	if strings.Count(t.APIEndpoint, "%s") != 2 {
		bad("telegram.api_endpoint", "must be a format with two %%s, like %q", DefaultAPIEndpoint)
	} else if err := checkURL(strings.ReplaceAll(t.APIEndpoint, "%s", "x")); err != nil {
		bad("telegram.api_endpoint", "%v", err)
	}
	if t.RatePerSecond < 0 {
		bad("telegram.rate_per_second", "must not be negative")
	}
	if t.RatePerSecond > 30 && !t.PaidBroadcast {
		bad("telegram.rate_per_second", "above 30 needs telegram.paid_broadcast = true")
	}
	if t.RatePerSecond > 1000 {
		bad("telegram.rate_per_second", "Telegram allows at most 1000 with paid broadcast")
	}
	for _, id := range t.Admins {
		if id <= 0 {
			bad("telegram.admins", "user ids are positive numbers, got %d", id)
		}
	}

	for i, f := range c.Feeds {
		key := fmt.Sprintf("feeds[%d]", i)
		if err := checkURL(f.URL); err != nil {
			bad(key+".url", "%v", err)
		}
		if f.Weight < 0 {
			bad(key+".weight", "must not be negative")
		}
	}
	dl := c.Delivery
	if dl.RetryBackoff.Duration <= 0 {
		bad("delivery.retry_backoff", "must be positive")
	}
	if dl.SliceTime.Duration < time.Second {
		bad("delivery.slice_time", "must be at least 1s")
	}
	// A batch runs at most until its deadline, halfway between slice_time
	// and rescue_after (see main's wiring), then writes its last records:
	// 10 s at least are left for that before another process may take the
	// batch over.
	if dl.RescueAfter.Duration < dl.SliceTime.Duration+20*time.Second {
		bad("delivery.rescue_after", "must exceed delivery.slice_time by at least 20s: a batch still running when it passes may be sent twice")
	}
	if dl.MaxUnrecorded < 1 || dl.MaxUnrecorded > 10000 {
		bad("delivery.max_unrecorded", "must be between 1 and 10000")
	}
	switch c.Log.Format {
	case "auto", "text", "json":
	default:
		bad("log.format", `must be "auto", "text" or "json"`)
	}
	if c.Ingest.PollInterval.Duration < time.Minute {
		bad("ingest.poll_interval", "must be at least 1m")
	}
	if c.Ingest.FetchTimeout.Duration <= 0 {
		bad("ingest.fetch_timeout", "must be positive")
	}
	if c.Ingest.MaxBytes < 1024 {
		bad("ingest.max_bytes", "must be at least 1024")
	}
	return errors.Join(errs...)
}

// DefaultSlug is the slug of [newsletter] when it is the only letter.
const DefaultSlug = "daily"

// inheritNewsletters fills Newsletters: [newsletter] alone, or each
// [[newsletters]] with [newsletter]'s value for every key it left out.
func (c *Config) inheritNewsletters() {
	base := c.Newsletter
	if base.Window.Duration > 0 {
		base.MaxAge = base.Window
	}
	if len(c.Newsletters) == 0 {
		if base.Slug == "" {
			base.Slug = DefaultSlug
		}
		c.Newsletters = []Newsletter{base}
		return
	}
	c.severalInFile = true
	for i := range c.Newsletters {
		n := &c.Newsletters[i]
		// The instance's, whatever an entry says: links and the footer
		// point at one site.
		n.BaseURL, n.PostalAddress, n.SkipEmpty = base.BaseURL, base.PostalAddress, base.SkipEmpty
		if n.Title == "" {
			n.Title = base.Title
		}
		if n.Timezone == "" {
			n.Timezone = base.Timezone
		}
		if n.Schedule == "" {
			n.Schedule = base.Schedule
		}
		if n.MaxItems == 0 {
			n.MaxItems = base.MaxItems
		}
		if n.Sections == nil {
			n.Sections = base.Sections
		}
		if n.TemplateDir == "" {
			n.TemplateDir = base.TemplateDir
		}
		switch {
		case n.Window.Duration > 0:
			n.MaxAge = n.Window
		case n.MaxAge.Duration == 0:
			n.MaxAge = base.MaxAge
		}
	}
}

// validSlug: 1–32 of [a-z0-9-], not starting with '-', and not a date
// (GET /archive/{date} is the default letter's edition).
func validSlug(s string) bool {
	if s == "" || len(s) > 32 || s[0] == '-' {
		return false
	}
	if _, err := time.Parse(time.DateOnly, s); err == nil {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// Letters returns the newsletters, the default first. A Config that did
// not come from Load (tests) has [newsletter] alone, as "daily".
func (c Config) Letters() []Newsletter {
	if len(c.Newsletters) > 0 {
		return c.Newsletters
	}
	n := c.Newsletter
	if n.Slug == "" {
		n.Slug = DefaultSlug
	}
	return []Newsletter{n}
}

// Letter returns the newsletter named slug; "" is the default one.
func (c Config) Letter(slug string) (Newsletter, bool) {
	ls := c.Letters()
	if slug == "" {
		return ls[0], true
	}
	for _, n := range ls {
		if n.Slug == slug {
			return n, true
		}
	}
	return Newsletter{}, false
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("bad URL %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("bad URL %q: want an absolute http or https URL", raw)
	}
	return nil
}
