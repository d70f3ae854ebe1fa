package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// OffsetKey is the state key under which Poller keeps the next update id.
const OffsetKey = "telegram.update_offset"

// DefaultAllowedUpdates are the update types the bot handles
// (https://core.telegram.org/bots/api#update). my_chat_member must be asked
// for: it is how a private chat says the reader blocked the bot.
func DefaultAllowedUpdates() []string {
	return []string{"message", "callback_query", "my_chat_member", "channel_post"}
}

// StateStore keeps small values across restarts; *store.Store implements it.
type StateStore interface {
	GetState(ctx context.Context, key string) (string, error) // "" when absent
	SetState(ctx context.Context, key, value string) error
}

// Poll makes one getUpdates long poll (https://core.telegram.org/bots/api#getupdates):
// it returns as soon as updates with an id ≥ offset exist, or empty after the
// poll timeout. Calling it with offset = last update_id + 1 confirms the
// earlier updates, so Telegram forgets them. It ends early when ctx does.
//
// The library's GetUpdatesChan is not used: it cannot be cancelled, sleeps a
// fixed 3 s on any error (429's retry_after ignored) and logs through the
// standard logger. This loop is Poller.Run.
func (c *Client) Poll(ctx context.Context, offset int, allowed []string) ([]tgbotapi.Update, error) {
	p := tgbotapi.Params{}
	p.AddNonZero("offset", offset)
	p.AddNonZero("timeout", int(c.pollTimeout/time.Second))
	if allowed != nil {
		if err := p.AddInterface("allowed_updates", allowed); err != nil {
			return nil, err
		}
	}
	// The HTTP client's own timeout exceeds the poll timeout; this bound
	// also holds when the caller passed a client without one.
	ctx, cancel := context.WithTimeout(ctx, c.pollTimeout+15*time.Second)
	defer cancel()
	res, err := c.do(ctx, "getUpdates", p)
	if err != nil {
		return nil, err
	}
	var ups []tgbotapi.Update
	if err := json.Unmarshal(res, &ups); err != nil {
		return nil, fmt.Errorf("telegram: getUpdates: decode: %w", err)
	}
	return ups, nil
}

// Poller is the bot's update loop.
type Poller struct {
	Client *Client
	// State keeps the offset, so that a restart does not hand the same
	// commands to Handle again. nil keeps it in memory only.
	State StateStore
	// Handle is called for each update, in order, one at a time. Its error
	// is logged; the update counts as handled either way (a poison update
	// must not stop the bot).
	Handle func(ctx context.Context, u tgbotapi.Update) error
	// AllowedUpdates: nil means DefaultAllowedUpdates().
	AllowedUpdates []string
	Log            *slog.Logger
	// Backoff after a network error or 5xx: MinBackoff doubling up to
	// MaxBackoff (defaults 1 s and 1 min). ConflictDelay is the wait after
	// a second 409 in a row (default 30 s).
	MinBackoff, MaxBackoff, ConflictDelay time.Duration
}

// Run polls until ctx ends, then returns nil. Errors are logged and waited
// out: 429 for retry_after, network errors and 5xx with exponential backoff,
// 409 Conflict (another instance or a webhook on this token) slowly.
func (p *Poller) Run(ctx context.Context) error {
	if p.Client == nil || p.Handle == nil {
		return errors.New("telegram: Poller needs a Client and a Handle func")
	}
	log := p.Log
	if log == nil {
		log = p.Client.log
	}
	minB, maxB, conflictDelay := p.MinBackoff, p.MaxBackoff, p.ConflictDelay
	if minB <= 0 {
		minB = time.Second
	}
	if maxB <= 0 {
		maxB = time.Minute
	}
	if conflictDelay <= 0 {
		conflictDelay = 30 * time.Second
	}
	allowed := p.AllowedUpdates
	if allowed == nil {
		allowed = DefaultAllowedUpdates()
	}
	offset, err := p.loadOffset(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	log.InfoContext(ctx, "telegram: polling for updates", slog.String("bot", p.Client.Username()), slog.Int("offset", offset))

	var backoff time.Duration
	conflicts := 0
	for ctx.Err() == nil {
		ups, err := p.Client.Poll(ctx, offset, allowed)
		if err != nil {
			var wait time.Duration
			var ae *APIError
			errors.As(err, &ae)
			switch Classify(err) {
			case ClassCanceled:
				if ctx.Err() != nil {
					return nil
				}
				wait, backoff = nextBackoff(backoff, minB, maxB)
				log.WarnContext(ctx, "telegram: getUpdates timed out", slog.Duration("retry_in", wait))
			case ClassRateLimited:
				wait = max(ae.RetryAfter, time.Second)
				log.WarnContext(ctx, "telegram: getUpdates flood control", slog.Duration("retry_after", wait))
			case ClassConflict:
				// Telegram gives the updates of a token to one poller only:
				// "Conflict: terminated by other getUpdates request" means
				// another process polls with this token, "can't use getUpdates
				// method while webhook is active" that a webhook is set.
				conflicts++
				wait = conflictDelay
				if conflicts == 1 {
					wait = minB // a restart's previous poll may still be open
				}
				log.ErrorContext(ctx, "telegram: another instance or a webhook is using this bot token; stop it (or call deleteWebhook) so this one gets updates",
					slog.String("error", ae.Description), slog.Duration("retry_in", wait))
			case ClassUnauthorized:
				wait = maxB
				log.ErrorContext(ctx, "telegram: the Bot API refused the token (revoked or wrong?)",
					slog.String("error", ae.Description), slog.Duration("retry_in", wait))
			default:
				wait, backoff = nextBackoff(backoff, minB, maxB)
				log.WarnContext(ctx, "telegram: getUpdates failed", slog.String("error", err.Error()), slog.Duration("retry_in", wait))
			}
			if p.Client.sleep(ctx, wait) != nil {
				return nil
			}
			continue
		}
		backoff, conflicts = 0, 0
		for _, u := range ups {
			if u.UpdateID < offset {
				continue // confirmed before; a server may resend
			}
			p.handle(ctx, log, u)
			offset = u.UpdateID + 1
			if p.State != nil {
				// Stored after each update, not each batch: a crash replays
				// at most the update being handled.
				if err := p.State.SetState(context.WithoutCancel(ctx), OffsetKey, strconv.Itoa(offset)); err != nil {
					log.ErrorContext(ctx, "telegram: store update offset", slog.Int("offset", offset), slog.String("error", err.Error()))
				}
			}
		}
	}
	return nil
}

func (p *Poller) loadOffset(ctx context.Context) (int, error) {
	if p.State == nil {
		return 0, nil
	}
	v, err := p.State.GetState(ctx, OffsetKey)
	if err != nil {
		return 0, fmt.Errorf("telegram: load update offset: %w", err)
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("telegram: stored update offset %q: %w", v, err)
	}
	return n, nil
}

func (p *Poller) handle(ctx context.Context, log *slog.Logger, u tgbotapi.Update) {
	defer func() {
		if r := recover(); r != nil {
			log.ErrorContext(ctx, "telegram: update handler panicked", slog.Int("update_id", u.UpdateID),
				slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
		}
	}()
	if err := p.Handle(ctx, u); err != nil {
		log.ErrorContext(ctx, "telegram: handle update", slog.Int("update_id", u.UpdateID), slog.String("error", err.Error()))
	}
}

func nextBackoff(cur, lo, hi time.Duration) (wait, next time.Duration) {
	next = min(max(2*cur, lo), hi)
	return next, next
}
