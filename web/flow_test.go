package web_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/subscribers"
	"github.com/digestbot/digestbot/web"
)

// The reader's whole way, on both databases: signup, confirm, one-click
// unsubscribe.
func TestSignupConfirmUnsubscribe(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)

		r := e.get("/")
		wantStatus(t, "GET /", r, http.StatusOK, "Sign Up for Daily Headlines", `<html lang="en">`,
			`name="viewport"`, "<fieldset", "<legend>Sections</legend>", `<label for="email">`)
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src") {
			t.Errorf("CSP %q", csp)
		}
		for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
			if got := r.header.Get(h); got != want {
				t.Errorf("%s: %q, want %q", h, got, want)
			}
		}

		r = e.signup("Reader@Example.ORG", "Sport", "World")
		wantStatus(t, "signup", r, http.StatusOK, "Check your inbox")
		sub := e.sub("reader@example.org")
		if sub.Status != subscribers.Pending || !slices.Equal(sub.Sections, []string{"World", "Sport"}) || sub.Source != subscribers.SourceWeb {
			t.Fatalf("after signup: %+v", sub)
		}
		confirm := e.mail.last(t, "reader@example.org")
		if !strings.HasPrefix(confirm, "/confirm/") {
			t.Fatalf("confirm link %q", confirm)
		}

		// A mail scanner fetching the link confirms nothing.
		for range 2 {
			r = e.get(confirm)
			wantStatus(t, "GET confirm", r, http.StatusOK, "Confirm subscription", `method="post"`)
		}
		if s := e.sub("reader@example.org"); s.Status != subscribers.Pending {
			t.Fatalf("GET confirmed: %s", s.Status)
		}
		// The confirm POST needs no cookie: the token is the authorization.
		r = e.postWith(e.newClient(), confirm, "application/x-www-form-urlencoded", "")
		wantStatus(t, "POST confirm", r, http.StatusOK, "You're subscribed", "/preferences/")
		if s := e.sub("reader@example.org"); s.Status != subscribers.Active || s.ConfirmedAt.IsZero() {
			t.Fatalf("after confirm: %+v", s)
		}

		unsub := "/unsubscribe/" + e.svc.Token(subscribers.PurposeUnsubscribe, sub.ID)
		wantStatus(t, "GET unsubscribe", e.get(unsub), http.StatusOK, "Stop sending")
		if s := e.sub("reader@example.org"); s.Status != subscribers.Active {
			t.Fatalf("GET unsubscribed: %s", s.Status)
		}

		// RFC 8058 one-click: no cookie, no CSRF token, answered 200 in place.
		mailer := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		r = e.postWith(mailer, unsub, "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
		wantStatus(t, "one-click urlencoded", r, http.StatusOK, "unsubscribed")
		if s := e.sub("reader@example.org"); s.Status != subscribers.Unsubscribed || s.UnsubscribedAt.IsZero() {
			t.Fatalf("after one-click: %+v", s)
		}
		// Repeated, as a provider may: still 200.
		ct, body := multipartBody(t, map[string]string{"List-Unsubscribe": "One-Click"})
		wantStatus(t, "one-click again", e.postWith(mailer, unsub, ct, body), http.StatusOK)
	})
}

func multipartBody(t *testing.T, fields map[string]string) (contentType, body string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), b.String()
}

func TestOneClickMultipart(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	wantStatus(t, "signup", e.signup("mp@example.com"), http.StatusOK)
	r := e.postWith(e.newClient(), e.mail.last(t, "mp@example.com"), "", "")
	wantStatus(t, "confirm", r, http.StatusOK)
	sub := e.sub("mp@example.com")
	ct, body := multipartBody(t, map[string]string{"List-Unsubscribe": "One-Click"})
	r = e.postWith(e.newClient(), "/unsubscribe/"+e.svc.Token(subscribers.PurposeUnsubscribe, sub.ID), ct, body)
	wantStatus(t, "one-click multipart", r, http.StatusOK)
	if r.header.Get("Location") != "" {
		t.Fatalf("redirected to %s", r.header.Get("Location"))
	}
	if s := e.sub("mp@example.com"); s.Status != subscribers.Unsubscribed {
		t.Fatalf("status %s", s.Status)
	}
}

// SPEC §6: the form answers the same whether or not an address is known.
func TestSignupSameAnswer(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	unknown := e.signup("new@example.com")
	wantStatus(t, "unknown", unknown, http.StatusOK)
	pending := e.signup("new@example.com")
	e.postWith(e.newClient(), e.mail.last(t, "new@example.com"), "", "")
	active := e.signup("new@example.com")
	other := e.signup("other@example.com")
	for name, r := range map[string]response{"pending": pending, "active": active, "other": other} {
		if r.status != unknown.status || r.body != unknown.body {
			t.Errorf("%s: %d, body differs from the unknown address's answer:\n%s", name, r.status, r.body)
		}
	}
	if n := e.mail.count(); n != 3 { // new, new again, other; none for the active one
		t.Errorf("%d confirmation mails, want 3", n)
	}
	if len(e.mail.notices) != 1 || !strings.Contains(e.mail.notices[0].url, "/preferences/") {
		t.Errorf("the active address got %v, want one preferences link", e.mail.notices)
	}
}

