package telegram_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/telegram"
	"github.com/digestbot/digestbot/telegram/telegramtest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// TestSharedRate: three clients, each with its own store handle on one
// database as three instances would have, send to many chats at once
// through a Bot API that counts any sliding second strictly: together they
// hold the one rate (0 × 429) and keep it busy.
func TestSharedRate(t *testing.T) {
	for _, db := range []struct{ driver, dsn func(testing.TB) string }{
		{func(testing.TB) string { return store.SQLite }, storetest.SQLitePath},
		{func(testing.TB) string { return store.Postgres }, storetest.PostgresDSN},
	} {
		t.Run(db.driver(t), func(t *testing.T) { testSharedRate(t, db.driver(t), db.dsn(t)) })
	}
}

func testSharedRate(t *testing.T, driver, dsn string) {
	{
		const rate, perClient = 40, 40
		srv := telegramtest.NewServer(telegramtest.Options{GlobalRate: rate, SlidingWindow: true, AllChatsKnown: true,
			ChatInterval: -1, GroupInterval: -1})
		t.Cleanup(srv.Close)
		ctx := context.Background()
		var wg sync.WaitGroup
		for inst := range 3 {
			st := openStore(t, driver, dsn)
			c, err := telegram.New(ctx, telegram.Config{Token: srv.Token(), APIEndpoint: srv.Endpoint(), RatePerSecond: rate, Log: storetest.Logger()})
			if err != nil {
				t.Fatal(err)
			}
			c.Limiter().Share(st, "123456")
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < perClient; i += 8 {
						chat := fmt.Sprint(1 + inst*perClient + i)
						if _, err := c.SendMessage(ctx, telegram.Message{Chat: chat, Text: "hello"}); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
		}
		wg.Wait()
		st := srv.Stats()
		if st.Sent != 3*perClient || st.TooManyRequests != 0 {
			t.Fatalf("sent %d (want %d), %d × 429 (want 0)", st.Sent, 3*perClient, st.TooManyRequests)
		}
		if peak := srv.MaxInWindow(time.Second); peak > rate {
			t.Errorf("%d messages in one second, limit %d", peak, rate)
		}
		// Three unshared limiters would have sent this in a third of the
		// time; shared, the rate is the one limit (less the window guard).
		if r := st.Rate(); r < 0.8*rate || r > rate {
			t.Errorf("together %.1f msg/s, want close to %d", r, rate)
		}
	}
}

// openStore opens and migrates a handle on the database, as each process
// does.
func openStore(t *testing.T, driver, dsn string) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, driver, dsn, storetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}
