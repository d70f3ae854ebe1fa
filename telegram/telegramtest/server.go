// Package telegramtest is a fake Bot API server for tests and benchmarks.
// It answers like api.telegram.org for the methods digestbot uses —
// getMe, getUpdates (long polling, offsets, 409 on overlapping polls),
// sendMessage, editMessageText, answerCallbackQuery, setMyCommands,
// deleteWebhook, getWebhookInfo — with Telegram's JSON shapes and error
// texts, and enforces what the real server enforces: the broadcast rate (30
// messages per second, 1000 with allow_paid_broadcast), about one message
// per second per chat and 20 per minute per group (429 "Too Many Requests:
// retry after N" with parameters.retry_after), blocked and unknown chats,
// group migration (parameters.migrate_to_chat_id), strict HTML parse mode
// (tghtml) and the 4096-character limit.
//
// Usage:
//
//	srv := telegramtest.NewServer(telegramtest.Options{})
//	defer srv.Close()
//	client, _ := telegram.New(ctx, telegram.Config{Token: srv.Token(), APIEndpoint: srv.Endpoint()})
//	srv.PushMessage(42, 42, "/start")
//	msgs, _ := srv.WaitMessages(ctx, 42, 1)
package telegramtest

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Server. The zero value behaves like Telegram.
type Options struct {
	Token       string // default "123456:TEST-fake-token"
	BotID       int64  // default 123456
	BotUsername string // default "digest_test_bot"

	// GlobalRate is the broadcast limit in messages per second (default
	// 30; negative: none). PaidRate applies to messages sent with
	// allow_paid_broadcast (default 1000).
	GlobalRate, PaidRate float64
	// GlobalTolerance is how far ahead of the global schedule a burst may
	// run (GCRA tolerance; default 1 s, one second's worth of messages, as
	// "30 messages per second" reads). The long-run rate is held exactly: a
	// client 3 % too fast exhausts the tolerance within a minute and gets
	// 429s. The tolerance absorbs what scheduling does to a client that
	// paces correctly — the fake runs in the client's process, and a stall
	// of D makes the server see D·rate requests at once — and Telegram
	// itself "may allow short bursts" (Bots FAQ).
	GlobalTolerance time.Duration
	// SlidingWindow replaces the global GCRA by a strict count: at most
	// GlobalRate (or PaidRate) messages in any window of one second, as
	// some flood controls count. A client spacing messages exactly 1/rate
	// apart gets 429s from it now and then (31 fall within a closed second).
	SlidingWindow bool
	// ChatInterval and GroupInterval space messages within one private chat
	// (default 1 s) and one group or channel (default 3 s: 20 per minute);
	// ChatTolerance is their burst tolerance (default 250 ms). Negative
	// intervals switch the per-chat limit off.
	ChatInterval, GroupInterval, ChatTolerance time.Duration

	// AllChatsKnown makes every chat reachable without a prior update
	// (benchmarks with thousands of readers). Otherwise a chat is known once
	// it sent an update or was added with AddChat, and other chats get
	// "Bad Request: chat not found".
	AllChatsKnown bool

	// FailRate is the share of sendMessage calls answered 500 Internal
	// Server Error before anything is done; LoseReplyRate the share of
	// accepted messages whose answer is lost (the connection closed
	// after the message was stored: the client cannot know it went).
	// Chosen by a seeded generator, so a run is repeatable.
	FailRate, LoseReplyRate float64

	// Now is the server's clock (default time.Now).
	Now func() time.Time
}

// Server is a running fake Bot API. All methods are safe for concurrent use.
type Server struct {
	opts Options
	http *httptest.Server

	mu       sync.Mutex
	chats    map[int64]*chat
	byName   map[string]int64 // channel @username → id
	updates  []*apiUpdate     // not yet confirmed
	nextUpd  int
	allowed  []string // allowed_updates of the last getUpdates that set it
	webhook  string
	poll     chan struct{} // closed to terminate the running getUpdates
	wake     chan struct{} // closed (and replaced) when something happens
	global   gcra
	window   []time.Time // SlidingWindow: times of the messages counted, oldest first
	queries  map[string]*callback
	commands map[string][]BotCommand
	sent     []Message // every accepted message, in order
	times    []time.Time
	failures map[string][]Failure

	rnd *rand.Rand // FailRate, LoseReplyRate; under mu

	stats struct {
		requests, sent, edited, tooMany, refused, conflicts, polls, injected, lostReplies atomic.Int64
	}
}

