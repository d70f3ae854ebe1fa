package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/subscribers"
	"github.com/digestbot/digestbot/telegram"
	"github.com/digestbot/digestbot/telegram/tghtml"
)

// Callback data of the bot's own buttons. Every value stays far below the
// Bot API's 64 bytes (https://core.telegram.org/bots/api#inlinekeyboardbutton):
// sections are named by their index in newsletter.sections, never by name.
const (
	cbSubscribe  = "sub"  // "sub" or "sub:<start payload>"
	cbSection    = "sec:" // "sec:<index>" toggles, "sec:all" resets
	cbSectionAll = "sec:all"
	cbLetter     = "nl:" // "nl:<slug>" subscribes to that newsletter
	// telegram.CallbackSettings and telegram.CallbackUnsubscribe come from
	// the buttons under each digest.
)

// maxCallbackData is the Bot API's limit on callback_data, in bytes.
const maxCallbackData = 64

// sourceOf makes a /start payload a subscription source. Deep-link
// payloads are "up to 64 characters" of A-Z, a-z, 0-9, _ and -
// (https://core.telegram.org/bots/features#deep-linking); anything else is
// dropped rather than stored.
func sourceOf(payload string) string {
	var b strings.Builder
	for _, r := range payload {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			b.WriteRune(r)
		}
		if b.Len() == maxCallbackData-len(cbSubscribe)-1 {
			break // it rides in the Subscribe button's callback data
		}
	}
	return b.String()
}

func subscribeKeyboard(payload string) *tgbotapi.InlineKeyboardMarkup {
	data := cbSubscribe
	if p := sourceOf(payload); p != "" {
		data += ":" + p
	}
	kb := tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(
		tgbotapi.NewInlineKeyboardButtonData("Subscribe", data)))
	return &kb
}

// intro says what the digest is and when it comes.
func (b *Bot) intro() string {
	var s strings.Builder
	fmt.Fprintf(&s, "<b>%s</b>\n", tghtml.Escape(b.cfg.Title))
	s.WriteString("One message a day with the day's headlines")
	if len(b.cfg.Sections) > 0 {
		s.WriteString(" — " + tghtml.Escape(joinWords(b.cfg.Sections)))
	}
	s.WriteString(", each with a link to the full story.\n")
	fmt.Fprintf(&s, "It comes %s.\n", tghtml.Escape(b.when))
	return s.String()
}

func (b *Bot) cmdStart(ctx context.Context, r request) error {
	sub, found, err := b.subscription(ctx, r.chat)
	if err != nil {
		return err
	}
	text := "Welcome! " + b.intro()
	// A deep link to one letter (t.me/BOT?start=SLUG).
	if l, ok := b.letter(strings.TrimSpace(r.args)); ok && len(b.cfg.Letters) > 1 {
		if found && sub.Status == subscribers.Active && slices.Contains(b.d.Subscriptions.LettersOf(sub), l.Slug) {
			return b.reply(ctx, r.chat, "You already get <b>"+tghtml.Escape(l.Title)+"</b> here.", settingsButton())
		}
		return b.reply(ctx, r.chat, "Welcome! Tap <b>Subscribe</b> to get <b>"+tghtml.Escape(l.Title)+"</b> here.", b.lettersKeyboard([]Letter{l}))
	}
	if found && sub.Status == subscribers.Active {
		text += "\nYou are subscribed. /settings picks your sections, /latest sends the last digest now."
		return b.reply(ctx, r.chat, text, settingsButton())
	}
	text += "\nTap <b>Subscribe</b> to get it here. /help lists every command."
	return b.reply(ctx, r.chat, text, subscribeKeyboard(r.args))
}

func settingsButton() *tgbotapi.InlineKeyboardMarkup {
	kb := tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(
		tgbotapi.NewInlineKeyboardButtonData("⚙️ Settings", telegram.CallbackSettings)))
	return &kb
}

