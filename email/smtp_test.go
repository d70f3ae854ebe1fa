package email_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"hash/fnv"
	"math/big"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digestbot/digestbot/bounces"
	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/email"
	"github.com/digestbot/digestbot/email/emailtest"
	"github.com/digestbot/digestbot/subscribers"
)

func TestSMTPSendHeadersAndBody(t *testing.T) {
	srv := emailtest.Start(t, 0)
	b, tokens := emailtest.NewBuilder(t, nil)
	s := emailtest.NewSender(t, b, srv.Host, srv.Port, func(o *email.SMTPOptions) { o.Connections = 2 })
	ed := emailtest.Edition(7, "2026-01-05")
	subs := emailtest.Subs(1, 30)
	subs[3].Sections = []string{"Science"}
	subs[4].Sections = []string{"Science", "Local"}

	res, err := s.Send(context.Background(), ed, subs)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if len(res) != len(subs) {
		t.Fatalf("%d results for %d subscriptions", len(res), len(subs))
	}
	for _, r := range res {
		if r.Outcome != delivery.Sent {
			t.Errorf("subscription %d: %v %v", r.SubscriptionID, r.Outcome, r.Err)
		}
	}
	got := srv.ByRecipient()
	for _, sub := range subs {
		ms := got[sub.Address]
		if len(ms) != 1 {
			t.Fatalf("%s got %d messages, want 1", sub.Address, len(ms))
		}
		if ms[0].From != "news@example.com" {
			t.Errorf("envelope from %q", ms[0].From)
		}
		emailtest.CheckDigest(t, tokens, ms[0].Data, sub)
		// On the wire the body comes from the shared template with the
		// reader's tokens in its holes: byte for byte the built message
		// (but its Date).
		want, err := b.AppendMessage(nil, ed, sub)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := withoutDate(ms[0].Data), withoutDate(want.Data); !bytes.Equal(g, w) {
			t.Errorf("%s: sent message differs from the built one (%d bytes, want %d)", sub.Address, len(g), len(w))
		}
	}
	// Sections: the Science-only reader gets Science items and no Sports.
	sci := emailtest.ParseMessage(t, got[subs[3].Address][0].Data)
	all := emailtest.ParseMessage(t, got[subs[0].Address][0].Data)
	if len(sci.HTML) >= len(all.HTML) || !strings.Contains(sci.Text, "Headline number 3") || strings.Contains(sci.Text, "Headline number 4:") {
		t.Errorf("sections not applied: science-only text:\n%s", sci.Text)
	}
	if n := srv.Sessions(); n > 2 {
		t.Errorf("%d SMTP sessions for 2 connections: connections not reused", n)
	}
	if len(all.Text) < 1000 || len(got[subs[0].Address][0].Data) < 5000 {
		t.Errorf("suspiciously small message: %d bytes", len(got[subs[0].Address][0].Data))
	}
}

// A server that answers 4xx to a fifth of the messages (deterministically,
// by a hash of the recipient and the attempt) and 5xx to some recipients:
// resending what came back delivery.Retry gives every reader exactly one message.
func TestSMTPTransientAndPermanentFailures(t *testing.T) {
	srv := emailtest.Start(t, 0)
	var attempts sync.Map // rcpt -> *atomic.Int32
	srv.OnRcpt = func(to string) error {
		if strings.HasPrefix(to, "reader1") && strings.HasSuffix(to, "3@example.org") {
			return emailtest.Err(550, "5.1.1 no such user")
		}
		return nil
	}
	srv.OnData = func(to []string, _ []byte) error {
		v, _ := attempts.LoadOrStore(to[0], new(atomic.Int32))
		n := v.(*atomic.Int32).Add(1)
		h := fnv.New32a()
		h.Write([]byte(to[0]))
		h.Write([]byte{byte(n)})
		if h.Sum32()%5 == 0 {
			return emailtest.Err(451, "4.3.0 try again later")
		}
		return nil
	}
	b, _ := emailtest.NewBuilder(t, nil)
	s := emailtest.NewSender(t, b, srv.Host, srv.Port, nil)
	ed := emailtest.Edition(8, "2026-01-06")
	subs := emailtest.Subs(1, 200)
	byID := make(map[int64]subscribers.Subscription)
	for _, sub := range subs {
		byID[sub.ID] = sub
	}
	bounced := map[int64]bool{}
	retries := 0
	pending := subs
	for round := 0; len(pending) > 0; round++ {
		if round > 20 {
			t.Fatalf("still %d to retry after 20 rounds", len(pending))
		}
		res, err := s.Send(context.Background(), ed, pending)
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
		pending = nil
		for _, r := range res {
			switch r.Outcome {
			case delivery.Sent:
			case delivery.Retry:
				var se *email.SMTPError
				if !errors.As(r.Err, &se) || !se.Temporary() {
					t.Errorf("retry without a 4xx: %v", r.Err)
				}
				retries++
				pending = append(pending, byID[r.SubscriptionID])
			case delivery.Bounced:
				bounced[r.SubscriptionID] = true
			default:
				t.Errorf("subscription %d: %v %v", r.SubscriptionID, r.Outcome, r.Err)
			}
		}
	}
	got := srv.ByRecipient()
	for _, sub := range subs {
		want := 1
		if bounced[sub.ID] {
			want = 0
		}
		if n := len(got[sub.Address]); n != want {
			t.Errorf("%s got %d messages, want %d", sub.Address, n, want)
		}
	}
	// reader13, reader103 … reader193: 11 bounced.
	if len(bounced) != 11 {
		t.Errorf("%d bounced, want 11", len(bounced))
	}
	if retries < 10 {
		t.Errorf("only %d transient failures: the 20%% 4xx server did not bite", retries)
	}
	t.Logf("%d transient failures retried, %d bounced", retries, len(bounced))
}