type chat struct {
	apiChat
	known       bool
	blocked     bool // the user blocked the bot / the bot was removed
	deactivated bool
	migratedTo  int64
	nextMsgID   int
	gcra        gcra
	msgs        []*Message
}

type callback struct {
	answered bool
	text     string
	alert    bool
}

// Message is a message the bot sent, as the fake recorded it.
type Message struct {
	ChatID    int64
	MessageID int
	// Text is the text as sent (HTML when ParseMode is "HTML"); PlainText is
	// what Telegram displays.
	Text, PlainText    string
	ParseMode          string
	ReplyMarkup        *Keyboard
	LinkPreviewOptions *LinkPreviewOptions
	AllowPaidBroadcast bool
	Edits              int // editMessageText calls that changed it
	Time               time.Time
}

// Keyboard is an inline keyboard as sent.
type Keyboard struct {
	Rows [][]Button
}

// Button is one inline keyboard button.
type Button struct {
	Text, CallbackData, URL string
}

// Buttons lists a keyboard's buttons row by row.
func (k *Keyboard) Buttons() []Button {
	if k == nil {
		return nil
	}
	var out []Button
	for _, r := range k.Rows {
		out = append(out, r...)
	}
	return out
}

// LinkPreviewOptions as sent.
type LinkPreviewOptions struct {
	IsDisabled bool   `json:"is_disabled,omitempty"`
	URL        string `json:"url,omitempty"`
}

// BotCommand is one entry of a setMyCommands list.
type BotCommand struct {
	Command, Description string
}

// Failure is an error the next call of a method gets (FailNext).
type Failure struct {
	Status      int    // HTTP status and error_code, e.g. 500 or 502
	Description string // default "Internal Server Error"
	// HTML answers with a text/html page instead of JSON, like a proxy in
	// front of the Bot API does.
	HTML bool
	// Drop closes the connection without an answer (a network error).
	Drop bool
	// RetryAfter sets parameters.retry_after (with Status 429).
	RetryAfter int
}

// NewServer starts a fake Bot API on a local port.
func NewServer(o Options) *Server {
	if o.Token == "" {
		o.Token = "123456:TEST-fake-token"
	}
	if o.BotID == 0 {
		o.BotID = 123456
	}
	if o.BotUsername == "" {
		o.BotUsername = "digest_test_bot"
	}
	if o.GlobalRate == 0 {
		o.GlobalRate = 30
	}
	if o.PaidRate == 0 {
		o.PaidRate = 1000
	}
	if o.GlobalTolerance == 0 {
		o.GlobalTolerance = time.Second
	}
	if o.ChatInterval == 0 {
		o.ChatInterval = time.Second
	}
	if o.GroupInterval == 0 {
		o.GroupInterval = 3 * time.Second
	}
	if o.ChatTolerance == 0 {
		o.ChatTolerance = 250 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{
		opts:     o,
		chats:    make(map[int64]*chat),
		byName:   make(map[string]int64),
		nextUpd:  100000,
		wake:     make(chan struct{}),
		queries:  make(map[string]*callback),
		commands: make(map[string][]BotCommand),
		failures: make(map[string][]Failure),
		rnd:      rand.New(rand.NewPCG(1, 2)),
	}
	s.http = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// Close stops the server.
func (s *Server) Close() {
	s.http.CloseClientConnections()
	s.http.Close()
}

// URL is the server's base URL.
func (s *Server) URL() string { return s.http.URL }

// Endpoint is the value for telegram.api_endpoint: URL + "/bot%s/%s".
func (s *Server) Endpoint() string { return s.http.URL + "/bot%s/%s" }

// Token is the bot token the server accepts.
func (s *Server) Token() string { return s.opts.Token }

// BotUsername is the bot's @username without "@".
func (s *Server) BotUsername() string { return s.opts.BotUsername }

// BotID is the bot's user id.
func (s *Server) BotID() int64 { return s.opts.BotID }

// ---- the HTTP side ----

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.stats.requests.Add(1)
	// /bot<token>/<method>
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 {
		writeJSON(w, http.StatusNotFound, apiResponse{ErrorCode: 404, Description: "Not Found"})
		return
	}
	if token != s.opts.Token {
		writeJSON(w, http.StatusUnauthorized, apiResponse{ErrorCode: 401, Description: "Unauthorized"})
		return
	}
	params, err := readParams(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiResponse{ErrorCode: 400, Description: "Bad Request: " + err.Error()})
		return
	}
	method = strings.ToLower(method) // the Bot API's method names are case-insensitive
	if f, ok := s.takeFailure(method); ok {
		writeFailure(w, f)
		return
	}
	fail, lose := s.draw(method)
	if fail {
		s.stats.injected.Add(1)
		writeFailure(w, Failure{Status: http.StatusInternalServerError})
		return
	}
	var res any
	var aerr *apiError
	switch method {
	case "getme":
		res = s.getMe()
	case "getupdates":
		res, aerr = s.getUpdates(r, params)
	case "sendmessage":
		res, aerr = s.sendMessage(params)
	case "editmessagetext":
		res, aerr = s.editMessageText(params)
	case "answercallbackquery":
		res, aerr = s.answerCallbackQuery(params)
	case "setmycommands":
		res, aerr = s.setMyCommands(params)
	case "deletewebhook":
		res = s.deleteWebhook(params)
	case "getwebhookinfo":
		res = s.getWebhookInfo()
	default:
		aerr = &apiError{code: 404, desc: "Not Found"}
	}
	if aerr != nil {
		if aerr.code == http.StatusTooManyRequests {
			s.stats.tooMany.Add(1)
		} else {
			s.stats.refused.Add(1)
		}
		writeJSON(w, aerr.code, apiResponse{ErrorCode: aerr.code, Description: aerr.desc, Parameters: aerr.params})
		return
	}
	if lose {
		s.stats.lostReplies.Add(1)
		writeFailure(w, Failure{Drop: true})
		return
	}
	writeJSON(w, http.StatusOK, apiResponse{OK: true, Result: res})
}

