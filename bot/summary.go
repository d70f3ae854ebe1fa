package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/telegram"
	"github.com/digestbot/digestbot/telegram/tghtml"
)

// EditionFinished is delivery.FanoutConfig.OnFinished: when an edition's
// delivery is done it posts the edition to telegram.channels (once per
// edition and channel, remembered in the state store, so a second call
// does not post twice) and sends every admin a summary: sent, failed,
// bounced and blocked per channel. Failures are logged; one channel or
// admin failing does not stop the others.
func (b *Bot) EditionFinished(ctx context.Context, editionID int64, stats []digest.DeliveryCount) {
	ed, err := b.d.Store.GetEdition(ctx, editionID)
	if err != nil {
		b.log.ErrorContext(ctx, "bot: finished edition not found", slog.Int64("edition_id", editionID), slog.String("error", err.Error()))
		return
	}
	if err := b.postToChannels(ctx, ed); err != nil {
		b.log.ErrorContext(ctx, "bot: channel posts", slog.Int64("edition_id", editionID), slog.String("error", err.Error()))
	}
	if stats == nil {
		if stats, err = b.d.Store.DeliveryStats(ctx, editionID); err != nil {
			b.log.ErrorContext(ctx, "bot: delivery stats", slog.Int64("edition_id", editionID), slog.String("error", err.Error()))
			return
		}
	}
	_ = b.NotifyAdmins(ctx, b.Summary(ed, stats)) // logged there
}

// Summary is the admins' report of an edition's delivery.
func (b *Bot) Summary(ed digest.Edition, stats []digest.DeliveryCount) string {
	var s strings.Builder
	fmt.Fprintf(&s, "<b>%s</b> of %s: delivery finished (%d items).\n", tghtml.Escape(b.cfg.Title), tghtml.Escape(ed.Date), len(ed.Items))
	s.WriteString(formatDeliveries(stats))
	return s.String()
}

// NotifyAdmins sends html to each admin's private chat (its id is the
// admin's user id).
func (b *Bot) NotifyAdmins(ctx context.Context, html string) error {
	var errs []error
	for _, id := range b.cfg.Admins {
		if _, err := b.d.Telegram.SendMessage(ctx, telegram.Message{Chat: telegram.ChatID(id), Text: html}); err != nil {
			b.log.WarnContext(ctx, "bot: admin not notified", slog.Int64("user_id", id), slog.String("error", err.Error()))
			errs = append(errs, fmt.Errorf("bot: notify admin %d: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

func (b *Bot) postToChannels(ctx context.Context, ed digest.Edition) error {
	var errs []error
	for _, ch := range b.cfg.Channels {
		key := "telegram.posted." + strconv.FormatInt(ed.ID, 10) + "." + ch
		if v, err := b.d.Store.GetState(ctx, key); err != nil {
			errs = append(errs, fmt.Errorf("bot: channel post state: %w", err))
			continue
		} else if v != "" {
			continue
		}
		if err := b.d.Digests.Post(ctx, ch, ed); err != nil {
			b.log.ErrorContext(ctx, "bot: edition not posted to channel", slog.Int64("edition_id", ed.ID),
				slog.String("channel", ch), slog.String("error", err.Error()))
			errs = append(errs, err)
			continue
		}
		if err := b.d.Store.SetState(ctx, key, b.now().UTC().Format(time.RFC3339)); err != nil {
			errs = append(errs, fmt.Errorf("bot: channel post state: %w", err))
		}
		b.log.InfoContext(ctx, "bot: edition posted to channel", slog.Int64("edition_id", ed.ID), slog.String("channel", ch))
	}
	return errors.Join(errs...)
}

// FeedProbe checks a feed URL for /addfeed: one fetch, one parse, nothing
// stored.
type FeedProbe struct {
	Fetcher *articles.Fetcher // nil: a zero Fetcher (default timeout and size cap)
	Now     func() time.Time
}

// CheckFeed fetches url and parses it as RSS, Atom or JSON Feed.
func (p FeedProbe) CheckFeed(ctx context.Context, url string) (articles.FeedResult, error) {
	f := p.Fetcher
	if f == nil {
		f = &articles.Fetcher{}
	}
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	resp, err := f.Fetch(ctx, url, "", "")
	if err != nil {
		return articles.FeedResult{}, err
	}
	if articles.Sniff(resp.Body) != articles.KindFeed {
		return articles.FeedResult{}, errors.New("the page is not an RSS, Atom or JSON feed")
	}
	return articles.ParseFeedResult(resp.Body, articles.Feed{URL: resp.URL}, now)
}
