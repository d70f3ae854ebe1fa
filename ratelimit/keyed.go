// Package ratelimit keeps a token bucket per key — a client's IP address
// for the web forms, an email address for confirmation mails — over
// golang.org/x/time/rate, and forgets the buckets that have refilled.
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Keyed is a token bucket per key: burst at once, then one every every.
// The zero value is not usable; make one with NewKeyed. It is safe for
// concurrent use.
type Keyed struct {
	every   time.Duration
	burst   int
	idle    time.Duration // a bucket untouched this long is full again: drop it
	maxKeys int

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewKeyed returns buckets of burst tokens refilled one per every. maxKeys
// bounds the memory when keys are sprayed: past it, new keys are refused
// until idle ones are dropped (0: no bound).
func NewKeyed(burst int, every time.Duration, maxKeys int) *Keyed {
	return &Keyed{
		every: every, burst: burst, maxKeys: maxKeys,
		idle:    time.Duration(burst) * every,
		buckets: make(map[string]*bucket),
	}
}

// Allow takes a token from key's bucket at now, and reports whether there
// was one.
func (k *Keyed) Allow(key string, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	full := k.maxKeys > 0 && len(k.buckets) >= k.maxKeys
	if now.Sub(k.lastSweep) > k.idle || full {
		k.sweep(now)
	}
	b, ok := k.buckets[key]
	if !ok {
		if k.maxKeys > 0 && len(k.buckets) >= k.maxKeys {
			return false
		}
		b = &bucket{lim: rate.NewLimiter(rate.Every(k.every), k.burst)}
		k.buckets[key] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}

// sweep drops buckets idle long enough to have refilled: a fresh bucket
// would allow exactly as much, so nothing is forgotten.
func (k *Keyed) sweep(now time.Time) {
	for key, b := range k.buckets {
		if now.Sub(b.seen) >= k.idle {
			delete(k.buckets, key)
		}
	}
	k.lastSweep = now
}