func TestSMTPServerDownThenUp(t *testing.T) {
	port := emailtest.FreePort(t)
	b, tokens := emailtest.NewBuilder(t, nil)
	s := emailtest.NewSender(t, b, "127.0.0.1", port, nil)
	ed := emailtest.Edition(9, "2026-01-07")
	subs := emailtest.Subs(1, 20)

	res, err := s.Send(context.Background(), ed, subs)
	if err == nil {
		t.Fatal("Send to a dead server: no error")
	}
	for _, r := range res {
		if r.Outcome != delivery.Retry {
			t.Errorf("dead server: %v", r.Outcome)
		}
	}
	srv := emailtest.Start(t, port)
	time.Sleep(50 * time.Millisecond) // RedialDelay
	res, err = s.Send(context.Background(), ed, subs)
	if err != nil {
		t.Fatalf("Send after the server came up: %v", err)
	}
	for _, r := range res {
		if r.Outcome != delivery.Sent {
			t.Errorf("subscription %d: %v %v", r.SubscriptionID, r.Outcome, r.Err)
		}
	}
	got := srv.ByRecipient()
	for _, sub := range subs {
		if len(got[sub.Address]) != 1 {
			t.Errorf("%s got %d", sub.Address, len(got[sub.Address]))
		} else {
			emailtest.CheckDigest(t, tokens, got[sub.Address][0].Data, sub)
		}
	}

	// The server goes away again while connections are idle in the pool:
	// the stale connections are replaced and nothing is sent twice.
	srv.Close()
	srv2 := emailtest.Start(t, port)
	res, err = s.Send(context.Background(), ed, emailtest.Subs(100, 10))
	if err != nil {
		t.Fatalf("Send after a restart: %v", err)
	}
	sent := 0
	for _, r := range res {
		if r.Outcome == delivery.Sent {
			sent++
		}
	}
	if len(srv2.Messages()) != sent || sent == 0 {
		t.Errorf("after restart: %d sent, server has %d", sent, len(srv2.Messages()))
	}
}

func TestSMTPBadAddressNoInjection(t *testing.T) {
	srv := emailtest.Start(t, 0)
	b, _ := emailtest.NewBuilder(t, nil)
	s := emailtest.NewSender(t, b, srv.Host, srv.Port, nil)
	subs := emailtest.Subs(1, 3)
	subs[1].Address = "victim@example.org>\r\nRCPT TO:<evil@example.net"
	subs[2].Address = "Someone <x@example.org>"
	res, err := s.Send(context.Background(), emailtest.Edition(10, "2026-01-08"), subs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		want := delivery.Failed
		if r.SubscriptionID == 1 {
			want = delivery.Sent
		}
		if r.Outcome != want {
			t.Errorf("subscription %d: %v, want %v", r.SubscriptionID, r.Outcome, want)
		}
		if want == delivery.Failed && !errors.Is(r.Err, email.ErrBadAddress) {
			t.Errorf("error %v", r.Err)
		}
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0] != "reader1@example.org" {
		t.Errorf("server got %+v", msgs)
	}
}

func TestSMTPRateLimit(t *testing.T) {
	srv := emailtest.Start(t, 0)
	b, _ := emailtest.NewBuilder(t, nil)
	s := emailtest.NewSender(t, b, srv.Host, srv.Port, func(o *email.SMTPOptions) { o.RatePerSecond = 100 })
	start := time.Now()
	res, err := s.Send(context.Background(), emailtest.Edition(11, "2026-01-09"), emailtest.Subs(1, 40))
	if err != nil {
		t.Fatal(err)
	}
	// 40 messages at 100/s with a burst of 5: at least 0.35 s.
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("40 messages at 100/s took %v", d)
	}
	for _, r := range res {
		if r.Outcome != delivery.Sent {
			t.Errorf("%v", r.Err)
		}
	}
}

