package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/subscribers"
	"github.com/digestbot/digestbot/telegram"
	"github.com/digestbot/digestbot/telegram/tghtml"
)

// statuses is the order /stats lists subscription statuses in.
func statuses() []subscribers.Status {
	return []subscribers.Status{subscribers.Active, subscribers.Pending, subscribers.Unsubscribed, subscribers.Bounced, subscribers.Blocked}
}

func (b *Bot) unavailable(ctx context.Context, r request, what string) error {
	return b.reply(ctx, r.chat, tghtml.Escape(what)+" is not available in this setup.", nil)
}

// ---- /stats ----

func (b *Bot) cmdStats(ctx context.Context, r request) error {
	counts, err := b.d.Store.CountSubscriptions(ctx)
	if err != nil {
		return fmt.Errorf("count subscriptions: %w", err)
	}
	var s strings.Builder
	s.WriteString("<b>Subscriptions</b>\n")
	for _, ch := range []subscribers.Channel{subscribers.Email, subscribers.Telegram} {
		fmt.Fprintf(&s, "%s: %s\n", ch, formatCounts(counts[ch]))
	}
	complaints, err := b.d.Store.CountComplaints(ctx)
	if err != nil {
		return fmt.Errorf("count complaints: %w", err)
	}
	if complaints > 0 {
		fmt.Fprintf(&s, "spam complaints: %d (unsubscribed)\n", complaints)
	}
	eds, err := b.d.Store.ListEditions(ctx, b.cfg.Newsletter, 1)
	if err != nil {
		return fmt.Errorf("list editions: %w", err)
	}
	if len(eds) == 0 {
		s.WriteString("\nNo edition yet. The first comes " + tghtml.Escape(b.when) + ".")
		return b.reply(ctx, r.chat, s.String(), nil)
	}
	ed := eds[0]
	fmt.Fprintf(&s, "\n<b>Last edition</b> %s (%s, %d items)\n", tghtml.Escape(ed.Date), tghtml.Escape(ed.Status), len(ed.Items))
	dc, err := b.d.Store.DeliveryStats(ctx, ed.ID)
	if err != nil {
		return fmt.Errorf("delivery stats of %d: %w", ed.ID, err)
	}
	s.WriteString(formatDeliveries(dc))
	reps, err := b.d.Store.EditionReports(ctx, ed.ID)
	if err != nil {
		return fmt.Errorf("reports of %d: %w", ed.ID, err)
	}
	if len(reps) > 0 {
		fmt.Fprintf(&s, "\nLate reports: %d bounced, %d soft bounces, %d spam complaints\n",
			reps[string(subscribers.ReportHard)], reps[string(subscribers.ReportSoft)], reps[string(subscribers.ReportComplaint)])
	}
	return b.reply(ctx, r.chat, s.String(), nil)
}

