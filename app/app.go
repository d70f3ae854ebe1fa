package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/bot"
	"github.com/digestbot/digestbot/bounces"
	"github.com/digestbot/digestbot/config"
	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/email"
	"github.com/digestbot/digestbot/metrics"
	"github.com/digestbot/digestbot/publish"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/subscribers"
	"github.com/digestbot/digestbot/telegram"
	"github.com/digestbot/digestbot/web"
)

// App is every long-lived part of digestbot, built from the config. Run
// runs all of it (serve); SendNow runs the delivery part (send-now).
type App struct {
	// Version is logged when serving; the command sets it.
	Version string

	cfg       config.Config
	log       *slog.Logger
	store     *store.Store
	builder   *digest.Builder   // the default newsletter's (letters[0])
	publisher *publish.Service  // the default newsletter's
	letters   []*letter         // every newsletter, the default first
	fetcher   *articles.Fetcher // feeds and pages: one timeout and size cap
	fanout    *delivery.Fanout
	tg        *telegram.Client // nil when Telegram is off
	lead      *leader          // serve's leadership (Run sets what it runs)
	metrics   *metrics.Metrics
	reports   *bounces.Listener // inbound DSN/ARF listener; nil when bounces.listen is empty
	bot       *bot.Bot          // nil when Telegram is off
	web       *web.Server

	closers []func() error
}

// letter is one newsletter's edition builder and publisher; they share
// the store and the fan-out.
type letter struct {
	cfg       config.Newsletter
	render    digest.RenderOptions // title, archive path, templates
	builder   *digest.Builder
	publisher *publish.Service
}

