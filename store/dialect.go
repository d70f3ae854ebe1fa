package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// dialect holds what differs between SQLite and PostgreSQL once the schema
// is created (each has its own migrations). Everything else is written once:
// both accept $N placeholders (modernc.org/sqlite binds $N by position),
// INSERT … ON CONFLICT … DO UPDATE/NOTHING with excluded.*, RETURNING,
// TRUE/FALSE, and window functions. What remains is how a time is stored,
// and how Migrate keeps two instances from migrating at once.
type dialect struct {
	name string
}

// sqliteTimeLayout is how times are stored on SQLite: TEXT, UTC, fixed width
// so that string order is time order (indexes and range queries on
// ingested_at rely on it), readable in the sqlite3 shell, and understood by
// SQLite's date functions.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

// normTime is the value a time reads back as: UTC, truncated to the
// microsecond (PostgreSQL's precision; SQLite is made to match), zero for zero.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// time is the argument for a nullable time column: NULL for the zero time.
func (d dialect) time(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return d.bound(t)
}

// bound is the argument for a time compared with a column: never NULL, so
// the zero time is a lower bound before every stored time.
func (d dialect) bound(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if d.name == SQLite {
		return t.Format(sqliteTimeLayout)
	}
	return t
}

// lockMigrations keeps several instances sharing one PostgreSQL from running
// migrations at the same time; the returned func releases the lock. (SQLite
// migrates in one write transaction instead: see Migrate.)
func (d dialect) lockMigrations(ctx context.Context, db *sql.DB) (func(), error) {
	if d.name != Postgres {
		return func() {}, nil
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	// An arbitrary constant key: "digestbot" in ASCII, as an int64.
	const key = 0x64696765737462
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(key)); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return func() {
		// A fresh context: the lock must be released even when ctx is done.
		_, _ = conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", int64(key))
		_ = conn.Close()
	}, nil
}

// txStmt is a statement run many times in one transaction.
type txStmt struct {
	tx    *sql.Tx
	query string
	stmt  *sql.Stmt // nil: run query on tx
}

// prepare readies query for repeated use in tx. SQLite (modernc) caches no
// statement: prepare it once. pgx already caches a prepared statement per
// connection for each query text, so an explicit Prepare would only add a
// round trip to prepare and another to deallocate.
func (d dialect) prepare(ctx context.Context, tx *sql.Tx, query string) (*txStmt, error) {
	if d.name != SQLite {
		return &txStmt{tx: tx, query: query}, nil
	}
	st, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return &txStmt{tx: tx, query: query, stmt: st}, nil
}

func (t *txStmt) QueryContext(ctx context.Context, args ...any) (*sql.Rows, error) {
	if t.stmt != nil {
		return t.stmt.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, t.query, args...)
}

func (t *txStmt) QueryRowContext(ctx context.Context, args ...any) *sql.Row {
	if t.stmt != nil {
		return t.stmt.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, t.query, args...)
}

func (t *txStmt) close() {
	if t != nil && t.stmt != nil {
		_ = t.stmt.Close()
	}
}

// timeCol scans a nullable time column of either database into a UTC
// time.Time; NULL reads as the zero time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case time.Time:
		*c.t = v.UTC()
	case string:
		return c.parse(v)
	case []byte:
		return c.parse(string(v))
	default:
		return fmt.Errorf("store: scan time: unexpected %T", src)
	}
	return nil
}

func (c timeCol) parse(v string) error {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return fmt.Errorf("store: scan time %q: %w", v, err)
	}
	*c.t = t.UTC()
	return nil
}

// nullString is the argument for an optional text column: NULL for "".
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullInt64 is the argument for an optional id: NULL for 0.
func nullInt64(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}

// strCol scans a nullable text column; NULL reads as "".
type strCol struct{ s *string }

func (c strCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.s = ""
	case string:
		*c.s = v
	case []byte:
		*c.s = string(v)
	default:
		return fmt.Errorf("store: scan text: unexpected %T", src)
	}
	return nil
}

// int64Col scans a nullable integer column; NULL reads as 0.
type int64Col struct{ n *int64 }

func (c int64Col) Scan(src any) error {
	var n sql.NullInt64
	if err := n.Scan(src); err != nil {
		return err
	}
	*c.n = n.Int64
	return nil
}

// numbered returns "$from, $from+1, …" for n arguments: for short lists
// inside statements that use $N elsewhere.
func numbered(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(from + i))
	}
	return b.String()
}

// placeholders returns the placeholders of n arguments numbered from
// from: "$from, $from+1, …" on PostgreSQL, "?, ?, …" on SQLite. SQLite
// keeps $N (a named parameter to it) and ?N in a list it searches linearly
// at prepare and at bind time, which makes a multi-row insert with
// thousands of them quadratic (seconds per statement); plain ? is not
// listed. A statement using this must not mix in $N placeholders.
func (d dialect) placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		if d.name == SQLite {
			b.WriteByte('?')
		} else {
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(from + i))
		}
	}
	return b.String()
}

// rowsAffected returns the count of an Exec, wrapping a driver failure.
func rowsAffected(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return n, nil
}

// noLimit turns a limit ≤ 0 ("no limit") into one both databases accept.
func noLimit(limit int) int64 {
	if limit <= 0 {
		return 1<<63 - 1
	}
	return int64(limit)
}
