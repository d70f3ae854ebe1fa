package bounces_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/digestbot/digestbot/bounces"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/subscribers"
)

// dsn is a delivery status notification as RFC 3464 §6 shows one, for
// recipient with action and status.
func dsn(rcpt, action, status string) string {
	return strings.NewReplacer("RCPT", rcpt, "ACTION", action, "STATUS", status).Replace(`Date: Mon, 7 Dec 2026 09:00:00 +0000
From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>
To: <bounces+TOKEN@bounces.news.example>
Subject: Delivery Status Notification (Failure)
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
    boundary="RAA14128.773615765/mx.example.org"

--RAA14128.773615765/mx.example.org
Content-Type: text/plain; charset=us-ascii

The original message was received at Mon, 7 Dec 2026 08:59:58 +0000
from news.example [192.0.2.10]

   ----- The following addresses had delivery problems -----
<RCPT>  (unrecoverable error)

--RAA14128.773615765/mx.example.org
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org
Arrival-Date: Mon, 7 Dec 2026 08:59:58 +0000

Original-Recipient: rfc822;RCPT
Final-Recipient: rfc822;RCPT
Action: ACTION
Status: STATUS
Remote-MTA: dns; mailbox.example.org
Diagnostic-Code: smtp; 550 5.1.1 <RCPT>... User unknown
Last-Attempt-Date: Mon, 7 Dec 2026 09:00:00 +0000

--RAA14128.773615765/mx.example.org
Content-Type: text/rfc822-headers

From: Daily Headlines <news@news.example>
To: RCPT
Subject: Daily Headlines for Monday, December 7

--RAA14128.773615765/mx.example.org--
`)
}

// arf is an abuse report as RFC 5965 §3 (Figure 2) shows one.
func arf(rcpt, feedbackType string) string {
	return strings.ReplaceAll(strings.ReplaceAll(`From: <abusedesk@example.com>
Date: Mon, 7 Dec 2026 10:00:00 +0000
Subject: FW: Daily Headlines
To: <bounces+TOKEN@bounces.news.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
     boundary="part1_13d.2e68ed54_boundary"

--part1_13d.2e68ed54_boundary
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
192.0.2.10 on Mon, 7 Dec 2026 09:00:00 +0000.

--part1_13d.2e68ed54_boundary
Content-Type: message/feedback-report

Feedback-Type: TYPE
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <bounces+TOKEN@bounces.news.example>
Original-Rcpt-To: <RCPT>
Arrival-Date: Mon, 7 Dec 2026 09:00:00 +0000
Source-IP: 192.0.2.10
Reported-Domain: news.example

--part1_13d.2e68ed54_boundary
Content-Type: message/rfc822-headers

From: <news@news.example>
To: <RCPT>
Subject: Daily Headlines

--part1_13d.2e68ed54_boundary--
`, "RCPT", rcpt), "TYPE", feedbackType)
}

func TestInboundReports(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		e := newEnv(t, st)
		e.subscribe("hard@example.org", "soft@example.org", "spam@example.org", "late@example.org", "kept@example.org")
		id := func(addr string) int64 {
			s, err := st.FindSubscription(ctx, subscribers.Email, addr)
			if err != nil {
				t.Fatal(err)
			}
			return s.ID
		}
		rp := bounces.ReturnPath{Domain: "bounces.news.example", Secret: "secret-0123456789abcdef"}
		l := &bounces.Listener{Addr: "127.0.0.1:0", ReturnPath: rp, Apply: &subscribers.Service{Store: st}}
		lctx, stop := context.WithCancel(ctx)
		ready := make(chan string, 1)
		done := make(chan error, 1)
		go func() { done <- l.Run(lctx, func(a string) { ready <- a }) }()
		addr := <-ready
		t.Cleanup(func() {
			stop()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})

		send := func(to, msg string) error {
			c, err := gosmtp.Dial(addr)
			if err != nil {
				return err
			}
			defer c.Close()
			return c.SendMail("", []string{to}, strings.NewReader(strings.ReplaceAll(msg, "\n", "\r\n")))
		}
		for i := range 3 { // three soft bounces in a row
			if err := send(rp.Address(int64(i+1), id("soft@example.org")), dsn("soft@example.org", "failed", "4.2.2")); err != nil {
				t.Fatal(err)
			}
			if got, want := e.status("soft@example.org"), map[bool]subscribers.Status{true: subscribers.Bounced, false: subscribers.Active}[i == 2]; got != want {
				t.Errorf("after %d soft bounces: %s, want %s", i+1, got, want)
			}
		}
		ed, _, err := st.CreateEdition(ctx, digest.Edition{Date: "2026-12-07", Title: "Daily Headlines"})
		if err != nil {
			t.Fatal(err)
		}
		if err := send(rp.Address(ed.ID, id("hard@example.org")), dsn("hard@example.org", "failed", "5.1.1")); err != nil {
			t.Fatal(err)
		}
		if err := send(rp.Address(1, id("late@example.org")), dsn("late@example.org", "delayed", "4.4.7")); err != nil {
			t.Fatal(err)
		}
		if err := send(rp.Address(ed.ID, id("spam@example.org")), arf("spam@example.org", "abuse")); err != nil {
			t.Fatal(err)
		}
		if err := send(rp.Address(1, id("kept@example.org")), arf("kept@example.org", "not-spam")); err != nil {
			t.Fatal(err)
		}
		// A report whose text names another reader changes the one its
		// token names, and only that one.
		if err := send(rp.Address(2, id("kept@example.org")), "Subject: out of office\r\n\r\nI am away until Monday.\r\n"); err != nil {
			t.Fatal(err)
		}
		forged := strings.Replace(rp.Address(1, id("kept@example.org")), "bounces+", "bounces+a", 1)
		var se *gosmtp.SMTPError
		if err := send(forged, dsn("kept@example.org", "failed", "5.1.1")); !errors.As(err, &se) || se.Code != 550 {
			t.Errorf("forged return path: %v, want 550 at RCPT", err)
		}
		other := bounces.ReturnPath{Domain: rp.Domain, Secret: "another-secret-0123456789"}
		if err := send(other.Address(1, id("kept@example.org")), dsn("kept@example.org", "failed", "5.1.1")); !errors.As(err, &se) || se.Code != 550 {
			t.Errorf("another secret's return path: %v, want 550", err)
		}
		for addr, want := range map[string]subscribers.Status{"hard@example.org": subscribers.Bounced, "late@example.org": subscribers.Active,
			"spam@example.org": subscribers.Unsubscribed, "kept@example.org": subscribers.Active} {
			if got := e.status(addr); got != want {
				t.Errorf("%s: %s, want %s", addr, got, want)
			}
		}
		if n, _ := st.CountComplaints(ctx); n != 1 {
			t.Errorf("%d complaints counted", n)
		}
		// Counted against the edition the tokens named (reports naming
		// editions that do not exist count nowhere, and are still applied).
		if got, err := st.EditionReports(ctx, ed.ID); err != nil || got["hard"] != 1 || got["complaint"] != 1 || len(got) != 2 {
			t.Errorf("edition %d reports %v, %v; want 1 hard, 1 complaint", ed.ID, got, err)
		}
	})
}
