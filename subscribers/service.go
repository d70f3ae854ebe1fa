package subscribers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/digestbot/digestbot/ratelimit"
)

// Store is what the Service needs from storage; *store.Store implements it.
type Store interface {
	CreateSubscription(ctx context.Context, sub Subscription) (Subscription, bool, error)
	GetSubscription(ctx context.Context, id int64) (Subscription, error)
	FindSubscription(ctx context.Context, ch Channel, address string) (Subscription, error)
	SetSubscriptionStatus(ctx context.Context, id int64, st Status, at time.Time) error
	SetSubscriptionSections(ctx context.Context, id int64, sections []string) error
	SetSubscriptionNewsletters(ctx context.Context, id int64, slugs []string) error
	SetLocalTime(ctx context.Context, id int64, lt *LocalTime) error
	SetStatusReason(ctx context.Context, id int64, reason string) error
	CountSoftBounce(ctx context.Context, id int64, at time.Time, window time.Duration) (int, error)
	RecordReport(ctx context.Context, editionID int64, kind string) error
	LastSentEdition(ctx context.Context, subscriptionID int64) (int64, error)
	SetSubscriptionAddress(ctx context.Context, id int64, address string) error
	// CreateSubscriptions inserts subs in one transaction, skipping those
	// whose (channel, address) exists; inserted counts the new ones.
	CreateSubscriptions(ctx context.Context, subs []Subscription) (inserted int, err error)
}

// Mailer sends the double opt-in mail. confirmURL is the absolute link to
// the confirmation page; the message must say that ignoring it is fine.
type Mailer interface {
	SendConfirmation(ctx context.Context, to, confirmURL string) error
	// SendAlreadySubscribed answers a signup of an active address with its
	// preferences link, so the form behaves the same for every address.
	SendAlreadySubscribed(ctx context.Context, to, preferencesURL string) error
}

// Domain errors of the Service, mapped to pages and replies at the edge.
var (
	// ErrUnknownSection: a section that newsletter.sections does not name.
	ErrUnknownSection = errors.New("unknown section")
	// ErrNoSections: a reader unticked every section in the preferences;
	// that is what unsubscribing is for.
	ErrNoSections = errors.New("no section chosen")
	// ErrBadLocalTime: a delivery hour outside 0–23 or an unknown time zone.
	ErrBadLocalTime = errors.New("bad delivery time")
	// ErrStaleLink: a valid confirm link for a subscription that has moved
	// on (unsubscribed, bounced, blocked) since the mail was sent.
	ErrStaleLink = errors.New("link no longer valid")
	// ErrUnknownNewsletter: a slug no configured newsletter has.
	ErrUnknownNewsletter = errors.New("unknown newsletter")
	// ErrNoNewsletters: a reader unticked every newsletter in the
	// preferences; that is what unsubscribing is for.
	ErrNoNewsletters = errors.New("no newsletter chosen")
	// ErrOptedOut: an operator tried to add back an address whose owner
	// unsubscribed or is blocked; only the owner may sign up again.
	ErrOptedOut = errors.New("address opted out")
)

