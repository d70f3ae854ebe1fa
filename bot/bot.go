// Package bot turns Telegram updates into digestbot's reader and admin
// commands (SPEC §4 "Telegram commands"). It is transport-agnostic about
// polling: telegram.Poller calls Bot.HandleUpdate for each update.
//
// Wiring (package app):
//
//	client, _ := telegram.New(ctx, telegram.Config{Token: cfg.Telegram.Token, APIEndpoint: cfg.Telegram.APIEndpoint,
//		RatePerSecond: cfg.Telegram.RatePerSecond, PaidBroadcast: cfg.Telegram.PaidBroadcast, Log: log})
//	sender := telegram.NewSender(client, telegram.SenderOptions{Render: renderOpts, Log: log})
//	// delivery.FanoutConfig{Channels: {subscribers.Telegram: {Sender: sender}}, OnFinished: b.EditionFinished, ...}
//	b, _ := bot.New(bot.Config{...}, bot.Deps{Telegram: client, Digests: sender, Subscriptions: svc, Store: st,
//		Editions: builder, Publisher: publisher, Fanout: fanout, Importer: importer, Feeds: bot.FeedProbe{Fetcher: fetcher}, Log: log})
//	_ = client.SetCommands(ctx, cfg.Telegram.Admins)
//	poller := &telegram.Poller{Client: client, State: st, Handle: b.HandleUpdate, Log: log}
//	go poller.Run(ctx) // returns when ctx ends; then b.Wait()
package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/subscribers"
	"github.com/digestbot/digestbot/telegram"
	"github.com/digestbot/digestbot/telegram/tghtml"
)

// Config is what the bot needs from the configuration.
type Config struct {
	Title    string         // newsletter.title
	Schedule string         // newsletter.schedule (cron spec), described to readers in words
	Location *time.Location // newsletter.timezone
	Sections []string       // newsletter.sections, in order
	Admins   []int64        // telegram.admins (user ids)
	Channels []string       // telegram.channels: each finished edition is posted there
	// Newsletter is the edition key (digest.DefaultNewsletter when empty).
	Newsletter string
	// Letters are the instance's newsletters when it has several, the
	// default first: /subscribe offers them as buttons and /start SLUG
	// subscribes to one. None or one: the one newsletter above.
	Letters []Letter
}

// Letter is one newsletter as the bot names it.
type Letter struct {
	Slug, Title string
}

// Telegram sends the bot's replies; *telegram.Client implements it.
type Telegram interface {
	Username() string
	SendMessage(ctx context.Context, m telegram.Message) (tgbotapi.Message, error)
	EditMessageText(ctx context.Context, chatID int64, messageID int, text string, kb *tgbotapi.InlineKeyboardMarkup) error
	AnswerCallbackQuery(ctx context.Context, id, text string) error
}

// Digests sends rendered editions; *telegram.Sender implements it.
type Digests interface {
	Deliver(ctx context.Context, chatID int64, ed digest.Edition, sections []string) error
	SendPreview(ctx context.Context, chatID int64, ed digest.Edition) error
	Post(ctx context.Context, chat string, ed digest.Edition) error
}

// Subscriptions runs subscriptions' life cycle; *subscribers.Service
// implements it.
type Subscriptions interface {
	SubscribeTelegram(ctx context.Context, chatID int64, source string) (subscribers.Subscription, error)
	SubscribeTelegramTo(ctx context.Context, chatID int64, source, slug string) (subscribers.Subscription, error)
	LettersOf(sub subscribers.Subscription) []string
	UnsubscribeTelegram(ctx context.Context, chatID int64) (subscribers.Subscription, error)
	SetSectionsByID(ctx context.Context, id int64, sections []string) (subscribers.Subscription, error)
	SetLocalTimeByID(ctx context.Context, id int64, lt *subscribers.LocalTime) (subscribers.Subscription, error)
	LinkEmail(ctx context.Context, address string, sections []string, source string) error
	MarkBlocked(ctx context.Context, id int64) error
	MoveChat(ctx context.Context, id int64, address string) error
}