func formatCounts(m map[subscribers.Status]int) string {
	var parts []string
	known := statuses()
	for _, st := range known {
		if n := m[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", st, n))
		}
	}
	for st, n := range m { // a status this list does not know
		if !slices.Contains(known, st) && n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", tghtml.Escape(string(st)), n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// formatDeliveries prints sent, failed, bounced and blocked per channel.
func formatDeliveries(dc []digest.DeliveryCount) string {
	per := map[string]map[string]int{}
	for _, c := range dc {
		if per[c.Channel] == nil {
			per[c.Channel] = map[string]int{}
		}
		per[c.Channel][c.Status] += c.N
	}
	if len(per) == 0 {
		return "no deliveries recorded\n"
	}
	var s strings.Builder
	names := make([]string, 0, len(per))
	for ch := range per {
		names = append(names, ch)
	}
	slices.Sort(names)
	for _, ch := range names {
		m := per[ch]
		fmt.Fprintf(&s, "%s: sent %d, failed %d, bounced %d, blocked %d", tghtml.Escape(ch),
			m[digest.DeliverySent], m[digest.DeliveryFailed], m[string(subscribers.Bounced)], m[string(subscribers.Blocked)])
		if n := m[digest.DeliverySkipped]; n > 0 {
			fmt.Fprintf(&s, ", skipped %d", n)
		}
		s.WriteString("\n")
	}
	return s.String()
}

// ---- /preview, /sendnow, /pause, /resume ----

// newsletterOf is the newsletter an admin command names (its argument, a
// slug; none: the default one) with its builder and publisher. ok is false
// when the slug is unknown: the reply lists the slugs.
func (b *Bot) newsletterOf(ctx context.Context, r request) (slug string, nd NewsletterDeps, ok bool, err error) {
	slug = strings.TrimSpace(r.args)
	if slug == "" || slug == b.cfg.Newsletter {
		return b.cfg.Newsletter, NewsletterDeps{Editions: b.d.Editions, Publisher: b.d.Publisher}, true, nil
	}
	if nd, ok := b.d.Newsletters[slug]; ok {
		return slug, nd, true, nil
	}
	var slugs []string
	for _, l := range b.cfg.Letters {
		slugs = append(slugs, l.Slug)
	}
	if len(slugs) == 0 {
		slugs = []string{b.cfg.Newsletter}
	}
	return "", NewsletterDeps{}, false, b.reply(ctx, r.chat, "No newsletter "+tghtml.Escape(slug)+"; the newsletters are "+tghtml.Escape(joinWords(slugs))+".", nil)
}

func (b *Bot) cmdPreview(ctx context.Context, r request) error {
	_, nd, ok, err := b.newsletterOf(ctx, r)
	if !ok {
		return err
	}
	if nd.Editions == nil {
		return b.unavailable(ctx, r, "/preview")
	}
	return b.background(ctx, r, func(ctx context.Context, r request) error {
		ed, err := nd.Editions.Preview(ctx)
		if err != nil {
			return fmt.Errorf("preview: %w", err)
		}
		// To the admin only: their private chat, whose id is their user id.
		err = b.d.Digests.SendPreview(ctx, r.user, ed)
		if errors.Is(err, telegram.ErrNothingToSend) {
			return b.reply(ctx, r.chat, "The next edition ("+tghtml.Escape(ed.Date)+") has no items yet.", nil)
		}
		if err != nil {
			if !r.private() && telegram.Classify(err) == telegram.ClassBlocked {
				_ = b.reply(ctx, r.chat, "Open a private chat with me (send me /start) and try again: previews go to you only.", nil)
				return errReplied
			}
			return fmt.Errorf("preview: send: %w", err)
		}
		if !r.private() {
			return b.reply(ctx, r.chat, "Sent you the preview in our private chat.", nil)
		}
		return b.reply(ctx, r.chat, fmt.Sprintf("That is the preview: %d items. /sendnow sends it.", len(ed.Items)), nil)
	})
}

func (b *Bot) cmdSendNow(ctx context.Context, r request) error {
	_, nd, ok, err := b.newsletterOf(ctx, r)
	if !ok {
		return err
	}
	if nd.Editions == nil || nd.Publisher == nil {
		return b.unavailable(ctx, r, "/sendnow")
	}
	p, err := nd.Publisher.Publish(ctx, nd.Editions.Date(b.now()))
	if errors.Is(err, digest.ErrEmpty) {
		return b.reply(ctx, r.chat, "Nothing new since the last edition, so there is no edition today.", nil)
	}
	if err != nil {
		return fmt.Errorf("publish edition: %w", err)
	}
	ed := p.Edition
	if p.Started {
		b.log.InfoContext(ctx, "bot: edition started by admin", slog.Int64("edition_id", ed.ID), slog.Int64("user_id", r.user), slog.Bool("built", p.Built))
		return b.reply(ctx, r.chat, fmt.Sprintf("Sending the edition of %s (%d items). You get a summary when it is done.", tghtml.Escape(ed.Date), len(ed.Items)), nil)
	}
	d := tghtml.Escape(ed.Date)
	switch ed.Status {
	case digest.StatusSent:
		return b.reply(ctx, r.chat, "Today's edition ("+d+") was already sent.", nil)
	case digest.StatusPaused:
		return b.reply(ctx, r.chat, "Today's edition ("+d+") is paused. /resume continues it.", nil)
	case digest.StatusCancelled:
		return b.reply(ctx, r.chat, "Today's edition ("+d+") was cancelled.", nil)
	}
	return b.reply(ctx, r.chat, "Today's edition ("+d+") is being sent. /stats shows how far it got.", nil)
}

// current is the edition /pause and /resume act on: the newsletter's
// newest one.
func (b *Bot) current(ctx context.Context, slug string) (digest.Edition, bool, error) {
	eds, err := b.d.Store.ListEditions(ctx, slug, 1)
	if err != nil {
		return digest.Edition{}, false, fmt.Errorf("list editions: %w", err)
	}
	if len(eds) == 0 {
		return digest.Edition{}, false, nil
	}
	return eds[0], true, nil
}

func (b *Bot) cmdPause(ctx context.Context, r request) error {
	return b.pauseOrResume(ctx, r, "pause", digest.StatusSending, Fanout.Pause,
		"No edition is being sent right now.", "is no longer being sent.", "Paused the edition of %s. /resume continues where it stopped.")
}

func (b *Bot) cmdResume(ctx context.Context, r request) error {
	return b.pauseOrResume(ctx, r, "resume", digest.StatusPaused, Fanout.Resume,
		"No edition is paused.", "is not paused any more.", "Resumed the edition of %s.")
}

// pauseOrResume applies act (Fanout.Pause or Fanout.Resume) to the current
// edition when its status is from. none answers when it is not; gone when
// act finds it moved on in the meantime; done (a format of the escaped
// date) when act succeeded.
func (b *Bot) pauseOrResume(ctx context.Context, r request, verb, from string,
	act func(Fanout, context.Context, int64) (bool, error), none, gone, done string) error {
	if b.d.Fanout == nil {
		return b.unavailable(ctx, r, "/"+verb)
	}
	slug, _, known, err := b.newsletterOf(ctx, r)
	if !known {
		return err
	}
	ed, ok, err := b.current(ctx, slug)
	if err != nil {
		return err
	}
	if !ok || ed.Status != from {
		return b.reply(ctx, r.chat, none, nil)
	}
	date := tghtml.Escape(ed.Date)
	if ok, err := act(b.d.Fanout, ctx, ed.ID); err != nil {
		return fmt.Errorf("%s edition %d: %w", verb, ed.ID, err)
	} else if !ok {
		return b.reply(ctx, r.chat, "The edition of "+date+" "+gone, nil)
	}
	return b.reply(ctx, r.chat, fmt.Sprintf(done, date), nil)
}

// ---- articles ----

// urlAndSection parses "URL [section]"; section is matched to
// newsletter.sections without regard to case.
func (b *Bot) urlAndSection(args string) (u, section, problem string) {
	fields := strings.Fields(args)
	if len(fields) == 0 {
		return "", "", "missing URL"
	}
	u = fields[0]
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return "", "", "that is not an http(s) URL"
	}
	if len(fields) > 1 {
		want := strings.Join(fields[1:], " ")
		i := slices.IndexFunc(b.cfg.Sections, func(s string) bool { return strings.EqualFold(s, want) })
		if i < 0 && len(b.cfg.Sections) > 0 {
			return "", "", "unknown section; the sections are " + joinWords(b.cfg.Sections)
		}
		section = want
		if i >= 0 {
			section = b.cfg.Sections[i]
		}
	}
	return u, section, ""
}

func (b *Bot) cmdPost(ctx context.Context, r request) error {
	if b.d.Importer == nil {
		return b.unavailable(ctx, r, "/post")
	}
	u, section, problem := b.urlAndSection(r.args)
	if problem != "" {
		return b.reply(ctx, r.chat, "Usage: <code>/post URL [section]</code> — "+tghtml.Escape(problem)+".", nil)
	}
	return b.background(ctx, r, func(ctx context.Context, r request) error {
		stored, err := b.d.Importer.Import(ctx, u, articles.ImportOptions{Section: section})
		if err != nil {
			b.log.WarnContext(ctx, "bot: /post failed", slog.String("url", u), slog.String("error", err.Error()))
			_ = b.reply(ctx, r.chat, "Could not add that page: "+tghtml.Escape(clip(err.Error(), 300)), nil)
			return errReplied
		}
		switch len(stored) {
		case 0:
			return b.reply(ctx, r.chat, "Nothing to store at that URL.", nil)
		case 1:
			a := stored[0]
			return b.reply(ctx, r.chat, fmt.Sprintf("Stored #%d: <b>%s</b>%s", a.ID, tghtml.Escape(a.Title), sectionTag(a.Section)), nil)
		}
		return b.reply(ctx, r.chat, fmt.Sprintf("That URL is a feed: stored %d articles. /addfeed polls it regularly.", len(stored)), nil)
	})
}

func sectionTag(s string) string {
	if s == "" {
		return ""
	}
	return " [" + tghtml.Escape(s) + "]"
}

func (b *Bot) cmdArticles(ctx context.Context, r request) error {
	as, err := b.d.Store.ListArticles(ctx, 0, 15)
	if err != nil {
		return fmt.Errorf("list articles: %w", err)
	}
	if len(as) == 0 {
		return b.reply(ctx, r.chat, "No articles yet. /post URL adds one, /addfeed URL a feed.", nil)
	}
	var s strings.Builder
	s.WriteString("<b>Latest articles</b>\n")
	for _, a := range as {
		flags := ""
		if a.Pinned {
			flags += " 📌"
		}
		if a.Hidden {
			flags += " (hidden)"
		}
		fmt.Fprintf(&s, "#%d%s %s%s\n", a.ID, sectionTag(a.Section), tghtml.Escape(clip(a.Title, 120)), flags)
	}
	s.WriteString("\n/pin ID makes one the lead story, /hide ID leaves it out.")
	return b.reply(ctx, r.chat, s.String(), nil)
}

func (b *Bot) idArg(ctx context.Context, r request, usage string) (int64, bool, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(r.args), "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, false, b.reply(ctx, r.chat, "Usage: <code>"+tghtml.Escape(usage)+"</code>", nil)
	}
	return id, true, nil
}

