package store_test

import (
	"testing"
	"time"

	"github.com/digestbot/digestbot/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// t0 is a fixed instant the tests count from; non-UTC, with nanoseconds, to
// check that times come back in UTC, truncated to the microsecond.
var t0 = time.Date(2026, 3, 29, 1, 30, 0, 123456789, time.FixedZone("CET", 3600))

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// eqTime reports whether got is want as stored: UTC, to the microsecond.
func eqTime(got, want time.Time) bool {
	return got.Equal(want.Truncate(time.Microsecond)) && (got.IsZero() || got.Location() == time.UTC)
}