// STARTTLS with AUTH PLAIN, and implicit TLS, against a self-signed cert.
func TestSMTPTLSAndAuth(t *testing.T) {
	cert, pool := selfSigned(t)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}}
	clientTLS := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}

	t.Run("starttls", func(t *testing.T) {
		srv := emailtest.Start(t, 0, emailtest.WithTLS(serverTLS))
		srv.User, srv.Pass = "digest", "s3cret"
		b, tokens := emailtest.NewBuilder(t, nil)
		s := emailtest.NewSender(t, b, srv.Host, srv.Port, func(o *email.SMTPOptions) {
			o.TLS, o.TLSConfig, o.Username, o.Password = "starttls", clientTLS, "digest", "s3cret"
		})
		ed, subs := emailtest.Edition(12, "2026-01-10"), emailtest.Subs(1, 5)
		res, err := s.Send(context.Background(), ed, subs)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Outcome != delivery.Sent {
				t.Errorf("%v %v", r.Outcome, r.Err)
			}
		}
		if len(srv.Messages()) != 5 || len(srv.Authed()) == 0 {
			t.Errorf("%d messages, auth %v", len(srv.Messages()), srv.Authed())
		}
		// Over TLS the head and the body's pieces go through the write
		// buffer: the same bytes as the built message.
		got := srv.ByRecipient()
		for _, sub := range subs {
			if len(got[sub.Address]) != 1 {
				t.Fatalf("%s got %d messages", sub.Address, len(got[sub.Address]))
			}
			data := got[sub.Address][0].Data
			emailtest.CheckDigest(t, tokens, data, sub)
			want, err := b.AppendMessage(nil, ed, sub)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := withoutDate(data), withoutDate(want.Data); !bytes.Equal(g, w) {
				t.Errorf("%s: message over TLS differs from the built one (%d bytes, want %d)", sub.Address, len(g), len(w))
			}
		}
	})
	t.Run("starttls required but not offered", func(t *testing.T) {
		srv := emailtest.Start(t, 0)
		b, _ := emailtest.NewBuilder(t, nil)
		s := emailtest.NewSender(t, b, srv.Host, srv.Port, func(o *email.SMTPOptions) { o.TLS = "starttls" })
		if _, err := s.Send(context.Background(), emailtest.Edition(13, "2026-01-11"), emailtest.Subs(1, 2)); err == nil {
			t.Error("sent in clear although TLS was required")
		}
		if len(srv.Messages()) != 0 {
			t.Error("message sent in clear")
		}
	})
	t.Run("implicit tls", func(t *testing.T) {
		srv := emailtest.Start(t, 0, emailtest.ImplicitTLS(serverTLS))
		b, _ := emailtest.NewBuilder(t, nil)
		s := emailtest.NewSender(t, b, srv.Host, srv.Port, func(o *email.SMTPOptions) { o.TLS, o.TLSConfig = "tls", clientTLS })
		if _, err := s.Send(context.Background(), emailtest.Edition(14, "2026-01-12"), emailtest.Subs(1, 3)); err != nil {
			t.Fatal(err)
		}
		if len(srv.Messages()) != 3 {
			t.Errorf("%d messages over implicit TLS", len(srv.Messages()))
		}
	})
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// A server without PIPELINING gets one command at a time (RFC 5321
// §4.1.4): the sender waits for each reply, and still stops at a refusal.
func TestSMTPWithoutPipelining(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var violations, accepted, resets atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				reply := func(s string) { _, _ = c.Write([]byte(s)) }
				reply("220 plain ESMTP\r\n")
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if r.Buffered() > 0 {
						violations.Add(1)
					}
					switch cmd := strings.ToUpper(line[:4]); cmd {
					case "EHLO":
						reply("250-plain\r\n250 8BITMIME\r\n")
					case "RCPT":
						if strings.Contains(line, "reader3@") {
							reply("550 5.1.1 no such user\r\n")
						} else {
							reply("250 ok\r\n")
						}
					case "DATA":
						reply("354 go on\r\n")
						for {
							l, err := r.ReadString('\n')
							if err != nil {
								return
							}
							if l == ".\r\n" {
								break
							}
						}
						accepted.Add(1)
						reply("250 queued\r\n")
					case "RSET":
						resets.Add(1)
						reply("250 ok\r\n")
					case "QUIT":
						reply("221 bye\r\n")
						return
					default:
						reply("250 ok\r\n")
					}
				}
			}()
		}
	}()
	b, _ := emailtest.NewBuilder(t, nil)
	s := emailtest.NewSender(t, b, "127.0.0.1", ln.Addr().(*net.TCPAddr).Port, func(o *email.SMTPOptions) { o.Connections = 2 })
	res, err := s.Send(context.Background(), emailtest.Edition(15, "2026-01-13"), emailtest.Subs(1, 12))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		want := delivery.Sent
		if r.SubscriptionID == 3 {
			want = delivery.Bounced
		}
		if r.Outcome != want {
			t.Errorf("subscription %d: %v %v", r.SubscriptionID, r.Outcome, r.Err)
		}
	}
	// The RSET follows the bounce's result.
	for deadline := time.Now().Add(time.Second); resets.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if violations.Load() != 0 || accepted.Load() != 11 || resets.Load() != 1 {
		t.Errorf("%d pipelining violations, %d accepted, %d RSET", violations.Load(), accepted.Load(), resets.Load())
	}
}