func (b *Bot) cmdSubscribe(ctx context.Context, r request) error {
	if len(b.cfg.Letters) > 1 {
		sub, found, err := b.subscription(ctx, r.chat)
		if err != nil {
			return err
		}
		var have []string
		if found && sub.Status == subscribers.Active {
			have = b.d.Subscriptions.LettersOf(sub)
		}
		var offer []Letter
		var lines []string
		for _, l := range b.cfg.Letters {
			mark := "•"
			if slices.Contains(have, l.Slug) {
				mark = "✓"
			} else {
				offer = append(offer, l)
			}
			lines = append(lines, mark+" <b>"+tghtml.Escape(l.Title)+"</b>")
		}
		text := "Our newsletters (✓: you get it here):\n" + strings.Join(lines, "\n")
		if len(offer) == 0 {
			return b.reply(ctx, r.chat, text+"\n\nYou get them all. /unsubscribe stops them.", settingsButton())
		}
		return b.reply(ctx, r.chat, text+"\n\nTap one to subscribe.", b.lettersKeyboard(offer))
	}
	return b.subscribe(ctx, r.chat, subscribers.SourceTelegram, "")
}

// letter returns the newsletter slug names.
func (b *Bot) letter(slug string) (Letter, bool) {
	for _, l := range b.cfg.Letters {
		if l.Slug == slug && slug != "" {
			return l, true
		}
	}
	return Letter{}, false
}

// lettersKeyboard is one Subscribe button per newsletter.
func (b *Bot) lettersKeyboard(ls []Letter) *tgbotapi.InlineKeyboardMarkup {
	var rows [][]tgbotapi.InlineKeyboardButton
	for _, l := range ls {
		rows = append(rows, tgbotapi.NewInlineKeyboardRow(tgbotapi.NewInlineKeyboardButtonData("Subscribe to "+l.Title, cbLetter+l.Slug)))
	}
	kb := tgbotapi.NewInlineKeyboardMarkup(rows...)
	return &kb
}

// subscribe subscribes the chat to the newsletter slug ("": the default).
func (b *Bot) subscribe(ctx context.Context, chat int64, source, slug string) error {
	before, found, err := b.subscription(ctx, chat)
	if err != nil {
		return err
	}
	if found && before.Status == subscribers.Active && (slug == "" || slices.Contains(b.d.Subscriptions.LettersOf(before), slug)) {
		return b.reply(ctx, chat, "You are already subscribed. The next digest comes "+tghtml.Escape(b.when)+".", settingsButton())
	}
	sub, err := b.d.Subscriptions.SubscribeTelegramTo(ctx, chat, source, slug)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	b.log.InfoContext(ctx, "bot: subscribed", slog.Int64("subscription_id", sub.ID), slog.Int64("chat_id", chat),
		slog.String("source", source), slog.String("newsletter", slug))
	if l, ok := b.letter(slug); ok {
		return b.reply(ctx, chat, "Subscribed to <b>"+tghtml.Escape(l.Title)+"</b>! /subscribe lists the other newsletters, /unsubscribe stops them all.", settingsButton())
	}
	return b.reply(ctx, chat, "Subscribed! The digest comes "+tghtml.Escape(b.when)+
		".\n/settings picks your sections, /latest sends the last digest now, /unsubscribe stops it.", settingsButton())
}

func (b *Bot) cmdUnsubscribe(ctx context.Context, r request) error {
	return b.unsubscribe(ctx, r.chat)
}

func (b *Bot) unsubscribe(ctx context.Context, chat int64) error {
	sub, found, err := b.subscription(ctx, chat)
	if err != nil {
		return err
	}
	if !found || sub.Status != subscribers.Active && sub.Status != subscribers.Pending {
		return b.reply(ctx, chat, "You are not subscribed here. /subscribe starts the digest.", nil)
	}
	if _, err := b.d.Subscriptions.UnsubscribeTelegram(ctx, chat); err != nil {
		return fmt.Errorf("unsubscribe: %w", err)
	}
	return b.reply(ctx, chat, "Unsubscribed: no more digests here. /subscribe brings them back.", subscribeKeyboard(""))
}

func (b *Bot) cmdHelp(ctx context.Context, r request) error {
	return b.reply(ctx, r.chat, b.helpText(r.user), nil)
}

func (b *Bot) helpText(user int64) string {
	var s strings.Builder
	s.WriteString(b.intro())
	s.WriteString("\n<b>Commands</b>\n")
	for _, c := range telegram.ReaderCommands() {
		fmt.Fprintf(&s, "/%s — %s\n", c.Command, tghtml.Escape(c.Description))
	}
	if b.isAdmin(user) {
		s.WriteString("\n<b>Editors</b>\n")
		for _, c := range telegram.AdminCommands() {
			fmt.Fprintf(&s, "/%s — %s\n", c.Command, tghtml.Escape(c.Description))
		}
	}
	return s.String()
}

