package store_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
)

// TestLeasePostgres: one instance at a time holds the lease; when its
// connection dies (a killed process, a restarted server) Check says so and
// another instance takes it.
func TestLeasePostgres(t *testing.T) {
	ctx := context.Background()
	dsn := storetest.PostgresDSN(t)
	open := func() *store.Store {
		s, err := store.Open(ctx, store.Postgres, dsn, storetest.Logger())
		check(t, err)
		t.Cleanup(func() { s.Close() })
		check(t, s.Migrate(ctx))
		return s
	}
	a, b := open(), open()
	la := must[*store.Lease](t)(a.TryLead(ctx))
	if la == nil {
		t.Fatal("first instance: no lease")
	}
	check(t, la.Check(ctx))
	if lb := must[*store.Lease](t)(b.TryLead(ctx)); lb != nil {
		t.Fatal("second instance got the lease while the first holds it")
	}
	la.Release()
	lb := must[*store.Lease](t)(b.TryLead(ctx))
	if lb == nil {
		t.Fatal("second instance: no lease after the first released it")
	}
	if la := must[*store.Lease](t)(a.TryLead(ctx)); la != nil {
		t.Fatal("first instance took the lease back while the second holds it")
	}

	// The holder's session ends as a kill -9 would end it.
	_, err := a.DB().ExecContext(ctx, `SELECT pg_terminate_backend(pid, 5000) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objid = $1::bigint & x'ffffffff'::bigint AND pid <> pg_backend_pid()`, int64(0x6469676573746c65))
	check(t, err)
	if err := lb.Check(ctx); err == nil {
		t.Fatal("Check after the lease's session was terminated: no error")
	}
	lb.Release()
	la = must[*store.Lease](t)(a.TryLead(ctx))
	if la == nil {
		t.Fatal("no lease after its holder's session ended")
	}
	check(t, la.Check(ctx))
	la.Release()
}

func TestLeaseSQLite(t *testing.T) {
	s := storetest.OpenSQLite(t)
	l := must[*store.Lease](t)(s.TryLead(context.Background()))
	if l == nil {
		t.Fatal("SQLite: the single process must lead")
	}
	check(t, l.Check(context.Background()))
	l.Release()
}

// TestReservePace: processes reserving slots of one bot's schedule at
// once never get two slots closer than the spacing, and a hold moves the
// schedule past it.
func TestReservePace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const every = 50 * time.Millisecond // wide enough that a loaded machine's query latency (5–10 ms) is under half of it
		var mu sync.Mutex
		var slots []time.Time
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 10 {
					n := 1 + (w+i)%3
					d, err := s.ReservePace(ctx, "123", n, every)
					now := time.Now()
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for k := range n {
						slots = append(slots, now.Add(d+time.Duration(k)*every))
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		slices.SortFunc(slots, time.Time.Compare)
		for i := 1; i < len(slots); i++ {
			// The reservations were made over a few milliseconds: their
			// local times may be off by the query's latency, not by a slot.
			if gap := slots[i].Sub(slots[i-1]); gap < every/2 {
				t.Fatalf("slots %d and %d only %v apart (want about %v)", i-1, i, gap, every)
			}
		}
		if d := must[time.Duration](t)(s.ReservePace(ctx, "other-bot", 1, every)); d > every {
			t.Errorf("another bot's first slot is %v away, want now", d)
		}
		check(t, s.HoldPace(ctx, "123", time.Minute))
		if d := must[time.Duration](t)(s.ReservePace(ctx, "123", 1, every)); d < 59*time.Second {
			t.Errorf("after a one-minute hold the next slot is %v away", d)
		}
	})
}
