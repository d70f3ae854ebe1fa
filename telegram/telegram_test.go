package telegram_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/subscribers"
	"github.com/digestbot/digestbot/telegram"
	"github.com/digestbot/digestbot/telegram/telegramtest"
)

// logBuf collects log output; tests check it never holds the token.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type env struct {
	srv    *telegramtest.Server
	client *telegram.Client
	logs   *logBuf
}

func newEnv(t *testing.T, o telegramtest.Options, cfg telegram.Config) *env {
	t.Helper()
	srv := telegramtest.NewServer(o)
	t.Cleanup(srv.Close)
	logs := &logBuf{}
	cfg.Token = srv.Token()
	cfg.APIEndpoint = srv.Endpoint()
	cfg.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := telegram.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{srv: srv, client: c, logs: logs}
	t.Cleanup(func() {
		if strings.Contains(logs.String(), srv.Token()) {
			t.Errorf("the token appears in the log:\n%s", logs)
		}
	})
	return e
}

// fastChats shortens the per-chat intervals (1 s, 3 s) for tests that are
// not about them; the client's limiter is set to match.
var fastChats = telegramtest.Options{ChatInterval: 50 * time.Millisecond, GroupInterval: 150 * time.Millisecond, ChatTolerance: 10 * time.Millisecond}

func subs(ids ...int64) []subscribers.Subscription {
	out := make([]subscribers.Subscription, len(ids))
	for i, id := range ids {
		out[i] = subscribers.Subscription{ID: int64(i + 1), Channel: subscribers.Telegram, Address: strconv.FormatInt(id, 10), Status: subscribers.Active}
	}
	return out
}

// fixedRender renders n messages per edition, marked with the sections.
func fixedRender(n int) func(digest.Edition, []string, digest.RenderOptions) ([]string, error) {
	return func(ed digest.Edition, secs []string, _ digest.RenderOptions) ([]string, error) {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("<b>Edition %d</b> part %d/%d [%s]", ed.ID, i+1, n, strings.Join(secs, ","))
		}
		return out, nil
	}
}

func TestNewWrongToken(t *testing.T) {
	srv := telegramtest.NewServer(telegramtest.Options{})
	defer srv.Close()
	_, err := telegram.New(context.Background(), telegram.Config{Token: "999:wrong", APIEndpoint: srv.Endpoint()})
	if telegram.Classify(err) != telegram.ClassUnauthorized {
		t.Fatalf("New with a wrong token: %v (%s)", err, telegram.Classify(err))
	}
	if strings.Contains(err.Error(), "999:wrong") {
		t.Fatalf("error holds the token: %v", err)
	}
}

func TestNetworkErrorRedacted(t *testing.T) {
	e := newEnv(t, telegramtest.Options{}, telegram.Config{})
	e.srv.Close() // connection refused from now on
	_, err := e.client.SendMessage(context.Background(), telegram.Message{Chat: "1", Text: "x"})
	if err == nil {
		t.Fatal("send to a closed server succeeded")
	}
	if strings.Contains(err.Error(), e.srv.Token()) || !strings.Contains(err.Error(), "<token>") {
		t.Fatalf("network error not redacted: %v", err)
	}
	if telegram.Classify(err) != telegram.ClassTemporary {
		t.Fatalf("class %s, want temporary", telegram.Classify(err))
	}
}