// New builds every part from cfg: it opens and migrates the database and
// syncs the configured feeds, but starts nothing (Run, SendNow). Close it.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (_ *App, err error) {
	a := &App{cfg: cfg, log: log, Version: "dev"}
	defer func() {
		if err != nil {
			a.Close() // what was opened before the failure
		}
	}()
	if a.store, err = OpenStore(ctx, cfg, log); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.store.Close)
	if err := SyncFeeds(ctx, cfg, a.store); err != nil {
		return nil, err
	}
	a.metrics = metrics.New()
	a.lead = &leader{a: a}
	for _, n := range cfg.Letters() {
		ro, err := LetterRender(cfg, n)
		if err != nil {
			return nil, err
		}
		a.letters = append(a.letters, &letter{cfg: n, render: ro, builder: NewLetterBuilder(n, a.store, log)})
	}
	a.builder = a.letters[0].builder
	a.fetcher = NewFetcher(cfg)
	importer := &articles.Importer{Store: a.store, Fetcher: a.fetcher, Log: log}
	tokens := subscribers.NewTokens(cfg.Security.Secret, nil)

	// Email: one message builder, sent over SMTP or into the outbox folder.
	d := cfg.Email.DKIM
	dkim, err := email.LoadDKIM(email.DKIMConfig{Domain: d.Domain, Selector: d.Selector, KeyFile: d.KeyFile}) // nil when not configured
	if err != nil {
		return nil, fmt.Errorf("email.dkim: %w", err)
	}
	mb, err := email.NewBuilder(email.BuilderConfig{
		From:              cfg.Email.From,
		UnsubscribeMailto: cfg.Email.UnsubscribeMailto,
		Render:            a.letters[0].render,
		Tokens:            tokens,
		DKIM:              dkim,
		ReturnPath:        a.returnPath(cfg),
		Letters:           a.emailLetters(),
	})
	if err != nil {
		return nil, err
	}
	var mail interface {
		delivery.ChannelSender
		email.Transport
	}
	var warm func() // the SMTP sender's: connect while an edition is built
	if cfg.SMTPEnabled() {
		s := cfg.Email.SMTP
		smtp, err := email.NewSMTPSender(email.SMTPOptions{
			Host: s.Host, Port: s.Port, Username: s.Username, Password: s.Password, TLS: s.TLS,
			Connections: s.Connections, RatePerSecond: s.RatePerSecond,
		}, mb, log)
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, smtp.Close)
		mail, warm = smtp, smtp.Warm
		log.Info("email: sending over SMTP", slog.String("host", s.Host), slog.Int("port", s.Port), slog.Int("connections", s.Connections))
	} else {
		outbox, err := email.NewOutboxSender(cfg.Email.OutboxDir, mb, log)
		if err != nil {
			return nil, err
		}
		mail = outbox
		log.Info("email: no email.smtp.host, writing messages to the outbox folder", slog.String("dir", outbox.Dir()))
	}
	mailer, err := email.NewMailer(mb, mail)
	if err != nil {
		return nil, err
	}
	subs := &subscribers.Service{
		Store: a.store, Tokens: tokens, Mailer: mailer,
		BaseURL: cfg.Newsletter.BaseURL, Sections: cfg.Newsletter.Sections, Log: log,
		Newsletters: a.letterSlugs(),
	}

	channels := map[subscribers.Channel]delivery.ChannelConfig{
		// A batch streams over every connection, so a few batches at once
		// keep them busy; more only contend for the record writer and the
		// CPU (16 connections: 4 batches gave 100k SQLite 0.76–0.79 of the
		// ceiling against 0.68–0.78 with 8, in alternating runs of go run
		// ./bench). Each batch costs River a fetch, a completion and a
		// finish check: 1,000 a batch gave 57–69 µs of CPU a message at
		// 100k SQLite against 66–74 with 500 (PostgreSQL 48–60 against
		// 57–59), and a first message within the spread of 500's; 2,000
		// cost the 10k send its first message 20–30 ms later.
		subscribers.Email: {Sender: mail, BatchSize: 1000, Workers: max(4, cfg.Email.SMTP.Connections/4)},
	}
	var tgSender *telegram.Sender
	if cfg.TelegramEnabled() {
		t := cfg.Telegram
		if a.tg, err = telegram.New(ctx, telegram.Config{
			Token: t.Token, APIEndpoint: t.APIEndpoint, RatePerSecond: t.RatePerSecond,
			PaidBroadcast: t.PaidBroadcast, Log: log,
		}); err != nil {
			return nil, err
		}
		// Every process sending as this bot on this database keeps one rate.
		botID, _, _ := strings.Cut(t.Token, ":")
		a.tg.Limiter().Share(a.store, botID)
		tgSender = telegram.NewSender(a.tg, telegram.SenderOptions{
			Render: a.letters[0].render, Letters: a.letterRenders(), Log: log,
		})
		channels[subscribers.Telegram] = delivery.ChannelConfig{Sender: tgSender, BatchSize: 200, Workers: 4}
		log.Info("telegram: on", slog.String("bot", a.tg.Username()))
	} else {
		log.Info("telegram: off (no telegram.token or DIGESTBOT_TELEGRAM_TOKEN)")
	}

	dl := cfg.Delivery
	if a.fanout, err = delivery.NewFanout(a.store, delivery.FanoutConfig{
		Channels:          channels,
		Subscriptions:     subs,
		DefaultNewsletter: a.letters[0].builder.Newsletter,
		OnFinished:        a.editionFinished,
		Observe: func(ch subscribers.Channel, o delivery.Outcome, latency time.Duration) {
			a.metrics.Delivered(string(ch), o.String(), latency)
		},
		RetryBackoff: delivery.Backoff(dl.RetryBackoff.Duration),
		SliceTime:    dl.SliceTime.Duration,
		// A job's own deadline sits halfway between its slice and its
		// rescue: River hands a job to another worker only after that.
		JobTimeout:    dl.SliceTime.Duration + (dl.RescueAfter.Duration-dl.SliceTime.Duration)/2,
		RescueAfter:   dl.RescueAfter.Duration,
		MaxUnrecorded: dl.MaxUnrecorded,
		Logger:        log,
	}); err != nil {
		return nil, err
	}

	if err := a.registerGauges(); err != nil {
		return nil, err
	}
	for _, l := range a.letters {
		l.publisher = &publish.Service{Builder: l.builder, Fanout: a.fanout, Editions: a.store,
			OnBuilt: func(digest.Edition) { a.metrics.EditionBuilt() }, Warm: warm}
	}
	a.publisher = a.letters[0].publisher

	if a.tg != nil {
		if a.bot, err = bot.New(bot.Config{
			Title: cfg.Newsletter.Title, Schedule: cfg.Newsletter.Schedule, Location: cfg.Newsletter.Location,
			Sections: cfg.Newsletter.Sections, Admins: cfg.Telegram.Admins, Channels: cfg.Telegram.Channels,
			Newsletter: a.letters[0].builder.Newsletter, Letters: a.botLetters(),
		}, bot.Deps{
			Telegram: a.tg, Digests: tgSender, Subscriptions: subs, Store: a.store,
			Editions: a.builder, Publisher: a.publisher, Newsletters: a.botNewsletters(), Fanout: a.fanout, Importer: importer,
			Feeds: bot.FeedProbe{Fetcher: a.fetcher}, Log: log,
		}); err != nil {
			return nil, err
		}
	}

	bc := cfg.Bounces
	if bc.Listen != "" {
		a.reports = &bounces.Listener{Addr: bc.Listen, ReturnPath: a.verp(cfg), Apply: subs, SoftLimit: bc.SoftLimit, Log: log}
	}
	hooks, err := bounces.New(bounces.Config{
		SoftLimit: bc.SoftLimit, MailgunSigningKey: bc.Mailgun.SigningKey, SendGridPublicKey: bc.SendGrid.PublicKey,
		PostmarkUser: bc.Postmark.Username, PostmarkPassword: bc.Postmark.Password, SESTopicARNs: bc.SES.TopicARNs, Log: log,
	}, subs)
	if err != nil {
		return nil, err
	}
	var webhooks http.Handler
	if ps := hooks.Providers(); len(ps) > 0 {
		webhooks = hooks
		log.Info("bounces: provider webhooks on", slog.Any("providers", ps))
	}
	if a.web, err = web.New(web.Config{
		Title: cfg.Newsletter.Title, BaseURL: cfg.Newsletter.BaseURL, PostalAddress: cfg.Newsletter.PostalAddress,
		Location: cfg.Newsletter.Location, Sections: cfg.Newsletter.Sections, Newsletter: a.letters[0].builder.Newsletter,
		Letters: a.webLetters(), Secret: cfg.Security.Secret, AdminToken: cfg.HTTP.AdminToken, TrustedProxies: cfg.HTTP.TrustedProxies,
		Log: log,
	}, web.Deps{
		Store: a.store, Subscriptions: subs, Importer: importer,
		Publisher: a.publisher, Publishers: a.webPublishers(), Ready: a.readyChecks(cfg), Metrics: a.metrics, Webhooks: webhooks,
	}); err != nil {
		return nil, err
	}
	return a, nil
}