// Store is what the bot reads and writes directly; *store.Store
// implements it.
type Store interface {
	FindSubscription(ctx context.Context, ch subscribers.Channel, address string) (subscribers.Subscription, error)
	CountSubscriptions(ctx context.Context) (map[subscribers.Channel]map[subscribers.Status]int, error)
	CountComplaints(ctx context.Context) (int, error)
	EditionReports(ctx context.Context, editionID int64) (map[string]int, error)
	ForgetSubscriber(ctx context.Context, address string) (int, error)

	GetEdition(ctx context.Context, id int64) (digest.Edition, error)
	ListEditions(ctx context.Context, newsletter string, limit int) ([]digest.Edition, error)
	DeliveryStats(ctx context.Context, editionID int64) ([]digest.DeliveryCount, error)

	ListArticles(ctx context.Context, beforeID int64, limit int) ([]articles.Article, error)
	UpdateArticle(ctx context.Context, id int64, p articles.Patch) (articles.Article, error)

	ListFeeds(ctx context.Context) ([]articles.Feed, error)
	GetFeed(ctx context.Context, id int64) (articles.Feed, error)
	UpsertFeed(ctx context.Context, f articles.Feed) (articles.Feed, error)
	DeleteFeed(ctx context.Context, id int64) error

	GetState(ctx context.Context, key string) (string, error)
	SetState(ctx context.Context, key, value string) error
}

// Editions previews editions; *digest.Builder implements it.
type Editions interface {
	// Date is the newsletter date of t.
	Date(t time.Time) string
	// Preview returns the next edition without storing it.
	Preview(ctx context.Context) (digest.Edition, error)
}

// Publisher builds the edition of a date if needed and starts it
// (/sendnow); *publish.Service implements it.
type Publisher interface {
	Publish(ctx context.Context, date string) (digest.Published, error)
}

// Fanout pauses and resumes an edition's delivery; *delivery.Fanout
// implements it. false: the edition was not in the state the call needs
// (not sending, not paused).
type Fanout interface {
	Pause(ctx context.Context, editionID int64) (bool, error)
	Resume(ctx context.Context, editionID int64) (bool, error)
}

// Importer stores the article (or feed items) at a URL; *articles.Importer
// implements it.
type Importer interface {
	Import(ctx context.Context, src string, opts articles.ImportOptions) ([]articles.Article, error)
}

// FeedChecker fetches and parses a feed before it is added (/addfeed);
// FeedProbe implements it.
type FeedChecker interface {
	CheckFeed(ctx context.Context, url string) (articles.FeedResult, error)
}

// Deps are the bot's collaborators. Telegram, Digests, Subscriptions and
// Store are required; a nil Editions, Publisher, Fanout, Importer or Feeds makes the
// commands that need it answer that the feature is not available.
type Deps struct {
	Telegram      Telegram
	Digests       Digests
	Subscriptions Subscriptions
	Store         Store
	Editions      Editions
	Publisher     Publisher
	// Newsletters are every newsletter's Editions and Publisher by slug,
	// for /preview, /sendnow, /pause and /resume SLUG; nil: the ones above
	// only.
	Newsletters map[string]NewsletterDeps
	Fanout      Fanout
	Importer    Importer
	Feeds       FeedChecker
	Log         *slog.Logger
	Now         func() time.Time
}

// NewsletterDeps are one newsletter's edition builder and publisher.
type NewsletterDeps struct {
	Editions  Editions
	Publisher Publisher
}

// Bot handles updates. Construct it with New.
type Bot struct {
	cfg  Config
	d    Deps
	log  *slog.Logger
	now  func() time.Time
	when string // the schedule in words

	bg    sync.WaitGroup
	slots chan struct{} // bounds background commands
}