func TestClassify(t *testing.T) {
	test := func(code int, desc string, migrate int64, want telegram.Class) {
		t.Helper()
		err := &telegram.APIError{Method: "sendMessage", Code: code, Description: desc, MigrateTo: migrate}
		if got := telegram.Classify(fmt.Errorf("wrapped: %w", err)); got != want {
			t.Errorf("Classify(%d %q) = %s, want %s", code, desc, got, want)
		}
	}
	test(403, "Forbidden: bot was blocked by the user", 0, telegram.ClassBlocked)
	test(403, "Forbidden: user is deactivated", 0, telegram.ClassBlocked)
	test(403, "Forbidden: bot was kicked from the group chat", 0, telegram.ClassBlocked)
	test(400, "Bad Request: chat not found", 0, telegram.ClassBlocked)
	test(400, "Bad Request: group chat was upgraded to a supergroup chat", -1001, telegram.ClassMigrated)
	test(400, `Bad Request: can't parse entities: Unsupported start tag "div" at byte offset 0`, 0, telegram.ClassBadHTML)
	test(400, "Bad Request: message is too long", 0, telegram.ClassTooLong)
	test(400, "Bad Request: BUTTON_DATA_INVALID", 0, telegram.ClassBadRequest)
	test(429, "Too Many Requests: retry after 5", 0, telegram.ClassRateLimited)
	test(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running", 0, telegram.ClassConflict)
	test(401, "Unauthorized", 0, telegram.ClassUnauthorized)
	test(500, "Internal Server Error", 0, telegram.ClassTemporary)
	test(502, "Bad Gateway", 0, telegram.ClassTemporary)
	if got := telegram.Classify(context.Canceled); got != telegram.ClassCanceled {
		t.Errorf("Classify(Canceled) = %s", got)
	}
	if got := telegram.Classify(nil); got != telegram.ClassNone {
		t.Errorf("Classify(nil) = %s", got)
	}
}

// TestSendOutcomes sends one batch to chats in every state the fake knows
// and checks each reader's outcome.
func TestSendOutcomes(t *testing.T) {
	e := newEnv(t, fastChats, telegram.Config{})
	e.client.Limiter().SetChatIntervals(fastChats.ChatInterval, fastChats.GroupInterval)
	const (
		ok1, ok2, blocked, deactivated, unknown, oldGroup, newGroup = 11, 12, 13, 14, 15, -555, -1001000000555
	)
	e.srv.AddChat(ok1, ok2)
	e.srv.Block(blocked)
	e.srv.Deactivate(deactivated)
	e.srv.Migrate(oldGroup, newGroup)

	s := telegram.NewSender(e.client, telegram.SenderOptions{RenderFunc: fixedRender(2)})
	batch := subs(ok1, blocked, deactivated, unknown, oldGroup, ok2)
	batch = append(batch, subscribers.Subscription{ID: 99, Channel: subscribers.Telegram, Address: "not-a-chat"})
	res, err := s.Send(context.Background(), digest.Edition{ID: 7}, batch)
	if err != nil {
		t.Fatal(err)
	}
	want := []delivery.Outcome{delivery.Sent, delivery.Blocked, delivery.Blocked, delivery.Blocked, delivery.Sent, delivery.Sent, delivery.Failed}
	for i, r := range res {
		if r.SubscriptionID != batch[i].ID || r.Outcome != want[i] {
			t.Errorf("result %d: %+v, want outcome %d", i, r, want[i])
		}
		if (r.Outcome == delivery.Sent) != (r.Err == nil) {
			t.Errorf("result %d: outcome %d with error %v", i, r.Outcome, r.Err)
		}
	}
	if res[4].NewAddress != strconv.Itoa(newGroup) {
		t.Errorf("migrated group: NewAddress %q, want %d", res[4].NewAddress, newGroup)
	}
	// Messages in order, HTML, previews off, buttons on the last only.
	for _, chat := range []int64{ok1, ok2, newGroup} {
		msgs := e.srv.Messages(chat)
		if len(msgs) != 2 {
			t.Fatalf("chat %d got %d messages, want 2", chat, len(msgs))
		}
		for i, m := range msgs {
			if !strings.Contains(m.Text, fmt.Sprintf("part %d/2", i+1)) || m.ParseMode != "HTML" {
				t.Errorf("chat %d message %d: %q (%s)", chat, i, m.Text, m.ParseMode)
			}
			if m.LinkPreviewOptions == nil || !m.LinkPreviewOptions.IsDisabled {
				t.Errorf("chat %d message %d: link previews not disabled", chat, i)
			}
			if m.AllowPaidBroadcast {
				t.Errorf("paid broadcast without paid_broadcast")
			}
		}
		if msgs[0].ReplyMarkup != nil {
			t.Errorf("chat %d: buttons on the first message", chat)
		}
		btns := msgs[1].ReplyMarkup.Buttons()
		if len(btns) != 2 || btns[0].CallbackData != telegram.CallbackSettings || btns[1].CallbackData != telegram.CallbackUnsubscribe {
			t.Errorf("chat %d: buttons %+v", chat, btns)
		}
	}
	if n := len(e.srv.Messages(oldGroup)); n != 0 {
		t.Errorf("old group id got %d messages", n)
	}
	if st := s.Stats(); st.Sent != 3 || st.Blocked != 3 || st.Failed != 1 || st.Migrated != 1 || st.Messages != 6 {
		t.Errorf("stats %+v", st)
	}
}

// TestSendRendererBugs: HTML Telegram refuses and over-long messages are
// Failed, counted and logged at error level with the edition id.
func TestSendRendererBugs(t *testing.T) {
	e := newEnv(t, telegramtest.Options{}, telegram.Config{})
	e.srv.AddChat(1, 2)
	s := telegram.NewSender(e.client, telegram.SenderOptions{
		RenderFunc: func(ed digest.Edition, secs []string, _ digest.RenderOptions) ([]string, error) {
			switch {
			case len(secs) == 0:
				return []string{"<div>not Telegram HTML</div>"}, nil
			case secs[0] == "World":
				return []string{strings.Repeat("a", 4097)}, nil
			}
			return nil, nil // no item in these sections
		},
	})
	batch := subs(1, 2, 3)
	batch[1].Sections = []string{"World"}
	batch[2].Sections = []string{"Empty"}
	res, err := s.Send(context.Background(), digest.Edition{ID: 31}, batch)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Outcome != delivery.Failed || !strings.Contains(res[0].Err.Error(), "can't parse entities") {
		t.Errorf("bad HTML: %+v", res[0])
	}
	if res[1].Outcome != delivery.Failed || !strings.Contains(res[1].Err.Error(), "message is too long") {
		t.Errorf("too long: %+v", res[1])
	}
	if res[2].Outcome != delivery.Skipped || res[2].Err != nil {
		t.Errorf("no item in the sections: %+v", res[2])
	}
	if st := s.Stats(); st.BadHTML != 1 || st.TooLong != 1 || st.Skipped != 1 {
		t.Errorf("stats %+v", st)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "edition_id=31") {
		t.Errorf("renderer bug not logged at error level with the edition id:\n%s", logs)
	}
}

// TestSendTemporary: a 5xx is retried in place; a Bot API that stays down
// makes the whole batch an error (nothing to record, the job retries).
func TestSendTemporary(t *testing.T) {
	e := newEnv(t, fastChats, telegram.Config{})
	e.client.Limiter().SetChatIntervals(fastChats.ChatInterval, fastChats.GroupInterval)
	e.srv.AddChat(1, 2, 3, 4)
	s := telegram.NewSender(e.client, telegram.SenderOptions{RenderFunc: fixedRender(1), RetryBackoff: 10 * time.Millisecond, Workers: 1})
	e.srv.FailNext("sendMessage", telegramtest.Failure{Status: 500}, telegramtest.Failure{Status: 502, HTML: true})
	res, err := s.Send(context.Background(), digest.Edition{ID: 1}, subs(1))
	if err != nil || res[0].Outcome != delivery.Sent {
		t.Fatalf("after two 5xx: %+v, %v", res, err)
	}

	var down []telegramtest.Failure
	for range 20 {
		down = append(down, telegramtest.Failure{Drop: true})
	}
	e.srv.FailNext("sendMessage", down...)
	res, err = s.Send(context.Background(), digest.Edition{ID: 1}, subs(2, 3, 4))
	if err == nil || res != nil {
		t.Fatalf("Bot API down: %+v, %v; want a batch error", res, err)
	}
	if telegram.Classify(err) != telegram.ClassTemporary {
		t.Errorf("batch error class %s: %v", telegram.Classify(err), err)
	}
}

// TestSendRateLimit: the client's limit at the fake's: no 429 at all; the
// sustained rate is close to the limit.
func TestSendRateLimit(t *testing.T) {
	const rate, n = 25, 50
	e := newEnv(t, telegramtest.Options{GlobalRate: rate, AllChatsKnown: true}, telegram.Config{RatePerSecond: rate})
	s := telegram.NewSender(e.client, telegram.SenderOptions{RenderFunc: fixedRender(1)})
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64(1000 + i)
	}
	// Two batch jobs at once share one limiter.
	var wg sync.WaitGroup
	for _, half := range [][]int64{ids[:n/2], ids[n/2:]} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.Send(context.Background(), digest.Edition{ID: 2}, subs(half...))
			if err != nil {
				t.Error(err)
				return
			}
			for _, r := range res {
				if r.Outcome != delivery.Sent {
					t.Errorf("%+v", r)
				}
			}
		}()
	}
	wg.Wait()
	st := e.srv.Stats()
	if st.TooManyRequests != 0 || st.Sent != n {
		t.Fatalf("fake stats %+v, want %d sent and no 429", st, n)
	}
	if r := st.Rate(); r < 0.9*rate || r > 1.05*rate {
		t.Errorf("sustained rate %.1f/s, want about %d/s", r, rate)
	}
	// The client's schedule is exact (slots 1/rate apart); arrival times
	// at the server jitter by a few milliseconds, which may bunch two or
	// more messages into one second's window, as the fake's tolerance allows.
	if peak := e.srv.MaxInWindow(time.Second); peak > rate+rate/4 {
		t.Errorf("peak %d messages in one second, limit %d", peak, rate)
	}
}

// TestSendPerChatSpacing: a three-message digest to a few readers keeps
// each chat at its interval and gets no 429, the messages interleaved.
func TestSendPerChatSpacing(t *testing.T) {
	const interval = 200 * time.Millisecond
	e := newEnv(t, telegramtest.Options{ChatInterval: interval, GroupInterval: 3 * interval, ChatTolerance: 20 * time.Millisecond, AllChatsKnown: true},
		telegram.Config{RatePerSecond: 1000, PaidBroadcast: true})
	e.client.Limiter().SetChatIntervals(interval, 3*interval)
	s := telegram.NewSender(e.client, telegram.SenderOptions{RenderFunc: fixedRender(3)})
	start := time.Now()
	res, err := s.Send(context.Background(), digest.Edition{ID: 3}, subs(1, 2, 3, -4))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Outcome != delivery.Sent {
			t.Errorf("%+v", r)
		}
	}
	if took := time.Since(start); took > 6*interval+300*time.Millisecond {
		t.Errorf("took %s: chats were not interleaved", took)
	}
	if st := e.srv.Stats(); st.TooManyRequests != 0 {
		t.Errorf("%d 429s", st.TooManyRequests)
	}
	for _, chat := range []int64{1, 2, 3, -4} {
		msgs := e.srv.Messages(chat)
		want := interval
		if chat < 0 {
			want = 3 * interval
		}
		for i := 1; i < len(msgs); i++ {
			if gap := msgs[i].Time.Sub(msgs[i-1].Time); gap < want-5*time.Millisecond {
				t.Errorf("chat %d: %s between messages, want ≥ %s", chat, gap, want)
			}
		}
		if len(msgs) != 3 || !msgs[0].AllowPaidBroadcast {
			t.Errorf("chat %d: %d messages, paid=%v", chat, len(msgs), len(msgs) > 0 && msgs[0].AllowPaidBroadcast)
		}
	}
}

// TestSend429HoldsAndResends: a client configured faster than the server
// gets 429s, holds every sender for retry_after and loses nothing.
func TestSend429HoldsAndResends(t *testing.T) {
	e := newEnv(t, telegramtest.Options{GlobalRate: 8, GlobalTolerance: 500 * time.Millisecond, AllChatsKnown: true},
		telegram.Config{RatePerSecond: 1000})
	s := telegram.NewSender(e.client, telegram.SenderOptions{RenderFunc: fixedRender(1)})
	ids := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	res, err := s.Send(context.Background(), digest.Edition{ID: 4}, subs(ids...))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Outcome != delivery.Sent {
			t.Errorf("%+v", r)
		}
	}
	st := e.srv.Stats()
	if st.TooManyRequests == 0 || st.Sent != int64(len(ids)) {
		t.Fatalf("fake stats %+v: want some 429s and every message sent", st)
	}
	if got := e.client.Stats().RateLimited; got != st.TooManyRequests {
		t.Errorf("client counted %d 429s, server sent %d", got, st.TooManyRequests)
	}
	if !strings.Contains(e.logs.String(), "retry_after=1s") {
		t.Errorf("429 hold not logged:\n%s", e.logs)
	}
}

func TestSendCancelled(t *testing.T) {
	e := newEnv(t, telegramtest.Options{AllChatsKnown: true}, telegram.Config{RatePerSecond: 2})
	s := telegram.NewSender(e.client, telegram.SenderOptions{RenderFunc: fixedRender(1)})
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	res, err := s.Send(ctx, digest.Edition{ID: 5}, subs(1, 2, 3, 4, 5, 6))
	if err != nil {
		t.Fatal(err)
	}
	sent, retry := 0, 0
	for _, r := range res {
		switch r.Outcome {
		case delivery.Sent:
			sent++
		case delivery.Retry:
			retry++
			if !errors.Is(r.Err, context.DeadlineExceeded) {
				t.Errorf("retry error %v", r.Err)
			}
		default:
			t.Errorf("%+v", r)
		}
	}
	if sent == 0 || retry == 0 || sent+retry != 6 {
		t.Errorf("sent %d, retry %d", sent, retry)
	}
	if int64(sent) != e.srv.Stats().Sent {
		t.Errorf("reported %d sent, server got %d", sent, e.srv.Stats().Sent)
	}
}

func TestPost(t *testing.T) {
	e := newEnv(t, fastChats, telegram.Config{PaidBroadcast: true})
	e.client.Limiter().SetChatIntervals(fastChats.ChatInterval, fastChats.GroupInterval)
	e.srv.AddChannel(-1009999, "dailyheadlines")
	s := telegram.NewSender(e.client, telegram.SenderOptions{RenderFunc: fixedRender(2)})
	ctx := context.Background()
	if err := s.Post(ctx, "@dailyheadlines", digest.Edition{ID: 9}); err != nil {
		t.Fatal(err)
	}
	msgs := e.srv.Messages(-1009999)
	if len(msgs) != 2 || !strings.Contains(msgs[0].Text, "[]") {
		t.Fatalf("channel got %+v", msgs)
	}
	btn := msgs[1].ReplyMarkup.Buttons()
	if len(btn) != 1 || btn[0].URL != "https://t.me/"+e.srv.BotUsername()+"?start=channel" {
		t.Errorf("channel post button %+v", btn)
	}
	if err := s.Post(ctx, "@nosuchchannel", digest.Edition{ID: 9}); telegram.Classify(err) != telegram.ClassBlocked {
		t.Errorf("post to unknown channel: %v", err)
	}
}

func TestSetCommands(t *testing.T) {
	e := newEnv(t, telegramtest.Options{}, telegram.Config{})
	e.srv.AddChat(501)
	if err := e.client.SetCommands(context.Background(), []int64{501, 502}); err != nil {
		t.Fatal(err)
	}
	def := e.srv.Commands("default")
	if len(def) != len(telegram.ReaderCommands()) || def[0].Command != "start" {
		t.Errorf("default commands %+v", def)
	}
	adm := e.srv.Commands("chat:501")
	if len(adm) != len(telegram.ReaderCommands())+len(telegram.AdminCommands()) {
		t.Errorf("admin commands %+v", adm)
	}
	if got := e.srv.Commands("chat:502"); got != nil {
		t.Errorf("admin who never started the bot: %+v", got)
	}
	if !strings.Contains(e.logs.String(), "user_id=502") {
		t.Errorf("skipped admin not logged:\n%s", e.logs)
	}
}

// TestSendRealRenderer sends a long, hostile edition through
// digest.RenderTelegram: the fake's strict HTML check and 4096 limit accept
// every message, split messages arrive in order, and a reader whose
// sections have nothing today is skipped.
func TestSendRealRenderer(t *testing.T) {
	e := newEnv(t, fastChats, telegram.Config{})
	e.client.Limiter().SetChatIntervals(fastChats.ChatInterval, fastChats.GroupInterval)
	e.srv.AddChat(1, 2, 3)
	var items []digest.Item
	for i := range 40 {
		sec := []string{"World", "Business"}[i%2]
		items = append(items, digest.Item{
			ArticleID: int64(i + 1), Section: sec,
			Title:  fmt.Sprintf("Story %d: <script>alert(1)</script> & \"quotes\" 👋", i+1),
			URL:    fmt.Sprintf("https://news.example/a/%d?x=1&y=<2>", i+1),
			Lead:   strings.Repeat("A long lead with <b>markup</b> & entities. ", 8),
			Source: "Harborview <Herald>",
		})
	}
	ed := digest.Edition{ID: 77, Date: "2026-11-26", Title: "Daily <Headlines>", Items: items}
	s := telegram.NewSender(e.client, telegram.SenderOptions{Render: digest.RenderOptions{
		Title: "Daily <Headlines>", BaseURL: "https://news.example", Location: time.UTC, Sections: []string{"World", "Business", "Sport"},
	}})
	batch := subs(1, 2, 3)
	batch[1].Sections = []string{"Business"}
	batch[2].Sections = []string{"Sport"}
	res, err := s.Send(context.Background(), ed, batch)
	if err != nil {
		t.Fatal(err)
	}
	want := []delivery.Outcome{delivery.Sent, delivery.Sent, delivery.Skipped}
	for i, r := range res {
		if r.Outcome != want[i] {
			t.Errorf("reader %d: %+v", i, r)
		}
	}
	all := e.srv.Messages(1)
	if len(all) < 2 {
		t.Fatalf("a 40-item edition in %d message(s); want it split", len(all))
	}
	text := ""
	for _, m := range all {
		text += m.PlainText + "\n"
	}
	for i := range 40 {
		if !strings.Contains(text, fmt.Sprintf("Story %d: <script>", i+1)) {
			t.Errorf("story %d missing", i+1)
		}
	}
	if strings.Index(text, "Story 1:") > strings.Index(text, "Story 39:") {
		t.Errorf("messages out of order")
	}
	biz := e.srv.Messages(2)
	bizText := ""
	for _, m := range biz {
		bizText += m.PlainText
	}
	if strings.Contains(bizText, "Story 1:") || !strings.Contains(bizText, "Story 2:") {
		t.Errorf("Business reader got the wrong sections")
	}
	if n := len(e.srv.Messages(3)); n != 0 {
		t.Errorf("skipped reader got %d messages", n)
	}
	if st := s.Stats(); st.BadHTML != 0 || st.TooLong != 0 {
		t.Errorf("renderer output refused: %+v", st)
	}
}

// A batch cut short (its time slice ends) finishes the readers who have
// part of the digest, and starts no one new: a retry never sends a reader
// the first part again.
func TestSendCutShortFinishesStartedReaders(t *testing.T) {
	const interval = 200 * time.Millisecond
	e := newEnv(t, telegramtest.Options{ChatInterval: interval, ChatTolerance: 20 * time.Millisecond, AllChatsKnown: true},
		telegram.Config{RatePerSecond: 5}) // one message every 200 ms overall
	e.client.Limiter().SetChatIntervals(interval, 3*interval)
	s := telegram.NewSender(e.client, telegram.SenderOptions{RenderFunc: fixedRender(3)})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res, err := s.Send(ctx, digest.Edition{ID: 6}, subs(1, 2, 3, 4, 5, 6))
	if err != nil {
		t.Fatal(err)
	}
	started := 0
	for i, r := range res {
		got := len(e.srv.Messages(int64(i + 1)))
		switch r.Outcome {
		case delivery.Sent:
			started++
			if got != 3 {
				t.Errorf("reader %d: Sent with %d of 3 messages", i+1, got)
			}
		case delivery.Retry:
			if got != 0 {
				t.Errorf("reader %d: Retry after %d messages went: the retry would repeat them", i+1, got)
			}
		default:
			t.Errorf("%+v", r)
		}
	}
	if started == 0 || started == len(res) {
		t.Errorf("%d of %d readers sent: the cut did not fall inside the batch", started, len(res))
	}
}