// draw decides FailRate and LoseReplyRate for one call of method.
func (s *Server) draw(method string) (fail, lose bool) {
	if method != "sendmessage" || (s.opts.FailRate <= 0 && s.opts.LoseReplyRate <= 0) {
		return false, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rnd.Float64() < s.opts.FailRate, s.rnd.Float64() < s.opts.LoseReplyRate
}

type apiError struct {
	code   int
	desc   string
	params *apiParameters
}

func badRequest(format string, args ...any) *apiError {
	return &apiError{code: 400, desc: "Bad Request: " + fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v apiResponse) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeFailure(w http.ResponseWriter, f Failure) {
	switch {
	case f.Drop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	case f.HTML:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.Status)
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", f.Status, http.StatusText(f.Status))
	default:
		d := f.Description
		if d == "" {
			d = http.StatusText(f.Status)
		}
		r := apiResponse{ErrorCode: f.Status, Description: d}
		if f.RetryAfter > 0 {
			r.Parameters = &apiParameters{RetryAfter: f.RetryAfter}
		}
		writeJSON(w, f.Status, r)
	}
}

// readParams accepts what the Bot API accepts: query string, URL-encoded or
// multipart form, or a JSON object (https://core.telegram.org/bots/api#making-requests).
// JSON values that are objects or arrays are kept as their JSON text.
func readParams(r *http.Request) (map[string]string, error) {
	p := map[string]string{}
	for k, v := range r.URL.Query() {
		p[k] = v[0]
	}
	ct := r.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "application/json"):
		var m map[string]json.RawMessage
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			return nil, fmt.Errorf("can't parse JSON object")
		}
		for k, raw := range m {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				p[k] = s
			} else {
				p[k] = string(raw)
			}
		}
	case strings.HasPrefix(ct, "multipart/form-data"):
		if err := r.ParseMultipartForm(10 << 20); err != nil {
			return nil, err
		}
		for k, v := range r.MultipartForm.Value {
			p[k] = v[0]
		}
	default:
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		for k, v := range r.PostForm {
			p[k] = v[0]
		}
	}
	return p, nil
}

func (s *Server) takeFailure(method string) (Failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.failures[method]
	if len(q) == 0 {
		return Failure{}, false
	}
	s.failures[method] = q[1:]
	return q[0], true
}