// New returns a Bot.
func New(cfg Config, d Deps) (*Bot, error) {
	if d.Telegram == nil || d.Digests == nil || d.Subscriptions == nil || d.Store == nil {
		return nil, errors.New("bot: Telegram, Digests, Subscriptions and Store are required")
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Newsletter == "" {
		cfg.Newsletter = digest.DefaultNewsletter
	}
	if cfg.Title == "" {
		cfg.Title = "Daily Headlines"
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Bot{
		cfg: cfg, d: d, log: d.Log, now: d.Now,
		when:  DescribeSchedule(cfg.Schedule, cfg.Location),
		slots: make(chan struct{}, 4),
	}, nil
}

// Wait blocks until background commands (/post, /addfeed, /preview) are
// done: for shutdown and tests.
func (b *Bot) Wait() { b.bg.Wait() }

// request is one command as the bot sees it.
type request struct {
	chat    int64
	chatTyp string // private, group, supergroup, channel
	user    int64  // 0 when Telegram did not say (anonymous admin, channel)
	cmd     string // lower case, without "/" and "@bot"
	args    string
	named   bool // "/cmd@ourbot": addressed to this bot by name
}

func (r request) private() bool { return r.chatTyp == "private" }

// HandleUpdate handles one update; it is telegram.Poller's Handle.
func (b *Bot) HandleUpdate(ctx context.Context, u tgbotapi.Update) error {
	switch {
	case u.Message != nil:
		return b.onMessage(ctx, u.Message)
	case u.CallbackQuery != nil:
		return b.onCallback(ctx, u.CallbackQuery)
	case u.MyChatMember != nil:
		return b.onMyChatMember(ctx, u.MyChatMember)
	case u.ChannelPost != nil:
		// Posts in the publisher's channels (telegram.channels) are not
		// commands: editions are posted there by EditionFinished.
		return nil
	}
	return nil
}

// parseCommand splits "/cmd@bot args". ok is false for text that is not a
// command. Telegram's bot_command entity is not needed: a command is the
// first word when it starts with "/" (https://core.telegram.org/bots/features#commands).
func parseCommand(text string) (cmd, at, args string, ok bool) {
	if !strings.HasPrefix(text, "/") {
		return "", "", "", false
	}
	word, rest, _ := strings.Cut(text, " ")
	if i := strings.IndexAny(word, "\n\t"); i >= 0 {
		word, rest = word[:i], word[i+1:]+" "+rest
	}
	cmd, at, _ = strings.Cut(word[1:], "@")
	if cmd == "" || len(cmd) > 32 {
		return "", "", "", false
	}
	return strings.ToLower(cmd), at, strings.TrimSpace(rest), true
}

func (b *Bot) onMessage(ctx context.Context, m *tgbotapi.Message) error {
	if m.Chat == nil {
		return nil
	}
	if m.MigrateToChatID != 0 {
		return b.onMigrate(ctx, m.Chat.ID, m.MigrateToChatID)
	}
	r := request{chat: m.Chat.ID, chatTyp: m.Chat.Type}
	if m.From != nil {
		r.user = m.From.ID
	}
	cmd, at, args, ok := parseCommand(m.Text)
	if !ok {
		if r.private() && m.Text != "" {
			return b.reply(ctx, r.chat, "I answer commands; here they are.\n\n"+b.helpText(r.user), nil)
		}
		return nil // group chatter (privacy mode lets little of it through)
	}
	if at != "" && !strings.EqualFold(at, b.d.Telegram.Username()) {
		return nil // "/cmd@otherbot": another bot's command
	}
	r.cmd, r.args, r.named = cmd, args, at != ""
	return b.dispatch(ctx, r)
}

func (b *Bot) dispatch(ctx context.Context, r request) error {
	reader := map[string]func(context.Context, request) error{
		"start":       b.cmdStart,
		"subscribe":   b.cmdSubscribe,
		"unsubscribe": b.cmdUnsubscribe,
		"stop":        b.cmdUnsubscribe,
		"settings":    b.cmdSettings,
		"email":       b.cmdEmail,
		"latest":      b.cmdLatest,
		"forgetme":    b.cmdForgetMe,
		"help":        b.cmdHelp,
	}
	admin := map[string]func(context.Context, request) error{
		"stats":    b.cmdStats,
		"preview":  b.cmdPreview,
		"sendnow":  b.cmdSendNow,
		"post":     b.cmdPost,
		"articles": b.cmdArticles,
		"pin":      b.cmdPin,
		"hide":     b.cmdHide,
		"feeds":    b.cmdFeeds,
		"addfeed":  b.cmdAddFeed,
		"rmfeed":   b.cmdRmFeed,
		"pause":    b.cmdPause,
		"resume":   b.cmdResume,
	}
	if h, ok := reader[r.cmd]; ok {
		return b.run(ctx, r, h)
	}
	if h, ok := admin[r.cmd]; ok {
		if !b.isAdmin(r.user) {
			b.log.WarnContext(ctx, "bot: admin command refused", slog.Int64("user_id", r.user),
				slog.Int64("chat_id", r.chat), slog.String("command", r.cmd))
			return b.reply(ctx, r.chat, "Sorry, /"+tghtml.Escape(r.cmd)+" is only for the newsletter's editors.", nil)
		}
		b.log.InfoContext(ctx, "bot: admin command", slog.Int64("user_id", r.user), slog.String("command", r.cmd))
		return b.run(ctx, r, h)
	}
	if !r.private() && !r.named {
		// In a group every bot sees a bare "/cmd": one we don't know is
		// most likely another bot's, and a help text would be noise.
		return nil
	}
	return b.reply(ctx, r.chat, "I don't know that command.\n\n"+b.helpText(r.user), nil)
}

// run calls h; an error that h did not answer itself gets a short apology,
// so that every command gets a reply (SPEC §4).
func (b *Bot) run(ctx context.Context, r request, h func(context.Context, request) error) error {
	err := h(ctx, r)
	if err == nil || errors.Is(err, errReplied) || ctx.Err() != nil {
		return err
	}
	if rerr := b.reply(ctx, r.chat, "Something went wrong on our side; please try again later.", nil); rerr != nil {
		b.log.WarnContext(ctx, "bot: apology not sent", slog.Int64("chat_id", r.chat), slog.String("error", rerr.Error()))
	}
	return fmt.Errorf("bot: /%s in chat %d: %w", r.cmd, r.chat, err)
}

// errReplied marks an error the user was already told about.
var errReplied = errors.New("replied")

func (b *Bot) isAdmin(user int64) bool {
	return user != 0 && slices.Contains(b.cfg.Admins, user)
}

// reply sends an HTML message to chat. Outside strings in html must have
// been escaped with tghtml.Escape.
//
// A command can still come from a group's old id just after it became a
// supergroup: Telegram then answers with migrate_to_chat_id, and the reply
// (like a digest, SPEC §5) follows the group to its new id, which its
// subscription takes too.
func (b *Bot) reply(ctx context.Context, chat int64, html string, kb *tgbotapi.InlineKeyboardMarkup) error {
	_, err := b.d.Telegram.SendMessage(ctx, telegram.Message{Chat: telegram.ChatID(chat), Text: html, Keyboard: kb})
	var ae *telegram.APIError
	if err != nil && telegram.Classify(err) == telegram.ClassMigrated && errors.As(err, &ae) {
		if merr := b.onMigrate(ctx, chat, ae.MigrateTo); merr != nil {
			b.log.ErrorContext(ctx, "bot: follow group migration", slog.Int64("chat_id", chat), slog.String("error", merr.Error()))
		}
		chat = ae.MigrateTo
		_, err = b.d.Telegram.SendMessage(ctx, telegram.Message{Chat: telegram.ChatID(chat), Text: html, Keyboard: kb})
	}
	if err != nil {
		return fmt.Errorf("bot: reply to %d: %w", chat, err)
	}
	return nil
}

// background runs a slow command (a fetch, a multi-message preview) off the
// update loop, so one slow page does not hold up everyone's commands.
func (b *Bot) background(ctx context.Context, r request, h func(context.Context, request) error) error {
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		select {
		case b.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-b.slots }()
		if err := b.run(ctx, r, h); err != nil {
			b.log.ErrorContext(ctx, "bot: command failed", slog.String("command", r.cmd), slog.Int64("chat_id", r.chat), slog.String("error", err.Error()))
		}
	}()
	return nil
}

// subscription returns the chat's Telegram subscription; found is false
// when it has none.
func (b *Bot) subscription(ctx context.Context, chat int64) (sub subscribers.Subscription, found bool, err error) {
	sub, err = b.d.Store.FindSubscription(ctx, subscribers.Telegram, telegram.ChatID(chat))
	if errors.Is(err, subscribers.ErrNotFound) {
		return subscribers.Subscription{}, false, nil
	}
	if err != nil {
		return subscribers.Subscription{}, false, fmt.Errorf("bot: find subscription of chat %d: %w", chat, err)
	}
	return sub, true, nil
}

// onMyChatMember: the bot's own membership changed. In a private chat
// "kicked" is the reader blocking the bot; in a group, "left" or "kicked"
// its removal. The subscription becomes blocked. Unblocking ("member") does
// not reactivate it: only the reader's /subscribe does
// (https://core.telegram.org/bots/api#chatmemberupdated).
func (b *Bot) onMyChatMember(ctx context.Context, u *tgbotapi.ChatMemberUpdated) error {
	st := u.NewChatMember.Status
	if st != "kicked" && st != "left" {
		return nil
	}
	sub, found, err := b.subscription(ctx, u.Chat.ID)
	if err != nil || !found {
		return err
	}
	if sub.Status == subscribers.Blocked || sub.Status == subscribers.Unsubscribed {
		return nil
	}
	if err := b.d.Subscriptions.MarkBlocked(ctx, sub.ID); err != nil {
		return fmt.Errorf("bot: %w", err)
	}
	b.log.InfoContext(ctx, "bot: chat blocked the bot, subscription blocked", slog.Int64("subscription_id", sub.ID),
		slog.Int64("chat_id", u.Chat.ID), slog.String("status", st))
	return nil
}

// onMigrate: a group became a supergroup with a new id; its subscription
// follows (https://core.telegram.org/bots/api#message migrate_to_chat_id).
func (b *Bot) onMigrate(ctx context.Context, from, to int64) error {
	sub, found, err := b.subscription(ctx, from)
	if err != nil || !found {
		return err
	}
	if err := b.d.Subscriptions.MoveChat(ctx, sub.ID, telegram.ChatID(to)); err != nil {
		return fmt.Errorf("bot: %w", err)
	}
	b.log.InfoContext(ctx, "bot: group migrated", slog.Int64("subscription_id", sub.ID), slog.Int64("chat_id", from), slog.Int64("new_chat_id", to))
	return nil
}

// clip shortens s to n runes for a reply.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
