// Package app wires digestbot together: it builds every long-lived part
// from a config.Config (store, builder, publish service, fan-out with its
// email and Telegram senders, bot, web server) and runs them. cmd/digestbot
// is its command line; the end-to-end tests and bench/ start the same
// parts through it.
package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/config"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/store"
)

// OpenStore opens and migrates the configured database.
func OpenStore(ctx context.Context, cfg config.Config, log *slog.Logger) (*store.Store, error) {
	st, err := store.Open(ctx, cfg.Database.Driver, cfg.Database.DSN, log)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// SyncFeeds makes the store's feeds include every [[feeds]] of the config.
// Feeds added with /addfeed or the API stay.
func SyncFeeds(ctx context.Context, cfg config.Config, st *store.Store) error {
	for _, f := range cfg.Feeds {
		if _, err := st.UpsertFeed(ctx, articles.Feed{URL: f.URL, Name: f.Name, Section: f.Section, Weight: f.Weight, Enabled: true}); err != nil {
			return fmt.Errorf("sync feed %s: %w", f.URL, err)
		}
	}
	return nil
}

// NewFetcher fetches feeds and pages with the ingest limits.
func NewFetcher(cfg config.Config) *articles.Fetcher {
	return &articles.Fetcher{Timeout: cfg.Ingest.FetchTimeout.Duration, MaxBytes: cfg.Ingest.MaxBytes}
}

// NewBuilder builds the editions of the default (first) newsletter.
func NewBuilder(cfg config.Config, st *store.Store, log *slog.Logger) *digest.Builder {
	return NewLetterBuilder(cfg.Letters()[0], st, log)
}

// NewLetterBuilder builds the editions of newsletter n.
func NewLetterBuilder(n config.Newsletter, st *store.Store, log *slog.Logger) *digest.Builder {
	slug := n.Slug
	if slug == "" {
		slug = digest.DefaultNewsletter
	}
	return digest.NewBuilder(st, digest.Options{
		Newsletter: slug,
		Title:      n.Title,
		Location:   n.Location,
		Sections:   n.Sections,
		MaxItems:   n.MaxItems,
		MaxAge:     n.MaxAge.Duration,
		SkipEmpty:  n.SkipEmpty,
	}, log.With(slog.String("newsletter", slug)))
}

// LetterRender returns newsletter n's render settings: the instance's base
// URL and footer, n's title, zone, sections and archive path, and the
// templates of its template_dir (the embedded ones without). Per-subscriber
// links are filled in by the senders.
func LetterRender(cfg config.Config, n config.Newsletter) (digest.RenderOptions, error) {
	o := digest.RenderOptions{
		Title:         n.Title,
		BaseURL:       n.BaseURL,
		PostalAddress: n.PostalAddress,
		Location:      n.Location,
		Sections:      n.Sections,
		ArchivePath:   "/archive",
	}
	if n.Slug != cfg.Letters()[0].Slug {
		o.ArchivePath += "/" + n.Slug
	}
	if n.TemplateDir != "" {
		t, err := digest.LoadTemplates(n.TemplateDir)
		if err != nil {
			return o, fmt.Errorf("newsletter %s: template_dir: %w", n.Slug, err)
		}
		o.Templates = t
	}
	return o, nil
}
