package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
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

	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/subscribers"
)

// digests are the messages to rcpt that are editions (they carry
// List-Unsubscribe; the confirmation mail does not).
func digests(t *testing.T, sink *smtpSink, rcpt string) []*parsedMail {
	t.Helper()
	var out []*parsedMail
	for _, m := range sink.Mails(t, rcpt) {
		if m.Header.Get("List-Unsubscribe") != "" {
			out = append(out, m)
		}
	}
	return out
}

var (
	messageIDRE   = regexp.MustCompile(`^<[^<>@\s]+@news\.example>$`)
	listUnsubRE   = regexp.MustCompile(`^<(` + regexp.QuoteMeta(e2eBaseURL) + `/unsubscribe/[A-Za-z0-9_-]{` + strconv.Itoa(subscribers.TokenLen) + `})>$`)
	preferencesRE = regexp.MustCompile(`href="/preferences/([A-Za-z0-9_-]+)"`)
	unsubFormRE   = regexp.MustCompile(`action="(/unsubscribe/[A-Za-z0-9_-]+)"`)
)

// checkDigest checks the headers and parts of one edition's email (SPEC
// §5) and returns its one-click unsubscribe URL.
func checkDigest(t *testing.T, m *parsedMail, rcpt, date string) string {
	t.Helper()
	h := m.Header
	if m.Type != "multipart/alternative" {
		t.Errorf("%s: Content-Type %q, want multipart/alternative", rcpt, h.Get("Content-Type"))
	}
	if n := len(m.Parts); n < 2 || !strings.HasPrefix(m.Parts[0].ContentType, "text/plain") || !strings.HasPrefix(m.Parts[n-1].ContentType, "text/html") {
		var types []string
		for _, p := range m.Parts {
			types = append(types, p.ContentType)
		}
		t.Errorf("%s: parts %q, want text/plain first and text/html last", rcpt, types)
	}
	if from, err := mail.ParseAddress(h.Get("From")); err != nil || from.Address != "headlines@news.example" || from.Name != "Daily Headlines" {
		t.Errorf("%s: From %q (%v)", rcpt, h.Get("From"), err)
	}
	if to, err := mail.ParseAddress(h.Get("To")); err != nil || to.Address != rcpt {
		t.Errorf("%s: To %q (%v)", rcpt, h.Get("To"), err)
	}
	d, err := time.Parse(time.DateOnly, date)
	if err != nil {
		t.Fatal(err)
	}
	if long := d.Format("Monday, January 2, 2006"); !strings.Contains(m.Subject, "Daily Headlines") || !strings.Contains(m.Subject, long) {
		t.Errorf("%s: Subject %q lacks the title and %q", rcpt, m.Subject, long)
	}
	if sent, err := mail.ParseDate(h.Get("Date")); err != nil || time.Since(sent).Abs() > 10*time.Minute {
		t.Errorf("%s: Date %q (%v)", rcpt, h.Get("Date"), err)
	}
	if id := h.Get("Message-ID"); !messageIDRE.MatchString(id) {
		t.Errorf("%s: Message-ID %q is not on the From domain", rcpt, id)
	}
	lu := listUnsubRE.FindStringSubmatch(h.Get("List-Unsubscribe"))
	if lu == nil {
		t.Fatalf("%s: List-Unsubscribe %q, want <%s/unsubscribe/TOKEN>", rcpt, h.Get("List-Unsubscribe"), e2eBaseURL)
	}
	for k, want := range map[string]string{
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		"Precedence":            "bulk",
		"Auto-Submitted":        "auto-generated",
		"MIME-Version":          "1.0",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %s %q, want %q", rcpt, k, got, want)
		}
	}
	for _, part := range []struct{ name, body string }{{"text", m.Text()}, {"html", m.HTML()}} {
		if !strings.Contains(part.body, e2ePostal) {
			t.Errorf("%s: the %s part has no postal address %q", rcpt, part.name, e2ePostal)
		}
		if !strings.Contains(part.body, lu[1]) {
			t.Errorf("%s: the %s part has no unsubscribe link %s", rcpt, part.name, lu[1])
		}
	}
	return lu[1]
}

