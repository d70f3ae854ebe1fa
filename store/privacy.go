package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/digestbot/digestbot/subscribers"
)

// SubscriberRecords returns everything stored about address: each
// subscription with that address, compared without case (an email address,
// or a Telegram chat id in decimal; any channel) and its deliveries, oldest edition first. None
// is an empty slice, not an error.
func (s *Store) SubscriberRecords(ctx context.Context, address string) ([]subscribers.Record, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE lower(address) = lower($1) ORDER BY id`, address)
	if err != nil {
		return nil, fmt.Errorf("store: records of a subscriber: %w", err)
	}
	out := []subscribers.Record{}
	for rows.Next() {
		sub, err := scanSubscription(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: records of a subscriber: %w", err)
		}
		out = append(out, subscribers.NewRecord(sub))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: records of a subscriber: %w", err)
	}
	for i := range out {
		if out[i].Deliveries, err = s.deliveryRecords(ctx, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) deliveryRecords(ctx context.Context, subID int64) ([]subscribers.DeliveryRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT e.id, e.newsletter, e.date, d.status, d.attempts, d.last_error, d.sent_at
		FROM deliveries d JOIN editions e ON e.id = d.edition_id
		WHERE d.subscription_id = $1 ORDER BY e.date, e.id`, subID)
	if err != nil {
		return nil, fmt.Errorf("store: deliveries of subscription %d: %w", subID, err)
	}
	defer rows.Close()
	out := []subscribers.DeliveryRecord{}
	for rows.Next() {
		var d subscribers.DeliveryRecord
		if err := rows.Scan(&d.EditionID, &d.Newsletter, &d.Date, &d.Status, &d.Attempts, &d.LastError, timeCol{&d.SentAt}); err != nil {
			return nil, fmt.Errorf("store: deliveries of subscription %d: %w", subID, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: deliveries of subscription %d: %w", subID, err)
	}
	return out, nil
}

// ForgetSubscriber erases every subscription with address (any channel,
// compared without case, as SubscriberRecords finds them) in
// one transaction: its deliveries are first added to delivery_tallies as
// counts per edition, channel and status (what DeliveryStats reports), so
// that an edition's figures stay whole and nothing names the reader; then
// the subscriptions go, their deliveries with them. It returns how many
// subscriptions were erased (0 when none matched).
func (s *Store) ForgetSubscriber(ctx context.Context, address string) (int, error) {
	var n int
	err := s.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO delivery_tallies (edition_id, channel, status, n)
			SELECT edition_id, channel, st, COUNT(*) FROM (`+deliveryStatusSQL+` WHERE lower(sub.address) = lower($1)) x
			GROUP BY edition_id, channel, st
			ON CONFLICT (edition_id, channel, status) DO UPDATE SET n = delivery_tallies.n + excluded.n`, address); err != nil {
			return err
		}
		// The deliveries by hand: PostgreSQL's have no foreign key to
		// cascade (migration 0010).
		if _, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE subscription_id IN
			(SELECT id FROM subscriptions WHERE lower(address) = lower($1))`, address); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM subscriptions WHERE lower(address) = lower($1)`, address)
		if err != nil {
			return err
		}
		m, err := res.RowsAffected()
		n = int(m)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: forget a subscriber: %w", err)
	}
	return n, nil
}

// PurgePending deletes the pending subscriptions created before before:
// addresses that never confirmed (double opt-in) are not kept. It returns
// how many went.
func (s *Store) PurgePending(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.InTx(ctx, func(tx *sql.Tx) error {
		// A subscription pending again may have deliveries from before;
		// PostgreSQL's have no foreign key to cascade (migration 0010).
		if _, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE subscription_id IN
			(SELECT id FROM subscriptions WHERE status = 'pending' AND created_at < $1)`, s.d.bound(before)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM subscriptions WHERE status = 'pending' AND created_at < $1`, s.d.bound(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: purge pending subscriptions: %w", err)
	}
	return int(n), nil
}
