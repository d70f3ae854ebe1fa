// Package store keeps digestbot's data in SQLite or PostgreSQL. It is the only
// package that writes SQL: one file per table, methods on *Store, and the few
// differences between the two databases kept in dialect.go.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Driver names accepted by Open.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Store is digestbot's database: our tables and River's, on one connection
// pool. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	d       dialect
	river   riverdriver.Driver[*sql.Tx]
	log     *slog.Logger
	now     func() time.Time
	closers []func() // extra resources (pgx pools), closed after db

	stmtMu        sync.Mutex
	deliveryStmts map[int]*sql.Stmt // prepared delivery upserts by row count
}

// queryAll runs query on q and returns every row, read by scan.
func queryAll[T any](ctx context.Context, q querier, scan func(interface{ Scan(...any) error }) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return appendRows(nil, rows, scan)
}

// appendRows appends every row of rows, scanned, to out and closes rows.
func appendRows[T any](out []T, rows *sql.Rows, scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// querier is what *sql.DB and *sql.Tx have in common, so that one helper
// serves both a plain call and a call inside a caller's transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Open connects to the database; it does not migrate (see Migrate).
// driver is "sqlite" (dsn: a file path or a file: URI) or "postgres" (dsn: a
// libpq URL or key=value string).
func Open(ctx context.Context, driver, dsn string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var (
		s   *Store
		err error
	)
	switch driver {
	case SQLite:
		s, err = openSQLite(ctx, dsn, log)
	case Postgres:
		s, err = openPostgres(ctx, dsn, log)
	default:
		return nil, fmt.Errorf("store: open: unknown driver %q (want %q or %q)", driver, SQLite, Postgres)
	}
	if err != nil {
		return nil, err
	}
	// Not the DSN: a PostgreSQL one may hold a password.
	log.InfoContext(ctx, "store: opened", slog.String("driver", driver))
	return s, nil
}

// sqliteParams are added to every SQLite DSN unless the DSN sets them:
//   - WAL lets readers run while one writer writes;
//   - busy_timeout makes a writer wait for the lock instead of failing
//     with SQLITE_BUSY;
//   - _txlock=immediate takes the write lock at BEGIN, so a transaction
//     never has to upgrade a read lock (an upgrade that loses the race fails
//     at once with SQLITE_BUSY, whatever the busy timeout);
//   - synchronous=NORMAL is safe with WAL (a power loss can lose the last
//     commits, never corrupt) and much faster than FULL.
const sqliteParams = "_busy_timeout=10000&_journal_mode=WAL&_foreign_keys=1&_synchronous=NORMAL&_txlock=immediate"

// sqliteMaxConns bounds the SQLite pool. Writers are serialized by SQLite
// anyway (and wait on busy_timeout); several connections let readers (the
// web archive, River's pollers) run beside a writer, and keep a caller that
// queries outside its own open transaction from deadlocking, which a pool of
// one would do.
const sqliteMaxConns = 8

func openSQLite(ctx context.Context, dsn string, log *slog.Logger) (*Store, error) {
	if dsn == "" {
		return nil, errors.New("store: open sqlite: empty dsn")
	}
	path, query := splitSQLiteDSN(dsn)
	if path != "" && path != ":memory:" && !strings.Contains(query, "mode=memory") {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("store: open sqlite: create directory: %w", err)
		}
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: parse dsn query: %w", err)
	}
	defaults, _ := url.ParseQuery(sqliteParams)
	for k, v := range defaults {
		if !q.Has(k) {
			q[k] = v
		}
	}
	full := dsn
	if i := strings.IndexByte(full, '?'); i >= 0 {
		full = full[:i]
	}
	full += "?" + q.Encode()

	db, err := sql.Open("sqlite", full)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	maxConns := sqliteMaxConns
	if path == "" || path == ":memory:" || strings.Contains(query, "mode=memory") {
		// Each connection would open its own, empty, in-memory database.
		maxConns = 1
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	// A connection's page cache is worth keeping: never close idle ones.
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		if dir := filepath.Dir(path); path != "" && path != ":memory:" && !writable(dir) {
			// SQLite only says "unable to open database file": WAL mode
			// writes beside the database even to read it.
			return nil, fmt.Errorf("store: open sqlite: the data directory %s is not writable (read-only file system or permissions): %w", dir, err)
		}
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	return &Store{
		db:    db,
		d:     dialect{name: SQLite},
		river: riversqlite.New(db),
		log:   log,
		now:   time.Now,
	}, nil
}

// splitSQLiteDSN returns the file path a SQLite DSN names (to create its
// directory) and its query string.
func splitSQLiteDSN(dsn string) (path, query string) {
	path = dsn
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path, query = path[:i], path[i+1:]
	}
	if strings.HasPrefix(path, "file:") {
		path = strings.TrimPrefix(path, "file:")
		// file:///abs/path and file://localhost/abs/path (RFC 8089).
		if strings.HasPrefix(path, "//") {
			rest := path[2:]
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				path = rest[i:]
			} else {
				path = ""
			}
		}
		if p, err := url.PathUnescape(path); err == nil {
			path = p
		}
	}
	return path, query
}