func TestSignupBadAddress(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	test := func(email, reason string) {
		t.Helper()
		r := e.signup(email, "Business")
		wantStatus(t, "signup "+email, r, http.StatusBadRequest, reason, `aria-invalid="true"`, `name="csrf_token"`)
		if strings.Contains(r.body, "<script>") {
			t.Fatalf("address refilled unescaped:\n%s", r.body)
		}
		// Only the chosen section stays ticked.
		if !strings.Contains(r.body, `value="Business" checked`) ||
			strings.Contains(r.body, `value="World" checked`) {
			t.Fatalf("sections not kept:\n%s", r.body)
		}
	}
	test("not an address", "doesn&#39;t look like an email address")
	test("<script>alert(1)</script>@example.com", "doesn&#39;t look like an email address")
	test("Ann <ann@example.com>", "doesn&#39;t look like an email address")
	test("", "Please enter your email address")
	test(strings.Repeat("a", 250)+"@example.com", "too long")
	test("ann@example.com\r\nBcc: x@example.org", "cannot span several lines")
	if r := e.signup(`"><b>x</b>@example.com`); !strings.Contains(r.body, `value="&#34;&gt;&lt;b&gt;x&lt;/b&gt;@example.com"`) {
		t.Fatalf("address not refilled escaped:\n%s", r.body)
	}
	if e.mail.count() != 0 {
		t.Fatalf("mails sent for bad addresses")
	}
	r := e.post("/subscribe", url.Values{"csrf_token": {e.csrf("/")}, "email": {"ok@example.com"}, "sections": {"Weather"}})
	wantStatus(t, "unknown section", r, http.StatusBadRequest, "Please choose among the listed sections")
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	good := e.csrf("/")
	test := func(name string, c *http.Client, token string) {
		t.Helper()
		form := url.Values{"email": {"csrf@example.com"}}
		if token != "" {
			form.Set("csrf_token", token)
		}
		r := e.postWith(c, "/subscribe", "application/x-www-form-urlencoded", form.Encode())
		wantStatus(t, name, r, http.StatusForbidden, "reload the page")
	}
	test("missing token", e.client, "")
	wrong := good[:len(good)-1] + "A"
	if wrong == good {
		wrong = good[:len(good)-1] + "B"
	}
	test("wrong token", e.client, wrong)
	test("no cookie", e.newClient(), good)
	// Another browser's valid pair does not fit this browser's cookie.
	other := newEnv(t, storetest.OpenSQLite(t))
	test("token of another cookie", e.client, other.csrf("/"))
	if e.mail.count() != 0 {
		t.Fatal("a refused form sent mail")
	}
	wantStatus(t, "good token", e.post("/subscribe", url.Values{"csrf_token": {good}, "email": {"csrf@example.com"}}), http.StatusOK)
}

func TestBadTokens(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	wantStatus(t, "signup", e.signup("tok@example.com"), http.StatusOK)
	confirm := e.mail.last(t, "tok@example.com")
	id := e.sub("tok@example.com").ID
	unsub := e.svc.Token(subscribers.PurposeUnsubscribe, id)
	pref := e.svc.Token(subscribers.PurposePreferences, id)
	other := subscribers.NewTokens("another secret", nil)

	flip := func(tok string) string {
		c := byte('A')
		if tok[10] == 'A' {
			c = 'B'
		}
		return tok[:10] + string(c) + tok[11:]
	}
	bad := map[string]string{
		"altered confirm":    flip(strings.TrimPrefix(confirm, "/confirm/")),
		"forged confirm":     other.Make(subscribers.PurposeConfirm, id),
		"wrong purpose":      unsub,
		"garbage":            "not-a-token",
		"unknown subscriber": e.svc.Token(subscribers.PurposeConfirm, 9999),
	}
	for name, tok := range bad {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			var r response
			if method == http.MethodGet {
				r = e.get("/confirm/" + tok)
			} else {
				r = e.postWith(e.client, "/confirm/"+tok, "application/x-www-form-urlencoded", "")
			}
			wantStatus(t, method+" confirm "+name, r, http.StatusBadRequest, "This link is not valid", "<h1>")
		}
	}
	for path, what := range map[string]string{
		"/unsubscribe/" + flip(unsub):                                    "altered unsubscribe",
		"/unsubscribe/" + other.Make(subscribers.PurposeUnsubscribe, id): "forged unsubscribe",
		"/unsubscribe/" + pref:                                           "preferences token to unsubscribe",
		"/preferences/" + flip(pref):                                     "altered preferences",
		"/preferences/" + unsub:                                          "unsubscribe token to preferences",
	} {
		wantStatus(t, "GET "+what, e.get(path), http.StatusBadRequest, "This link is not valid")
		ct, body := multipartBody(t, map[string]string{"List-Unsubscribe": "One-Click"})
		wantStatus(t, "POST "+what, e.postWith(e.client, path, ct, body), http.StatusBadRequest, "This link is not valid")
	}
	if s := e.sub("tok@example.com"); s.Status != subscribers.Pending || s.Sections != nil {
		t.Fatalf("a bad token changed the subscription: %+v", s)
	}

	// Expired: the confirm link dies after seven days.
	e.clock.Add(subscribers.ConfirmTTL + time.Minute)
	wantStatus(t, "GET expired", e.get(confirm), http.StatusBadRequest, "This link has expired")
	wantStatus(t, "POST expired", e.postWith(e.client, confirm, "", ""), http.StatusBadRequest, "This link has expired")
	if s := e.sub("tok@example.com"); s.Status != subscribers.Pending {
		t.Fatalf("expired link confirmed: %s", s.Status)
	}
}

