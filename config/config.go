// Package config loads digestbot's TOML configuration, applies the
// DIGESTBOT_* environment overrides and validates every value, naming the key
// at fault.
package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration. Field names follow the TOML keys of
// SPEC §4; config.example.toml documents each.
type Config struct {
	Newsletter Newsletter `toml:"newsletter"`
	// Newsletters are the letters this instance sends ([[newsletters]]);
	// empty in the file means one, [newsletter] itself. After Load it holds
	// every letter, each with [newsletter]'s values where it left a key
	// out, and Newsletter is the first of them: the default one.
	Newsletters []Newsletter `toml:"newsletters"`
	Database    Database     `toml:"database"`
	HTTP        HTTP         `toml:"http"`
	Security    Security     `toml:"security"`
	Email       Email        `toml:"email"`
	Telegram    Telegram     `toml:"telegram"`
	Feeds       []Feed       `toml:"feeds"`
	Ingest      Ingest       `toml:"ingest"`
	Delivery    Delivery     `toml:"delivery"`
	Log         Log          `toml:"log"`
	Bounces     Bounces      `toml:"bounces"`

	severalInFile bool // the file has [[newsletters]]: errors name them by index
}

// Bounces configures the providers' bounce and complaint webhooks
// (POST /webhooks/{provider}); a provider without its secret is off.
type Bounces struct {
	SoftLimit int `toml:"soft_limit"` // soft bounces in a row that count as a bounce
	// ReturnPathDomain turns VERP on: each message's envelope sender is
	// ReturnPathLocal+TOKEN@ReturnPathDomain.
	ReturnPathDomain string `toml:"return_path_domain"`
	ReturnPathLocal  string `toml:"return_path_local"` // "bounces" when empty
	// Listen is the inbound SMTP listener for DSN and ARF reports ("" off).
	Listen  string `toml:"listen"`
	Mailgun struct {
		SigningKey string `toml:"signing_key"`
	} `toml:"mailgun"`
	SendGrid struct {
		PublicKey string `toml:"public_key"` // the Event Webhook's verification key, base64
	} `toml:"sendgrid"`
	Postmark struct {
		Username string `toml:"username"`
		Password string `toml:"password"`
	} `toml:"postmark"`
	SES struct {
		TopicARNs []string `toml:"topic_arns"` // SNS topics of the SES bounce and complaint notifications
	} `toml:"ses"`
}

// Log chooses how the process logs to stderr.
type Log struct {
	// "auto" (JSON for serve when stderr is not a terminal, text otherwise),
	// "text" or "json"; DIGESTBOT_LOG_FORMAT overrides it.
	Format string `toml:"format"`
}

// Delivery tunes the fan-out's retries and crash recovery.
type Delivery struct {
	RetryBackoff Duration `toml:"retry_backoff"` // first retry wait; doubles up to 30 min
	SliceTime    Duration `toml:"slice_time"`    // a batch sends this long, then records and yields
	RescueAfter  Duration `toml:"rescue_after"`  // a batch of a dead process runs again after this
	// MaxUnrecorded bounds the recipients per channel sent (or on their
	// way) without a delivery record: what a kill -9 can repeat.
	MaxUnrecorded int `toml:"max_unrecorded"`
}

// Newsletter is one letter: its edition, schedule and sender. BaseURL and
// PostalAddress are the instance's (the first letter's).
type Newsletter struct {
	// Slug names the letter in URLs, commands and the store: lower-case
	// letters, digits and '-'; "daily" for [newsletter] alone.
	Slug          string   `toml:"slug"`
	Title         string   `toml:"title"`
	BaseURL       string   `toml:"base_url"`
	Timezone      string   `toml:"timezone"`
	Schedule      string   `toml:"schedule"`
	MaxItems      int      `toml:"max_items"`
	Sections      []string `toml:"sections"`
	PostalAddress string   `toml:"postal_address"`
	SkipEmpty     bool     `toml:"skip_empty"`
	MaxAge        Duration `toml:"max_age"`
	// Window is max_age by its other name ("24h", "7d"): the articles an
	// edition draws on. When both are set, window wins.
	Window Duration `toml:"window"`
	// From is the letter's sender ("Week in Review <weekly@example.com>");
	// empty: email.from.
	From string `toml:"from"`
	// TemplateDir holds templates that replace the embedded ones for this
	// letter (email.html.tmpl, email.txt.tmpl, web.html.tmpl; any subset);
	// empty: the embedded ones.
	TemplateDir string `toml:"template_dir"`

	Location *time.Location `toml:"-"` // Timezone, loaded
}

type Database struct {
	Driver string `toml:"driver"` // "sqlite" | "postgres"
	DSN    string `toml:"dsn"`
}

type HTTP struct {
	Listen     string `toml:"listen"`
	AdminToken string `toml:"admin_token"`
	// Reverse proxies (CIDR prefixes) whose X-Forwarded-For is believed.
	TrustedProxyCIDRs []string `toml:"trusted_proxies"`

	TrustedProxies []netip.Prefix `toml:"-"` // TrustedProxyCIDRs, parsed
}

type Security struct {
	Secret string `toml:"secret"`
}

type Email struct {
	From      string `toml:"from"`
	OutboxDir string `toml:"outbox_dir"`
	// Unsubscribe mailbox for the mailto: form of List-Unsubscribe; optional.
	UnsubscribeMailto string `toml:"unsubscribe_mailto"`
	SMTP              SMTP   `toml:"smtp"`
	DKIM              DKIM   `toml:"dkim"`
}

type SMTP struct {
	Host          string  `toml:"host"`
	Port          int     `toml:"port"`
	Username      string  `toml:"username"`
	Password      string  `toml:"password"`
	TLS           string  `toml:"tls"` // "none" | "starttls" | "tls"
	Connections   int     `toml:"connections"`
	RatePerSecond float64 `toml:"rate_per_second"` // 0: no cap
}

type DKIM struct {
	Domain   string `toml:"domain"`
	Selector string `toml:"selector"`
	KeyFile  string `toml:"key_file"`
}

type Telegram struct {
	Token         string   `toml:"token"`
	APIEndpoint   string   `toml:"api_endpoint"`
	Admins        []int64  `toml:"admins"`
	Channels      []string `toml:"channels"`
	RatePerSecond float64  `toml:"rate_per_second"`
	PaidBroadcast bool     `toml:"paid_broadcast"`
}

type Feed struct {
	URL     string  `toml:"url"`
	Name    string  `toml:"name"`
	Section string  `toml:"section"`
	Weight  float64 `toml:"weight"`
}

// Ingest tunes the feed poller.
type Ingest struct {
	PollInterval Duration `toml:"poll_interval"`
	FetchTimeout Duration `toml:"fetch_timeout"`
	MaxBytes     int64    `toml:"max_bytes"`
}

// Duration is a time.Duration written as a Go duration string ("36h").
type Duration struct{ time.Duration }

// UnmarshalText reads a Go duration ("36h", "90s") or a whole number of
// days ("7d").
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 3660 {
			return fmt.Errorf("bad duration %q: days must be a whole number, like \"7d\"", s)
		}
		d.Duration = time.Duration(n) * 24 * time.Hour
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }
