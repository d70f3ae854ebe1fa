package telegram_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/digestbot/digestbot/telegram"
	"github.com/digestbot/digestbot/telegram/telegramtest"
)

// memState is a StateStore in memory.
type memState struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *memState) GetState(_ context.Context, k string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k], nil
}

func (s *memState) SetState(_ context.Context, k, v string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]string{}
	}
	s.m[k] = v
	return nil
}

// handled records the texts of the updates a poller handled.
type handled struct {
	mu    sync.Mutex
	texts []string
	ch    chan struct{}
}

func newHandled() *handled { return &handled{ch: make(chan struct{}, 100)} }

func (h *handled) handle(_ context.Context, u tgbotapi.Update) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case u.Message != nil:
		h.texts = append(h.texts, u.Message.Text)
	case u.CallbackQuery != nil:
		h.texts = append(h.texts, "callback:"+u.CallbackQuery.Data)
	case u.MyChatMember != nil:
		h.texts = append(h.texts, "member:"+u.MyChatMember.NewChatMember.Status)
	}
	h.ch <- struct{}{}
	if u.Message != nil && u.Message.Text == "/boom" {
		panic("handler bug")
	}
	return nil
}

func (h *handled) wait(t *testing.T, n int) []string {
	t.Helper()
	for range n {
		select {
		case <-h.ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("timed out waiting for updates; handled %v", h.get())
		}
	}
	return h.get()
}

func (h *handled) get() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.texts...)
}

func runPoller(t *testing.T, p *telegram.Poller) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(3 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
	}
}

// TestPollerOffsetSurvivesRestart: updates are handled in order, the
// offset is stored after each, and a new poller on the same state does not
// see them again.
func TestPollerOffsetSurvivesRestart(t *testing.T) {
	e := newEnv(t, telegramtest.Options{}, telegram.Config{PollTimeout: time.Second})
	state := &memState{}
	h := newHandled()
	e.srv.PushMessage(1, 1, "/start")
	e.srv.PushMessage(1, 1, "/boom") // a panicking handler must not stop the loop
	e.srv.PushCallback(1, 1, 5, "settings")
	last := e.srv.PushMyChatMember(1, 1, "member", "kicked")

	stop := runPoller(t, &telegram.Poller{Client: e.client, State: state, Handle: h.handle})
	got := h.wait(t, 4)
	stop()
	if want := "/start,/boom,callback:settings,member:kicked"; strings.Join(got, ",") != want {
		t.Fatalf("handled %v, want %s", got, want)
	}
	if off, _ := state.GetState(context.Background(), telegram.OffsetKey); off != strconv.Itoa(last+1) {
		t.Fatalf("stored offset %q, want %d", off, last+1)
	}
	if !strings.Contains(e.logs.String(), "panicked") {
		t.Errorf("handler panic not logged")
	}

	// Restart: only the new update.
	e.srv.PushMessage(1, 1, "/help")
	h2 := newHandled()
	stop = runPoller(t, &telegram.Poller{Client: e.client, State: state, Handle: h2.handle})
	h2.wait(t, 1)
	time.Sleep(100 * time.Millisecond) // room for a wrong replay to show
	stop()
	if got = h2.get(); len(got) != 1 || got[0] != "/help" {
		t.Fatalf("after restart handled %v, want [/help]", got)
	}
}

// TestPollerErrors: 409 (webhook, other poller), 429 and network errors are
// logged and waited out as they should be; the waits are recorded, not slept.
func TestPollerErrors(t *testing.T) {
	var mu sync.Mutex
	var waits []time.Duration
	sleep := func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		time.Sleep(time.Millisecond)
		return ctx.Err()
	}
	e := newEnv(t, telegramtest.Options{}, telegram.Config{PollTimeout: time.Second, Sleep: sleep})
	e.srv.SetWebhook("https://example.com/hook")
	e.srv.FailNext("getUpdates",
		telegramtest.Failure{Status: 429, Description: "Too Many Requests: retry after 7", RetryAfter: 7},
		telegramtest.Failure{Drop: true}, telegramtest.Failure{Drop: true}, telegramtest.Failure{Status: 502, HTML: true},
	)
	h := newHandled()
	p := &telegram.Poller{Client: e.client, Handle: h.handle, ConflictDelay: 20 * time.Second}
	stop := runPoller(t, p)
	// Failures first (they precede the webhook check), then two 409s.
	if err := e.srv.WaitFor(5*time.Second, func() bool { return e.srv.Stats().Conflicts >= 2 }); err != nil {
		t.Fatal(err)
	}
	e.srv.SetWebhook("") // as deleteWebhook would
	e.srv.PushMessage(3, 3, "/latest")
	h.wait(t, 1)
	stop()

	mu.Lock()
	got := append([]time.Duration(nil), waits[:6]...)
	mu.Unlock()
	want := []time.Duration{7 * time.Second, time.Second, 2 * time.Second, 4 * time.Second, time.Second, 20 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("waits %v, want %v", got, want)
		}
	}
	logs := e.logs.String()
	for _, s := range []string{"another instance or a webhook", "can't use getUpdates method while webhook is active", "retry_after=7s"} {
		if !strings.Contains(logs, s) {
			t.Errorf("log lacks %q:\n%s", s, logs)
		}
	}
}

// TestPollOverlap: a second getUpdates terminates the first with 409, as
// Telegram does when two instances poll one token.
func TestPollOverlap(t *testing.T) {
	e := newEnv(t, telegramtest.Options{}, telegram.Config{PollTimeout: 5 * time.Second})
	first := make(chan error, 1)
	go func() {
		_, err := e.client.Poll(context.Background(), 0, nil)
		first <- err
	}()
	if err := e.srv.WaitFor(2*time.Second, func() bool { return e.srv.Stats().Polls == 1 }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the first poll is waiting
	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() {
		_, err := e.client.Poll(ctx, 0, nil)
		second <- err
	}()
	select {
	case err := <-first:
		var ae *telegram.APIError
		if !errors.As(err, &ae) || ae.Code != 409 || !strings.Contains(ae.Description, "terminated by other getUpdates request") {
			t.Fatalf("first poll: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("first poll not terminated")
	}
	start := time.Now()
	cancel()
	if err := <-second; telegram.Classify(err) != telegram.ClassCanceled {
		t.Fatalf("cancelled poll: %v", err)
	}
	if time.Since(start) > time.Second {
		t.Fatal("a cancelled poll did not return promptly")
	}
}

func TestPollAllowedUpdates(t *testing.T) {
	e := newEnv(t, telegramtest.Options{}, telegram.Config{PollTimeout: time.Second})
	e.srv.PushMessage(1, 1, "hi")
	e.srv.PushMyChatMember(1, 1, "member", "kicked")
	ups, err := e.client.Poll(context.Background(), 0, []string{"my_chat_member"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 1 || ups[0].MyChatMember == nil || ups[0].MyChatMember.NewChatMember.Status != "kicked" {
		t.Fatalf("updates %+v", ups)
	}
	m := ups[0].MyChatMember
	if m.Chat.Type != "private" || m.NewChatMember.User == nil || !m.NewChatMember.User.IsBot {
		t.Errorf("my_chat_member %+v", m)
	}
}
