package main

// Shared pieces of the end-to-end tests (TestE2E…): a config writer, a real
// SMTP server in process (emersion/go-smtp) that keeps what it accepts per
// recipient and can refuse on cue, `serve` run in a goroutine through run(),
// and small HTTP and mail helpers.

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

const (
	e2eBaseURL    = "https://news.example"
	e2eFrom       = "Daily Headlines <headlines@news.example>"
	e2eAdminToken = "e2e-admin-token-0123456789"
	e2ePostal     = "1 Example Plaza, Springfield"
	// A yearly schedule: the scheduler's catch-up at serve's start only
	// acts on 1 January, and then finds nothing new to build (skip_empty)
	// or the day's edition already made; the tests send with send-now,
	// /sendnow and the admin API.
	e2eSchedule = "0 0 1 1 *"
	// Two zones 26 hours apart: whatever the clock, the newsletter date in
	// tzLate is after the one in tzEarly, so a second config that differs
	// only in its zone makes send-now build "tomorrow's" edition.
	tzEarly = "Etc/GMT+12" // UTC−12
	tzLate  = "Etc/GMT-14" // UTC+14
)

// fixtureFeeds are the development feeds (testdata/feeds, README.md): 50
// articles of September 2023, hence max_age = "0s" in every config.
var fixtureFeeds = []string{"pacific-stripes.rss.xml", "wire-a.rss.xml", "globe-news.atom.xml", "meridian.feed.json", "harborview-herald.rss.xml"}

// e2eConfig is what a test varies in its config file.
type e2eConfig struct {
	Timezone    string // tzEarly when empty
	MaxItems    int    // 25 when 0
	SMTPPort    int    // 0: no SMTP, messages go to the outbox
	Connections int    // email.smtp.connections; 4 when 0
	Telegram    string // the [telegram] table's body, or empty (off)
	Delivery    string // more [delivery] keys
	PostgresDSN string // the database; "" for SQLite in dir
	Listen      string // http.listen; "127.0.0.1:0" when empty
	Extra       string // more tables, at the end of the file
}

