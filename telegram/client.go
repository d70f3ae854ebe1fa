// Package telegram is digestbot's Bot API client: a thin layer over
// go-telegram-bot-api v5.5.1 that adds what the library lacks — a
// context on every request, an update loop that honours retry_after and can
// be cancelled, one shared rate limiter for everything the bot sends, the
// Bot API's error classes, fields such as link_preview_options and
// allow_paid_broadcast — and the Telegram channel of the delivery fan-out
// (Sender).
//
// The token is a secret: it is part of every Bot API URL
// (https://core.telegram.org/bots/api#making-requests), so nothing here logs
// a URL, and network errors are rewritten to drop it (see redactDoer).
package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// Defaults. Telegram's FAQ ("My bot is hitting limits, how do I avoid
// this?", https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this):
// no more than about 30 messages per second in bulk, about one per second in
// one chat, 20 per minute in one group. sendMessage's allow_paid_broadcast
// raises the first to 1000 per second for a fee.
const (
	DefaultRatePerSecond = 30
	PaidRatePerSecond    = 1000
	DefaultPollTimeout   = 30 * time.Second
	// DefaultRequestTimeout bounds every call except the long poll.
	DefaultRequestTimeout = 20 * time.Second
	// ChatInterval and GroupInterval space messages to one chat.
	ChatInterval  = time.Second
	GroupInterval = 3 * time.Second // 20 per minute
)

// Config configures a Client. Only Token is required.
type Config struct {
	Token string
	// APIEndpoint is a format with two %s verbs, the token and the method:
	// "https://api.telegram.org/bot%s/%s" (the default) or a local Bot API
	// server / fake such as "http://127.0.0.1:8081/bot%s/%s"
	// (telegram.api_endpoint).
	APIEndpoint string
	// RatePerSecond caps everything the bot sends (telegram.rate_per_second).
	// 0 means the default: 30, or 1000 with PaidBroadcast. Telegram enforces
	// a cap of its own, so "no cap" is not offered: a negative value is
	// treated as 0.
	RatePerSecond float64
	// PaidBroadcast sets allow_paid_broadcast on digest messages
	// (telegram.paid_broadcast); RatePerSecond may then go up to 1000.
	PaidBroadcast bool
	// PollTimeout is getUpdates' long-poll timeout (default 30 s).
	PollTimeout time.Duration
	// RequestTimeout bounds every other call (default 20 s).
	RequestTimeout time.Duration
	// HTTPClient is used for every request. nil: a client whose Timeout is
	// PollTimeout + 15 s, so that a long poll is never cut by the client
	// while a dead connection still ends.
	HTTPClient *http.Client
	Log        *slog.Logger
	// Now and Sleep drive the limiter and the backoffs; nil means the real
	// clock. Tests inject a fake clock.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client is a Bot API client safe for concurrent use. Construct it with New.
type Client struct {
	api            *tgbotapi.BotAPI // template: copied per request (see do)
	http           *http.Client
	log            *slog.Logger
	limiter        *Limiter
	paid           bool
	pollTimeout    time.Duration
	requestTimeout time.Duration
	sleep          func(ctx context.Context, d time.Duration) error
	now            func() time.Time

	sent, rateLimited atomic.Int64
}

// ClientStats counts what a Client sent.
type ClientStats struct {
	Sent        int64 // messages accepted (sendMessage, editMessageText)
	RateLimited int64 // 429 answers
}

// Stats returns the counters since New.
func (c *Client) Stats() ClientStats {
	return ClientStats{Sent: c.sent.Load(), RateLimited: c.rateLimited.Load()}
}

// New checks the token with getMe (as tgbotapi.NewBotAPIWithClient does)
// and returns a Client. ctx bounds that first call.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Token == "" {
		return nil, errors.New("telegram: no token")
	}
	if cfg.APIEndpoint == "" {
		cfg.APIEndpoint = tgbotapi.APIEndpoint
	}
	if strings.Count(cfg.APIEndpoint, "%s") != 2 {
		return nil, fmt.Errorf("telegram: api_endpoint must contain two %%s (token, method), like %q", tgbotapi.APIEndpoint)
	}
	if cfg.PollTimeout <= 0 {
		cfg.PollTimeout = DefaultPollTimeout
	}
	// getUpdates takes whole seconds; 0 would be short polling, a busy loop.
	cfg.PollTimeout = max(cfg.PollTimeout.Truncate(time.Second), time.Second)
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepCtx
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		// The sender keeps many requests in flight to one host; the default
		// of 2 idle connections per host would reconnect for most of them.
		tr.MaxIdleConnsPerHost = 64
		hc = &http.Client{Timeout: cfg.PollTimeout + 15*time.Second, Transport: tr}
	}
	rate := cfg.RatePerSecond
	if rate <= 0 {
		rate = DefaultRatePerSecond
		if cfg.PaidBroadcast {
			rate = PaidRatePerSecond
		}
	}
	if cfg.PaidBroadcast && rate > PaidRatePerSecond {
		rate = PaidRatePerSecond
	}
	if !cfg.PaidBroadcast && rate > DefaultRatePerSecond {
		cfg.Log.Warn("telegram: rate_per_second above Telegram's free broadcast limit; expect 429s unless paid_broadcast is on",
			slog.Float64("rate_per_second", rate))
	}

	c := &Client{
		http:           hc,
		log:            cfg.Log,
		limiter:        NewLimiter(rate, cfg.Now, cfg.Sleep),
		paid:           cfg.PaidBroadcast,
		pollTimeout:    cfg.PollTimeout,
		requestTimeout: cfg.RequestTimeout,
		sleep:          cfg.Sleep,
		now:            cfg.Now,
	}
	// NewBotAPIWithClient calls getMe without a context; give it a doer bound
	// to ctx, then keep the BotAPI only as a template. Debug stays false: the
	// library's debug log prints every request's parameters.
	rctx, cancel := context.WithTimeout(ctx, cfg.RequestTimeout)
	defer cancel()
	api, err := tgbotapi.NewBotAPIWithClient(cfg.Token, cfg.APIEndpoint, &redactDoer{ctx: rctx, c: hc, token: cfg.Token})
	if err != nil {
		return nil, convertErr("getMe", err)
	}
	api.Debug = false
	c.api = api
	return c, nil
}