// TestSMTPReturnPath: with a VERP return path, each message's envelope
// sender names its own delivery, signed; the From header is unchanged.
func TestSMTPReturnPath(t *testing.T) {
	srv := emailtest.Start(t, 0)
	rp := bounces.ReturnPath{Domain: "bounces.example.com", Secret: emailtest.Secret}
	tokens := subscribers.NewTokens(emailtest.Secret, nil)
	b, err := email.NewBuilder(email.BuilderConfig{From: emailtest.From, Render: emailtest.RenderOptions(), Tokens: tokens,
		ReturnPath: rp.Address})
	if err != nil {
		t.Fatal(err)
	}
	s := emailtest.NewSender(t, b, srv.Host, srv.Port, nil)
	subs := emailtest.Subs(40, 12)
	if _, err := s.Send(context.Background(), emailtest.Edition(7, "2026-01-05"), subs); err != nil {
		t.Fatal(err)
	}
	got := srv.ByRecipient()
	for _, sub := range subs {
		ms := got[sub.Address]
		if len(ms) != 1 {
			t.Fatalf("%s got %d messages", sub.Address, len(ms))
		}
		ed, id, err := rp.Parse(ms[0].From)
		if err != nil || ed != 7 || id != sub.ID || !strings.HasPrefix(ms[0].From, "bounces+") {
			t.Errorf("%s: envelope from %q → edition %d, subscription %d, %v", sub.Address, ms[0].From, ed, id, err)
		}
		if m := emailtest.ParseMessage(t, ms[0].Data); !strings.Contains(m.Header.Get("From"), "news@example.com") {
			t.Errorf("From header %q", m.Header.Get("From"))
		}
	}
}

// withoutDate is msg without its Date header line.
func withoutDate(msg []byte) []byte {
	i := bytes.Index(msg, []byte("\r\nDate: "))
	if i < 0 {
		return msg
	}
	j := bytes.Index(msg[i+2:], []byte("\r\n"))
	return append(append([]byte{}, msg[:i]...), msg[i+2+j:]...)
}

// Warm opens every connection before the first message, and the messages
// then use them; a Warm that cannot reach the server does not hold the
// first message back (it dials again at once).
func TestSMTPWarm(t *testing.T) {
	srv := emailtest.Start(t, 0)
	b, _ := emailtest.NewBuilder(t, nil)
	s := emailtest.NewSender(t, b, srv.Host, srv.Port, func(o *email.SMTPOptions) { o.Connections = 3 })
	s.Warm()
	s.Warm() // asked twice: still one connection a worker
	deadline := time.Now().Add(5 * time.Second)
	for srv.Sessions() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := srv.Sessions(); n != 3 {
		t.Fatalf("%d sessions after Warm, want 3", n)
	}
	if _, err := s.Send(context.Background(), emailtest.Edition(9, "2026-01-07"), emailtest.Subs(1, 12)); err != nil {
		t.Fatal(err)
	}
	if n, m := srv.Sessions(), len(srv.Messages()); n != 3 || m != 12 {
		t.Errorf("%d sessions, %d messages; want the 3 warm sessions to carry 12", n, m)
	}

	port := emailtest.FreePort(t)
	cold := emailtest.NewSender(t, b, "127.0.0.1", port, func(o *email.SMTPOptions) {
		o.Connections = 2
		o.RedialDelay = time.Hour
	})
	cold.Warm()
	time.Sleep(100 * time.Millisecond) // the dials fail
	up := emailtest.Start(t, port)
	res, err := cold.Send(context.Background(), emailtest.Edition(9, "2026-01-07"), emailtest.Subs(1, 4))
	if err != nil {
		t.Fatalf("first send after a failed Warm: %v", err)
	}
	for _, r := range res {
		if r.Outcome != delivery.Sent {
			t.Errorf("subscription %d: %v %v", r.SubscriptionID, r.Outcome, r.Err)
		}
	}
	if len(up.Messages()) != 4 {
		t.Errorf("server has %d messages, want 4", len(up.Messages()))
	}
}