func TestPreferences(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	e.signup("pref@example.com")
	e.postWith(e.newClient(), e.mail.last(t, "pref@example.com"), "", "")
	sub := e.sub("pref@example.com")
	path := "/preferences/" + e.svc.Token(subscribers.PurposePreferences, sub.ID)

	r := e.get(path)
	wantStatus(t, "GET preferences", r, http.StatusOK, "pref@example.com", "<legend>Sections</legend>", "Unsubscribe")
	token := csrfRE.FindStringSubmatch(r.body)[1]

	r = e.post(path, url.Values{"csrf_token": {token}, "sections": {"Business"}})
	wantStatus(t, "save", r, http.StatusOK, "Your preferences are saved")
	if s := e.sub("pref@example.com"); !slices.Equal(s.Sections, []string{"Business"}) {
		t.Fatalf("sections %v", s.Sections)
	}
	r = e.post(path, url.Values{"csrf_token": {token}})
	wantStatus(t, "none chosen", r, http.StatusBadRequest, "Choose at least one section")
	r = e.post(path, url.Values{"csrf_token": {token}, "sections": {"Weather"}})
	wantStatus(t, "unknown section", r, http.StatusBadRequest, "listed sections")
	r = e.post(path, url.Values{"sections": {"World"}})
	wantStatus(t, "no csrf", r, http.StatusForbidden)
	if s := e.sub("pref@example.com"); !slices.Equal(s.Sections, []string{"Business"}) {
		t.Fatalf("refused saves changed sections: %v", s.Sections)
	}

	// The delivery time: an hour and a zone, refused when either is bad,
	// and back to the newsletter's schedule with no hour.
	r = e.post(path, url.Values{"csrf_token": {token}, "sections": {"Business"}, "hour": {"7"}, "zone": {" Asia/Tokyo "}})
	wantStatus(t, "hour", r, http.StatusOK, "Your preferences are saved", `<option value="7" selected>07:00</option>`, `value="Asia/Tokyo"`)
	if s := e.sub("pref@example.com"); s.Local == nil || *s.Local != (subscribers.LocalTime{Zone: "Asia/Tokyo", Hour: 7}) {
		t.Fatalf("delivery time %v", s.Local)
	}
	for _, bad := range []url.Values{{"hour": {"7"}, "zone": {"Mars/Olympus"}}, {"hour": {"24"}, "zone": {"UTC"}},
		{"hour": {"seven"}, "zone": {"UTC"}}, {"hour": {"7"}, "zone": {""}}, {"hour": {"7"}, "zone": {"<script>"}}} {
		bad.Set("csrf_token", token)
		bad.Set("sections", "World")
		r = e.post(path, bad)
		wantStatus(t, "bad "+bad.Encode(), r, http.StatusBadRequest, "time zone by its name")
		if strings.Contains(r.body, "<script>") {
			t.Error("the zone typed is echoed unescaped")
		}
	}
	if s := e.sub("pref@example.com"); !slices.Equal(s.Sections, []string{"Business"}) || s.Local == nil || s.Local.Zone != "Asia/Tokyo" {
		t.Fatalf("refused delivery times changed the subscription: %v %v", s.Sections, s.Local)
	}
	r = e.post(path, url.Values{"csrf_token": {token}, "sections": {"Business"}, "hour": {""}, "zone": {"Asia/Tokyo"}})
	wantStatus(t, "schedule", r, http.StatusOK, "Your preferences are saved", `<option value="" selected>With the newsletter</option>`)
	if s := e.sub("pref@example.com"); s.Local != nil {
		t.Fatalf("delivery time %v, want the newsletter's schedule", s.Local)
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t), func(c *web.Config, _ *web.Deps) {
		c.RateBurst, c.RateEvery = 0, 0 // the defaults: 20, then one every 3 s
	})
	token := e.csrf("/")
	post := func() int {
		return e.post("/subscribe", url.Values{"csrf_token": {token}, "email": {"rate@example.com"}}).status
	}
	for i := 1; i <= 20; i++ {
		if s := post(); s != http.StatusOK {
			t.Fatalf("POST %d within a minute: %d", i, s)
		}
	}
	r := e.post("/subscribe", url.Values{"csrf_token": {token}, "email": {"rate@example.com"}})
	wantStatus(t, "21st POST", r, http.StatusTooManyRequests, "Too many attempts")
	if r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	// Every POST route shares the bucket.
	wantStatus(t, "confirm POST", e.postWith(e.client, "/confirm/x", "", ""), http.StatusTooManyRequests)
	// GETs are not limited.
	wantStatus(t, "GET", e.get("/"), http.StatusOK)
	// The bucket refills: one POST every 3 s, 20 a minute.
	e.clock.Add(3 * time.Second)
	if s := post(); s != http.StatusOK {
		t.Fatalf("after 3 s: %d", s)
	}
	if s := post(); s != http.StatusTooManyRequests {
		t.Fatalf("second after 3 s: %d", s)
	}
	e.clock.Add(time.Minute)
	for i := range 20 {
		if s := post(); s != http.StatusOK {
			t.Fatalf("POST %d a minute later: %d", i+1, s)
		}
	}
	// A one-click unsubscribe with a good token is never turned away.
	sub := e.sub("rate@example.com")
	r = e.postWith(e.newClient(), "/unsubscribe/"+e.svc.Token(subscribers.PurposeUnsubscribe, sub.ID),
		"application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
	wantStatus(t, "one-click while limited", r, http.StatusOK)
	wantStatus(t, "bad token while limited", e.postWith(e.client, "/unsubscribe/x", "", ""), http.StatusTooManyRequests)
}