// Username is the bot's @username without the "@".
func (c *Client) Username() string { return c.api.Self.UserName }

// Limiter is the rate limiter every message of this client goes through.
func (c *Client) Limiter() *Limiter { return c.limiter }

// Call makes one Bot API request, bounded by ctx and the request timeout.
// It does not wait for the limiter: use SendMessage for messages. A refusal
// is an *APIError.
func (c *Client) Call(ctx context.Context, method string, params tgbotapi.Params) (json.RawMessage, error) {
	rctx, cancel := context.WithTimeout(ctx, c.requestTimeout)
	defer cancel()
	res, err := c.do(rctx, method, params)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		// The request's own timeout, not the caller giving up: the Bot API
		// did not answer in time, a network failure like any other.
		return nil, fmt.Errorf("telegram: %s: %w", method, &NetError{Err: fmt.Errorf("no answer within %s", c.requestTimeout)})
	}
	return res, err
}

// do runs MakeRequest on a shallow copy of the template BotAPI whose HTTP
// client carries ctx. MakeRequest in v5.5.1 builds its request with
// http.NewRequest (no context) and has no per-call client; copying the
// struct is cheap, keeps the library's form encoding and error decoding, and
// makes every call cancellable without touching shared state.
func (c *Client) do(ctx context.Context, method string, params tgbotapi.Params) (json.RawMessage, error) {
	api := *c.api
	api.Client = &redactDoer{ctx: ctx, c: c.http, token: c.api.Token}
	resp, err := api.MakeRequest(method, params)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("telegram: %s: %w", method, ctx.Err())
		}
		return nil, convertErr(method, err)
	}
	return resp.Result, nil
}

// redactDoer binds a request to a context and removes the token from
// transport errors: *url.Error prints the full request URL, which holds the
// bot token ("https://api.telegram.org/bot<token>/sendMessage").
type redactDoer struct {
	ctx   context.Context
	c     *http.Client
	token string
}

func (d *redactDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.c.Do(req.WithContext(d.ctx))
	if err != nil {
		return nil, &NetError{Err: redactErr(err, d.token)}
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK && !strings.HasPrefix(ct, "application/json") {
		// Something between us and the Bot API answered (a proxy's 502
		// page): the library would only report a JSON syntax error.
		resp.Body.Close()
		return nil, &NetError{Err: fmt.Errorf("HTTP %d (%s)", resp.StatusCode, ct), Status: resp.StatusCode}
	}
	return resp, nil
}

func redactErr(err error, token string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: RedactURL(ue.URL, token), Err: ue.Err}
	}
	if token != "" && strings.Contains(err.Error(), token) {
		return errors.New(strings.ReplaceAll(err.Error(), token, "<token>"))
	}
	return err
}

// RedactURL replaces the token in a Bot API URL with "<token>".
func RedactURL(u, token string) string {
	if token == "" {
		return u
	}
	return strings.ReplaceAll(u, token, "<token>")
}

// NetError is a request that got no answer from the Bot API: a network
// error, a timeout, or an HTTP error page from something in between. It is
// always temporary.
type NetError struct {
	Err    error
	Status int // HTTP status when a non-API page answered, else 0
}

func (e *NetError) Error() string { return "network: " + e.Err.Error() }
func (e *NetError) Unwrap() error { return e.Err }

// APIError is a request the Bot API refused ("ok": false). Description is
// Telegram's text, e.g. "Forbidden: bot was blocked by the user"; the
// ResponseParameters say when to retry or where a group moved
// (https://core.telegram.org/bots/api#responseparameters).
type APIError struct {
	Method      string
	Code        int
	Description string
	RetryAfter  time.Duration // 429: parameters.retry_after
	MigrateTo   int64         // 400: parameters.migrate_to_chat_id
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("telegram: %s: %d %s", e.Method, e.Code, e.Description)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	if e.MigrateTo != 0 {
		s += " (migrate to " + strconv.FormatInt(e.MigrateTo, 10) + ")"
	}
	return s
}

func convertErr(method string, err error) error {
	var te *tgbotapi.Error
	if errors.As(err, &te) {
		return &APIError{
			Method: method, Code: te.Code, Description: te.Message,
			RetryAfter: time.Duration(te.RetryAfter) * time.Second,
			MigrateTo:  te.MigrateToChatID,
		}
	}
	var ne *NetError
	if errors.As(err, &ne) {
		return fmt.Errorf("telegram: %s: %w", method, err)
	}
	// A body that is not a Bot API answer (decode error): temporary too.
	return fmt.Errorf("telegram: %s: %w", method, &NetError{Err: err})
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