// TestE2EEmail: the reader's whole way by email, through the real serve
// and send-now and a real SMTP server: signup with double opt-in, the
// digest with its headers, one-click unsubscribe, the next edition.
func TestE2EEmail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sink := startSink(t, true)
	cfg := writeConfig(t, dir, "config.toml", e2eConfig{SMTPPort: sink.Port})
	srv := startServe(t, cfg)
	base := "http://" + srv.Addr

	// Sign up on the form, with its CSRF cookie and token.
	br := newBrowser(t)
	status, page := br.get(base + "/")
	if status != http.StatusOK || !strings.Contains(page, "Sign Up for Daily Headlines") {
		t.Fatalf("GET /: %d\n%s", status, page)
	}
	token := csrfToken(t, page)
	const ann, bob, cat, dan = "ann@example.com", "bob@example.com", "cat@example.com", "dan@example.com"
	signups := []struct {
		addr     string
		sections []string
	}{
		{ann, nil},              // confirms: every section
		{bob, []string{"tech"}}, // confirms: tech only
		{cat, nil},              // never confirms
		{dan, nil},              // confirms, then leaves
	}
	for _, s := range signups {
		status, page := br.post(base+"/subscribe", url.Values{"csrf_token": {token}, "email": {s.addr}, "sections": s.sections})
		if status != http.StatusOK || !strings.Contains(page, "Check your inbox") {
			t.Fatalf("POST /subscribe %s: %d\n%s", s.addr, status, page)
		}
	}
	// The confirmation mails come through SMTP.
	waitFor(t, 30*time.Second, "four confirmation mails", func() bool {
		return sink.Count(ann) == 1 && sink.Count(bob) == 1 && sink.Count(cat) == 1 && sink.Count(dan) == 1
	})
	links := map[string]string{}
	for _, s := range signups {
		m := sink.Mails(t, s.addr)[0]
		if !strings.Contains(m.Subject, "Confirm your subscription") {
			t.Errorf("%s: confirmation subject %q", s.addr, m.Subject)
		}
		links[s.addr] = confirmLink(t, m)
	}

	// A GET of the link (a mail scanner's prefetch) shows a button and
	// confirms nothing; the POST confirms.
	scanner := newBrowser(t)
	for _, addr := range []string{ann, bob, dan} {
		status, page := scanner.get(srv.URL(links[addr]))
		if status != http.StatusOK || !strings.Contains(page, `method="post"`) || !strings.Contains(page, "Confirm subscription") {
			t.Fatalf("GET confirm link of %s: %d\n%s", addr, status, page)
		}
	}
	st := subscriberStatuses(t, srv)
	for _, addr := range []string{ann, bob, cat, dan} {
		if got := st["email:"+addr]; got != "pending" {
			t.Fatalf("%s after GET of the confirm link: %q, want pending", addr, got)
		}
	}
	confirmed := map[string]string{}
	for _, addr := range []string{ann, bob, dan} {
		status, page := br.post(srv.URL(links[addr]), nil)
		if status != http.StatusOK || !strings.Contains(page, "You're subscribed") {
			t.Fatalf("POST confirm of %s: %d\n%s", addr, status, page)
		}
		confirmed[addr] = page
	}
	// Dan leaves from his preferences page, as a reader clicks through.
	m := preferencesRE.FindStringSubmatch(confirmed[dan])
	if m == nil {
		t.Fatalf("no preferences link on the confirmed page:\n%s", confirmed[dan])
	}
	status, page = br.get(base + "/preferences/" + m[1])
	form := unsubFormRE.FindStringSubmatch(page)
	if status != http.StatusOK || form == nil {
		t.Fatalf("preferences page: %d\n%s", status, page)
	}
	if status, page = br.post(base+form[1], nil); status != http.StatusOK || !strings.Contains(page, "unsubscribed") {
		t.Fatalf("unsubscribe button: %d\n%s", status, page)
	}
	st = subscriberStatuses(t, srv)
	for addr, want := range map[string]string{ann: "active", bob: "active", cat: "pending", dan: "unsubscribed"} {
		if got := st["email:"+addr]; got != want {
			t.Errorf("%s: %q, want %q", addr, got, want)
		}
	}

	// Articles come in through the CLI while serve runs on the same database.
	importFixtures(t, cfg)
	srv.stop(t)

	out, errOut := mustRun(t, 0, "send-now", "--config", cfg)
	date, edition := sentEdition(t, out)
	if !strings.Contains(out, ": sent") {
		t.Errorf("send-now: %s\n%s", out, errOut)
	}
	for addr, want := range map[string]int{ann: 1, bob: 1, cat: 0, dan: 0} {
		if got := len(digests(t, sink, addr)); got != want {
			t.Errorf("%s got %d digests, want %d", addr, got, want)
		}
	}
	if sink.Count(cat) != 1 || sink.Count(dan) != 1 {
		t.Errorf("pending or unsubscribed reader got mail: cat %d, dan %d messages (the confirmation only)", sink.Count(cat), sink.Count(dan))
	}
	annMail := digests(t, sink, ann)[0]
	unsubURL := checkDigest(t, annMail, ann, date)
	bobMail := digests(t, sink, bob)[0]
	checkDigest(t, bobMail, bob, date)
	// Bob chose tech: the summit (world) is not in his digest, the iPhone is.
	if !strings.Contains(annMail.Text(), "Kim promises Putin full backing") {
		t.Errorf("ann's digest lacks the top story:\n%s", annMail.Text())
	}
	if strings.Contains(bobMail.Text(), "Kim promises Putin") || !strings.Contains(bobMail.Text(), "iPhone") {
		t.Errorf("bob's digest does not follow his sections (tech):\n%s", bobMail.Text())
	}

	// The one-click unsubscribe of RFC 8058, as a mailbox provider sends
	// it: a POST to the List-Unsubscribe URL, no cookie, no redirect.
	srv = startServe(t, cfg)
	provider := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := provider.Post(srv.URL(unsubURL), "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("one-click POST: %d\n%s", resp.StatusCode, body)
	}
	if got := subscriberStatuses(t, srv)["email:"+ann]; got != "unsubscribed" {
		t.Fatalf("ann after one-click: %q", got)
	}
	srv.stop(t)

	// The next day's edition (the same database, a zone 26 hours ahead)
	// skips her; Bob gets it.
	tomorrow := writeConfig(t, dir, "tomorrow.toml", e2eConfig{SMTPPort: sink.Port, Timezone: tzLate})
	feed := writeFeed(t, dir, "tomorrow.xml",
		[2]string{"Chipmaker unveils a laptop with a quantum coprocessor", "tech"},
		[2]string{"Ceasefire talks resume in Geneva", "world"})
	mustRun(t, 0, "import", "--config", tomorrow, feed)
	out, _ = mustRun(t, 0, "send-now", "--config", tomorrow)
	date2, edition2 := sentEdition(t, out)
	if date2 <= date || edition2 == edition {
		t.Fatalf("second edition %s (id %d) after %s (id %d)", date2, edition2, date, edition)
	}
	for addr, want := range map[string]int{ann: 1, bob: 2, cat: 0, dan: 0} {
		if got := len(digests(t, sink, addr)); got != want {
			t.Errorf("after the second edition %s has %d digests, want %d", addr, got, want)
		}
	}
	if ds := digests(t, sink, bob); len(ds) == 2 {
		next := ds[1]
		checkDigest(t, next, bob, date2)
		if txt := next.Text(); !strings.Contains(txt, "quantum coprocessor") || strings.Contains(txt, "Ceasefire") || strings.Contains(txt, "iPhone") {
			t.Errorf("bob's second digest: want only the new tech story:\n%s", txt)
		}
	}
}