func (b *Bot) cmdPin(ctx context.Context, r request) error {
	return b.patchArticle(ctx, r, "/pin ID", articles.Patch{Pinned: ptr(true)}, "Pinned")
}

func (b *Bot) cmdHide(ctx context.Context, r request) error {
	return b.patchArticle(ctx, r, "/hide ID", articles.Patch{Hidden: ptr(true)}, "Hidden")
}

func (b *Bot) patchArticle(ctx context.Context, r request, usage string, p articles.Patch, done string) error {
	id, ok, err := b.idArg(ctx, r, usage)
	if !ok {
		return err
	}
	a, err := b.d.Store.UpdateArticle(ctx, id, p)
	if errors.Is(err, articles.ErrNotFound) {
		return b.reply(ctx, r.chat, fmt.Sprintf("There is no article #%d. /articles lists them.", id), nil)
	}
	if err != nil {
		return fmt.Errorf("update article %d: %w", id, err)
	}
	return b.reply(ctx, r.chat, fmt.Sprintf("%s #%d: <b>%s</b>", done, a.ID, tghtml.Escape(a.Title)), nil)
}

func ptr[T any](v T) *T { return &v }

// ---- feeds ----

func (b *Bot) cmdFeeds(ctx context.Context, r request) error {
	fs, err := b.d.Store.ListFeeds(ctx)
	if err != nil {
		return fmt.Errorf("list feeds: %w", err)
	}
	if len(fs) == 0 {
		return b.reply(ctx, r.chat, "No feeds yet. /addfeed URL [section] adds one.", nil)
	}
	var s strings.Builder
	s.WriteString("<b>Feeds</b>\n")
	for _, f := range fs {
		fmt.Fprintf(&s, "#%d %s%s\n%s\n", f.ID, tghtml.Escape(clip(f.Name, 80)), sectionTag(f.Section), tghtml.Escape(clip(f.URL, 200)))
		if !f.Enabled {
			s.WriteString("(disabled)\n")
		}
		if f.LastError != "" {
			s.WriteString("last error: " + tghtml.Escape(clip(f.LastError, 200)) + "\n")
		}
	}
	return b.reply(ctx, r.chat, s.String(), nil)
}

