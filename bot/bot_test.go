package bot_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/bot"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/publish"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/subscribers"
	"github.com/digestbot/digestbot/telegram"
	"github.com/digestbot/digestbot/telegram/telegramtest"
)

// The real implementations satisfy the bot's interfaces: main wires them.
var (
	_ bot.Store                                            = (*store.Store)(nil)
	_ bot.Subscriptions                                    = (*subscribers.Service)(nil)
	_ bot.Editions                                         = (*digest.Builder)(nil)
	_ bot.Publisher                                        = (*publish.Service)(nil)
	_ bot.Importer                                         = (*articles.Importer)(nil)
	_ bot.FeedChecker                                      = bot.FeedProbe{}
	_ bot.Telegram                                         = (*telegram.Client)(nil)
	_ bot.Digests                                          = (*telegram.Sender)(nil)
	_ telegram.StateStore                                  = (*store.Store)(nil)
	_ subscribers.Store                                    = (*store.Store)(nil)
	_ articles.ArticleStore                                = (*store.Store)(nil)
	_ digest.Store                                         = (*store.Store)(nil)
	_ func(context.Context, int64, []digest.DeliveryCount) = (*bot.Bot)(nil).EditionFinished
)

const (
	admin    = int64(500)
	reader   = int64(601)
	reader2  = int64(602)
	group    = int64(-4242)
	channel  = int64(-1007777)
	interval = 20 * time.Millisecond
)

var sections = []string{"World", "Business", "Sport"}

// mailer records confirmation mails.
type mailer struct {
	mu   sync.Mutex
	sent []string
}

func (m *mailer) SendAlreadySubscribed(_ context.Context, to, url string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, "already "+to+" "+url)
	return nil
}

func (m *mailer) SendConfirmation(_ context.Context, to, url string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, to+" "+url)
	return nil
}

// fanout stands in for delivery.Fanout (package app checks that the real
// one fits the bot's interfaces): it moves the edition's status as
// the real one does and records the calls.
type fanout struct {
	st    *store.Store
	mu    sync.Mutex
	calls []string
}

func (f *fanout) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fanout) Start(ctx context.Context, id int64) (bool, error) {
	f.record("start " + strconv.FormatInt(id, 10))
	return f.st.TransitionEdition(ctx, id, []string{digest.StatusBuilt}, digest.StatusSending)
}

func (f *fanout) Pause(ctx context.Context, id int64) (bool, error) {
	f.record("pause " + strconv.FormatInt(id, 10))
	return f.st.TransitionEdition(ctx, id, []string{digest.StatusSending}, digest.StatusPaused)
}

func (f *fanout) Resume(ctx context.Context, id int64) (bool, error) {
	f.record("resume " + strconv.FormatInt(id, 10))
	return f.st.TransitionEdition(ctx, id, []string{digest.StatusPaused}, digest.StatusSending)
}

