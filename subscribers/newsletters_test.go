package subscribers

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// TestNewsletterChoice: what readers pick on the form, in Telegram and by
// unsubscribing from one letter, and what the fan-out then sends them.
func TestNewsletterChoice(t *testing.T) {
	svc, st, mail, _ := newService(t)
	svc.Newsletters = []string{"daily", "week", "sport"}
	ctx := context.Background()

	for _, tc := range []struct {
		in   []string
		want []string
		err  error
	}{
		{nil, nil, nil},
		{[]string{"daily"}, nil, nil},
		{[]string{"sport", "daily", "sport"}, []string{"daily", "sport"}, nil},
		{[]string{"week", "daily", "sport"}, []string{"daily", "week", "sport"}, nil},
		{[]string{"nope"}, nil, ErrUnknownNewsletter},
	} {
		got, err := svc.CheckNewsletters(tc.in)
		if !slices.Equal(got, tc.want) || !errors.Is(err, tc.err) {
			t.Errorf("CheckNewsletters(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}

	if err := svc.SubscribeEmailTo(ctx, "a@example.org", nil, []string{"week", "daily"}, SourceWeb); err != nil {
		t.Fatal(err)
	}
	tok := tokenOf(t, mail.sent[0].url, "/confirm/")
	sub, err := svc.Confirm(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if got := svc.LettersOf(sub); !slices.Equal(got, []string{"daily", "week"}) {
		t.Fatalf("letters %q", got)
	}
	unsub := svc.Token(PurposeUnsubscribe, sub.ID)
	sub, err = svc.UnsubscribeFrom(ctx, unsub, "daily")
	if err != nil || sub.Status != Active || !slices.Equal(svc.LettersOf(sub), []string{"week"}) || sub.Gets("daily", "daily") {
		t.Fatalf("after leaving daily: %+v %v", sub, err)
	}
	if _, err := svc.UnsubscribeFrom(ctx, unsub, "nope"); !errors.Is(err, ErrUnknownNewsletter) {
		t.Errorf("leaving an unknown letter: %v", err)
	}
	sub, err = svc.UnsubscribeFrom(ctx, unsub, "week")
	if err != nil || sub.Status != Unsubscribed {
		t.Fatalf("leaving the last letter: %+v %v", sub, err)
	}

	// A legacy subscription (no letters stored) gets the default one; to
	// leave it is to leave everything.
	legacy, _, _ := st.CreateSubscription(ctx, Subscription{Channel: Email, Address: "old@example.org", Status: Active})
	if got := svc.LettersOf(legacy); !slices.Equal(got, []string{"daily"}) {
		t.Errorf("legacy letters %q", got)
	}
	if sub, err = svc.UnsubscribeFrom(ctx, svc.Token(PurposeUnsubscribe, legacy.ID), "week"); err != nil || sub.Status != Active {
		t.Errorf("leaving a letter a legacy reader never had: %+v %v", sub, err)
	}
	if sub, err = svc.UnsubscribeFrom(ctx, svc.Token(PurposeUnsubscribe, legacy.ID), ""); err != nil || sub.Status != Unsubscribed {
		t.Errorf("unsubscribe from all: %+v %v", sub, err)
	}

	// Telegram: /start week, then /start sport adds; a chat that left comes
	// back to the one letter it asked for.
	sub, err = svc.SubscribeTelegramTo(ctx, 42, SourceTelegram, "week")
	if err != nil || !slices.Equal(svc.LettersOf(sub), []string{"week"}) {
		t.Fatalf("/start week: %+v %v", sub, err)
	}
	if sub, err = svc.SubscribeTelegramTo(ctx, 42, SourceTelegram, "sport"); err != nil || !slices.Equal(svc.LettersOf(sub), []string{"week", "sport"}) {
		t.Fatalf("/start sport: %+v %v", sub, err)
	}
	if _, err = svc.SubscribeTelegramTo(ctx, 42, SourceTelegram, "nope"); !errors.Is(err, ErrUnknownNewsletter) {
		t.Errorf("/start nope: %v", err)
	}
	if _, err := svc.UnsubscribeTelegram(ctx, 42); err != nil {
		t.Fatal(err)
	}
	if sub, err = svc.SubscribeTelegramTo(ctx, 42, SourceTelegram, ""); err != nil || sub.Status != Active || !slices.Equal(svc.LettersOf(sub), []string{"daily"}) {
		t.Fatalf("back with /start: %+v %v", sub, err)
	}
	if _, err := svc.SetNewslettersByID(ctx, sub.ID, nil); !errors.Is(err, ErrNoNewsletters) {
		t.Errorf("no letter: %v", err)
	}
}
