package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

func TestKeyed(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	k := NewKeyed(3, time.Minute, 0)
	for i := range 3 {
		if !k.Allow("a", t0) {
			t.Fatalf("token %d of the burst refused", i+1)
		}
	}
	if k.Allow("a", t0) {
		t.Fatal("a fourth token at once")
	}
	if !k.Allow("b", t0) {
		t.Fatal("another key shares a's bucket")
	}
	if k.Allow("a", t0.Add(59*time.Second)) {
		t.Fatal("a token before one interval")
	}
	if !k.Allow("a", t0.Add(61*time.Second)) {
		t.Fatal("no token after one interval")
	}
	// Idle for burst·every: the bucket is dropped and a fresh one is full.
	later := t0.Add(10 * time.Minute)
	for range 3 {
		if !k.Allow("a", later) {
			t.Fatal("a refilled bucket refused its burst")
		}
	}
	if _, ok := k.buckets["b"]; ok {
		t.Error("idle bucket b was kept")
	}
}

func TestKeyedBound(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	k := NewKeyed(1, time.Second, 10)
	for i := range 10 {
		if !k.Allow(fmt.Sprint(i), t0) {
			t.Fatalf("key %d refused under the bound", i)
		}
	}
	if k.Allow("new", t0) {
		t.Fatal("a key past the bound was let in while none was idle")
	}
	if !k.Allow("new", t0.Add(2*time.Second)) {
		t.Fatal("idle buckets were not dropped to make room")
	}
}