// ---- rate limits ----

// windowCheck is SlidingWindow's test: room for one more message in the
// second ending now. s.mu is held.
func (s *Server) windowCheck(now time.Time, rate float64) (ok bool, wait time.Duration) {
	n := int(rate)
	for len(s.window) > 0 && now.Sub(s.window[0]) >= time.Second {
		s.window = s.window[1:]
	}
	if len(s.window) < n {
		return true, 0
	}
	return false, s.window[len(s.window)-n].Add(time.Second).Sub(now)
}

// takeGlobal counts one message against the global limit. s.mu is held.
func (s *Server) takeGlobal(now time.Time, interval time.Duration) {
	if interval <= 0 {
		return
	}
	if s.opts.SlidingWindow {
		s.window = append(s.window, now)
		return
	}
	s.global.take(now, interval)
}

// gcra is the Generic Cell Rate Algorithm: a request conforms when the
// theoretical arrival time is at most tolerance ahead of now; each one
// pushes it by the interval. The long-run rate is exactly 1/interval.
type gcra struct{ tat time.Time }

func (g gcra) check(now time.Time, tolerance time.Duration) (ok bool, wait time.Duration) {
	tat := g.tat
	if tat.Before(now) {
		tat = now
	}
	if ahead := tat.Sub(now); ahead > tolerance {
		return false, ahead - tolerance
	}
	return true, 0
}

func (g *gcra) take(now time.Time, interval time.Duration) {
	if g.tat.Before(now) {
		g.tat = now
	}
	g.tat = g.tat.Add(interval)
}

func tooMany(wait time.Duration) *apiError {
	// retry_after is whole seconds, at least 1, as Telegram sends it.
	n := max(1, int(math.Ceil(wait.Seconds())))
	return &apiError{code: 429, desc: fmt.Sprintf("Too Many Requests: retry after %d", n), params: &apiParameters{RetryAfter: n}}
}

// ---- state helpers ----

// chatLocked returns the chat with id, creating an unknown one.
func (s *Server) chatLocked(id int64) *chat {
	c := s.chats[id]
	if c == nil {
		c = &chat{apiChat: apiChat{ID: id, Type: chatType(id)}, nextMsgID: 1}
		switch c.Type {
		case "private":
			c.FirstName = "User" + strconv.FormatInt(id, 10)
		default:
			c.Title = "Group " + strconv.FormatInt(id, 10)
		}
		s.chats[id] = c
	}
	return c
}

// chatType guesses a chat's type from its id the way Bot API ids are
// shaped: users positive, basic groups negative, supergroups and channels
// -100….
func chatType(id int64) string {
	switch {
	case id > 0:
		return "private"
	case id <= -1000000000000:
		return "supergroup"
	default:
		return "group"
	}
}

func (s *Server) notifyLocked() {
	close(s.wake)
	s.wake = make(chan struct{})
}

// AddChat makes chats reachable, as if each had started the bot.
func (s *Server) AddChat(ids ...int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.chatLocked(id).known = true
	}
}

// AddChannel makes a channel with @username reachable; messages to
// "@username" or to id land in it.
func (s *Server) AddChannel(id int64, username string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatLocked(id)
	c.Type, c.Username, c.Title, c.known = "channel", username, "Channel "+username, true
	s.byName[strings.ToLower(username)] = id
}

// Block makes the chat answer 403 "Forbidden: bot was blocked by the user"
// (a group: "Forbidden: bot was kicked from the group chat").
func (s *Server) Block(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatLocked(chatID)
	c.known, c.blocked = true, true
}

// Unblock undoes Block.
func (s *Server) Unblock(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chatLocked(chatID).blocked = false
}

// Deactivate makes the chat answer 403 "Forbidden: user is deactivated".
func (s *Server) Deactivate(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatLocked(chatID)
	c.known, c.deactivated = true, true
}

// Migrate turns group oldID into supergroup newID: messages to oldID get
// 400 "Bad Request: group chat was upgraded to a supergroup chat" with
// parameters.migrate_to_chat_id.
func (s *Server) Migrate(oldID, newID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.chatLocked(oldID)
	o.known, o.migratedTo = true, newID
	n := s.chatLocked(newID)
	n.known, n.Type, n.Title = true, "supergroup", o.Title
}