// TestE2EEmailRetriesAndBounces: a server that answers 4xx to a fifth of
// the messages (at RCPT or at the end of DATA, the first time) and 5xx to
// three recipients. Every other subscriber still gets exactly one digest;
// the 5xx recipients end bounced.
func TestE2EEmailRetriesAndBounces(t *testing.T) {
	t.Parallel()
	const n = 100
	addr := func(i int) string { return fmt.Sprintf("r%03d@example.com", i) }
	bounced := map[string]bool{addr(3): true, addr(17): true, addr(42): true}
	dir := t.TempDir()
	sink := startSink(t, false)
	var mu sync.Mutex
	temporary, permanent := 0, 0
	sink.SetFault(func(stage, rcpt string, attempt int) error {
		i, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rcpt, "r"), "@example.com"))
		if err != nil {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case bounced[rcpt] && stage == "rcpt":
			permanent++
			return smtpReply(550, "No such user here")
		case attempt == 1 && i%10 == 0 && stage == "rcpt":
			temporary++
			return smtpReply(451, "Greylisted, try again later")
		case attempt == 1 && i%10 == 5 && stage == "data":
			temporary++
			return smtpReply(452, "Insufficient system storage")
		}
		return nil
	})
	cfg := writeConfig(t, dir, "config.toml", e2eConfig{SMTPPort: sink.Port})
	var csv strings.Builder
	for i := range n {
		csv.WriteString(addr(i) + "\n")
	}
	csvPath := filepath.Join(dir, "subscribers.csv")
	if err := os.WriteFile(csvPath, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, 0, "subscribers", "import", "--config", cfg, csvPath)
	mustRun(t, 0, "import", "--config", cfg, filepath.Join("..", "..", "testdata", "feeds", "wire-a.rss.xml"))

	// send-now waits for retries due within a minute and exits 0, or exits
	// 3 while some wait longer; run again until done.
	var out string
	for try := 1; ; try++ {
		start := time.Now()
		code, stdout, stderr := digestbot(t, nil, "send-now", "--config", cfg)
		out = stdout
		t.Logf("send-now run %d: exit %d after %s", try, code, time.Since(start).Round(100*time.Millisecond))
		if code == 0 {
			break
		}
		if code != exitPending || try == 4 {
			t.Fatalf("send-now: exit %d\n%s\n%s", code, stdout, stderr)
		}
	}
	mu.Lock()
	if temporary != n/5 || permanent != len(bounced) {
		t.Errorf("the server refused %d times with 4xx (want %d) and %d with 5xx (want %d)", temporary, n/5, permanent, len(bounced))
	}
	mu.Unlock()
	for i := range n {
		want := 1
		if bounced[addr(i)] {
			want = 0
		}
		if got := sink.Count(addr(i)); got != want {
			t.Errorf("%s got %d digests, want %d", addr(i), got, want)
		}
	}
	for _, re := range []string{`(?m)^\s+email\s+sent\s+97$`, `(?m)^\s+email\s+bounced\s+3$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("send-now output does not match %s:\n%s", re, out)
		}
	}

	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite", filepath.Join(dir, "db.sqlite"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range n {
		sub, err := st.FindSubscription(ctx, subscribers.Email, addr(i))
		if err != nil {
			t.Fatal(err)
		}
		want := subscribers.Active
		if bounced[addr(i)] {
			want = subscribers.Bounced
		}
		if sub.Status != want {
			t.Errorf("%s: %s, want %s", addr(i), sub.Status, want)
		}
	}
}
