package subscribers

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// memStore is the Store a Service needs, in memory.
type memStore struct {
	mu   sync.Mutex
	subs []Subscription // id = index+1
}

func (m *memStore) CreateSubscription(_ context.Context, sub Subscription) (Subscription, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.subs {
		if x.Channel == sub.Channel && x.Address == sub.Address {
			return x, false, nil
		}
	}
	sub.ID = int64(len(m.subs) + 1)
	m.subs = append(m.subs, sub)
	return sub, true, nil
}

func (m *memStore) GetSubscription(_ context.Context, id int64) (Subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id < 1 || id > int64(len(m.subs)) {
		return Subscription{}, ErrNotFound
	}
	return m.subs[id-1], nil
}

func (m *memStore) FindSubscription(_ context.Context, ch Channel, address string) (Subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.subs {
		if x.Channel == ch && x.Address == address {
			return x, nil
		}
	}
	return Subscription{}, ErrNotFound
}

func (m *memStore) SetSubscriptionStatus(_ context.Context, id int64, st Status, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := &m.subs[id-1]
	s.Status = st
	switch st {
	case Active:
		if s.ConfirmedAt.IsZero() {
			s.ConfirmedAt = at
		}
	case Unsubscribed:
		s.UnsubscribedAt = at
	}
	return nil
}

func (m *memStore) SetSubscriptionSections(_ context.Context, id int64, sections []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subs[id-1].Sections = slices.Clone(sections)
	return nil
}

func (m *memStore) SetSubscriptionNewsletters(_ context.Context, id int64, slugs []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subs[id-1].Newsletters = slices.Clone(slugs)
	return nil
}

func (m *memStore) SetLocalTime(_ context.Context, id int64, lt *LocalTime) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subs[id-1].Local = lt
	return nil
}

func (m *memStore) SetStatusReason(context.Context, int64, string) error { return nil }

func (m *memStore) RecordReport(context.Context, int64, string) error { return nil }

func (m *memStore) LastSentEdition(context.Context, int64) (int64, error) { return 0, nil }

func (m *memStore) CountSoftBounce(context.Context, int64, time.Time, time.Duration) (int, error) {
	return 1, nil
}

func (m *memStore) SetSubscriptionAddress(_ context.Context, id int64, address string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subs[id-1].Address = address
	return nil
}

func (m *memStore) CreateSubscriptions(ctx context.Context, subs []Subscription) (int, error) {
	n := 0
	for _, sub := range subs {
		_, created, err := m.CreateSubscription(ctx, sub)
		if err != nil {
			return n, err
		}
		if created {
			n++
		}
	}
	return n, nil
}

type sentMail struct{ to, url string }

type fakeMailer struct {
	sent    []sentMail
	notices []sentMail
	err     error
}

func (f *fakeMailer) SendAlreadySubscribed(_ context.Context, to, url string) error {
	if f.err != nil {
		return f.err
	}
	f.notices = append(f.notices, sentMail{to, url})
	return nil
}

func (f *fakeMailer) SendConfirmation(_ context.Context, to, url string) error {
	if f.err != nil {
		return f.err
	}
	f.sent = append(f.sent, sentMail{to, url})
	return nil
}

func newService(t *testing.T) (*Service, *memStore, *fakeMailer, *time.Time) {
	t.Helper()
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st, m := &memStore{}, &fakeMailer{}
	return &Service{
		Store: st, Mailer: m, Tokens: NewTokens("secret", clock),
		BaseURL: "https://news.example/", Sections: []string{"World", "Business", "Sport"},
		Now: clock,
	}, st, m, &now
}

func tokenOf(t *testing.T, url, prefix string) string {
	t.Helper()
	tok, ok := strings.CutPrefix(url, "https://news.example"+prefix)
	if !ok || len(tok) != TokenLen {
		t.Fatalf("link %q: want prefix %s and a token", url, prefix)
	}
	return tok
}