// eachLetter maps every newsletter, the default first, to what one part
// (the pages, the bot, the email builder) needs of it.
func eachLetter[T any](a *App, f func(*letter) T) []T {
	out := make([]T, len(a.letters))
	for i, l := range a.letters {
		out[i] = f(l)
	}
	return out
}

func (a *App) letterSlugs() []string {
	return eachLetter(a, func(l *letter) string { return l.cfg.Slug })
}

func (a *App) botLetters() []bot.Letter {
	return eachLetter(a, func(l *letter) bot.Letter { return bot.Letter{Slug: l.cfg.Slug, Title: l.cfg.Title} })
}

func (a *App) webLetters() []web.Letter {
	return eachLetter(a, func(l *letter) web.Letter {
		return web.Letter{Slug: l.cfg.Slug, Title: l.cfg.Title, Templates: l.render.Templates}
	})
}

func (a *App) emailLetters() []email.Letter {
	return eachLetter(a, func(l *letter) email.Letter {
		return email.Letter{Slug: l.cfg.Slug, Title: l.cfg.Title, From: l.cfg.From,
			ArchivePath: l.render.ArchivePath, Templates: l.render.Templates}
	})
}

func (a *App) letterRenders() map[string]digest.RenderOptions {
	m := make(map[string]digest.RenderOptions, len(a.letters))
	for _, l := range a.letters {
		m[l.cfg.Slug] = l.render
	}
	return m
}