// A Bot API that does not answer within the request timeout is a network
// failure (temporary), not the caller giving up (canceled): batches count
// it towards "Bot API unreachable".
func TestRequestTimeoutIsTemporary(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/getMe") {
			fmt.Fprint(w, `{"ok":true,"result":{"id":1,"is_bot":true,"first_name":"B","username":"b_bot"}}`)
			return
		}
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang) // before Close, which waits for the hung handler
	c, err := telegram.New(context.Background(), telegram.Config{Token: "1:x", APIEndpoint: srv.URL + "/bot%s/%s", RequestTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SendMessage(context.Background(), telegram.Message{Chat: "1", Text: "x"})
	if cls := telegram.Classify(err); cls != telegram.ClassTemporary {
		t.Fatalf("class %s (%v), want temporary", cls, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Call(ctx, "getChat", nil); telegram.Classify(err) != telegram.ClassCanceled {
		t.Fatalf("caller's cancel: class %s (%v), want canceled", telegram.Classify(err), err)
	}
}

// TestSendFloodControlKeepsStartedReader: a flood-control storm longer
// than the client's own 429 retries, after a reader's first part: the
// reader still gets each part once (a Retry would send the first again).
func TestSendFloodControlKeepsStartedReader(t *testing.T) {
	const interval = 100 * time.Millisecond
	e := newEnv(t, telegramtest.Options{ChatInterval: interval, ChatTolerance: 20 * time.Millisecond, AllChatsKnown: true},
		telegram.Config{RatePerSecond: 1000})
	e.client.Limiter().SetChatIntervals(interval, 3*interval)
	s := telegram.NewSender(e.client, telegram.SenderOptions{RenderFunc: fixedRender(2), Workers: 1})
	storm := make([]telegramtest.Failure, 12) // more than the client's 5 resends
	for i := range storm {
		storm[i] = telegramtest.Failure{Status: 429, Description: "Too Many Requests: retry after 0"}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e.srv.Stats().Sent < 1 {
			time.Sleep(time.Millisecond)
		}
		e.srv.FailNext("sendMessage", storm...)
	}()
	res, err := s.Send(context.Background(), digest.Edition{ID: 8}, subs(1))
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Outcome != delivery.Sent {
		t.Errorf("after the storm: %+v", res[0])
	}
	if got := len(e.srv.Messages(1)); got != 2 {
		t.Errorf("reader got %d messages, want its 2 parts once each", got)
	}
	if st := e.client.Stats(); st.RateLimited != int64(len(storm)) {
		t.Errorf("%d × 429 seen, want the storm's %d", st.RateLimited, len(storm))
	}
}

// TestRenderLetters: an edition is rendered with its newsletter's settings
// (title, archive), others with the default ones.
func TestRenderLetters(t *testing.T) {
	e := newEnv(t, fastChats, telegram.Config{})
	base := digest.RenderOptions{Title: "Daily Headlines", BaseURL: "https://news.example", ArchivePath: "/archive"}
	week := base
	week.Title, week.ArchivePath = "Week in Review", "/archive/week"
	s := telegram.NewSender(e.client, telegram.SenderOptions{Render: base, Letters: map[string]digest.RenderOptions{"week": week}})
	items := []digest.Item{{Title: "Storm", URL: "https://news.example/storm", Section: "world"}}
	for _, tc := range []struct{ letter, title, archive string }{
		{"week", "Week in Review", "https://news.example/archive/week/2026-03-01"},
		{"daily", "Daily Headlines", "https://news.example/archive/2026-03-02"},
	} {
		day := "2026-03-01"
		if tc.letter == "daily" {
			day = "2026-03-02"
		}
		msgs, err := s.Render(digest.Edition{ID: int64(len(tc.letter)), Newsletter: tc.letter, Date: day, Items: items}, nil)
		if err != nil {
			t.Fatal(err)
		}
		all := strings.Join(msgs, "\n")
		if !strings.Contains(all, tc.title) || !strings.Contains(all, tc.archive+`"`) {
			t.Errorf("%s: %s", tc.letter, all)
		}
	}
}

// failingChats is a proxy in front of srv that answers sendMessage to the
// chats in bad with 500 (the Bot API failing for some requests while others
// go through), and forwards everything else.
func failingChats(t *testing.T, srv *telegramtest.Server, bad map[string]bool) (endpoint string) {
	t.Helper()
	target, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/sendMessage") {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if form, _ := url.ParseQuery(string(body)); bad[form.Get("chat_id")] {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprint(w, `{"ok":false,"error_code":500,"description":"Internal Server Error"}`)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p.URL + "/bot%s/%s"
}

// TestSendFailuresKeepStartedReaders: readers whose first part went get
// the rest, whatever happens to readers not started yet at the same time —
// three of them failing at once must not turn a started reader into a
// Retry, which would send it the first part again. Two ways they fail
// together: the slice ends while they wait out a 5xx backoff, and they run
// out of tries (the batch gives up on the Bot API).
func TestSendFailuresKeepStartedReaders(t *testing.T) {
	for _, tc := range []struct {
		name    string
		backoff time.Duration
		slice   time.Duration // 0: none
	}{
		{"slice ends during backoff", 2 * time.Second, 200 * time.Millisecond},
		{"unstarted readers give up", 10 * time.Millisecond, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const interval = 400 * time.Millisecond
			srv := telegramtest.NewServer(telegramtest.Options{ChatInterval: interval, ChatTolerance: 20 * time.Millisecond, AllChatsKnown: true})
			t.Cleanup(srv.Close)
			chats := []int64{1, 2, 101, 102, 103, 104, 105, 106, 107, 108}
			bad := map[string]bool{}
			for _, c := range chats[2:] {
				bad[strconv.FormatInt(c, 10)] = true
			}
			c, err := telegram.New(context.Background(), telegram.Config{Token: srv.Token(), APIEndpoint: failingChats(t, srv, bad), RatePerSecond: 1000})
			if err != nil {
				t.Fatal(err)
			}
			c.Limiter().SetChatIntervals(interval, 3*interval)
			// Four workers: readers 1 and 2 send their first parts, then the
			// failing readers hold all four workers; the second parts wait
			// in the queue until the failing readers are done.
			s := telegram.NewSender(c, telegram.SenderOptions{RenderFunc: fixedRender(2), Workers: 4, RetryBackoff: tc.backoff})
			ctx := context.Background()
			if tc.slice > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.slice)
				defer cancel()
			}
			res, err := s.Send(ctx, digest.Edition{ID: 9}, subs(chats...))
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range res {
				chat := chats[i]
				got := len(srv.Messages(chat))
				switch {
				case bad[strconv.FormatInt(chat, 10)]:
					if r.Outcome != delivery.Retry || got != 0 {
						t.Errorf("failing chat %d: %s with %d messages, want Retry with none", chat, r.Outcome, got)
					}
					if tc.slice > 0 && !errors.Is(r.Err, context.DeadlineExceeded) {
						t.Errorf("failing chat %d cut short by the slice: error %v, want the slice's deadline (the batch yields rather than fails)", chat, r.Err)
					}
				case r.Outcome != delivery.Sent || got != 2:
					t.Errorf("started chat %d: %s (%v) with %d of 2 messages; a Retry would send its first part again", chat, r.Outcome, r.Err, got)
				}
			}
		})
	}
}
