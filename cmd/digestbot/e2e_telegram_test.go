package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/telegram/telegramtest"
)

// outboxMails returns the .eml files of the outbox addressed to rcpt,
// parsed.
func outboxMails(t *testing.T, dir, rcpt string) []*parsedMail {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "outbox", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []*parsedMail
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := parseMail(t, data)
		if strings.Contains(m.Header.Get("To"), rcpt) {
			out = append(out, m)
		}
	}
	return out
}

// tgChat waits for chat to hold at least n messages and returns them.
func tgChat(t *testing.T, srv *telegramtest.Server, chat int64, n int) []telegramtest.Message {
	t.Helper()
	msgs, err := srv.WaitMessages(30*time.Second, chat, n)
	if err != nil {
		var texts []string
		for _, m := range msgs {
			texts = append(texts, m.PlainText)
		}
		t.Fatalf("%v; messages so far: %q", err, texts)
	}
	return msgs
}

// TestE2ETelegram: readers and an admin through the fake Bot API, the
// real serve running: /start, /subscribe, a refused /sendnow, the admin's
// /sendnow with the digest split in order, a blocked chat, a migrated
// group, /settings buttons that the next edition follows, /email with its
// confirmation, and a restart that does not replay handled commands.
func TestE2ETelegram(t *testing.T) {
	t.Parallel()
	const (
		admin    = int64(9001)
		reader   = int64(1001)
		stranger = int64(1002) // not an admin
		blocker  = int64(1003) // blocks the bot before the edition
		group    = int64(-2001)
		member   = int64(1004) // writes in the group
		newGroup = int64(-1002001)
		email    = "reader1001@example.com"
	)
	dir := t.TempDir()
	tg := telegramtest.NewServer(telegramtest.Options{})
	t.Cleanup(tg.Close)
	tgConf := fmt.Sprintf("token = %q\napi_endpoint = %q\nadmins = [%d]", tg.Token(), tg.Endpoint(), admin)
	cfg := writeConfig(t, dir, "config.toml", e2eConfig{Telegram: tgConf})
	srv := startServe(t, cfg)

	// /start, then /subscribe.
	tg.PushMessage(reader, reader, "/start")
	msgs := tgChat(t, tg, reader, 1)
	if !strings.Contains(msgs[0].PlainText, "Welcome") || !slices.ContainsFunc(msgs[0].ReplyMarkup.Buttons(), func(b telegramtest.Button) bool { return b.Text == "Subscribe" }) {
		t.Fatalf("/start: %q %+v", msgs[0].PlainText, msgs[0].ReplyMarkup)
	}
	tg.PushMessage(reader, reader, "/subscribe")
	if msgs = tgChat(t, tg, reader, 2); !strings.Contains(msgs[1].PlainText, "Subscribed!") {
		t.Fatalf("/subscribe: %q", msgs[1].PlainText)
	}
	tg.PushMessage(blocker, blocker, "/subscribe")
	tgChat(t, tg, blocker, 1)
	tg.PushMessage(group, member, "/subscribe@"+tg.BotUsername())
	if msgs = tgChat(t, tg, group, 1); !strings.Contains(msgs[0].PlainText, "Subscribed!") {
		t.Fatalf("group /subscribe: %q", msgs[0].PlainText)
	}
	// Someone who is not an admin may not send.
	tg.PushMessage(stranger, stranger, "/sendnow")
	if msgs = tgChat(t, tg, stranger, 1); !strings.Contains(msgs[0].PlainText, "only for the newsletter's editors") {
		t.Fatalf("non-admin /sendnow: %q", msgs[0].PlainText)
	}

	importFixtures(t, cfg)
	noEdition(t, dir) // the refused /sendnow built nothing
	out, _ := mustRun(t, 0, "preview", "--config", cfg, "--format", "telegram")
	want := strings.Split(strings.TrimSuffix(out, "\n"), "\n--- message break ---\n")
	if len(want) < 2 {
		t.Fatalf("the edition fits one message; the test wants a split one:\n%s", out)
	}

	// Before the edition: one reader blocks the bot, the group becomes a
	// supergroup (Telegram answers migrate_to_chat_id at the old id).
	tg.Block(blocker)
	tg.Migrate(group, newGroup)
	tg.PushMessage(admin, admin, "/sendnow")
	if msgs = tgChat(t, tg, admin, 1); !strings.Contains(msgs[0].PlainText, "Sending the edition") {
		t.Fatalf("admin /sendnow: %q", msgs[0].PlainText)
	}
	// The admins' summary comes when the edition is done.
	msgs = tgChat(t, tg, admin, 2)
	if s := msgs[1].PlainText; !strings.Contains(s, "delivery finished") || !strings.Contains(s, "telegram: sent 2, failed 0, bounced 0, blocked 1") {
		t.Errorf("admin summary: %q", s)
	}
	// The digest: every message, in order, HTML the fake accepted (it
	// refuses what Telegram would not parse), link previews off, the
	// buttons under the last.
	got := tg.Messages(reader)[2:]
	if len(got) != len(want) {
		t.Fatalf("reader got %d digest messages, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Text != want[i] || got[i].ParseMode != "HTML" {
			t.Errorf("digest message %d (%s):\n%s\nwant:\n%s", i, got[i].ParseMode, got[i].Text, want[i])
		}
		if got[i].LinkPreviewOptions == nil || !got[i].LinkPreviewOptions.IsDisabled {
			t.Errorf("digest message %d: link previews on", i)
		}
	}
	var data []string
	for _, b := range got[len(got)-1].ReplyMarkup.Buttons() {
		data = append(data, b.CallbackData)
	}
	if !slices.Contains(data, "settings") || !slices.Contains(data, "unsub") {
		t.Errorf("buttons under the digest: %q", data)
	}
	// The group gets it at its new id, and nothing at the old one.
	if got := tg.Messages(newGroup); len(got) != len(want) || got[0].Text != want[0] || got[len(got)-1].Text != want[len(want)-1] {
		t.Errorf("migrated group got %d messages, want the %d of the digest", len(got), len(want))
	}
	if got := tg.Messages(group); len(got) != 1 {
		t.Errorf("the group's old id has %d messages, want the /subscribe answer only", len(got))
	}
	st := subscriberStatuses(t, srv)
	for key, want := range map[string]string{
		fmt.Sprintf("telegram:%d", reader): "active", fmt.Sprintf("telegram:%d", blocker): "blocked",
		fmt.Sprintf("telegram:%d", newGroup): "active",
	} {
		if st[key] != want {
			t.Errorf("%s: %q, want %q", key, st[key], want)
		}
	}
	if s, ok := st[fmt.Sprintf("telegram:%d", group)]; ok {
		t.Errorf("the group's old id is still subscribed (%s)", s)
	}

	// /settings: the reader keeps tech only, tapping the buttons.
	n := len(tg.Messages(reader))
	tg.PushMessage(reader, reader, "/settings")
	settings := tgChat(t, tg, reader, n+1)[n]
	for _, section := range []string{"world", "us", "military", "business"} {
		data := ""
		for _, b := range settings.ReplyMarkup.Buttons() {
			if strings.HasSuffix(b.Text, " "+section) {
				data = b.CallbackData
			}
		}
		if data == "" {
			t.Fatalf("no button for %s: %+v", section, settings.ReplyMarkup.Buttons())
		}
		q := tg.PushCallback(reader, reader, settings.MessageID, data)
		if err := tg.WaitFor(30*time.Second, func() bool { _, ok := tg.CallbackAnswer(q); return ok }); err != nil {
			t.Fatalf("button %s not answered: %v", section, err)
		}
		if toast, _ := tg.CallbackAnswer(q); toast != "Saved" {
			t.Fatalf("button %s: %q", section, toast)
		}
	}
	if settings = tg.Messages(reader)[n]; !strings.Contains(settings.PlainText, "Now: tech.") || settings.Edits != 4 {
		t.Fatalf("settings after 4 taps (%d edits): %q", settings.Edits, settings.PlainText)
	}

	// /email: a confirmation mail first (to the outbox), then the link.
	tg.PushMessage(reader, reader, "/email "+email)
	if msgs = tgChat(t, tg, reader, n+2); !strings.Contains(msgs[n+1].PlainText, "Check your inbox") {
		t.Fatalf("/email: %q", msgs[n+1].PlainText)
	}
	mails := outboxMails(t, dir, email)
	if len(mails) != 1 {
		t.Fatalf("%d mails to %s in the outbox, want the confirmation", len(mails), email)
	}
	if got := subscriberStatuses(t, srv)["email:"+email]; got != "pending" {
		t.Fatalf("email subscription before the confirm link: %q", got)
	}
	status, page := newBrowser(t).post(srv.URL(confirmLink(t, mails[0])), nil)
	if status != http.StatusOK || !strings.Contains(page, "You're subscribed") {
		t.Fatalf("confirm: %d\n%s", status, page)
	}
	if got := subscriberStatuses(t, srv)["email:"+email]; got != "active" {
		t.Fatalf("email subscription after the confirm link: %q", got)
	}

	// A restart (with the next day's zone) replays no handled command.
	// Telegram forgets an update only when the next getUpdates confirms
	// it; so that a restart has something it could replay, the polls after
	// the last command fail (502) until serve is stopped, and only the
	// offset digestbot stored tells the new process where to go on.
	if err := tg.WaitFor(30*time.Second, func() bool { return tg.PendingUpdates() == 0 }); err != nil {
		t.Fatal(err) // every update so far confirmed: a long poll is waiting
	}
	tg.FailNext("getUpdates", telegramtest.Failure{Status: http.StatusBadGateway}, telegramtest.Failure{Status: http.StatusBadGateway})
	n = len(tg.Messages(reader))
	tg.PushMessage(reader, reader, "/help")
	tgChat(t, tg, reader, n+1)
	srv.stop(t)
	if p := tg.PendingUpdates(); p != 1 {
		t.Fatalf("%d updates unconfirmed at the restart, want the /help just handled", p)
	}
	before := len(tg.AllMessages())
	tomorrow := writeConfig(t, dir, "tomorrow.toml", e2eConfig{Telegram: tgConf, Timezone: tzLate})
	startServe(t, tomorrow) // stopped when the test ends
	tg.PushMessage(stranger, stranger, "/start")
	tgChat(t, tg, stranger, 2)
	if all := tg.AllMessages(); len(all) != before+1 {
		var extra []string
		for _, m := range all[before:] {
			extra = append(extra, fmt.Sprintf("%d: %q", m.ChatID, m.PlainText))
		}
		t.Fatalf("after the restart: %d messages, want the answer to the new /start only: %s", len(all)-before, extra)
	}

	// The next edition follows the reader's sections, in Telegram and by email.
	feed := writeFeed(t, dir, "tomorrow.xml",
		[2]string{"Chipmaker unveils a laptop with a quantum coprocessor", "tech"},
		[2]string{"Ceasefire talks resume in Geneva", "world"})
	mustRun(t, 0, "import", "--config", tomorrow, feed)
	adminN := len(tg.Messages(admin))
	groupN := len(tg.Messages(newGroup))
	n = len(tg.Messages(reader))
	tg.PushMessage(admin, admin, "/sendnow")
	tgChat(t, tg, admin, adminN+2) // the reply and the summary: the edition is done
	msgs = tg.Messages(reader)[n:]
	var text strings.Builder
	for _, m := range msgs {
		text.WriteString(m.PlainText + "\n")
	}
	if len(msgs) == 0 || !strings.Contains(text.String(), "quantum coprocessor") || strings.Contains(text.String(), "Ceasefire") {
		t.Errorf("reader's second edition (tech only):\n%s", text.String())
	}
	var groupText strings.Builder
	for _, m := range tg.Messages(newGroup)[groupN:] {
		groupText.WriteString(m.PlainText + "\n")
	}
	if !strings.Contains(groupText.String(), "quantum coprocessor") || !strings.Contains(groupText.String(), "Ceasefire") {
		t.Errorf("group's second edition (every section):\n%s", groupText.String())
	}
	mails = outboxMails(t, dir, email)
	digests := slices.DeleteFunc(slices.Clone(mails), func(m *parsedMail) bool { return m.Header.Get("List-Unsubscribe") == "" })
	if len(mails) != 2 || len(digests) != 1 {
		t.Fatalf("%d mails to %s (%d digests), want the confirmation and one digest", len(mails), email, len(digests))
	}
	if txt := digests[0].Text(); !strings.Contains(txt, "quantum coprocessor") || strings.Contains(txt, "Ceasefire") {
		t.Errorf("the email digest does not follow the sections (tech):\n%s", txt)
	}
	if s := tg.Messages(admin)[adminN+1].PlainText; !strings.Contains(s, "email: sent 1") || !strings.Contains(s, "telegram: sent 2") {
		t.Errorf("second summary: %q", s)
	}
}

// noEdition checks that the database in dir holds no edition yet.
func noEdition(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite", filepath.Join(dir, "db.sqlite"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if ed, err := st.LatestEdition(ctx, digest.DefaultNewsletter); !errors.Is(err, digest.ErrNotFound) {
		t.Fatalf("an edition exists (%d, %s; %v)", ed.ID, ed.Status, err)
	}
}