// Service runs the life cycle of subscriptions: double opt-in by email,
// one-step Telegram subscriptions, preferences and unsubscribe. Store,
// Tokens and Mailer are required; use one *Service per process (it holds
// the per-address throttle of confirmation mails).
type Service struct {
	Store    Store
	Tokens   *Tokens
	Mailer   Mailer
	BaseURL  string   // newsletter.base_url, without a trailing slash
	Sections []string // newsletter.sections, in order
	// Newsletters are the slugs of the instance's newsletters, the default
	// first; empty: one newsletter, and every choice of letters is it.
	Newsletters []string
	Now         func() time.Time
	Log         *slog.Logger

	throttleOnce sync.Once
	throttle     *ratelimit.Keyed // confirmation mails per address (throttle.go)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// URL returns the absolute link of purpose p for subscription id:
// {base_url}/confirm/{token}, /unsubscribe/{token} or /preferences/{token}.
func (s *Service) URL(p Purpose, id int64) string {
	var path string
	switch p {
	case PurposeConfirm:
		path = "/confirm/"
	case PurposeUnsubscribe:
		path = "/unsubscribe/"
	case PurposePreferences:
		path = "/preferences/"
	default:
		panic(fmt.Sprintf("subscribers: unknown purpose %q", p))
	}
	return strings.TrimRight(s.BaseURL, "/") + path + s.Tokens.Make(p, id)
}

// CheckSections validates the sections a reader chose against
// newsletter.sections and returns them deduplicated, in newsletter order.
// Choosing every section returns nil ("all"), so that a section added later
// reaches those readers too.
func (s *Service) CheckSections(sections []string) ([]string, error) {
	chosen := make(map[string]bool, len(sections))
	for _, x := range sections {
		x = strings.TrimSpace(x)
		if x == "" {
			continue
		}
		if !slices.Contains(s.Sections, x) {
			return nil, fmt.Errorf("%w: %q", ErrUnknownSection, x)
		}
		chosen[x] = true
	}
	if len(chosen) == 0 || len(chosen) == len(s.Sections) {
		return nil, nil
	}
	out := make([]string, 0, len(chosen))
	for _, x := range s.Sections {
		if chosen[x] {
			out = append(out, x)
		}
	}
	return out, nil
}

// CheckNewsletters validates the newsletters a reader chose and returns
// them deduplicated, in config order. No choice, or the default letter
// alone, is nil (what a subscription from before several letters holds).
// Unlike sections, choosing every letter names them: a letter added later
// is not sent to readers who never asked for it.
func (s *Service) CheckNewsletters(slugs []string) ([]string, error) {
	chosen := make(map[string]bool, len(slugs))
	for _, x := range slugs {
		x = strings.TrimSpace(x)
		if x == "" {
			continue
		}
		if len(s.Newsletters) > 0 && !slices.Contains(s.Newsletters, x) {
			return nil, fmt.Errorf("%w: %q", ErrUnknownNewsletter, x)
		}
		chosen[x] = true
	}
	if len(s.Newsletters) < 2 || len(chosen) == 0 || (len(chosen) == 1 && chosen[s.Newsletters[0]]) {
		return nil, nil
	}
	out := make([]string, 0, len(chosen))
	for _, x := range s.Newsletters {
		if chosen[x] {
			out = append(out, x)
		}
	}
	return out, nil
}

// DefaultNewsletter is the slug of the first newsletter ("" with none
// configured).
func (s *Service) DefaultNewsletter() string {
	if len(s.Newsletters) == 0 {
		return ""
	}
	return s.Newsletters[0]
}

// LettersOf is the newsletters sub gets, by slug, in config order.
func (s *Service) LettersOf(sub Subscription) []string {
	if len(s.Newsletters) == 0 {
		return nil
	}
	var out []string
	for _, x := range s.Newsletters {
		if sub.Gets(x, s.Newsletters[0]) {
			out = append(out, x)
		}
	}
	return out
}

// SubscribeEmail starts the double opt-in for address, to the default
// newsletter; SubscribeEmailTo names the letters.
func (s *Service) SubscribeEmail(ctx context.Context, address string, sections []string, source string) error {
	return s.SubscribeEmailTo(ctx, address, sections, nil, source)
}

// SubscribeEmailTo starts the double opt-in for address. What the caller sees
// does not depend on whether the address was known (SPEC §6: no address
// enumeration): an unknown, pending, unsubscribed or bounced address gets a
// (new) confirmation mail and is pending; an active one is left alone.
func (s *Service) SubscribeEmailTo(ctx context.Context, address string, sections, letters []string, source string) error {
	addr, err := NormalizeEmail(address)
	if err != nil {
		return err
	}
	secs, err := s.CheckSections(sections)
	if err != nil {
		return err
	}
	nls, err := s.CheckNewsletters(letters)
	if err != nil {
		return err
	}
	now := s.now()
	sub, created, err := s.Store.CreateSubscription(ctx, Subscription{
		Channel: Email, Address: addr, Status: Pending,
		Sections: secs, Source: source, CreatedAt: now, Newsletters: nls,
	})
	if err != nil {
		return fmt.Errorf("subscribers: subscribe email: %w", err)
	}
	if !created {
		switch sub.Status {
		case Active:
			// Already confirmed: changing sections needs the preferences
			// link, or anyone could rewrite anyone's choice. The owner of
			// the address gets that link; whoever filled in the form sees
			// the usual answer, after the usual work (SPEC §6: no telling
			// known addresses apart, not even by timing).
			if !s.allowMail(addr, now) {
				return nil
			}
			if err := s.Mailer.SendAlreadySubscribed(ctx, addr, s.URL(PurposePreferences, sub.ID)); err != nil {
				return fmt.Errorf("subscribers: send preferences link to subscription %d: %w", sub.ID, err)
			}
			s.log().InfoContext(ctx, "already subscribed: preferences link sent", slog.Int64("subscription_id", sub.ID))
			return nil
		case Blocked:
			// An operator's decision; the form still answers as usual.
			return nil
		case Pending:
			// Not confirmed yet, so nothing is lost by taking the latest choice.
			if err := s.setChoice(ctx, sub.ID, secs, nls); err != nil {
				return fmt.Errorf("subscribers: subscribe email %d: %w", sub.ID, err)
			}
		case Unsubscribed, Bounced:
			if err := s.Store.SetSubscriptionStatus(ctx, sub.ID, Pending, now); err != nil {
				return fmt.Errorf("subscribers: resubscribe %d: %w", sub.ID, err)
			}
			if err := s.setChoice(ctx, sub.ID, secs, nls); err != nil {
				return fmt.Errorf("subscribers: resubscribe %d: %w", sub.ID, err)
			}
		}
	}
	if !s.allowMail(addr, now) {
		// Same answer to the caller: the reader is told to check their
		// inbox, where the earlier mails are.
		s.log().InfoContext(ctx, "confirmation mail throttled", slog.Int64("subscription_id", sub.ID))
		return nil
	}
	if err := s.Mailer.SendConfirmation(ctx, addr, s.URL(PurposeConfirm, sub.ID)); err != nil {
		return fmt.Errorf("subscribers: send confirmation to subscription %d: %w", sub.ID, err)
	}
	s.log().InfoContext(ctx, "confirmation sent", slog.Int64("subscription_id", sub.ID), slog.Bool("new", created))
	return nil
}

// setChoice stores a reader's sections and newsletters.
func (s *Service) setChoice(ctx context.Context, id int64, secs, nls []string) error {
	if err := s.Store.SetSubscriptionSections(ctx, id, secs); err != nil {
		return err
	}
	return s.Store.SetSubscriptionNewsletters(ctx, id, nls)
}

// LinkEmail adds an email subscription for a Telegram reader (/email
// ADDRESS). It is SubscribeEmail: the confirmation mail comes first.
func (s *Service) LinkEmail(ctx context.Context, address string, sections []string, source string) error {
	return s.SubscribeEmail(ctx, address, sections, source)
}

// AddConfirmedEmail adds an email subscription that an operator vouches
// for (admin API): active at once, no confirmation mail. created is false
// when the address was known. An address whose owner unsubscribed, or that
// is blocked, is refused with ErrOptedOut.
func (s *Service) AddConfirmedEmail(ctx context.Context, address string, sections []string, source string) (sub Subscription, created bool, err error) {
	addr, err := NormalizeEmail(address)
	if err != nil {
		return Subscription{}, false, err
	}
	secs, err := s.CheckSections(sections)
	if err != nil {
		return Subscription{}, false, err
	}
	now := s.now()
	sub, created, err = s.Store.CreateSubscription(ctx, Subscription{
		Channel: Email, Address: addr, Status: Active,
		Sections: secs, Source: source, CreatedAt: now, ConfirmedAt: now,
	})
	if err != nil {
		return Subscription{}, false, fmt.Errorf("subscribers: add email: %w", err)
	}
	if created {
		return sub, true, nil
	}
	switch sub.Status {
	case Active:
		return sub, false, nil
	case Unsubscribed, Blocked:
		return sub, false, fmt.Errorf("subscribers: add email %d (%s): %w", sub.ID, sub.Status, ErrOptedOut)
	}
	// Pending or bounced: the operator vouches for the address.
	if err := s.Store.SetSubscriptionStatus(ctx, sub.ID, Active, now); err != nil {
		return Subscription{}, false, fmt.Errorf("subscribers: add email %d: %w", sub.ID, err)
	}
	sub, err = s.get(ctx, sub.ID)
	return sub, false, err
}

// Confirm activates the subscription a confirm token names. Confirming
// twice is fine; a confirm link of a subscription that has since
// unsubscribed or bounced is ErrStaleLink (the reader signs up again).
func (s *Service) Confirm(ctx context.Context, token string) (Subscription, error) {
	sub, err := s.byToken(ctx, PurposeConfirm, token)
	if err != nil {
		return Subscription{}, err
	}
	switch sub.Status {
	case Active:
		return sub, nil
	case Pending:
	default:
		return sub, fmt.Errorf("subscribers: confirm %d (%s): %w", sub.ID, sub.Status, ErrStaleLink)
	}
	if err := s.Store.SetSubscriptionStatus(ctx, sub.ID, Active, s.now()); err != nil {
		return Subscription{}, fmt.Errorf("subscribers: confirm %d: %w", sub.ID, err)
	}
	s.log().InfoContext(ctx, "subscription confirmed", slog.Int64("subscription_id", sub.ID))
	return s.get(ctx, sub.ID)
}

// Unsubscribe ends the subscription an unsubscribe token names. It is
// idempotent (RFC 8058 clients may repeat the POST); bounced and blocked
// subscriptions keep that status, which says more.
func (s *Service) Unsubscribe(ctx context.Context, token string) (Subscription, error) {
	sub, err := s.byToken(ctx, PurposeUnsubscribe, token)
	if err != nil {
		return Subscription{}, err
	}
	return s.unsubscribe(ctx, sub)
}

// UnsubscribeFrom takes the newsletter slug out of the subscription an
// unsubscribe token names ("": every letter). Leaving the last letter
// ends the subscription. Idempotent, as Unsubscribe.
func (s *Service) UnsubscribeFrom(ctx context.Context, token, slug string) (Subscription, error) {
	sub, err := s.byToken(ctx, PurposeUnsubscribe, token)
	if err != nil {
		return Subscription{}, err
	}
	return s.leave(ctx, sub, slug)
}

// leave takes slug out of sub's newsletters ("": all of them).
func (s *Service) leave(ctx context.Context, sub Subscription, slug string) (Subscription, error) {
	if slug == "" || len(s.Newsletters) < 2 {
		return s.unsubscribe(ctx, sub)
	}
	if !slices.Contains(s.Newsletters, slug) {
		return Subscription{}, fmt.Errorf("%w: %q", ErrUnknownNewsletter, slug)
	}
	rest := slices.DeleteFunc(s.LettersOf(sub), func(x string) bool { return x == slug })
	if len(rest) == 0 {
		return s.unsubscribe(ctx, sub)
	}
	nls, err := s.CheckNewsletters(rest)
	if err != nil {
		return Subscription{}, err
	}
	if nls == nil && len(sub.Newsletters) == 0 {
		return sub, nil // the default letter alone, as before
	}
	if err := s.Store.SetSubscriptionNewsletters(ctx, sub.ID, nls); err != nil {
		return Subscription{}, fmt.Errorf("subscribers: leave %s %d: %w", slug, sub.ID, err)
	}
	s.log().InfoContext(ctx, "left a newsletter", slog.Int64("subscription_id", sub.ID), slog.String("newsletter", slug))
	return s.get(ctx, sub.ID)
}

// SetNewslettersByID replaces the newsletters of subscription id (the
// preferences page, after its token; the Telegram chat). At least one
// (ErrNoNewsletters).
func (s *Service) SetNewslettersByID(ctx context.Context, id int64, slugs []string) (Subscription, error) {
	if !slices.ContainsFunc(slugs, func(x string) bool { return strings.TrimSpace(x) != "" }) {
		return Subscription{}, ErrNoNewsletters
	}
	nls, err := s.CheckNewsletters(slugs)
	if err != nil {
		return Subscription{}, err
	}
	if err := s.Store.SetSubscriptionNewsletters(ctx, id, nls); err != nil {
		return Subscription{}, fmt.Errorf("subscribers: set newsletters %d: %w", id, err)
	}
	return s.get(ctx, id)
}

func (s *Service) unsubscribe(ctx context.Context, sub Subscription) (Subscription, error) {
	if sub.Status != Active && sub.Status != Pending {
		return sub, nil
	}
	if err := s.Store.SetSubscriptionStatus(ctx, sub.ID, Unsubscribed, s.now()); err != nil {
		return Subscription{}, fmt.Errorf("subscribers: unsubscribe %d: %w", sub.ID, err)
	}
	s.log().InfoContext(ctx, "unsubscribed", slog.Int64("subscription_id", sub.ID), slog.String("channel", string(sub.Channel)))
	return s.get(ctx, sub.ID)
}

// Preferences returns the subscription a preferences token names.
func (s *Service) Preferences(ctx context.Context, token string) (Subscription, error) {
	return s.byToken(ctx, PurposePreferences, token)
}

// Lookup returns the subscription a token of purpose p names, changing
// nothing: the pages behind links show it before the reader acts.
func (s *Service) Lookup(ctx context.Context, p Purpose, token string) (Subscription, error) {
	return s.byToken(ctx, p, token)
}

// Token returns the token of purpose p for subscription id, for a
// relative link on a page the reader already reached with another token.
func (s *Service) Token(p Purpose, id int64) string {
	return s.Tokens.Make(p, id)
}

// SetSections replaces the sections of the subscription a preferences
// token names. At least one section must be chosen (ErrNoSections).
func (s *Service) SetSections(ctx context.Context, token string, sections []string) (Subscription, error) {
	sub, err := s.byToken(ctx, PurposePreferences, token)
	if err != nil {
		return Subscription{}, err
	}
	return s.SetSectionsByID(ctx, sub.ID, sections)
}

// SetSectionsByID is SetSections for callers that have already
// authenticated the reader another way (the Telegram chat).
func (s *Service) SetSectionsByID(ctx context.Context, id int64, sections []string) (Subscription, error) {
	if !slices.ContainsFunc(sections, func(x string) bool { return strings.TrimSpace(x) != "" }) {
		return Subscription{}, ErrNoSections
	}
	secs, err := s.CheckSections(sections)
	if err != nil {
		return Subscription{}, err
	}
	if err := s.Store.SetSubscriptionSections(ctx, id, secs); err != nil {
		return Subscription{}, fmt.Errorf("subscribers: set sections %d: %w", id, err)
	}
	return s.get(ctx, id)
}

// SetLocalTime sets the hour at which the subscription a preferences
// token names gets the digest (nil: the newsletter's schedule). An edition
// already being sent keeps its plan; the change counts from the next one.
func (s *Service) SetLocalTime(ctx context.Context, token string, lt *LocalTime) (Subscription, error) {
	sub, err := s.byToken(ctx, PurposePreferences, token)
	if err != nil {
		return Subscription{}, err
	}
	return s.SetLocalTimeByID(ctx, sub.ID, lt)
}

// SetLocalTimeByID is SetLocalTime for callers that have already
// authenticated the reader another way (the Telegram chat).
func (s *Service) SetLocalTimeByID(ctx context.Context, id int64, lt *LocalTime) (Subscription, error) {
	if lt != nil {
		checked, err := ParseLocalTime(lt.Zone, lt.Hour)
		if err != nil {
			return Subscription{}, fmt.Errorf("%w: %w", ErrBadLocalTime, err)
		}
		lt = &checked
	}
	if err := s.Store.SetLocalTime(ctx, id, lt); err != nil {
		return Subscription{}, fmt.Errorf("subscribers: set delivery hour %d: %w", id, err)
	}
	return s.get(ctx, id)
}

// SubscribeTelegram subscribes a chat. No double opt-in: the chat itself
// sent the command. A known chat that had left is active again.
func (s *Service) SubscribeTelegram(ctx context.Context, chatID int64, source string) (Subscription, error) {
	return s.SubscribeTelegramTo(ctx, chatID, source, "")
}

// SubscribeTelegramTo is SubscribeTelegram to the newsletter slug (""
// the default one; /start SLUG). An active chat keeps its letters and adds
// this one; a chat that had left comes back to this one alone.
func (s *Service) SubscribeTelegramTo(ctx context.Context, chatID int64, source, slug string) (Subscription, error) {
	var letters []string
	if slug != "" {
		letters = []string{slug}
	}
	nls, err := s.CheckNewsletters(letters)
	if err != nil {
		return Subscription{}, err
	}
	now := s.now()
	sub, created, err := s.Store.CreateSubscription(ctx, Subscription{
		Channel: Telegram, Address: strconv.FormatInt(chatID, 10), Status: Active,
		Source: source, CreatedAt: now, ConfirmedAt: now, Newsletters: nls,
	})
	if err != nil {
		return Subscription{}, fmt.Errorf("subscribers: subscribe telegram: %w", err)
	}
	if created {
		return sub, nil
	}
	if sub.Status == Active {
		if slug == "" || sub.Gets(slug, s.DefaultNewsletter()) {
			return sub, nil
		}
		return s.SetNewslettersByID(ctx, sub.ID, append(s.LettersOf(sub), slug))
	}
	if err := s.Store.SetSubscriptionStatus(ctx, sub.ID, Active, now); err != nil {
		return Subscription{}, fmt.Errorf("subscribers: resubscribe telegram %d: %w", sub.ID, err)
	}
	if err := s.Store.SetSubscriptionNewsletters(ctx, sub.ID, nls); err != nil {
		return Subscription{}, fmt.Errorf("subscribers: resubscribe telegram %d: %w", sub.ID, err)
	}
	return s.get(ctx, sub.ID)
}

// UnsubscribeTelegram ends a chat's subscription; ErrNotFound when the
// chat never subscribed.
func (s *Service) UnsubscribeTelegram(ctx context.Context, chatID int64) (Subscription, error) {
	sub, err := s.Store.FindSubscription(ctx, Telegram, strconv.FormatInt(chatID, 10))
	if err != nil {
		return Subscription{}, fmt.Errorf("subscribers: unsubscribe telegram: %w", err)
	}
	return s.unsubscribe(ctx, sub)
}

// byToken checks token for purpose and loads its subscription. A token
// naming a subscription that does not exist is reported as ErrBadToken: to
// the reader it is just as invalid.
func (s *Service) byToken(ctx context.Context, p Purpose, token string) (Subscription, error) {
	id, err := s.Tokens.Check(p, token)
	if err != nil {
		return Subscription{}, err
	}
	sub, err := s.Store.GetSubscription(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Subscription{}, fmt.Errorf("subscription %d gone: %w", id, ErrBadToken)
	}
	if err != nil {
		return Subscription{}, fmt.Errorf("subscribers: load %d: %w", id, err)
	}
	return sub, nil
}

func (s *Service) get(ctx context.Context, id int64) (Subscription, error) {
	sub, err := s.Store.GetSubscription(ctx, id)
	if err != nil {
		return Subscription{}, fmt.Errorf("subscribers: load %d: %w", id, err)
	}
	return sub, nil
}
