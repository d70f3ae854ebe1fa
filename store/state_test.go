package store_test

import (
	"context"
	"testing"

	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
)

func TestState(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if v := must[string](t)(s.GetState(ctx, "telegram_offset")); v != "" {
			t.Fatalf("absent key = %q", v)
		}
		check(t, s.SetState(ctx, "telegram_offset", "41"))
		check(t, s.SetState(ctx, "telegram_offset", "42"))
		check(t, s.SetState(ctx, "other", ""))
		if v := must[string](t)(s.GetState(ctx, "telegram_offset")); v != "42" {
			t.Fatalf("got %q, want 42", v)
		}
	})
}