func (b *Bot) cmdEmail(ctx context.Context, r request) error {
	addr := strings.TrimSpace(r.args)
	if addr == "" {
		return b.reply(ctx, r.chat, "Send <code>/email you@example.com</code> to get the digest by email too.", nil)
	}
	var sections []string
	if sub, found, err := b.subscription(ctx, r.chat); err != nil {
		return err
	} else if found {
		sections = sub.Sections
	}
	err := b.d.Subscriptions.LinkEmail(ctx, addr, sections, subscribers.SourceTelegram)
	var ae *subscribers.AddressError
	switch {
	case errors.As(err, &ae):
		// AddressError.Reason carries no input back and is written for readers.
		// The reasons are whole sentences, full stop included.
		return b.reply(ctx, r.chat, "That is not an email address I can use: "+tghtml.Escape(ae.Reason), nil)
	case errors.Is(err, subscribers.ErrInvalidAddress):
		return b.reply(ctx, r.chat, "That is not an email address I can use.", nil)
	case err != nil:
		return fmt.Errorf("link email: %w", err)
	}
	// The same answer whether or not the address was known (SPEC §6).
	return b.reply(ctx, r.chat, "Check your inbox: we sent a confirmation link to <b>"+tghtml.Escape(clip(addr, 254))+
		"</b>. The email digest starts once you click it.", nil)
}

func (b *Bot) cmdLatest(ctx context.Context, r request) error {
	ed, ok, err := b.latestSent(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return b.reply(ctx, r.chat, "There is no digest yet. The first one comes "+tghtml.Escape(b.when)+".", nil)
	}
	var sections []string
	if sub, found, err := b.subscription(ctx, r.chat); err != nil {
		return err
	} else if found && sub.Status == subscribers.Active {
		sections = sub.Sections
	}
	err = b.d.Digests.Deliver(ctx, r.chat, ed, sections)
	if errors.Is(err, telegram.ErrNothingToSend) {
		return b.reply(ctx, r.chat, "The last edition ("+tghtml.Escape(ed.Date)+") had nothing in your sections. /settings changes them.", nil)
	}
	if err != nil {
		return fmt.Errorf("latest: edition %d: %w", ed.ID, err)
	}
	return nil
}

// latestSent is the newest edition that went out (or is going out).
func (b *Bot) latestSent(ctx context.Context) (digest.Edition, bool, error) {
	eds, err := b.d.Store.ListEditions(ctx, b.cfg.Newsletter, 10)
	if err != nil {
		return digest.Edition{}, false, fmt.Errorf("list editions: %w", err)
	}
	for _, ed := range eds {
		if ed.Status == digest.StatusSent || ed.Status == digest.StatusSending {
			return ed, true, nil
		}
	}
	return digest.Edition{}, false, nil
}

// ---- settings ----

func (b *Bot) cmdSettings(ctx context.Context, r request) error {
	sub, found, err := b.subscription(ctx, r.chat)
	if err != nil {
		return err
	}
	if !found || sub.Status != subscribers.Active {
		return b.reply(ctx, r.chat, "Subscribe first; then you can pick your sections here.", subscribeKeyboard(""))
	}
	if r.args != "" {
		return b.setHour(ctx, r, sub)
	}
	if len(b.cfg.Sections) == 0 {
		return b.reply(ctx, r.chat, "This newsletter has no sections to choose from: you get every headline.\n\n"+b.whenText(sub), nil)
	}
	text, kb := b.settingsView(sub)
	return b.reply(ctx, r.chat, text+"\n\n"+b.whenText(sub), kb)
}

// settingsUsage says how to set the hour.
const settingsUsage = "To get it at an hour of your own, send /settings HOUR ZONE, e.g. <code>/settings 7 Europe/Berlin</code> " +
	"(hours 0–23, the zone by its name); <code>/settings newsletter</code> goes back to the newsletter's time."