// pgListenerMaxConns: River hijacks one connection per client from the
// listener pool for LISTEN; a second allows a restarted client to get one
// before the old one is released.
const pgListenerMaxConns = 2

func openPostgres(ctx context.Context, dsn string, log *slog.Logger) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: parse dsn: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	lcfg := cfg.Copy()
	lcfg.MaxConns = pgListenerMaxConns
	lcfg.MinConns = 0
	listenPool, err := pgxpool.NewWithConfig(ctx, lcfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: open postgres: listener pool: %w", err)
	}
	// All our SQL goes through database/sql, like on SQLite, so that every
	// method and River's driver share one transaction type (*sql.Tx).
	db := stdlib.OpenDBFromPool(pool)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		listenPool.Close()
		pool.Close()
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	return &Store{
		db: db,
		d:  dialect{name: Postgres},
		// The pgx listener gives River LISTEN/NOTIFY, so jobs start at once
		// instead of at the next poll.
		river:   riverdatabasesql.NewWithPgxListener(db, listenPool),
		log:     log,
		now:     time.Now,
		closers: []func(){listenPool.Close, pool.Close},
	}, nil
}

// Close closes the database. Stop River clients using RiverDriver first.
func (s *Store) Close() error {
	s.stmtMu.Lock()
	for _, st := range s.deliveryStmts {
		_ = st.Close()
	}
	s.deliveryStmts = nil
	s.stmtMu.Unlock()
	err := s.db.Close()
	for _, c := range s.closers {
		c()
	}
	if err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Driver returns "sqlite" or "postgres".
func (s *Store) Driver() string { return s.d.name }

// DB returns the connection pool, for River and for health checks. SQL
// belongs in this package: do not write queries against it elsewhere.
func (s *Store) DB() *sql.DB { return s.db }

// RiverDriver returns River's driver on the same pool: riversqlite, or
// riverdatabasesql with a pgx LISTEN/NOTIFY listener on PostgreSQL. Jobs can
// then be inserted in the same *sql.Tx as our own writes (InTx).
func (s *Store) RiverDriver() riverdriver.Driver[*sql.Tx] { return s.river }

// InTx runs fn in a transaction, committed when fn returns nil and rolled
// back otherwise (also when fn panics). On SQLite the transaction holds the
// write lock from its start: keep it short, and do not call other Store
// methods that write from inside fn (use the *Tx variants), as they would
// wait for the lock fn holds.
func (s *Store) InTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	committed = true
	return nil
}

// writable reports whether this process may create files in dir (a
// read-only mount refuses even root).
func writable(dir string) bool {
	f, err := os.CreateTemp(dir, ".digestbot-write-check-*")
	if err != nil {
		return false
	}
	name := f.Name()
	_ = f.Close()
	_ = os.Remove(name)
	return true
}