func (b *Bot) cmdAddFeed(ctx context.Context, r request) error {
	if b.d.Feeds == nil {
		return b.unavailable(ctx, r, "/addfeed")
	}
	u, section, problem := b.urlAndSection(r.args)
	if problem != "" {
		return b.reply(ctx, r.chat, "Usage: <code>/addfeed URL [section]</code> — "+tghtml.Escape(problem)+".", nil)
	}
	return b.background(ctx, r, func(ctx context.Context, r request) error {
		// Validated by fetching it first: a typo or a page that is not a
		// feed is refused now rather than failing at every poll.
		res, err := b.d.Feeds.CheckFeed(ctx, u)
		if err != nil {
			_ = b.reply(ctx, r.chat, "That is not a feed I can read: "+tghtml.Escape(clip(err.Error(), 300)), nil)
			return errReplied
		}
		name := res.Title
		if name == "" {
			name = u
		}
		f, err := b.d.Store.UpsertFeed(ctx, articles.Feed{URL: u, Name: name, Section: section, Weight: 1, Enabled: true})
		if err != nil {
			return fmt.Errorf("store feed: %w", err)
		}
		return b.reply(ctx, r.chat, fmt.Sprintf("Added feed #%d: <b>%s</b>%s (%d items now).", f.ID, tghtml.Escape(clip(f.Name, 120)), sectionTag(f.Section), len(res.Articles)), nil)
	})
}

func (b *Bot) cmdRmFeed(ctx context.Context, r request) error {
	id, ok, err := b.idArg(ctx, r, "/rmfeed ID")
	if !ok {
		return err
	}
	f, err := b.d.Store.GetFeed(ctx, id)
	if errors.Is(err, articles.ErrNotFound) {
		return b.reply(ctx, r.chat, fmt.Sprintf("There is no feed #%d. /feeds lists them.", id), nil)
	}
	if err != nil {
		return fmt.Errorf("get feed %d: %w", id, err)
	}
	if err := b.d.Store.DeleteFeed(ctx, id); err != nil {
		return fmt.Errorf("delete feed %d: %w", id, err)
	}
	return b.reply(ctx, r.chat, fmt.Sprintf("Removed feed #%d %s. Its articles stay.", f.ID, tghtml.Escape(clip(f.Name, 120))), nil)
}
