package subscribers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ReportKind is what a late delivery report says about an address.
type ReportKind string

const (
	// ReportHard: the address does not exist or refuses mail for good
	// (a DSN "5.x.x", a provider's hard or permanent bounce).
	ReportHard ReportKind = "hard"
	// ReportSoft: a temporary failure (mailbox full, greylisted, deferred
	// for too long). SoftLimit of them in a row count as a hard one.
	ReportSoft ReportKind = "soft"
	// ReportComplaint: the reader marked the digest as spam (an ARF report,
	// a provider's complaint event).
	ReportComplaint ReportKind = "complaint"
)

// Soft bounces count in a row: a soft bounce more than SoftWindow after the
// previous one starts the count over (daily digests went through in
// between).
const SoftWindow = 8 * 24 * time.Hour

// ReportResult is what a report did to the address's subscription.
type ReportResult string

const (
	ResultBounced      ReportResult = "bounced"      // now bounced: no more mail
	ResultCounted      ReportResult = "counted"      // a soft bounce, counted
	ResultUnsubscribed ReportResult = "unsubscribed" // a complaint: unsubscribed, reason "complained"
	ResultIgnored      ReportResult = "ignored"      // no email subscription, or it had left already
)

// ApplyReport changes the email subscription of address as a late report
// says: a hard bounce marks it bounced, softLimit soft bounces in a row do
// too (softLimit ≤ 0: 3), a complaint unsubscribes it with the reason
// "complained". An address with no subscription, or one that already left,
// is ignored. A reader whose address bounced may sign up again (double
// opt-in); so may one who complained, by signing up themselves.
func (s *Service) ApplyReport(ctx context.Context, address string, kind ReportKind, softLimit int) (ReportResult, error) {
	if softLimit <= 0 {
		softLimit = 3
	}
	addr, err := NormalizeEmail(address)
	if err != nil {
		return ResultIgnored, nil // not an address we could have mailed
	}
	sub, err := s.Store.FindSubscription(ctx, Email, addr)
	if errors.Is(err, ErrNotFound) {
		return ResultIgnored, nil
	}
	if err != nil {
		return "", fmt.Errorf("subscribers: report for %s: %w", kind, err)
	}
	edition, err := s.Store.LastSentEdition(ctx, sub.ID)
	if err != nil {
		return "", fmt.Errorf("subscribers: report for %s: %w", kind, err)
	}
	return s.applyReport(ctx, sub, edition, kind, softLimit)
}

// ApplyReportByID is ApplyReport for a report that names its edition and
// subscription (a VERP return path's token).
func (s *Service) ApplyReportByID(ctx context.Context, editionID, id int64, kind ReportKind, softLimit int) (ReportResult, error) {
	sub, err := s.Store.GetSubscription(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return ResultIgnored, nil // erased since (subscribers delete)
	}
	if err != nil {
		return "", fmt.Errorf("subscribers: report for %s: %w", kind, err)
	}
	if sub.Channel != Email {
		return ResultIgnored, nil
	}
	return s.applyReport(ctx, sub, editionID, kind, softLimit)
}

// applyReport changes sub and counts the report against edition (0: none
// known).
func (s *Service) applyReport(ctx context.Context, sub Subscription, edition int64, kind ReportKind, softLimit int) (ReportResult, error) {
	if softLimit <= 0 {
		softLimit = 3
	}
	if sub.Status != Active && sub.Status != Pending {
		return ResultIgnored, nil
	}
	if edition > 0 {
		if err := s.Store.RecordReport(ctx, edition, string(kind)); err != nil {
			return "", fmt.Errorf("subscribers: %w", err)
		}
	}
	now := s.now()
	log := s.log().With(slog.Int64("subscription_id", sub.ID), slog.String("report", string(kind)))
	switch kind {
	case ReportHard:
		if err := s.MarkBounced(ctx, sub.ID); err != nil {
			return "", err
		}
		log.InfoContext(ctx, "late bounce: subscription bounced")
		return ResultBounced, nil
	case ReportSoft:
		n, err := s.Store.CountSoftBounce(ctx, sub.ID, now, SoftWindow)
		if err != nil {
			return "", fmt.Errorf("subscribers: %w", err)
		}
		if n < softLimit {
			log.InfoContext(ctx, "soft bounce counted", slog.Int("in_a_row", n), slog.Int("limit", softLimit))
			return ResultCounted, nil
		}
		if err := s.MarkBounced(ctx, sub.ID); err != nil {
			return "", err
		}
		log.InfoContext(ctx, "soft bounces in a row: subscription bounced", slog.Int("in_a_row", n))
		return ResultBounced, nil
	case ReportComplaint:
		if err := s.Store.SetSubscriptionStatus(ctx, sub.ID, Unsubscribed, now); err != nil {
			return "", fmt.Errorf("subscribers: complaint: %w", err)
		}
		if err := s.Store.SetStatusReason(ctx, sub.ID, "complained"); err != nil {
			return "", fmt.Errorf("subscribers: complaint: %w", err)
		}
		log.InfoContext(ctx, "spam complaint: unsubscribed")
		return ResultUnsubscribed, nil
	}
	return "", fmt.Errorf("subscribers: unknown report kind %q", kind)
}