// whenText is the settings' delivery-time paragraph.
func (b *Bot) whenText(sub subscribers.Subscription) string {
	now := "with the newsletter (" + tghtml.Escape(DescribeSchedule(b.cfg.Schedule, b.cfg.Location)) + ")"
	if sub.Local != nil {
		now = "at " + tghtml.Escape(sub.Local.String())
	}
	return "<b>When</b>: " + now + ".\n" + settingsUsage
}

// setHour is /settings HOUR ZONE (or /settings newsletter).
func (b *Bot) setHour(ctx context.Context, r request, sub subscribers.Subscription) error {
	var lt *subscribers.LocalTime
	fields := strings.Fields(r.args)
	switch {
	case len(fields) == 1 && slices.Contains([]string{"newsletter", "default", "off", "reset"}, strings.ToLower(fields[0])):
	case len(fields) == 2:
		h, err := strconv.Atoi(strings.TrimSuffix(fields[0], ":00"))
		if err != nil {
			return b.reply(ctx, r.chat, "That hour is not a number. "+settingsUsage, nil)
		}
		parsed, err := subscribers.ParseLocalTime(fields[1], h)
		if err != nil {
			return b.reply(ctx, r.chat, tghtml.Escape(err.Error())+". "+settingsUsage, nil)
		}
		lt = &parsed
	default:
		return b.reply(ctx, r.chat, settingsUsage, nil)
	}
	updated, err := b.d.Subscriptions.SetLocalTimeByID(ctx, sub.ID, lt)
	if err != nil {
		return fmt.Errorf("set delivery hour of %d: %w", sub.ID, err)
	}
	if updated.Local == nil {
		return b.reply(ctx, r.chat, "Saved: your digest comes with the newsletter ("+tghtml.Escape(DescribeSchedule(b.cfg.Schedule, b.cfg.Location))+"), from the next edition.", nil)
	}
	return b.reply(ctx, r.chat, "Saved: your digest comes at "+tghtml.Escape(updated.Local.String())+", from the next edition.", nil)
}

// chosen is the set of sections a subscription gets (none stored: all),
// limited to the sections that exist now.
func (b *Bot) chosen(sub subscribers.Subscription) []string {
	if len(sub.Sections) == 0 {
		return slices.Clone(b.cfg.Sections)
	}
	var out []string
	for _, s := range b.cfg.Sections {
		if slices.Contains(sub.Sections, s) {
			out = append(out, s)
		}
	}
	return out
}

func (b *Bot) settingsView(sub subscribers.Subscription) (string, *tgbotapi.InlineKeyboardMarkup) {
	on := b.chosen(sub)
	var s strings.Builder
	s.WriteString("<b>Your sections</b>\nTap a section to switch it on or off.\n\nNow: ")
	if len(on) == len(b.cfg.Sections) {
		s.WriteString("every section.")
	} else {
		s.WriteString(tghtml.Escape(joinWords(on)) + ".")
	}
	var rows [][]tgbotapi.InlineKeyboardButton
	var row []tgbotapi.InlineKeyboardButton
	for i, name := range b.cfg.Sections {
		mark := "▫️ "
		if slices.Contains(on, name) {
			mark = "✅ "
		}
		// Button text is plain text, not HTML; callback data is the index.
		row = append(row, tgbotapi.NewInlineKeyboardButtonData(mark+clip(name, 40), cbSection+strconv.Itoa(i)))
		if len(row) == 2 {
			rows = append(rows, row)
			row = nil
		}
	}
	if row != nil {
		rows = append(rows, row)
	}
	rows = append(rows, tgbotapi.NewInlineKeyboardRow(tgbotapi.NewInlineKeyboardButtonData("All sections", cbSectionAll)))
	kb := tgbotapi.NewInlineKeyboardMarkup(rows...)
	return s.String(), &kb
}