// writeConfig writes dir/name: a SQLite database and outbox in dir, shared
// by every config written to the same dir.
func writeConfig(t *testing.T, dir, name string, c e2eConfig) string {
	t.Helper()
	if c.Timezone == "" {
		c.Timezone = tzEarly
	}
	if c.MaxItems == 0 {
		c.MaxItems = 25
	}
	if c.Connections == 0 {
		c.Connections = 4
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:0"
	}
	database := fmt.Sprintf("dsn = %q", filepath.Join(dir, "db.sqlite"))
	if c.PostgresDSN != "" {
		database = fmt.Sprintf("driver = \"postgres\"\ndsn = %q", c.PostgresDSN)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `[newsletter]
title = "Daily Headlines"
base_url = %q
timezone = %q
schedule = %q
max_items = %d
sections = ["world", "us", "military", "business", "tech"]
postal_address = %q
max_age = "0s"
[database]
%s
[http]
listen = %q
admin_token = %q
[security]
secret = "e2e-secret-0123456789abcdef"
[email]
from = %q
outbox_dir = %q
# A short retry wait, so the tests see retries happen.
[delivery]
retry_backoff = "1s"
%s`, e2eBaseURL, c.Timezone, e2eSchedule, c.MaxItems, e2ePostal, database, c.Listen,
		e2eAdminToken, e2eFrom, filepath.Join(dir, "outbox"), c.Delivery)
	if c.SMTPPort != 0 {
		fmt.Fprintf(&b, "[email.smtp]\nhost = \"127.0.0.1\"\nport = %d\ntls = \"none\"\nconnections = %d\n", c.SMTPPort, c.Connections)
	}
	if c.Telegram != "" {
		fmt.Fprintf(&b, "[telegram]\n%s\n", c.Telegram)
	}
	b.WriteString(c.Extra)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// mustRun runs a command line in process and fails the test unless it
// exits with want.
func mustRun(t *testing.T, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	code, out, errOut := digestbot(t, nil, args...)
	if code != want {
		t.Fatalf("digestbot %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out, errOut
}

func importFixtures(t *testing.T, cfg string) {
	t.Helper()
	for _, f := range fixtureFeeds {
		mustRun(t, 0, "import", "--config", cfg, filepath.Join("..", "..", "testdata", "feeds", f))
	}
}

// writeFeed writes a small RSS feed of fresh articles (title, section) and
// returns its path: the news of "tomorrow".
func writeFeed(t *testing.T, dir, name string, items ...[2]string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Next Day Wire</title><link>https://nextday.example/</link><description>fresh news</description>
`)
	for i, it := range items {
		slug := fmt.Sprintf("%s-%d", strings.TrimSuffix(name, ".xml"), i)
		fmt.Fprintf(&b, "<item><title>%s</title><link>https://nextday.example/%s</link><guid>https://nextday.example/%s</guid>"+
			"<description>%s: the details of this fresh story, in one sentence for the lead.</description><category>%s</category></item>\n",
			it[0], slug, slug, it[0], it[1])
	}
	b.WriteString("</channel></rss>\n")
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitFor polls cond every 10 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ---- SMTP sink ----

// sinkMsg is one message the sink accepted.
type sinkMsg struct {
	From string
	To   string
	Data []byte // nil when the sink does not keep bodies
}

// smtpSink is a real SMTP server (go-smtp advertises PIPELINING, which
// digestbot's sender uses) on 127.0.0.1. It counts accepted messages per
// recipient and, with keep, keeps them.
type smtpSink struct {
	srv  *gosmtp.Server
	Port int
	keep bool

	mu       sync.Mutex
	fault    func(stage, rcpt string, attempt int) error
	onAccept func(total int)
	msgs     []sinkMsg
	count    map[string]int
	attempts map[string]int
	total    int
	refused  int
}

func startSink(t *testing.T, keep bool) *smtpSink {
	t.Helper()
	s := &smtpSink{keep: keep, count: map[string]int{}, attempts: map[string]int{}}
	s.srv = gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) {
		return &sinkSession{s: s}, nil
	}))
	s.srv.Domain = "mx.test"
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.MaxMessageBytes = 4 << 20
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Port = ln.Addr().(*net.TCPAddr).Port
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

// SetFault makes f decide the reply to each recipient: stage is "rcpt"
// (RCPT TO) or "data" (the end of DATA, after the content went over);
// attempt counts this recipient's RCPTs, from 1. A non-nil error (see
// smtpReply) is the reply.
func (s *smtpSink) SetFault(f func(stage, rcpt string, attempt int) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// SetOnAccept makes f be called with the running total after each
// accepted message (under no lock).
func (s *smtpSink) SetOnAccept(f func(total int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onAccept = f
}

// Count is the number of messages accepted for rcpt.
func (s *smtpSink) Count(rcpt string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count[rcpt]
}

// Counts is a copy of the per-recipient counts.
func (s *smtpSink) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.count))
	for k, v := range s.count {
		out[k] = v
	}
	return out
}

// Total is the number of messages accepted.
func (s *smtpSink) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// Refused is the number of replies Fault turned into a refusal.
func (s *smtpSink) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// Messages returns the kept messages to rcpt, in the order they came.
func (s *smtpSink) Messages(rcpt string) []sinkMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sinkMsg
	for _, m := range s.msgs {
		if m.To == rcpt {
			out = append(out, m)
		}
	}
	return out
}

// Mails returns the kept messages to rcpt, parsed.
func (s *smtpSink) Mails(t *testing.T, rcpt string) []*parsedMail {
	t.Helper()
	var out []*parsedMail
	for _, m := range s.Messages(rcpt) {
		out = append(out, parseMail(t, m.Data))
	}
	return out
}

type sinkSession struct {
	s    *smtpSink
	from string
	to   []string
	att  []int
}

func (ss *sinkSession) Mail(from string, _ *gosmtp.MailOptions) error {
	ss.from = from
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s := ss.s
	s.mu.Lock()
	s.attempts[to]++
	n, fault := s.attempts[to], s.fault
	s.mu.Unlock()
	if fault != nil {
		if err := fault("rcpt", to, n); err != nil {
			s.mu.Lock()
			s.refused++
			s.mu.Unlock()
			return err
		}
	}
	ss.to = append(ss.to, to)
	ss.att = append(ss.att, n)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	s := ss.s
	var data []byte
	if s.keep {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		data = b
	} else if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.mu.Lock()
	fault := s.fault
	s.mu.Unlock()
	if fault != nil {
		for i, to := range ss.to {
			if err := fault("data", to, ss.att[i]); err != nil {
				s.mu.Lock()
				s.refused++
				s.mu.Unlock()
				return err
			}
		}
	}
	s.mu.Lock()
	for _, to := range ss.to {
		s.count[to]++
		s.total++
		if s.keep {
			s.msgs = append(s.msgs, sinkMsg{From: ss.from, To: to, Data: data})
		}
	}
	total, onAccept := s.total, s.onAccept
	s.mu.Unlock()
	if onAccept != nil {
		onAccept(total)
	}
	return nil
}

func (ss *sinkSession) Reset()        { ss.from, ss.to, ss.att = "", nil, nil }
func (ss *sinkSession) Logout() error { return nil }

func smtpReply(code int, msg string) error {
	return &gosmtp.SMTPError{Code: code, EnhancedCode: gosmtp.EnhancedCodeNotSet, Message: msg}
}

// ---- mail parsing ----

type mailPart struct {
	ContentType string
	Body        string // transfer encoding undone
}

type parsedMail struct {
	Header  mail.Header
	Subject string // RFC 2047 decoded
	Type    string // media type of the message
	Parts   []mailPart
}

// Text is the body of the first text/plain part.
func (m *parsedMail) Text() string {
	for _, p := range m.Parts {
		if strings.HasPrefix(p.ContentType, "text/plain") {
			return p.Body
		}
	}
	return ""
}

// HTML is the body of the first text/html part.
func (m *parsedMail) HTML() string {
	for _, p := range m.Parts {
		if strings.HasPrefix(p.ContentType, "text/html") {
			return p.Body
		}
	}
	return ""
}

func parseMail(t *testing.T, data []byte) *parsedMail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a mail message: %v\n%s", err, data)
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("Subject %q: %v", msg.Header.Get("Subject"), err)
	}
	m := &parsedMail{Header: msg.Header, Subject: subj}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	m.Type = mt
	if !strings.HasPrefix(mt, "multipart/") {
		body, err := io.ReadAll(msg.Body)
		if err != nil {
			t.Fatal(err)
		}
		m.Parts = []mailPart{{ContentType: msg.Header.Get("Content-Type"), Body: string(body)}}
		return m
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // undoes quoted-printable
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		body, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("part: %v", err)
		}
		m.Parts = append(m.Parts, mailPart{ContentType: p.Header.Get("Content-Type"), Body: string(body)})
	}
	return m
}

var confirmLinkRE = regexp.MustCompile(regexp.QuoteMeta(e2eBaseURL) + `/confirm/[A-Za-z0-9_-]+`)

// confirmLink is the confirmation link of a double opt-in mail.
func confirmLink(t *testing.T, m *parsedMail) string {
	t.Helper()
	link := confirmLinkRE.FindString(m.Text())
	if link == "" {
		t.Fatalf("no confirm link in %q", m.Text())
	}
	return link
}

// ---- serve ----

// syncBuffer collects a process's output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// served is `digestbot serve` running in process.
type served struct {
	Addr   string // host:port of the HTTP server
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan int
	once   sync.Once
	code   int
}

// startServe runs `serve --config cfg` in a goroutine and returns once it
// listens (env.ready). Stop it with stop; the test's cleanup does too.
func startServe(t *testing.T, cfg string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{logs: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	ready := make(chan string, 1)
	go func() {
		s.done <- run(ctx, []string{"serve", "--config", cfg}, env{
			stdin: strings.NewReader(""), stdout: s.logs, stderr: s.logs,
			getenv: func(string) string { return "" },
			ready:  func(addr string) { ready <- addr },
		})
	}()
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			t.Logf("serve output:\n%s", s.logs)
		}
	})
	select {
	case s.Addr = <-ready:
	case code := <-s.done:
		t.Fatalf("serve exited %d before listening:\n%s", code, s.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("serve not listening after 60s:\n%s", s.logs)
	}
	return s
}

// stop cancels serve (SIGTERM's path) and waits for it to exit; a clean
// stop exits 0.
func (s *served) stop(t *testing.T) {
	t.Helper()
	s.once.Do(func() {
		s.cancel()
		select {
		case s.code = <-s.done:
			if s.code != 0 {
				t.Errorf("serve exited %d:\n%s", s.code, s.logs)
			}
		case <-time.After(90 * time.Second):
			t.Errorf("serve did not stop within 90s")
		}
	})
}

// URL maps a link of the newsletter (base_url) onto this server.
func (s *served) URL(link string) string {
	return "http://" + s.Addr + strings.TrimPrefix(link, e2eBaseURL)
}

// ---- HTTP ----

// browser is a reader's browser: it keeps cookies and follows redirects.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

func (b *browser) do(req *http.Request) (int, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, string(body)
}

func (b *browser) get(u string) (int, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) (int, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrfToken is the hidden CSRF field of a page's form.
func csrfToken(t *testing.T, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF field in the page:\n%s", page)
	}
	return m[1]
}

// subscriberStatuses reads GET /api/v1/subscribers (CSV) with the admin
// token: "channel:address" → status.
func subscriberStatuses(t *testing.T, s *served) map[string]string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+s.Addr+"/api/v1/subscribers", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e2eAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /api/v1/subscribers: %d %s", resp.StatusCode, b)
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatalf("subscribers CSV: %v", err)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != "id,channel,address,status,sections,source,created_at" {
		t.Fatalf("subscribers CSV header: %v", rows)
	}
	out := map[string]string{}
	for _, r := range rows[1:] {
		out[r[1]+":"+r[2]] = r[3]
	}
	return out
}

// editionLine matches send-now's "edition 2026-01-02 (id 1): sent".
var editionLine = regexp.MustCompile(`edition (\d{4}-\d\d-\d\d) \(id (\d+)\): (\w+)`)

// sentEdition reads the edition's date and id from send-now's output.
func sentEdition(t *testing.T, out string) (date string, id int64) {
	t.Helper()
	m := editionLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("send-now output names no edition:\n%s", out)
	}
	id, _ = strconv.ParseInt(m[2], 10, 64)
	return m[1], id
}
