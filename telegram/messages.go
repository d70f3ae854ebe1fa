package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// maxRateLimitRetries is how many 429s one message may get before the
// caller is told to try later.
const maxRateLimitRetries = 5

// Message is one sendMessage (https://core.telegram.org/bots/api#sendmessage).
// Text is in the HTML parse mode: every outside string in it must have gone
// through tghtml.Escape.
type Message struct {
	Chat     string // chat id in decimal, or "@channelusername"
	Text     string
	Keyboard *tgbotapi.InlineKeyboardMarkup // nil: none
	// Preview keeps link previews; by default they are off
	// (link_preview_options.is_disabled), as SPEC §5 asks for digests.
	Preview bool
	// Paid sets allow_paid_broadcast: the message may go above the free
	// 30/s broadcast limit, for a fee. Only digest messages set it.
	Paid bool
}

// ChatID formats a numeric chat id for Message.Chat.
func ChatID(id int64) string { return strconv.FormatInt(id, 10) }

// linkPreviewOptions is the Bot API's LinkPreviewOptions (Bot API 7.0),
// which v5.5.1 predates; it goes through MakeRequest as JSON.
type linkPreviewOptions struct {
	IsDisabled bool `json:"is_disabled"`
}

func (m Message) params() (tgbotapi.Params, error) {
	p := tgbotapi.Params{
		"chat_id":    m.Chat,
		"text":       m.Text,
		"parse_mode": tgbotapi.ModeHTML,
	}
	if !m.Preview {
		if err := p.AddInterface("link_preview_options", linkPreviewOptions{IsDisabled: true}); err != nil {
			return nil, err
		}
	}
	if m.Keyboard != nil {
		if err := p.AddInterface("reply_markup", m.Keyboard); err != nil {
			return nil, err
		}
	}
	p.AddBool("allow_paid_broadcast", m.Paid)
	return p, nil
}

// SendMessage sends m through the limiter. A 429 holds the limiter (every
// sender of this client) for retry_after and the message is resent, up to
// a few times; any other refusal is returned as an *APIError (see Classify).
func (c *Client) SendMessage(ctx context.Context, m Message) (tgbotapi.Message, error) {
	res, err := c.send(ctx, m)
	if err != nil {
		return tgbotapi.Message{}, err
	}
	var msg tgbotapi.Message
	if err := json.Unmarshal(res, &msg); err != nil {
		// The message went out: an error here would make a caller send it
		// again.
		c.log.WarnContext(ctx, "telegram: sendMessage result not understood", slog.String("error", err.Error()))
	}
	return msg, nil
}

// send is SendMessage without decoding the result (the Sender does not
// need it).
func (c *Client) send(ctx context.Context, m Message) (json.RawMessage, error) {
	params, err := m.params()
	if err != nil {
		return nil, fmt.Errorf("telegram: sendMessage: %w", err)
	}
	return c.limited(ctx, "sendMessage", m.Chat, params)
}

// EditMessageText replaces the text and buttons of a message the bot sent
// (https://core.telegram.org/bots/api#editmessagetext). "message is not
// modified" (the same text and buttons) is not an error.
func (c *Client) EditMessageText(ctx context.Context, chatID int64, messageID int, text string, kb *tgbotapi.InlineKeyboardMarkup) error {
	m := Message{Chat: ChatID(chatID), Text: text, Keyboard: kb}
	p, err := m.params()
	if err != nil {
		return fmt.Errorf("telegram: editMessageText: %w", err)
	}
	p["message_id"] = strconv.Itoa(messageID)
	_, err = c.limited(ctx, "editMessageText", m.Chat, p)
	var ae *APIError
	if errors.As(err, &ae) && strings.Contains(ae.Description, "message is not modified") {
		return nil
	}
	return err
}

// AnswerCallbackQuery stops the client's spinner on an inline button
// (https://core.telegram.org/bots/api#answercallbackquery); text, if any,
// shows as a toast.
func (c *Client) AnswerCallbackQuery(ctx context.Context, id, text string) error {
	p := tgbotapi.Params{"callback_query_id": id}
	p.AddNonEmpty("text", text)
	_, err := c.Call(ctx, "answerCallbackQuery", p)
	return err
}

// limited runs a message-sending method through the limiter, resending
// after 429s.
func (c *Client) limited(ctx context.Context, method, chat string, params tgbotapi.Params) (json.RawMessage, error) {
	for attempt := 0; ; attempt++ {
		if err := c.limiter.Wait(ctx, chat); err != nil {
			return nil, fmt.Errorf("telegram: %s: %w", method, err)
		}
		// Once its slot has come, a request is not cancelled with the
		// caller: a batch whose time slice ends, or a stopping process,
		// would otherwise drop requests Telegram may already have
		// delivered, and the retry would send the reader a second copy.
		// The request timeout still bounds it.
		res, err := c.Call(context.WithoutCancel(ctx), method, params)
		if err == nil {
			c.sent.Add(1)
		}
		if Classify(err) != ClassRateLimited {
			return res, err
		}
		c.rateLimited.Add(1)
		var ae *APIError
		errors.As(err, &ae)
		wait := ae.RetryAfter
		if wait <= 0 {
			wait = c.limiter.ChatInterval(chat)
		}
		c.limiter.Hold(wait)
		if err := c.limiter.HoldShared(ctx, wait); err != nil {
			c.log.WarnContext(ctx, "telegram: flood control not shared with the other instances", slog.Any("error", err))
		}
		c.log.WarnContext(ctx, "telegram: flood control, holding all sends",
			slog.String("method", method), slog.Duration("retry_after", wait), slog.Int("attempt", attempt+1))
		if attempt+1 >= maxRateLimitRetries {
			return nil, err
		}
	}
}
