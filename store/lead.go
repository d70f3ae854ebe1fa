package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// leaderKey is the PostgreSQL advisory lock the leading instance holds:
// "digestlead" in ASCII, as an int64 (migrations use another key).
const leaderKey = 0x6469676573746c65

// Lease is this process's leadership: while it is held, this instance alone
// polls feeds and Telegram updates and fires the schedule.
//
// On PostgreSQL it is a session-level advisory lock held on a connection of
// its own: the server releases it the moment that connection ends, so an
// instance killed with -9 (the kernel closes its sockets) hands over at the
// next TryLead of another instance, and no lease row can outlive its holder.
// On SQLite the database is one process's: the lease is always granted.
type Lease struct {
	conn *sql.Conn // nil on SQLite
}

// TryLead takes the leadership if no other instance holds it. It returns a
// nil Lease (and no error) when another instance leads.
func (s *Store) TryLead(ctx context.Context) (*Lease, error) {
	if s.d.name != Postgres {
		return &Lease{}, nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: lead: %w", err)
	}
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, int64(leaderKey)).Scan(&got); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("store: lead: %w", err)
	}
	if !got {
		_ = conn.Close()
		return nil, nil
	}
	return &Lease{conn: conn}, nil
}

// Check tells whether the lease still holds: an error means the lease's
// connection is gone (the database restarted, the network failed) and with
// it the lock, which another instance may hold by now. The holder must stop
// leading at once.
func (l *Lease) Check(ctx context.Context) error {
	if l.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var held bool
	err := l.conn.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
			AND granted AND ((classid::bigint << 32) | objid::bigint) = $1)`, int64(leaderKey)).Scan(&held)
	if err != nil {
		return fmt.Errorf("store: lease check: %w", err)
	}
	if !held {
		return errors.New("store: lease check: the advisory lock is no longer held")
	}
	return nil
}

// Release gives the leadership up (another instance takes it at its next
// TryLead). It is safe to call on a lease whose connection is gone.
func (l *Lease) Release() {
	if l.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = l.conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, int64(leaderKey))
	_ = l.conn.Close()
}

// ReservePace reserves n consecutive Telegram send slots, every apart, in
// the schedule shared by every process sending as bot, and returns how long
// after the call returns the first one is (zero or less: at once). The schedule has no
// burst: the next free slot is max(next free, now), so a reservation never
// lands closer than every to another's. On PostgreSQL "now" is the
// server's clock, so instances on machines whose clocks differ agree.
func (s *Store) ReservePace(ctx context.Context, bot string, n int, every time.Duration) (time.Duration, error) {
	span := int64(n) * every.Microseconds()
	var delay int64
	var err error
	if s.d.name == Postgres {
		err = s.db.QueryRowContext(ctx, `
			WITH c AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS now)
			INSERT INTO telegram_pace (bot, tat) SELECT $1, c.now + $2 FROM c
			ON CONFLICT (bot) DO UPDATE SET tat = greatest(telegram_pace.tat, excluded.tat - $2) + $2
			RETURNING tat - $2 - (extract(epoch FROM clock_timestamp()) * 1000000)::bigint`,
			bot, span).Scan(&delay)
	} else {
		start := time.Now()
		err = s.db.QueryRowContext(ctx, `
			INSERT INTO telegram_pace (bot, tat) VALUES ($1, $2 + $3)
			ON CONFLICT (bot) DO UPDATE SET tat = max(telegram_pace.tat, $2) + $3
			RETURNING tat - $3 - $2`, bot, start.UnixMicro(), span).Scan(&delay)
		delay -= time.Since(start).Microseconds() // from the return, as on PostgreSQL
	}
	if err != nil {
		return 0, fmt.Errorf("store: reserve %d telegram slots: %w", n, err)
	}
	return time.Duration(delay) * time.Microsecond, nil
}

// HoldPace moves the shared schedule of bot to at least d from now: Telegram
// answered 429 with retry_after d, and no process sending as bot should
// send before it ends.
func (s *Store) HoldPace(ctx context.Context, bot string, d time.Duration) error {
	var err error
	if s.d.name == Postgres {
		_, err = s.db.ExecContext(ctx, `
			WITH c AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS now)
			INSERT INTO telegram_pace (bot, tat) SELECT $1, c.now + $2 FROM c
			ON CONFLICT (bot) DO UPDATE SET tat = greatest(telegram_pace.tat, excluded.tat)`, bot, d.Microseconds())
	} else {
		_, err = s.db.ExecContext(ctx, `
			INSERT INTO telegram_pace (bot, tat) VALUES ($1, $2)
			ON CONFLICT (bot) DO UPDATE SET tat = max(telegram_pace.tat, excluded.tat)`,
			bot, time.Now().Add(d).UnixMicro())
	}
	if err != nil {
		return fmt.Errorf("store: hold telegram sends: %w", err)
	}
	return nil
}