type harness struct {
	t      *testing.T
	srv    *telegramtest.Server
	st     *store.Store
	client *telegram.Client
	sender *telegram.Sender
	bot    *bot.Bot
	mail   *mailer
	fan    *fanout
	web    *httptest.Server // serves testdata pages and feeds
	logs   *syncBuf
	stop   func()
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newHarness(t *testing.T, opts ...func(*bot.Config, *subscribers.Service)) *harness {
	t.Helper()
	ctx := context.Background()
	h := &harness{t: t, mail: &mailer{}, logs: &syncBuf{}}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.srv = telegramtest.NewServer(telegramtest.Options{ChatInterval: interval, GroupInterval: 3 * interval, ChatTolerance: 5 * time.Millisecond})
	t.Cleanup(h.srv.Close)
	h.st = storetest.OpenSQLite(t)
	h.fan = &fanout{st: h.st}

	h.web = httptest.NewServer(http.FileServer(http.Dir(filepath.Join("..", "testdata", "feeds"))))
	t.Cleanup(h.web.Close)

	var err error
	h.client, err = telegram.New(ctx, telegram.Config{Token: h.srv.Token(), APIEndpoint: h.srv.Endpoint(), PollTimeout: time.Second, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	h.client.Limiter().SetChatIntervals(interval, 3*interval)
	loc, _ := time.LoadLocation("Europe/Berlin")
	renderOpts := digest.RenderOptions{Title: "Daily Headlines", BaseURL: "https://news.example", Location: loc, Sections: sections}
	h.sender = telegram.NewSender(h.client, telegram.SenderOptions{Render: renderOpts, Log: log})
	svc := &subscribers.Service{Store: h.st, Tokens: subscribers.NewTokens("secret", nil), Mailer: h.mail,
		BaseURL: "https://news.example", Sections: sections, Log: log}
	builder := digest.NewBuilder(h.st, digest.Options{Title: "Daily Headlines", Location: loc, Sections: sections, MaxAge: 0}, log)
	cfg := bot.Config{
		Title: "Daily Headlines", Schedule: "0 7 * * *", Location: loc, Sections: sections,
		Admins: []int64{admin}, Channels: []string{"@dailyheadlines"},
	}
	for _, o := range opts {
		o(&cfg, svc)
	}
	h.bot, err = bot.New(cfg, bot.Deps{
		Telegram: h.client, Digests: h.sender, Subscriptions: svc, Store: h.st,
		Editions: builder, Fanout: h.fan,
		Publisher: &publish.Service{Builder: builder, Fanout: h.fan, Editions: h.st},
		Importer:  &articles.Importer{Store: h.st, Log: log},
		Feeds:     bot.FeedProbe{},
		Log:       log,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.start()
	t.Cleanup(func() {
		h.stop()
		h.bot.Wait()
		if strings.Contains(h.logs.String(), h.srv.Token()) {
			t.Errorf("token in the log")
		}
	})
	return h
}

// start runs the update loop on the store's offset, as main does.
func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	p := &telegram.Poller{Client: h.client, State: h.st, Handle: h.bot.HandleUpdate}
	go func() {
		defer close(done)
		if err := p.Run(ctx); err != nil {
			h.t.Errorf("poller: %v", err)
		}
	}()
	h.stop = func() {
		cancel()
		<-done
	}
}

// say sends text from user in chat and returns the bot's next n replies.
func (h *harness) say(chat, user int64, text string, n int) []telegramtest.Message {
	h.t.Helper()
	before := len(h.srv.Messages(chat))
	h.srv.PushMessage(chat, user, text)
	return h.replies(chat, before, n)
}

func (h *harness) replies(chat int64, before, n int) []telegramtest.Message {
	h.t.Helper()
	msgs, err := h.srv.WaitMessages(5*time.Second, chat, before+n)
	if err != nil {
		h.t.Fatalf("%v; got %+v", err, msgs[before:])
	}
	return msgs[before:]
}

func (h *harness) press(chat, user int64, msgID int, data string) string {
	h.t.Helper()
	id := h.srv.PushCallback(chat, user, msgID, data)
	if err := h.srv.WaitFor(5*time.Second, func() bool { _, ok := h.srv.CallbackAnswer(id); return ok }); err != nil {
		h.t.Fatalf("callback %q not answered: %v", data, err)
	}
	text, _ := h.srv.CallbackAnswer(id)
	return text
}

func (h *harness) sub(chat int64) subscribers.Subscription {
	h.t.Helper()
	s, err := h.st.FindSubscription(context.Background(), subscribers.Telegram, strconv.FormatInt(chat, 10))
	if err != nil {
		h.t.Fatalf("subscription of %d: %v", chat, err)
	}
	return s
}

func wantText(t *testing.T, m telegramtest.Message, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(m.PlainText, p) {
			t.Errorf("reply %q lacks %q", m.PlainText, p)
		}
	}
}

func callbacks(m telegramtest.Message) []string {
	var out []string
	for _, b := range m.ReplyMarkup.Buttons() {
		out = append(out, b.CallbackData)
	}
	return out
}

func TestReaderFlow(t *testing.T) {
	h := newHarness(t)

	// /start with a deep-link payload: welcome, schedule in words, Subscribe.
	r := h.say(reader, reader, "/start promo_2026", 1)[0]
	wantText(t, r, "Daily Headlines", "every day at 07:00 (Europe/Berlin time)", "World, Business and Sport")
	if cb := callbacks(r); len(cb) != 1 || cb[0] != "sub:promo_2026" {
		t.Fatalf("start buttons %v", cb)
	}
	// The button subscribes, with the payload as the source.
	before := len(h.srv.Messages(reader))
	h.press(reader, reader, r.MessageID, "sub:promo_2026")
	wantText(t, h.replies(reader, before, 1)[0], "Subscribed!")
	if s := h.sub(reader); s.Status != subscribers.Active || s.Source != "promo_2026" {
		t.Fatalf("subscription %+v", s)
	}
	wantText(t, h.say(reader, reader, "/subscribe", 1)[0], "already subscribed")

	// /settings: toggle Business off, in place.
	set := h.say(reader, reader, "/settings", 1)[0]
	wantText(t, set, "Now: every section.")
	if cb := callbacks(set); !slices.Equal(cb, []string{"sec:0", "sec:1", "sec:2", "sec:all"}) {
		t.Fatalf("settings buttons %v", cb)
	}
	if toast := h.press(reader, reader, set.MessageID, "sec:1"); toast != "Saved" {
		t.Errorf("toast %q", toast)
	}
	if s := h.sub(reader); !slices.Equal(s.Sections, []string{"World", "Sport"}) {
		t.Fatalf("sections %v", s.Sections)
	}
	edited := h.srv.Messages(reader)
	m := edited[len(edited)-1]
	if m.MessageID != set.MessageID || m.Edits != 1 {
		t.Fatalf("settings not edited in place: %+v", m)
	}
	wantText(t, m, "Now: World and Sport.")
	if b := m.ReplyMarkup.Buttons(); b[0].Text != "✅ World" || b[1].Text != "▫️ Business" {
		t.Errorf("buttons after toggling %+v", b)
	}
	// Switching everything off is refused; "All sections" resets.
	h.press(reader, reader, set.MessageID, "sec:0")
	if toast := h.press(reader, reader, set.MessageID, "sec:2"); !strings.Contains(toast, "at least one") {
		t.Errorf("last section off: toast %q", toast)
	}
	if s := h.sub(reader); !slices.Equal(s.Sections, []string{"Sport"}) {
		t.Fatalf("sections %v", s.Sections)
	}
	h.press(reader, reader, set.MessageID, "sec:all")
	if s := h.sub(reader); len(s.Sections) != 0 {
		t.Fatalf("all sections: %v", s.Sections)
	}

	// /settings HOUR ZONE: the reader's own hour; bad ones are explained.
	wantText(t, set, "When: with the newsletter (every day at 07:00 (Europe/Berlin time))", "/settings 7 Europe/Berlin")
	wantText(t, h.say(reader, reader, "/settings 6 America/Chicago", 1)[0], "Saved: your digest comes at 06:00 America/Chicago")
	if s := h.sub(reader); s.Local == nil || *s.Local != (subscribers.LocalTime{Zone: "America/Chicago", Hour: 6}) {
		t.Fatalf("delivery time %v", s.Local)
	}
	wantText(t, h.say(reader, reader, "/settings", 1)[0], "When: at 06:00 America/Chicago")
	wantText(t, h.say(reader, reader, "/settings 25 UTC", 1)[0], "hour 25: want 0 to 23")
	wantText(t, h.say(reader, reader, "/settings 7 Mars/<b>Olympus", 1)[0], `unknown time zone "Mars/<b>Olympus"`)
	wantText(t, h.say(reader, reader, "/settings seven UTC", 1)[0], "not a number")
	wantText(t, h.say(reader, reader, "/settings soon", 1)[0], "/settings 7 Europe/Berlin")
	if s := h.sub(reader); s.Local == nil || s.Local.Hour != 6 {
		t.Fatalf("refused settings changed the hour: %v", s.Local)
	}
	wantText(t, h.say(reader, reader, "/settings newsletter", 1)[0], "Saved: your digest comes with the newsletter")
	if s := h.sub(reader); s.Local != nil {
		t.Fatalf("delivery time %v after /settings newsletter", s.Local)
	}

	// Help, unknown commands and chatter all get a reply.
	wantText(t, h.say(reader, reader, "/help", 1)[0], "/subscribe", "/latest")
	if r := h.say(reader, reader, "/help", 1)[0]; strings.Contains(r.PlainText, "/sendnow") {
		t.Errorf("readers see admin commands: %q", r.PlainText)
	}
	wantText(t, h.say(reader, reader, "/frobnicate", 1)[0], "don't know that command", "/settings")
	wantText(t, h.say(reader, reader, "hello?", 1)[0], "/help")

	// The Unsubscribe button under a digest, then /subscribe again.
	before = len(h.srv.Messages(reader))
	h.press(reader, reader, 1, telegram.CallbackUnsubscribe)
	wantText(t, h.replies(reader, before, 1)[0], "Unsubscribed")
	if s := h.sub(reader); s.Status != subscribers.Unsubscribed {
		t.Fatalf("after unsubscribe: %s", s.Status)
	}
	wantText(t, h.say(reader, reader, "/unsubscribe", 1)[0], "not subscribed")
	wantText(t, h.say(reader, reader, "/settings", 1)[0], "Subscribe first")
	wantText(t, h.say(reader, reader, "/subscribe", 1)[0], "Subscribed!")
	if s := h.sub(reader); s.Status != subscribers.Active {
		t.Fatalf("after /subscribe: %s", s.Status)
	}
}

func TestEmail(t *testing.T) {
	h := newHarness(t)
	wantText(t, h.say(reader, reader, "/email", 1)[0], "/email you@example.com")
	wantText(t, h.say(reader, reader, "/email not-an-address", 1)[0], "not an email address")
	r := h.say(reader, reader, "/email Reader@Example.org", 1)[0]
	wantText(t, r, "confirmation link", "Reader@Example.org")
	h.mail.mu.Lock()
	sent := slices.Clone(h.mail.sent)
	h.mail.mu.Unlock()
	if len(sent) != 1 || !strings.HasPrefix(sent[0], "reader@example.org https://news.example/confirm/") {
		t.Fatalf("confirmation mails %v", sent)
	}
	s, err := h.st.FindSubscription(context.Background(), subscribers.Email, "reader@example.org")
	if err != nil || s.Status != subscribers.Pending {
		t.Fatalf("email subscription %+v, %v", s, err)
	}
}

func storeEdition(t *testing.T, st *store.Store, date, status string, items ...digest.Item) digest.Edition {
	t.Helper()
	ed, _, err := st.CreateEdition(context.Background(), digest.Edition{Date: date, Title: "Daily Headlines", Status: status, Items: items})
	if err != nil {
		t.Fatal(err)
	}
	return ed
}

func item(id int64, section, title string) digest.Item {
	return digest.Item{ArticleID: id, Section: section, Title: title, URL: fmt.Sprintf("https://news.example/a/%d", id), Lead: "Lead of " + title + ".", Source: "Harborview Herald"}
}

func TestLatest(t *testing.T) {
	h := newHarness(t)
	wantText(t, h.say(reader, reader, "/latest", 1)[0], "no digest yet", "every day at 07:00")

	storeEdition(t, h.st, "2026-11-25", digest.StatusSent, item(1, "World", "Rain <b>& wind</b>"), item(2, "Sport", "Final score"))
	storeEdition(t, h.st, "2026-11-26", digest.StatusBuilt, item(3, "World", "Not sent yet"))
	msgs := h.say(reader, reader, "/latest", 1)
	wantText(t, msgs[0], "Rain <b>& wind</b>", "Final score")
	if strings.Contains(msgs[0].PlainText, "Not sent yet") {
		t.Errorf("an edition not sent was shown")
	}
	if cb := callbacks(msgs[len(msgs)-1]); !slices.Equal(cb, []string{telegram.CallbackSettings, telegram.CallbackUnsubscribe}) {
		t.Errorf("digest buttons %v", cb)
	}

	// A subscriber gets their sections only; none there: said so.
	h.say(reader2, reader2, "/subscribe", 1)
	s := h.sub(reader2)
	if err := h.st.SetSubscriptionSections(context.Background(), s.ID, []string{"Business"}); err != nil {
		t.Fatal(err)
	}
	wantText(t, h.say(reader2, reader2, "/latest", 1)[0], "nothing in your sections")
}

func TestAdminRefused(t *testing.T) {
	h := newHarness(t)
	for _, cmd := range []string{"/sendnow", "/stats", "/post https://example.com/x", "/pause"} {
		r := h.say(reader, reader, cmd, 1)[0]
		wantText(t, r, "only for the newsletter's editors")
	}
	if !strings.Contains(h.logs.String(), "admin command refused") || !strings.Contains(h.logs.String(), "user_id=601") {
		t.Errorf("refusal not logged with the user id:\n%s", h.logs)
	}
	h.fan.mu.Lock()
	defer h.fan.mu.Unlock()
	if len(h.fan.calls) != 0 {
		t.Errorf("fan-out called for a non-admin: %v", h.fan.calls)
	}
}

func TestAdminCommands(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()

	wantText(t, h.say(admin, admin, "/post", 1)[0], "Usage", "missing URL")
	wantText(t, h.say(admin, admin, "/post "+h.web.URL+"/article-page.html Weather", 1)[0], "unknown section", "World, Business and Sport")
	r := h.say(admin, admin, "/post "+h.web.URL+"/article-page.html world", 1)[0]
	wantText(t, r, "Stored #", "Kim promises Putin", "[World]")
	id := strings.Fields(strings.TrimPrefix(r.PlainText, "Stored #"))[0]
	id = strings.TrimSuffix(id, ":")

	wantText(t, h.say(admin, admin, "/articles", 1)[0], "#"+id, "Kim promises Putin")
	wantText(t, h.say(admin, admin, "/pin "+id, 1)[0], "Pinned #"+id)
	wantText(t, h.say(admin, admin, "/pin 99999", 1)[0], "no article #99999")
	wantText(t, h.say(admin, admin, "/pin x", 1)[0], "Usage")

	// /preview goes to the admin's chat; /sendnow builds and starts.
	msgs := h.say(admin, admin, "/preview", 2)
	wantText(t, msgs[0], "Daily Headlines", "Kim promises Putin")
	wantText(t, msgs[len(msgs)-1], "That is the preview")
	wantText(t, h.say(admin, admin, "/sendnow", 1)[0], "Sending the edition of")
	eds, err := h.st.ListEditions(ctx, digest.DefaultNewsletter, 5)
	if err != nil || len(eds) != 1 || eds[0].Status != digest.StatusSending {
		t.Fatalf("editions %+v, %v", eds, err)
	}
	wantText(t, h.say(admin, admin, "/sendnow", 1)[0], "is being sent")
	wantText(t, h.say(admin, admin, "/resume", 1)[0], "No edition is paused")
	wantText(t, h.say(admin, admin, "/pause", 1)[0], "Paused the edition")
	wantText(t, h.say(admin, admin, "/resume", 1)[0], "Resumed the edition")
	h.fan.mu.Lock()
	calls := strings.Join(h.fan.calls, ",")
	h.fan.mu.Unlock()
	edID := strconv.FormatInt(eds[0].ID, 10)
	if calls != "start "+edID+",pause "+edID+",resume "+edID {
		t.Errorf("fan-out calls %s", calls)
	}
	wantText(t, h.say(admin, admin, "/hide "+id, 1)[0], "Hidden #"+id)
	if a, err := h.st.GetArticle(ctx, mustInt(t, id)); err != nil || !a.Hidden || !a.Pinned {
		t.Errorf("article %+v, %v", a, err)
	}

	// Feeds: validated by fetching.
	wantText(t, h.say(admin, admin, "/addfeed "+h.web.URL+"/article-page.html", 1)[0], "not a feed")
	wantText(t, h.say(admin, admin, "/addfeed "+h.web.URL+"/malformed.xml", 1)[0], "not a feed")
	r = h.say(admin, admin, "/addfeed "+h.web.URL+"/harborview-herald.rss.xml business", 1)[0]
	wantText(t, r, "Added feed #", "[Business]")
	fs, err := h.st.ListFeeds(ctx)
	if err != nil || len(fs) != 1 || fs[0].Section != "Business" || !fs[0].Enabled {
		t.Fatalf("feeds %+v, %v", fs, err)
	}
	wantText(t, h.say(admin, admin, "/feeds", 1)[0], fs[0].Name, "harborview-herald.rss.xml")
	wantText(t, h.say(admin, admin, "/rmfeed "+strconv.FormatInt(fs[0].ID, 10), 1)[0], "Removed feed")
	wantText(t, h.say(admin, admin, "/feeds", 1)[0], "No feeds yet")

	// /stats and admin /help.
	h.say(reader, reader, "/subscribe", 1)
	st := h.say(admin, admin, "/stats", 1)[0]
	wantText(t, st, "telegram: active 1", "email: none", "Last edition")
	// A spam complaint (a provider's webhook) shows in /stats.
	svc := &subscribers.Service{Store: h.st}
	if _, err := h.st.CreateSubscriptions(ctx, []subscribers.Subscription{{Channel: subscribers.Email, Address: "spam@example.com", Status: subscribers.Active}}); err != nil {
		t.Fatal(err)
	}
	if res, err := svc.ApplyReport(ctx, "spam@example.com", subscribers.ReportComplaint, 0); err != nil || res != subscribers.ResultUnsubscribed {
		t.Fatalf("complaint: %v %v", res, err)
	}
	wantText(t, h.say(admin, admin, "/stats", 1)[0], "email: unsubscribed 1", "spam complaints: 1")
	wantText(t, h.say(admin, admin, "/help", 1)[0], "/sendnow", "/addfeed")
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestGroup(t *testing.T) {
	h := newHarness(t)
	// Another bot's command and chatter: no reply.
	h.srv.PushMessage(group, reader, "/subscribe@other_bot")
	h.srv.PushMessage(group, reader, "nice weather")
	// A bare command we don't know: most likely another bot's, no reply.
	h.srv.PushMessage(group, reader, "/weather")
	// Ours, addressed by name.
	msgs := h.say(group, reader, "/subscribe@"+h.srv.BotUsername(), 1)
	wantText(t, msgs[0], "Subscribed!")
	time.Sleep(100 * time.Millisecond)
	if n := len(h.srv.Messages(group)); n != 1 {
		t.Fatalf("group got %d messages, want 1", n)
	}
	if s := h.sub(group); s.Status != subscribers.Active {
		t.Fatalf("group subscription %+v", s)
	}
	// The group becomes a supergroup: the subscription follows.
	newID := int64(-1004242)
	h.srv.PushMigration(group, newID)
	if err := h.srv.WaitFor(5*time.Second, func() bool {
		_, err := h.st.FindSubscription(context.Background(), subscribers.Telegram, strconv.FormatInt(newID, 10))
		return err == nil
	}); err != nil {
		t.Fatal(err)
	}
	// The admin's /preview from a group goes to the admin's private chat.
	h.srv.AddChat(admin)
	storeArticle(t, h.st, "Preview me")
	before := len(h.srv.Messages(admin))
	wantText(t, h.say(newID, admin, "/preview", 1)[0], "private chat")
	wantText(t, h.replies(admin, before, 1)[0], "Preview me")
}

// A command sent from a group's old id after it became a supergroup: the
// reply follows the group (migrate_to_chat_id), and so does its
// subscription.
func TestReplyFollowsGroupMigration(t *testing.T) {
	h := newHarness(t)
	h.say(group, reader, "/subscribe@"+h.srv.BotUsername(), 1)
	newID := int64(-1004343)
	h.srv.Migrate(group, newID)
	h.srv.PushMessage(group, reader, "/help@"+h.srv.BotUsername())
	if len(h.replies(newID, 0, 1)) != 1 {
		t.Fatal("no reply at the new id")
	}
	if err := h.srv.WaitFor(5*time.Second, func() bool {
		_, err := h.st.FindSubscription(context.Background(), subscribers.Telegram, strconv.FormatInt(newID, 10))
		return err == nil
	}); err != nil {
		t.Fatalf("the subscription did not follow: %v", err)
	}
}

func storeArticle(t *testing.T, st *store.Store, title string) {
	t.Helper()
	_, _, err := st.UpsertArticle(context.Background(), articles.Article{URL: "https://news.example/" + strings.ReplaceAll(title, " ", "-"), Title: title, Section: "World", Lead: "Lead."})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBlockedByReader: my_chat_member "kicked" blocks the subscription;
// unblocking does not reactivate it, only /subscribe does.
func TestBlockedByReader(t *testing.T) {
	h := newHarness(t)
	h.say(reader, reader, "/subscribe", 1)
	h.srv.PushMyChatMember(reader, reader, "member", "kicked")
	if err := h.srv.WaitFor(5*time.Second, func() bool { return h.sub(reader).Status == subscribers.Blocked }); err != nil {
		t.Fatal(err)
	}
	h.srv.PushMyChatMember(reader, reader, "kicked", "member")
	h.srv.PushMessage(reader2, reader2, "/help") // a marker: handled after the unblock
	h.replies(reader2, 0, 1)
	if s := h.sub(reader); s.Status != subscribers.Blocked {
		t.Fatalf("unblock reactivated: %s", s.Status)
	}
	wantText(t, h.say(reader, reader, "/subscribe", 1)[0], "Subscribed!")
	if s := h.sub(reader); s.Status != subscribers.Active {
		t.Fatalf("after /subscribe: %s", s.Status)
	}
}

// TestRestartDoesNotReplay: the offset is in the store; a restarted bot
// does not answer handled commands again.
func TestRestartDoesNotReplay(t *testing.T) {
	h := newHarness(t)
	h.say(reader, reader, "/help", 1)
	h.say(reader, reader, "/subscribe", 1)
	h.stop()
	h.start()
	h.say(reader2, reader2, "/help", 1) // the new loop runs
	time.Sleep(100 * time.Millisecond)
	if n := len(h.srv.Messages(reader)); n != 2 {
		t.Fatalf("reader got %d replies after the restart, want 2", n)
	}
	if off, err := h.st.GetState(context.Background(), telegram.OffsetKey); err != nil || off == "" {
		t.Fatalf("offset %q, %v", off, err)
	}
}

func TestEditionFinished(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.srv.AddChat(admin)
	h.srv.AddChannel(channel, "dailyheadlines")
	ed := storeEdition(t, h.st, "2026-11-26", digest.StatusSent, item(1, "World", "Channel story"))
	stats := []digest.DeliveryCount{
		{Channel: "email", Status: digest.DeliverySent, N: 10}, {Channel: "email", Status: "bounced", N: 2},
		{Channel: "telegram", Status: digest.DeliverySent, N: 5}, {Channel: "telegram", Status: "blocked", N: 1},
		{Channel: "telegram", Status: digest.DeliveryFailed, N: 1},
	}
	h.bot.EditionFinished(ctx, ed.ID, stats)
	sum := h.srv.Messages(admin)
	if len(sum) != 1 {
		t.Fatalf("admin got %d messages", len(sum))
	}
	wantText(t, sum[0], "2026-11-26", "email: sent 10, failed 0, bounced 2, blocked 0", "telegram: sent 5, failed 1, bounced 0, blocked 1")
	posts := h.srv.Messages(channel)
	if len(posts) != 1 || !strings.Contains(posts[0].PlainText, "Channel story") {
		t.Fatalf("channel posts %+v", posts)
	}
	h.bot.EditionFinished(ctx, ed.ID, stats) // once per edition and channel
	if n := len(h.srv.Messages(channel)); n != 1 {
		t.Errorf("channel got %d posts after a second call", n)
	}
}