// toggle applies a section button to the subscription and returns the
// toast to show.
func (b *Bot) toggle(ctx context.Context, sub subscribers.Subscription, data string) (subscribers.Subscription, string, error) {
	var next []string
	if data == cbSectionAll {
		next = slices.Clone(b.cfg.Sections)
	} else {
		i, err := strconv.Atoi(strings.TrimPrefix(data, cbSection))
		if err != nil || i < 0 || i >= len(b.cfg.Sections) {
			return sub, "That button is out of date; send /settings again.", nil
		}
		name := b.cfg.Sections[i]
		on := b.chosen(sub)
		if slices.Contains(on, name) {
			next = slices.DeleteFunc(on, func(s string) bool { return s == name })
		} else {
			next = append(on, name)
		}
		if len(next) == 0 {
			return sub, "Keep at least one section; /unsubscribe stops the digest.", nil
		}
	}
	updated, err := b.d.Subscriptions.SetSectionsByID(ctx, sub.ID, next)
	if errors.Is(err, subscribers.ErrNoSections) {
		return sub, "Keep at least one section; /unsubscribe stops the digest.", nil
	}
	if err != nil {
		return sub, "", fmt.Errorf("set sections of %d: %w", sub.ID, err)
	}
	return updated, "Saved", nil
}

// ---- buttons ----

// onCallback answers an inline button. Every callback query is answered,
// or the reader's client shows a spinner until it times out
// (https://core.telegram.org/bots/api#answercallbackquery).
func (b *Bot) onCallback(ctx context.Context, q *tgbotapi.CallbackQuery) error {
	toast, err := b.callback(ctx, q)
	if aerr := b.d.Telegram.AnswerCallbackQuery(ctx, q.ID, toast); aerr != nil {
		b.log.WarnContext(ctx, "bot: answer callback", slog.String("error", aerr.Error()))
	}
	return err
}

func (b *Bot) callback(ctx context.Context, q *tgbotapi.CallbackQuery) (string, error) {
	if q.Message == nil || q.Message.Chat == nil {
		return "", nil // a button on an inline message: not ours
	}
	chat := q.Message.Chat.ID
	data := q.Data
	switch {
	case data == cbSubscribe || strings.HasPrefix(data, cbSubscribe+":"):
		source := sourceOf(strings.TrimPrefix(strings.TrimPrefix(data, cbSubscribe), ":"))
		if source == "" {
			source = subscribers.SourceTelegram
		}
		return "", b.subscribe(ctx, chat, source, "")
	case strings.HasPrefix(data, cbLetter):
		l, ok := b.letter(strings.TrimPrefix(data, cbLetter))
		if !ok {
			return "That newsletter is no longer offered.", nil
		}
		return "", b.subscribe(ctx, chat, subscribers.SourceTelegram, l.Slug)
	case data == telegram.CallbackUnsubscribe:
		return "", b.unsubscribe(ctx, chat)
	case data == telegram.CallbackSettings:
		return "", b.cmdSettings(ctx, request{chat: chat, chatTyp: q.Message.Chat.Type})
	case strings.HasPrefix(data, cbSection):
		sub, found, err := b.subscription(ctx, chat)
		if err != nil {
			return "", err
		}
		if !found || sub.Status != subscribers.Active {
			return "You are not subscribed here; /subscribe first.", nil
		}
		updated, toast, err := b.toggle(ctx, sub, data)
		if err != nil {
			return "", err
		}
		text, kb := b.settingsView(updated)
		if err := b.d.Telegram.EditMessageText(ctx, chat, q.Message.MessageID, text, kb); err != nil {
			return toast, fmt.Errorf("bot: edit settings in chat %d: %w", chat, err)
		}
		return toast, nil
	}
	return "That button is out of date.", nil
}

// joinWords joins "a", "b" and "c" as "a, b and c".
func joinWords(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

// cmdForgetMe erases what is stored about this chat: its subscription and
// its deliveries (kept only as anonymous counts per edition). An email
// address the chat subscribed with /email is its own subscription: the
// reply says how to erase it.
func (b *Bot) cmdForgetMe(ctx context.Context, r request) error {
	n, err := b.d.Store.ForgetSubscriber(ctx, strconv.FormatInt(r.chat, 10))
	if err != nil {
		return fmt.Errorf("forgetme: %w", err)
	}
	if n == 0 {
		return b.reply(ctx, r.chat, "Nothing is stored about this chat. /subscribe starts the digest.", nil)
	}
	b.d.Log.InfoContext(ctx, "telegram: chat erased on request (/forgetme)")
	return b.reply(ctx, r.chat, "Done: this chat's subscription and delivery history are erased. "+
		"An email address you subscribed with /email is kept until you unsubscribe it from any digest email. "+
		"/subscribe starts again.", subscribeKeyboard(""))
}
