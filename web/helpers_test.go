package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digestbot/digestbot/internal/fakeclock"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/subscribers"
	"github.com/digestbot/digestbot/web"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var sections = []string{"World", "Business", "Sport"}

const adminToken = "admin-token-for-tests"

// mailbox is the confirmation Mailer: it keeps the links it was given.
type mailbox struct {
	mu      sync.Mutex
	sent    []sentMail
	notices []sentMail // preferences links for already-active addresses
}

type sentMail struct{ to, url string }

func (m *mailbox) SendConfirmation(_ context.Context, to, confirmURL string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, sentMail{to, confirmURL})
	return nil
}

func (m *mailbox) SendAlreadySubscribed(_ context.Context, to, preferencesURL string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.notices = append(m.notices, sentMail{to, preferencesURL})
	return nil
}

func (m *mailbox) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sent)
}

// last returns the path of the newest confirmation link, sent to to.
func (m *mailbox) last(t *testing.T, to string) string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.sent) - 1; i >= 0; i-- {
		if m.sent[i].to == to {
			u, err := url.Parse(m.sent[i].url)
			if err != nil {
				t.Fatal(err)
			}
			return u.Path
		}
	}
	t.Fatalf("no confirmation mail to %s in %v", to, m.sent)
	return ""
}

// testLogger shows warnings and errors in the test's output, so that a
// failing status comes with its cause.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

type env struct {
	t      *testing.T
	st     *store.Store
	svc    *subscribers.Service
	mail   *mailbox
	clock  *fakeclock.Clock
	srv    *httptest.Server
	client *http.Client // a browser: keeps cookies, follows no redirect
}

// newEnv serves web.New over a real store. Options adjust the Config and
// Deps before the server is built.
func newEnv(t *testing.T, st *store.Store, opts ...func(*web.Config, *web.Deps)) *env {
	t.Helper()
	clk := fakeclock.New(time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC))
	e := &env{t: t, st: st, mail: &mailbox{}, clock: clk}
	e.srv = httptest.NewUnstartedServer(nil)
	base := "http://" + e.srv.Listener.Addr().String()
	e.svc = &subscribers.Service{
		Store: st, Mailer: e.mail, Tokens: subscribers.NewTokens("test secret", clk.Now),
		BaseURL: base, Sections: sections, Now: clk.Now,
		Log: testLogger(t),
	}
	cfg := web.Config{
		Title: "Daily Headlines", BaseURL: base, PostalAddress: "1 Harbour Road, Port Town",
		Sections: sections, Secret: "test secret", AdminToken: adminToken,
		RateBurst: 1000, RateEvery: time.Second, // tests of the limit set their own
		Log: testLogger(t), Now: clk.Now,
	}
	deps := web.Deps{Store: st, Subscriptions: e.svc}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	h, err := web.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Config.Handler = h
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	e.client = e.newClient()
	return e
}

func (e *env) newClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (e *env) do(c *http.Client, req *http.Request) response {
	e.t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

func (e *env) get(path string) response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(e.client, req)
}

// post sends a form with the browser client (its cookies).
func (e *env) post(path string, form url.Values) response {
	e.t.Helper()
	return e.postWith(e.client, path, "application/x-www-form-urlencoded", form.Encode())
}

func (e *env) postWith(c *http.Client, path, contentType, body string) response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return e.do(c, req)
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf loads the page at path and returns its form's CSRF token.
func (e *env) csrf(path string) string {
	e.t.Helper()
	r := e.get(path)
	m := csrfRE.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		e.t.Fatalf("GET %s: %d, no csrf token in\n%s", path, r.status, r.body)
	}
	return m[1]
}

// signup fills in the form at / as a browser would.
func (e *env) signup(email string, secs ...string) response {
	e.t.Helper()
	return e.post("/subscribe", url.Values{"csrf_token": {e.csrf("/")}, "email": {email}, "sections": secs})
}

func (e *env) sub(address string) subscribers.Subscription {
	e.t.Helper()
	s, err := e.st.FindSubscription(context.Background(), subscribers.Email, address)
	if err != nil {
		e.t.Fatalf("find %s: %v", address, err)
	}
	return s
}

func trusted(t *testing.T, prefixes ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, p := range prefixes {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func wantStatus(t *testing.T, what string, r response, status int, contains ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d\n%s", what, r.status, status, r.body)
	}
	for _, c := range contains {
		if !strings.Contains(r.body, c) {
			t.Fatalf("%s: body lacks %q\n%s", what, c, r.body)
		}
	}
}
