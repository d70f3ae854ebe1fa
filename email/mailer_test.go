package email_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/email"
	"github.com/digestbot/digestbot/email/emailtest"
	"github.com/digestbot/digestbot/subscribers"
)

// The confirmation mail goes out over SMTP and to the outbox alike: text
// and HTML with the link, the newsletter's From, DKIM-signed, and no
// List-Unsubscribe (it is not a list message).
func TestMailerConfirmation(t *testing.T) {
	key, txt := dkimKey(t, "ed25519")
	signer, err := email.NewDKIMSigner("example.com", "dgst", key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := emailtest.NewBuilder(t, signer)
	link := emailtest.Base + "/confirm/AXUAAAAAAAAAAQAAAAAAAAAA4Si6OOT1s629KE7knUmzGA"
	var _ subscribers.Mailer = (*email.Mailer)(nil)

	check := func(t *testing.T, data []byte) {
		t.Helper()
		p := emailtest.ParseMessage(t, data)
		if p.Header.Get("List-Unsubscribe") != "" || p.Header.Get("Precedence") != "" {
			t.Error("a confirmation mail is not a list message")
		}
		if p.Header.Get("To") != "new.reader@example.org" || !strings.HasSuffix(p.Header.Get("Message-ID"), "@example.com>") {
			t.Errorf("headers %v", p.Header)
		}
		if !strings.Contains(p.Subject, "Confirm") || !strings.Contains(p.Text, link) || !strings.Contains(p.HTML, link) {
			t.Errorf("subject %q, text %q", p.Subject, p.Text)
		}
		if vs := verify(t, data, txt); vs[0].Err != nil {
			t.Errorf("DKIM: %v", vs[0].Err)
		}
	}

	t.Run("smtp", func(t *testing.T) {
		srv := emailtest.Start(t, 0)
		snd := emailtest.NewSender(t, b, srv.Host, srv.Port, nil)
		m, err := email.NewMailer(b, snd)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.SendConfirmation(context.Background(), "new.reader@example.org", link); err != nil {
			t.Fatal(err)
		}
		msgs := srv.Messages()
		if len(msgs) != 1 || msgs[0].To[0] != "new.reader@example.org" {
			t.Fatalf("%+v", msgs)
		}
		check(t, msgs[0].Data)
		if err := m.SendConfirmation(context.Background(), "bad\r\naddress", link); err == nil {
			t.Error("bad address accepted")
		}
		prefs := emailtest.Base + "/preferences/AXAAAAAAAAAAAQAAAAAAAAAA4Si6OOT1s629KE7knUmzGA"
		if err := m.SendAlreadySubscribed(context.Background(), "new.reader@example.org", prefs); err != nil {
			t.Fatal(err)
		}
		if msgs = srv.Messages(); len(msgs) != 2 {
			t.Fatalf("%d messages", len(msgs))
		}
		if p := emailtest.ParseMessage(t, msgs[1].Data); !strings.Contains(p.Subject, "already subscribed") ||
			!strings.Contains(p.Text, prefs) || !strings.Contains(p.HTML, prefs) || strings.Contains(p.Text, "/confirm/") {
			t.Errorf("already-subscribed mail: subject %q, text %q", p.Subject, p.Text)
		}
		if err := m.SendAlreadySubscribed(context.Background(), "new.reader@example.org", "javascript:alert(1)"); err == nil {
			t.Error("a javascript: link was mailed")
		}
		srv.OnRcpt = func(string) error { return emailtest.Err(550, "5.1.1 unknown") }
		if err := m.SendConfirmation(context.Background(), "gone@example.org", link); err == nil {
			t.Error("a 550 is no error")
		}
	})
	t.Run("outbox", func(t *testing.T) {
		dir := t.TempDir()
		ob, err := email.NewOutboxSender(dir, b, nil)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := email.NewMailer(b, ob)
		if err := m.SendConfirmation(context.Background(), "new.reader@example.org", link); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "mail-*.eml"))
		if len(files) != 1 {
			t.Fatalf("files %v", files)
		}
		data, _ := os.ReadFile(files[0])
		check(t, data)
	})
	t.Run("no transport", func(t *testing.T) {
		if _, err := email.NewMailer(b, nil); err == nil {
			t.Error("NewMailer without a transport")
		}
	})
}

// Sending the same edition to the outbox twice leaves one file per reader.
func TestOutboxOverwrites(t *testing.T) {
	dir := t.TempDir()
	b, tokens := emailtest.NewBuilder(t, nil)
	ob, err := email.NewOutboxSender(dir, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	subs := emailtest.Subs(5, 3)
	subs[1].Address = "not an address"
	for range 2 {
		res, err := ob.Send(context.Background(), emailtest.Edition(1, "2026-01-05"), subs)
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Outcome != delivery.Sent || res[1].Outcome != delivery.Failed || res[2].Outcome != delivery.Sent {
			t.Fatalf("results %+v", res)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("%d entries", len(entries))
	}
	data, err := os.ReadFile(filepath.Join(dir, "2026-01-05-5.eml"))
	if err != nil {
		t.Fatal(err)
	}
	emailtest.CheckDigest(t, tokens, data, subs[0])
}

// Outside strings in headers (the From name, the newsletter title) are
// encoded, never able to add a header field.
func TestHeadersFromOutsideStrings(t *testing.T) {
	ro := emailtest.RenderOptions()
	ro.Title = "Le Café\r\nBcc: victim@example.org"
	b, err := email.NewBuilder(email.BuilderConfig{
		From: `"Le Café — Nouvelles" <news@example.com>`, Render: ro, Tokens: subscribers.NewTokens(emailtest.Secret, nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := b.AppendMessage(nil, emailtest.Edition(1, "2026-01-05"), emailtest.Subs(1, 1)[0])
	if err != nil {
		t.Fatal(err)
	}
	p := emailtest.ParseMessage(t, m.Data)
	if p.Header.Get("Bcc") != "" {
		t.Fatal("header injected through the title")
	}
	from, err := p.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Le Café — Nouvelles" || from[0].Address != "news@example.com" {
		t.Errorf("From %v %v", from, err)
	}
	if id := p.Header.Get("List-Id"); !strings.HasSuffix(id, "<daily.example.com>") || strings.ContainsAny(id, "\r\n") {
		t.Errorf("List-Id %q", id)
	}
	for _, bad := range []string{"not an address", "a@b.c\r\nBcc: x@y.z"} {
		if _, err := email.NewBuilder(email.BuilderConfig{From: bad, Render: ro, Tokens: subscribers.NewTokens(emailtest.Secret, nil)}); err == nil {
			t.Errorf("From %q accepted", bad)
		}
	}
}
