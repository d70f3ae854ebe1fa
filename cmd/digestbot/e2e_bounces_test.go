package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// TestE2EBounceWebhook: serve configured with a Mailgun signing key takes
// Mailgun's signed "failed/permanent" and "complained" posts at
// /webhooks/mailgun, refuses a forged one, and the admin API's stats show
// the bounced and complained readers.
func TestE2EBounceWebhook(t *testing.T) {
	dir := t.TempDir()
	const key = "e2e-mailgun-signing-key"
	cfg := writeConfig(t, dir, "config.toml", e2eConfig{Extra: "[bounces.mailgun]\nsigning_key = \"" + key + "\"\n"})
	csv := filepath.Join(dir, "subs.csv")
	if err := os.WriteFile(csv, []byte("email\nhard@example.com\nspam@example.com\nkept@example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, 0, "subscribers", "import", "--config", cfg, csv)
	s := startServe(t, cfg)

	post := func(event, severity, rcpt, token, sigKey string) int {
		ts := fmt.Sprint(time.Now().Unix())
		mac := hmac.New(sha256.New, []byte(sigKey))
		mac.Write([]byte(ts + token))
		body, _ := json.Marshal(map[string]any{
			"signature":  map[string]string{"timestamp": ts, "token": token, "signature": hex.EncodeToString(mac.Sum(nil))},
			"event-data": map[string]any{"event": event, "severity": severity, "recipient": rcpt},
		})
		resp, err := http.Post("http://"+s.Addr+"/webhooks/mailgun", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := post("failed", "permanent", "kept@example.com", "t0", "forged"); c != http.StatusUnauthorized {
		t.Errorf("forged post: %d", c)
	}
	if c := post("failed", "permanent", "hard@example.com", "t1", key); c != http.StatusOK {
		t.Errorf("hard bounce: %d", c)
	}
	if c := post("complained", "", "spam@example.com", "t2", key); c != http.StatusOK {
		t.Errorf("complaint: %d", c)
	}
	if c := post("failed", "permanent", "x@example.com", "t3", key); c != http.StatusOK {
		t.Errorf("unknown address: %d", c)
	}

	req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr+"/api/v1/stats", nil)
	req.Header.Set("Authorization", "Bearer "+e2eAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var st struct {
		Subscriptions map[string]map[string]int `json:"subscriptions"`
		Complaints    int                       `json:"complaints"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if e := st.Subscriptions["email"]; e["bounced"] != 1 || e["unsubscribed"] != 1 || e["active"] != 1 || st.Complaints != 1 {
		t.Errorf("stats after the webhooks: %s", b)
	}
	if !strings.Contains(s.logs.String(), "webhook refused") {
		t.Errorf("the forged post was not logged:\n%s", s.logs)
	}
}

// TestE2EReturnPathAndReports: with bounces.return_path_domain set,
// send-now's messages carry a return path of their own; a DSN sent back to
// one of them at serve's report listener bounces exactly that reader, and
// an ARF report unsubscribes another.
func TestE2EReturnPathAndReports(t *testing.T) {
	dir := t.TempDir()
	sink := startSink(t, true)
	listen := freeAddr(t)
	cfg := writeConfig(t, dir, "config.toml", e2eConfig{SMTPPort: sink.Port, MaxItems: 5,
		Extra: fmt.Sprintf("[bounces]\nreturn_path_domain = \"bounces.news.example\"\nlisten = %q\n", listen)})
	csv := filepath.Join(dir, "subs.csv")
	if err := os.WriteFile(csv, []byte("email\nr1@example.org\nr2@example.org\nr3@example.org\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, 0, "subscribers", "import", "--config", cfg, csv)
	importFixtures(t, cfg)
	mustRun(t, 0, "send-now", "--config", cfg)
	froms := map[string]string{}
	for _, rcpt := range []string{"r1@example.org", "r2@example.org", "r3@example.org"} {
		ms := sink.Messages(rcpt)
		if len(ms) != 1 || !strings.HasPrefix(ms[0].From, "bounces+") || !strings.HasSuffix(ms[0].From, "@bounces.news.example") {
			t.Fatalf("%s: %d messages, envelope from %v", rcpt, len(ms), ms)
		}
		froms[rcpt] = ms[0].From
	}
	if froms["r1@example.org"] == froms["r2@example.org"] {
		t.Fatal("two readers share a return path")
	}

	s := startServe(t, cfg)
	send := func(to, body string) error {
		c, err := gosmtp.Dial(listen)
		if err != nil {
			return err
		}
		defer c.Close()
		return c.SendMail("", []string{to}, strings.NewReader(strings.ReplaceAll(body, "\n", "\r\n")))
	}
	var err error
	for try := 0; try < 50; try++ { // the listener starts with serve
		if err = send(froms["r1@example.org"], dsnReport("5.1.1")); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("DSN to the listener: %v", err)
	}
	if err := send(froms["r2@example.org"], arfReport()); err != nil {
		t.Fatal(err)
	}
	if err := send("bounces+forgedtoken@bounces.news.example", dsnReport("5.1.1")); err == nil {
		t.Error("a forged return path was accepted")
	}
	st := subscriberStatuses(t, s)
	if st["email:r1@example.org"] != "bounced" || st["email:r2@example.org"] != "unsubscribed" || st["email:r3@example.org"] != "active" {
		t.Errorf("after the reports: %v", st)
	}
	// Counted against the edition the return paths named.
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr+"/api/v1/stats", nil)
	req.Header.Set("Authorization", "Bearer "+e2eAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var stats struct {
		Complaints    int `json:"complaints"`
		LatestEdition struct {
			Reports map[string]int `json:"reports"`
		} `json:"latest_edition"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		t.Fatal(err)
	}
	if r := stats.LatestEdition.Reports; r["hard"] != 1 || r["complaint"] != 1 || stats.Complaints != 1 {
		t.Errorf("stats: latest edition's reports %v, complaints %d", r, stats.Complaints)
	}

	// The reader whose address bounced signs up again: double opt-in.
	b := newBrowser(t)
	_, page := b.get(s.URL(e2eBaseURL + "/"))
	if code, _ := b.post(s.URL(e2eBaseURL+"/subscribe"), url.Values{"csrf_token": {csrfToken(t, page)}, "email": {"r1@example.org"}}); code != http.StatusOK {
		t.Fatalf("signup again: %d", code)
	}
	if st := subscriberStatuses(t, s); st["email:r1@example.org"] != "pending" {
		t.Errorf("after signing up again: %s, want pending", st["email:r1@example.org"])
	}
	if ms := sink.Messages("r1@example.org"); len(ms) != 2 || !strings.Contains(string(ms[1].Data), "/confirm/") {
		t.Errorf("r1 has %d messages; want the digest and a confirmation", len(ms))
	}
}

func dsnReport(status string) string {
	return `From: MAILER-DAEMON@mx.example.org
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

Your message could not be delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; r1@example.org
Action: failed
Status: ` + status + `
Diagnostic-Code: smtp; 550 5.1.1 User unknown

--b1--
`
}

func arfReport() string {
	return `From: fbl@isp.example
Subject: Abuse report
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="b2"

--b2
Content-Type: text/plain

This is an abuse report.

--b2
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: FBL/1.0
Version: 1

--b2--
`
}