func TestNormalizeEmail(t *testing.T) {
	test := func(in, want string) {
		t.Helper()
		got, err := NormalizeEmail(in)
		if want == "" {
			if !errors.Is(err, ErrInvalidAddress) {
				t.Errorf("NormalizeEmail(%q) = %q, %v; want ErrInvalidAddress", in, got, err)
			}
			var ae *AddressError
			if !errors.As(err, &ae) || ae.Reason == "" {
				t.Errorf("NormalizeEmail(%q): no reason in %v", in, err)
			}
			return
		}
		if err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	test("Ann.Lee+news@Example.COM", "ann.lee+news@example.com") // one mailbox, one subscription
	test("  ann@example.com \t", "ann@example.com")
	test("Ü@Bücher.de", "ü@bücher.de")
	test("", "")
	test("ann", "")
	test("ann@", "")
	test("@example.com", "")
	test("Ann <ann@example.com>", "")
	test("<ann@example.com>", "")
	test("ann@example.com (Ann)", "")
	test(`"ann lee"@example.com`, "")
	test("ann@example.com, bob@example.com", "")
	test("ann@example.com\r\nBcc: victim@example.org", "")
	test("ann@example.com\nx", "")
	test("ann@localhost", "")
	test("ann@[192.0.2.1]", "")
	test("ann@-example.com", "")
	test("ann@exa_mple.com", "")
	test("ann@example..com", "")
	test(strings.Repeat("a", 65)+"@example.com", "")
	test("a@"+strings.Repeat("b", 64)+".com", "")
	long := strings.Repeat("a", 60) + "@" + strings.Repeat(strings.Repeat("b", 60)+".", 3) + "com"
	test(long, long)                      // 247 characters
	test(long+strings.Repeat("m", 8), "") // 255
	test("ann@exa\xffmple.com", "")
}

func TestSubscribeEmailLifeCycle(t *testing.T) {
	ctx := context.Background()
	svc, st, mail, now := newService(t)

	if err := svc.SubscribeEmail(ctx, "Ann@Example.com", []string{"Sport", "World", "World", ""}, SourceWeb); err != nil {
		t.Fatal(err)
	}
	if len(mail.sent) != 1 || mail.sent[0].to != "ann@example.com" {
		t.Fatalf("mails %+v", mail.sent)
	}
	sub, _ := st.GetSubscription(ctx, 1)
	if sub.Status != Pending || !slices.Equal(sub.Sections, []string{"World", "Sport"}) || sub.Source != SourceWeb {
		t.Fatalf("after signup: %+v", sub)
	}

	// Pending again: a new mail, the latest choice of sections.
	if err := svc.SubscribeEmail(ctx, "Ann@example.com", nil, SourceWeb); err != nil {
		t.Fatal(err)
	}
	if len(mail.sent) != 2 {
		t.Fatalf("re-send: %d mails", len(mail.sent))
	}
	if sub, _ = st.GetSubscription(ctx, 1); sub.Sections != nil {
		t.Fatalf("sections %v, want all", sub.Sections)
	}

	// A preferences or unsubscribe token does not confirm.
	if _, err := svc.Confirm(ctx, svc.Tokens.Make(PurposeUnsubscribe, 1)); !errors.Is(err, ErrBadToken) {
		t.Fatalf("confirm with unsubscribe token: %v", err)
	}
	sub, err := svc.Confirm(ctx, tokenOf(t, mail.sent[1].url, "/confirm/"))
	if err != nil || sub.Status != Active || !sub.ConfirmedAt.Equal(*now) {
		t.Fatalf("confirm: %+v, %v", sub, err)
	}
	if sub, err = svc.Confirm(ctx, tokenOf(t, mail.sent[0].url, "/confirm/")); err != nil || sub.Status != Active {
		t.Fatalf("second confirm: %+v, %v", sub, err)
	}

	// Active: nothing changes; the address gets its preferences link, not
	// a confirmation.
	if err := svc.SubscribeEmail(ctx, "Ann@example.com", []string{"Business"}, SourceWeb); err != nil {
		t.Fatal(err)
	}
	if sub, _ = st.GetSubscription(ctx, 1); len(mail.sent) != 2 || sub.Status != Active || sub.Sections != nil {
		t.Fatalf("signup of an active address changed it: %+v, %d mails", sub, len(mail.sent))
	}
	if len(mail.notices) != 1 || !strings.Contains(mail.notices[0].url, "/preferences/") {
		t.Fatalf("active address: notices %v, want its preferences link", mail.notices)
	}
	// That was the third mail to the address: the throttle holds the next
	// one back until its window has passed.
	*now = now.Add(time.Hour)

	pref := svc.Tokens.Make(PurposePreferences, 1)
	if _, err := svc.SetSections(ctx, pref, []string{"Weather"}); !errors.Is(err, ErrUnknownSection) {
		t.Fatalf("unknown section: %v", err)
	}
	if _, err := svc.SetSections(ctx, pref, []string{" "}); !errors.Is(err, ErrNoSections) {
		t.Fatalf("no section: %v", err)
	}
	if sub, err = svc.SetSections(ctx, pref, []string{"Business"}); err != nil || !slices.Equal(sub.Sections, []string{"Business"}) {
		t.Fatalf("set sections: %+v, %v", sub, err)
	}
	if sub, err = svc.Preferences(ctx, pref); err != nil || sub.ID != 1 {
		t.Fatalf("preferences: %+v, %v", sub, err)
	}

	unsub := tokenOf(t, svc.URL(PurposeUnsubscribe, 1), "/unsubscribe/")
	for range 2 { // idempotent
		if sub, err = svc.Unsubscribe(ctx, unsub); err != nil || sub.Status != Unsubscribed || !sub.UnsubscribedAt.Equal(*now) {
			t.Fatalf("unsubscribe: %+v, %v", sub, err)
		}
	}
	// An old confirm link does not bring an unsubscribed reader back.
	if _, err := svc.Confirm(ctx, tokenOf(t, mail.sent[1].url, "/confirm/")); !errors.Is(err, ErrStaleLink) {
		t.Fatalf("stale confirm: %v", err)
	}
	// Signing up again does, after a new confirmation.
	if err := svc.SubscribeEmail(ctx, "Ann@example.com", []string{"World"}, SourceWeb); err != nil {
		t.Fatal(err)
	}
	if sub, _ = st.GetSubscription(ctx, 1); len(mail.sent) != 3 || sub.Status != Pending || !slices.Equal(sub.Sections, []string{"World"}) {
		t.Fatalf("resubscribe: %+v, %d mails", sub, len(mail.sent))
	}

	// Expired and unknown links.
	*now = now.Add(ConfirmTTL + time.Minute)
	if _, err := svc.Confirm(ctx, tokenOf(t, mail.sent[2].url, "/confirm/")); !errors.Is(err, ErrExpiredToken) {
		t.Fatalf("expired: %v", err)
	}
	if _, err := svc.Unsubscribe(ctx, svc.Tokens.Make(PurposeUnsubscribe, 99)); !errors.Is(err, ErrBadToken) {
		t.Fatalf("unknown id: %v", err)
	}
}

func TestSubscribeEmailRefuses(t *testing.T) {
	ctx := context.Background()
	svc, st, mail, _ := newService(t)
	if err := svc.SubscribeEmail(ctx, "Ann <ann@example.com>", nil, SourceWeb); !errors.Is(err, ErrInvalidAddress) {
		t.Fatalf("display name: %v", err)
	}
	if err := svc.SubscribeEmail(ctx, "ann@example.com", []string{"Weather"}, SourceWeb); !errors.Is(err, ErrUnknownSection) {
		t.Fatalf("unknown section: %v", err)
	}
	if len(st.subs) != 0 || len(mail.sent) != 0 {
		t.Fatalf("refused signup stored %d, mailed %d", len(st.subs), len(mail.sent))
	}
	mail.err = errors.New("smtp down")
	if err := svc.SubscribeEmail(ctx, "ann@example.com", nil, SourceWeb); !errors.Is(err, mail.err) {
		t.Fatalf("mailer error: %v", err)
	}
}

func TestAddConfirmedEmail(t *testing.T) {
	ctx := context.Background()
	svc, st, mail, _ := newService(t)
	sub, created, err := svc.AddConfirmedEmail(ctx, "bob@example.com", []string{"World"}, SourceAPI)
	if err != nil || !created || sub.Status != Active || sub.Source != SourceAPI || sub.ConfirmedAt.IsZero() {
		t.Fatalf("add: %+v %v %v", sub, created, err)
	}
	if _, created, err = svc.AddConfirmedEmail(ctx, "bob@example.com", nil, SourceAPI); err != nil || created {
		t.Fatalf("add again: %v %v", created, err)
	}
	if len(mail.sent) != 0 {
		t.Fatalf("mails sent: %v", mail.sent)
	}
	if err := st.SetSubscriptionStatus(ctx, sub.ID, Unsubscribed, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, _, err = svc.AddConfirmedEmail(ctx, "bob@example.com", nil, SourceAPI); !errors.Is(err, ErrOptedOut) {
		t.Fatalf("opted out: %v", err)
	}
	// A pending reader is vouched for.
	if err := svc.SubscribeEmail(ctx, "cy@example.com", nil, SourceWeb); err != nil {
		t.Fatal(err)
	}
	if sub, _, err = svc.AddConfirmedEmail(ctx, "cy@example.com", nil, SourceAPI); err != nil || sub.Status != Active {
		t.Fatalf("pending → active: %+v %v", sub, err)
	}
}

func TestTelegram(t *testing.T) {
	ctx := context.Background()
	svc, _, _, _ := newService(t)
	if _, err := svc.UnsubscribeTelegram(ctx, -1001); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown chat: %v", err)
	}
	sub, err := svc.SubscribeTelegram(ctx, -1001, "promo")
	if err != nil || sub.Status != Active || sub.Address != "-1001" || sub.Channel != Telegram || sub.Source != "promo" {
		t.Fatalf("subscribe: %+v %v", sub, err)
	}
	if sub, err = svc.UnsubscribeTelegram(ctx, -1001); err != nil || sub.Status != Unsubscribed {
		t.Fatalf("unsubscribe: %+v %v", sub, err)
	}
	if sub, err = svc.SubscribeTelegram(ctx, -1001, SourceTelegram); err != nil || sub.Status != Active || sub.ID != 1 {
		t.Fatalf("again: %+v %v", sub, err)
	}
	if sub, err = svc.SetSectionsByID(ctx, sub.ID, []string{"Sport"}); err != nil || !slices.Equal(sub.Sections, []string{"Sport"}) {
		t.Fatalf("sections: %+v %v", sub, err)
	}
}

func TestConfirmationThrottle(t *testing.T) {
	ctx := context.Background()
	svc, _, mail, now := newService(t)
	for range 5 {
		if err := svc.SubscribeEmail(ctx, "bomb@example.com", nil, SourceWeb); err != nil {
			t.Fatal(err)
		}
	}
	if len(mail.sent) != confirmBurst {
		t.Fatalf("%d mails for 5 signups, want %d", len(mail.sent), confirmBurst)
	}
	// Other addresses are not affected.
	if err := svc.SubscribeEmail(ctx, "other@example.com", nil, SourceWeb); err != nil || len(mail.sent) != confirmBurst+1 {
		t.Fatalf("other address: %v, %d mails", err, len(mail.sent))
	}
	*now = now.Add(confirmEvery)
	for range 2 {
		if err := svc.SubscribeEmail(ctx, "bomb@example.com", nil, SourceWeb); err != nil {
			t.Fatal(err)
		}
	}
	if len(mail.sent) != confirmBurst+2 {
		t.Fatalf("after %v: %d mails, want %d", confirmEvery, len(mail.sent), confirmBurst+2)
	}
}

// FuzzNormalizeEmail: whatever the input, an accepted address is one bare
// addr-spec that fits a header line, and normalizing is idempotent.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"ann@example.com", "Ann <ann@example.com>", "a@b.c\r\nBcc: x", "ü@Bücher.DE", `"a b"@x.com`, "a@[1.2.3.4]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeEmail(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidAddress) {
				t.Fatalf("error %v is not ErrInvalidAddress", err)
			}
			return
		}
		if len(got) > maxAddressLen || strings.ContainsAny(got, "\r\n<>,; \t\"") || strings.Count(got, "@") != 1 {
			t.Fatalf("accepted %q as %q", s, got)
		}
		if again, err := NormalizeEmail(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q → %q, %v", s, got, again, err)
		}
	})
}