// botNewsletters are each newsletter's builder and publisher for the
// bot's admin commands.
func (a *App) botNewsletters() map[string]bot.NewsletterDeps {
	m := make(map[string]bot.NewsletterDeps, len(a.letters))
	for _, l := range a.letters {
		m[l.builder.Newsletter] = bot.NewsletterDeps{Editions: l.builder, Publisher: l.publisher}
	}
	return m
}

// webPublishers are each newsletter's publisher for POST /api/v1/editions.
func (a *App) webPublishers() map[string]web.Publisher {
	m := make(map[string]web.Publisher, len(a.letters))
	for _, l := range a.letters {
		m[l.builder.Newsletter] = l.publisher
	}
	return m
}

// readyChecks are /readyz's parts beside the database ping: migrations
// current, the SMTP server answering when one is configured, Telegram's
// getMe when the bot is on.
func (a *App) readyChecks(cfg config.Config) []web.ReadyCheck {
	checks := []web.ReadyCheck{{Name: "migrations", Check: a.store.CheckMigrations}}
	if cfg.SMTPEnabled() {
		s := cfg.Email.SMTP
		checks = append(checks, web.ReadyCheck{Name: "smtp", Check: func(ctx context.Context) error {
			return email.ProbeSMTP(ctx, s.Host, s.Port, s.TLS == "tls")
		}})
	}
	if a.tg != nil {
		checks = append(checks, web.ReadyCheck{Name: "telegram", Check: func(ctx context.Context) error {
			_, err := a.tg.Call(ctx, "getMe", nil)
			return err
		}})
	}
	return checks
}

// editionFinished runs once per edition, in the process that marked it
// sent (the fan-out logs it): the admins get the summary and the
// publisher's channels the edition.
func (a *App) editionFinished(ctx context.Context, editionID int64, stats []digest.DeliveryCount) {
	if a.bot != nil {
		a.bot.EditionFinished(ctx, editionID, stats)
	}
}

// Close stops what New started, in reverse order.
func (a *App) Close() error {
	var errs []error
	if a.bot != nil {
		a.bot.Wait()
	}
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}

// instance names this process in logs: several may run on one host.
func instance() string {
	h, _ := os.Hostname()
	return fmt.Sprintf("%s/%d", h, os.Getpid())
}

// registerGauges adds the process's own state to the metrics: whether it
// leads, and Telegram's flood-control answers.
func (a *App) registerGauges() error {
	err := a.metrics.Gauge("digestbot_leader", "1 while this instance leads (polls feeds and Telegram updates, fires the schedule).",
		func() float64 {
			if a.lead.Leading() {
				return 1
			}
			return 0
		})
	if err == nil && a.tg != nil {
		err = a.metrics.Counter("digestbot_telegram_rate_limited_total", "Telegram answers 429 Too Many Requests (flood control).",
			func() float64 { return float64(a.tg.Stats().RateLimited) })
	}
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// returnPath is the VERP envelope sender of each message when
// bounces.return_path_domain is set; nil otherwise (the From address).
func (a *App) returnPath(cfg config.Config) func(editionID, subscriptionID int64) string {
	if cfg.Bounces.ReturnPathDomain == "" {
		return nil
	}
	return a.verp(cfg).Address
}

func (a *App) verp(cfg config.Config) bounces.ReturnPath {
	b := cfg.Bounces
	return bounces.ReturnPath{Local: b.ReturnPathLocal, Domain: b.ReturnPathDomain, Secret: cfg.Security.Secret}
}