func TestTrustedProxy(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t), func(c *web.Config, _ *web.Deps) {
		c.RateBurst, c.RateEvery = 2, time.Minute
		c.TrustedProxies = trusted(t, "127.0.0.0/8")
	})
	token := e.csrf("/")
	post := func(xff string) int {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/subscribe",
			strings.NewReader(url.Values{"csrf_token": {token}, "email": {"p@example.com"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", xff)
		return e.do(e.client, req).status
	}
	// Behind the proxy each client has its own bucket; what a client
	// writes to the left of the proxy's entry does not matter.
	for _, xff := range []string{"198.51.100.1", "203.0.113.9, 198.51.100.1", "198.51.100.2", "198.51.100.2"} {
		if s := post(xff); s != http.StatusOK {
			t.Fatalf("XFF %s: %d", xff, s)
		}
	}
	if s := post("1.2.3.4, 198.51.100.1"); s != http.StatusTooManyRequests {
		t.Fatalf("third from 198.51.100.1: %d", s)
	}
	// IPv6 clients share a bucket per /64.
	post("2001:db8:1:2::1")
	post("2001:db8:1:2::2")
	if s := post("2001:db8:1:2::3"); s != http.StatusTooManyRequests {
		t.Fatalf("third from one /64: %d", s)
	}
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	token := e.csrf("/")
	big := url.Values{"csrf_token": {token}, "email": {"big@example.com"}, "junk": {strings.Repeat("x", 70<<10)}}
	r := e.post("/subscribe", big)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized form: %d", r.status)
	}
	ct, body := multipartBody(t, map[string]string{"List-Unsubscribe": "One-Click", "junk": strings.Repeat("x", 70<<10)})
	r = e.postWith(e.client, "/unsubscribe/"+e.svc.Token(subscribers.PurposeUnsubscribe, 1), ct, body)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized multipart: %d", r.status)
	}
	if e.mail.count() != 0 {
		t.Fatal("oversized form was processed")
	}
}

func TestNotFoundAndHeaders(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	wantStatus(t, "unknown page", e.get("/nope"), http.StatusNotFound, "Page not found")
	r := e.get("/subscribe")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
		t.Fatalf("GET /subscribe: %d %s", r.status, r.header.Get("Location"))
	}
	r = e.get("/static/style.css")
	wantStatus(t, "css", r, http.StatusOK, ":focus-visible")
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Fatalf("css content type %q", ct)
	}
}
