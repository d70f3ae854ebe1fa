package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/subscribers"
)

// deliveryInsertChunk rows per INSERT in RecordDeliveries (6 arguments a row).
const deliveryInsertChunk = 1000

// RecordDeliveries writes the delivery records of a batch, inserting or
// updating each (edition, subscription): status, attempts, last error and
// sent time are replaced, except that a row recorded as sent stays sent (a
// repeated send that failed must not make the message look undelivered).
// One upsert on PostgreSQL; on SQLite one multi-row upsert per 1000
// records, in one transaction. When ds holds the same pair twice, the last
// one wins. A record of a subscription that no longer exists (erased
// during the send) is left out.
func (s *Store) RecordDeliveries(ctx context.Context, ds []delivery.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	// PostgreSQL refuses an upsert that touches one row twice: keep the last.
	type key struct{ e, s int64 }
	seen := make(map[key]int, len(ds))
	uniq := make([]delivery.Delivery, 0, len(ds))
	for _, d := range ds {
		k := key{d.EditionID, d.SubscriptionID}
		if i, ok := seen[k]; ok {
			uniq[i] = d
			continue
		}
		seen[k] = len(uniq)
		uniq = append(uniq, d)
	}
	// On PostgreSQL every set is one statement whatever its size: the rows
	// go as six arrays (unnest), and pgx prepares and caches the statement
	// by its text. On SQLite a group of up to maxPreparedDeliveryRows (the
	// fan-out's: at most delivery.max_unrecorded records) is one
	// statement, prepared once per size, run on its own: a single
	// statement is atomic, so it needs neither BEGIN/COMMIT nor a
	// statement journal (which a statement inside an explicit transaction
	// writes to a temporary file so that it can be undone alone). Bigger
	// sets are chunks of deliveryInsertChunk rows in one transaction.
	var err error
	switch {
	case s.d.name != SQLite:
		_, err = s.db.ExecContext(ctx, pgDeliveryUpsert, pgDeliveryArrays(uniq)...)
	case len(uniq) <= maxPreparedDeliveryRows:
		args := s.deliveryArgs(uniq)
		// Rounded up to a multiple of 8 rows by repeating the last
		// (upserting a row again with the same values changes nothing),
		// so 15 statement sizes are prepared, not 64.
		n := len(uniq)
		if n > 8 {
			n = (n + 7) / 8 * 8
		}
		for len(args) < 6*n {
			args = append(args, args[len(args)-6:]...)
		}
		var st *sql.Stmt
		if st, err = s.deliveryStmt(ctx, n); err == nil {
			_, err = st.ExecContext(ctx, args...)
		}
	default:
		err = s.InTx(ctx, func(tx *sql.Tx) error {
			for at := 0; at < len(uniq); at += deliveryInsertChunk {
				chunk := uniq[at:min(at+deliveryInsertChunk, len(uniq))]
				if _, err := tx.ExecContext(ctx, s.deliveryUpsert(len(chunk)), s.deliveryArgs(chunk)...); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("store: record %d deliveries: %w", len(ds), err)
	}
	return nil
}

// deliveryArgs are the upsert's arguments for ds, six a row.
func (s *Store) deliveryArgs(ds []delivery.Delivery) []any {
	args := make([]any, 0, len(ds)*6)
	for _, d := range ds {
		args = append(args, d.EditionID, d.SubscriptionID, d.Status, d.Attempts, d.LastError, s.d.time(d.SentAt))
	}
	return args
}

// pgDeliveryUpsert records the rows of six arrays, one a column, of the
// subscriptions that exist: a reader erased while their message was on
// its way leaves no record (the foreign key that refused it is gone,
// migration 0010; a refused row failed its whole group). Only a write that
// runs while the erasure's own transaction is still open can slip through:
// it sees the subscription, and its row outlives the erasure.
const pgDeliveryUpsert = `INSERT INTO deliveries (edition_id, subscription_id, status, attempts, last_error, sent_at)
	SELECT u.* FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::int[], $5::text[], $6::timestamptz[])
		AS u (edition_id, subscription_id, status, attempts, last_error, sent_at)
	WHERE EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = u.subscription_id)
	ON CONFLICT (edition_id, subscription_id) DO UPDATE SET status = excluded.status,
		attempts = excluded.attempts, last_error = excluded.last_error, sent_at = excluded.sent_at
		WHERE deliveries.status <> 'sent'`

// pgDeliveryArrays are pgDeliveryUpsert's arguments for ds.
func pgDeliveryArrays(ds []delivery.Delivery) []any {
	editions, subs := make([]int64, len(ds)), make([]int64, len(ds))
	statuses, errs := make([]string, len(ds)), make([]string, len(ds))
	attempts, sent := make([]int32, len(ds)), make([]*time.Time, len(ds))
	for i, d := range ds {
		editions[i], subs[i], statuses[i], attempts[i], errs[i] = d.EditionID, d.SubscriptionID, d.Status, int32(d.Attempts), d.LastError
		if !d.SentAt.IsZero() {
			t := d.SentAt.UTC().Truncate(time.Microsecond)
			sent[i] = &t
		}
	}
	return []any{editions, subs, statuses, attempts, errs, sent}
}

// maxPreparedDeliveryRows is the largest group written as one prepared
// statement. The fan-out writes small groups many times a second (at most
// delivery.max_unrecorded rows each, 64 by default); parsing each statement
// anew cost SQLite a tenth of send-now's CPU.
const maxPreparedDeliveryRows = 64

// deliveryUpsert is SQLite's statement that records n deliveries of the
// subscriptions that exist (a reader erased while their message was on its
// way leaves no record, and the rest of the group is written); a record
// that says sent is never overwritten.
func (s *Store) deliveryUpsert(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO deliveries (edition_id, subscription_id, status, attempts, last_error, sent_at)
	SELECT * FROM (VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(" + s.d.placeholders(6*i+1, 6) + ")")
	}
	// column2 is the subscription id: SQLite names a VALUES list's columns
	// column1, column2, …
	b.WriteString(`) AS v WHERE EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = v.column2)
	ON CONFLICT (edition_id, subscription_id) DO UPDATE SET status = excluded.status,
		attempts = excluded.attempts, last_error = excluded.last_error, sent_at = excluded.sent_at
		WHERE deliveries.status <> 'sent'`)
	return b.String()
}

// deliveryStmt returns the prepared upsert of n rows, preparing it once.
func (s *Store) deliveryStmt(ctx context.Context, n int) (*sql.Stmt, error) {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if st := s.deliveryStmts[n]; st != nil {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, s.deliveryUpsert(n))
	if err != nil {
		return nil, err
	}
	if s.deliveryStmts == nil {
		s.deliveryStmts = make(map[int]*sql.Stmt)
	}
	s.deliveryStmts[n] = st
	return st, nil
}

// RecordedDeliveries returns the recorded status of each subscription with
// an id in [firstID, lastID] that has a delivery record for the edition:
// the ones a retried fan-out job must skip.
func (s *Store) RecordedDeliveries(ctx context.Context, editionID, firstID, lastID int64) (map[int64]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT subscription_id, status FROM deliveries
		WHERE edition_id = $1 AND subscription_id >= $2 AND subscription_id <= $3`, editionID, firstID, lastID)
	if err != nil {
		return nil, fmt.Errorf("store: recorded deliveries of edition %d: %w", editionID, err)
	}
	defer rows.Close()
	out := make(map[int64]string)
	for rows.Next() {
		var id int64
		var st string
		if err := rows.Scan(&id, &st); err != nil {
			return nil, fmt.Errorf("store: recorded deliveries of edition %d: %w", editionID, err)
		}
		out[id] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: recorded deliveries of edition %d: %w", editionID, err)
	}
	return out, nil
}

// deliveryStatusSQL is each delivery with its subscription's channel and
// the status DeliveryStats counts it under: a failure to a subscription
// since bounced or blocked counts as that. Callers add the WHERE clause.
const deliveryStatusSQL = `SELECT d.edition_id AS edition_id, sub.channel AS channel,
		CASE WHEN d.status = 'failed' AND sub.status IN ('bounced', 'blocked') THEN sub.status
			ELSE d.status END AS st
	FROM deliveries d JOIN subscriptions sub ON sub.id = d.subscription_id`

// DeliveryStats counts the edition's delivery records per channel and
// status, ordered by both. A failed record whose subscription is now
// bounced or blocked counts under that status instead of failed.
func (s *Store) DeliveryStats(ctx context.Context, editionID int64) ([]digest.DeliveryCount, error) {
	// Sent records, nearly all of them, are counted apart: they need no
	// status of their subscription, only its channel (the schema allows
	// two), and grouping them made SQLite sort them all. PostgreSQL
	// counts them per channel with a filter; SQLite counts them all
	// without their subscriptions and takes away the Telegram readers'
	// ones, found from the readers' side (BenchmarkDeliveryStats, 100,000
	// records on SQLite: grouped 193–201 ms and filtered 73–81 in one
	// sitting, filtered 93–104 and this way 50–56 in a slower one; this
	// way on PostgreSQL was slower than its filter). The two reads are
	// not one snapshot: during a send they may be a few records apart.
	var email, telegram int
	query := `SELECT COUNT(*) FILTER (WHERE sub.channel = 'email'), COUNT(*) FILTER (WHERE sub.channel = 'telegram')
		FROM deliveries d JOIN subscriptions sub ON sub.id = d.subscription_id
		WHERE d.edition_id = $1 AND d.status = 'sent'`
	if s.d.name == SQLite {
		query = `SELECT
			(SELECT COUNT(*) FROM deliveries WHERE edition_id = $1 AND status = 'sent') - t.n, t.n
			FROM (SELECT COUNT(*) AS n FROM subscriptions sub WHERE sub.channel = 'telegram' AND EXISTS (
				SELECT 1 FROM deliveries d WHERE d.edition_id = $1 AND d.subscription_id = sub.id AND d.status = 'sent')) t`
	}
	err := s.db.QueryRowContext(ctx, query, editionID).Scan(&email, &telegram)
	if err != nil {
		return nil, fmt.Errorf("store: delivery stats of edition %d: %w", editionID, err)
	}
	// The rest, and the erased subscribers' deliveries (delivery_tallies).
	out, err := queryAll(ctx, s.db, func(r interface{ Scan(...any) error }) (c digest.DeliveryCount, err error) {
		err = r.Scan(&c.Channel, &c.Status, &c.N)
		return c, err
	}, `SELECT channel, st, SUM(n) FROM (
			SELECT channel, st, COUNT(*) AS n FROM (`+deliveryStatusSQL+` WHERE d.edition_id = $1 AND d.status <> 'sent') x GROUP BY channel, st
			UNION ALL
			SELECT channel, status, n FROM delivery_tallies WHERE edition_id = $1
		) y GROUP BY channel, st`, editionID)
	if err != nil {
		return nil, fmt.Errorf("store: delivery stats of edition %d: %w", editionID, err)
	}
	for _, c := range []digest.DeliveryCount{{Channel: string(subscribers.Email), Status: digest.DeliverySent, N: email},
		{Channel: string(subscribers.Telegram), Status: digest.DeliverySent, N: telegram}} {
		if c.N == 0 {
			continue
		}
		if i := slices.IndexFunc(out, func(o digest.DeliveryCount) bool { return o.Channel == c.Channel && o.Status == c.Status }); i >= 0 {
			out[i].N += c.N
		} else {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b digest.DeliveryCount) int {
		return cmp.Or(cmp.Compare(a.Channel, b.Channel), cmp.Compare(a.Status, b.Status))
	})
	return out, nil
}
