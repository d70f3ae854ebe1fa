package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
)

// deliveryInsertChunk rows per INSERT in RecordDeliveries (6 arguments a row).
const deliveryInsertChunk = 1000

// RecordDeliveries writes the delivery records of a batch, inserting or
// updating each (edition, subscription): status, attempts, last error and
// sent time are replaced, except that a row recorded as sent stays sent (a
// repeated send that failed must not make the message look undelivered).
// One multi-row upsert per 1000 records, in one transaction; when ds holds
// the same pair twice, the last one wins.
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
	// SQLite parses each statement it is given: a few prepared sizes
	// serve every group (taken before the transaction, as preparing uses
	// a connection of the pool). pgx prepares and caches statements by
	// their text itself, and each statement is a round trip: PostgreSQL
	// gets one statement per deliveryInsertChunk rows, and no transaction
	// around a single one (a statement is atomic by itself).
	var pieces []int
	if s.d.name == SQLite {
		pieces = deliveryPieces(len(uniq))
	} else {
		for n := len(uniq); n > 0; n -= deliveryInsertChunk {
			pieces = append(pieces, min(n, deliveryInsertChunk))
		}
	}
	stmts := make([]*sql.Stmt, len(pieces))
	if s.d.name == SQLite {
		for i, n := range pieces {
			if n <= maxPreparedDeliveryRows {
				st, err := s.deliveryStmt(ctx, n)
				if err != nil {
					return fmt.Errorf("store: record %d deliveries: %w", len(ds), err)
				}
				stmts[i] = st
			}
		}
	}
	write := func(q querier) error {
		at := 0
		for i, n := range pieces {
			chunk := uniq[at : at+n]
			at += n
			args := make([]any, 0, len(chunk)*6)
			for _, d := range chunk {
				args = append(args, d.EditionID, d.SubscriptionID, d.Status, d.Attempts, d.LastError, s.d.time(d.SentAt))
			}
			var err error
			if tx, ok := q.(*sql.Tx); ok && stmts[i] != nil {
				_, err = tx.StmtContext(ctx, stmts[i]).ExecContext(ctx, args...)
			} else {
				_, err = q.ExecContext(ctx, s.deliveryUpsert(n), args...)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	if len(pieces) == 1 && stmts[0] == nil {
		err = write(s.db)
	} else {
		err = s.InTx(ctx, func(tx *sql.Tx) error { return write(tx) })
	}
	if err != nil {
		return fmt.Errorf("store: record %d deliveries: %w", len(ds), err)
	}
	return nil
}

// maxPreparedDeliveryRows is the largest upsert kept prepared. The
// fan-out writes small groups many times a second (at most
// delivery.max_unrecorded rows each); parsing each statement anew cost
// SQLite a tenth of send-now's CPU.
const maxPreparedDeliveryRows = 64

// deliveryPieces cuts n rows into statement sizes: chunks of
// deliveryInsertChunk, then the rest as powers of two up to
// maxPreparedDeliveryRows, so that a few prepared statements serve every
// size (63 rows: 32 + 16 + 8 + 4 + 2 + 1).
func deliveryPieces(n int) []int {
	var out []int
	for ; n >= deliveryInsertChunk; n -= deliveryInsertChunk {
		out = append(out, deliveryInsertChunk)
	}
	if n > maxPreparedDeliveryRows {
		return append(out, n)
	}
	for size := maxPreparedDeliveryRows; size > 0; size /= 2 {
		for ; n >= size; n -= size {
			out = append(out, size)
		}
	}
	return out
}

// deliveryUpsert is the statement that records n deliveries; a record
// that says sent is never overwritten.
func (s *Store) deliveryUpsert(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO deliveries (edition_id, subscription_id, status, attempts, last_error, sent_at) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(" + s.d.placeholders(6*i+1, 6) + ")")
	}
	b.WriteString(` ON CONFLICT (edition_id, subscription_id) DO UPDATE SET status = excluded.status,
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
	// The erased subscribers' deliveries are in delivery_tallies.
	rows, err := s.db.QueryContext(ctx, `SELECT channel, st, SUM(n) FROM (
			SELECT channel, st, COUNT(*) AS n FROM (`+deliveryStatusSQL+` WHERE d.edition_id = $1) x GROUP BY channel, st
			UNION ALL
			SELECT channel, status, n FROM delivery_tallies WHERE edition_id = $1
		) y GROUP BY channel, st ORDER BY channel, st`, editionID)
	if err != nil {
		return nil, fmt.Errorf("store: delivery stats of edition %d: %w", editionID, err)
	}
	defer rows.Close()
	var out []digest.DeliveryCount
	for rows.Next() {
		var c digest.DeliveryCount
		if err := rows.Scan(&c.Channel, &c.Status, &c.N); err != nil {
			return nil, fmt.Errorf("store: delivery stats of edition %d: %w", editionID, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: delivery stats of edition %d: %w", editionID, err)
	}
	return out, nil
}