// SetWebhook makes getUpdates answer 409 until deleteWebhook is called.
func (s *Server) SetWebhook(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhook = url
}

// FailNext makes the next calls of method (e.g. "sendMessage") fail, one
// Failure each, before anything else is checked.
func (s *Server) FailNext(method string, fs ...Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := strings.ToLower(method)
	s.failures[m] = append(s.failures[m], fs...)
}

// ---- recorded state ----

// Messages returns the messages in a chat, oldest first.
func (s *Server) Messages(chatID int64) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chats[chatID]
	if c == nil {
		return nil
	}
	out := make([]Message, len(c.msgs))
	for i, m := range c.msgs {
		out[i] = *m
	}
	return out
}

// AllMessages returns every accepted message in the order they came in
// (edits do not reorder).
func (s *Server) AllMessages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.sent...)
}

// WaitMessages waits until chatID holds at least n messages, or timeout.
func (s *Server) WaitMessages(timeout time.Duration, chatID int64, n int) ([]Message, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		wake := s.wake
		var got int
		if c := s.chats[chatID]; c != nil {
			got = len(c.msgs)
		}
		s.mu.Unlock()
		if got >= n {
			return s.Messages(chatID), nil
		}
		select {
		case <-wake:
		case <-deadline.C:
			return s.Messages(chatID), fmt.Errorf("telegramtest: chat %d has %d messages after %s, want %d", chatID, got, timeout, n)
		}
	}
}

// WaitFor waits until cond (called under no lock, after every change and
// every 10 ms, for conditions on counters) is true, or timeout.
func (s *Server) WaitFor(timeout time.Duration, cond func() bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		wake := s.wake
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-wake:
		case <-tick.C:
		case <-deadline.C:
			return fmt.Errorf("telegramtest: condition not met after %s", timeout)
		}
	}
}

// Commands returns the command list set for a scope: "default", or
// "chat:<id>" for BotCommandScopeChat (other scopes: their type).
func (s *Server) Commands(scope string) []BotCommand {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]BotCommand(nil), s.commands[scope]...)
}

// CallbackAnswer reports whether a callback query was answered, and with
// what text.
func (s *Server) CallbackAnswer(id string) (text string, answered bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queries[id]
	if q == nil {
		return "", false
	}
	return q.text, q.answered
}

// PendingUpdates is the number of updates not yet confirmed by getUpdates.
func (s *Server) PendingUpdates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.updates)
}

// Stats are the server's counters.
type Stats struct {
	Requests        int64 // every HTTP request
	Sent            int64 // messages accepted by sendMessage
	Edited          int64
	TooManyRequests int64 // 429 answers
	Refused         int64 // other error answers
	Conflicts       int64 // 409 answers to getUpdates
	Polls           int64 // getUpdates calls
	Injected        int64 // FailRate answers
	LostReplies     int64 // accepted messages whose answer was dropped (LoseReplyRate)
	// FirstSent and LastSent bound the accepted messages in time.
	FirstSent, LastSent time.Time
}

// Rate is Sent over the time between the first and the last message.
func (st Stats) Rate() float64 {
	d := st.LastSent.Sub(st.FirstSent).Seconds()
	if st.Sent < 2 || d <= 0 {
		return 0
	}
	return float64(st.Sent-1) / d
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Requests: s.stats.requests.Load(), Sent: s.stats.sent.Load(), Edited: s.stats.edited.Load(),
		TooManyRequests: s.stats.tooMany.Load(), Refused: s.stats.refused.Load(),
		Conflicts: s.stats.conflicts.Load(), Polls: s.stats.polls.Load(),
		Injected: s.stats.injected.Load(), LostReplies: s.stats.lostReplies.Load(),
	}
	s.mu.Lock()
	if n := len(s.times); n > 0 {
		st.FirstSent, st.LastSent = s.times[0], s.times[n-1]
	}
	s.mu.Unlock()
	return st
}

// MaxInWindow is the largest number of accepted messages within any window
// of length d: with d = 1 s, the peak messages per second.
func (s *Server) MaxInWindow(d time.Duration) int {
	s.mu.Lock()
	ts := append([]time.Time(nil), s.times...)
	s.mu.Unlock()
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	best, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= d {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}
