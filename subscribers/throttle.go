package subscribers

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Confirmation mails per address: a few at once (a reader who mistyped,
// then retried), then one every 20 minutes. Without a cap, the signup form
// would let anyone mail-bomb a stranger's inbox from our domain, a few IP
// addresses at a time, and ruin the sender reputation the digest needs.
const (
	confirmBurst = 3
	confirmEvery = 20 * time.Minute
	confirmIdle  = confirmBurst * confirmEvery // a bucket idle this long is full again
)

// mailThrottle is a token bucket per address, held by one Service.
type mailThrottle struct {
	mu        sync.Mutex
	buckets   map[string]*mailBucket
	lastSweep time.Time
}

type mailBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func (m *mailThrottle) allow(address string, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.buckets == nil {
		m.buckets = make(map[string]*mailBucket)
	}
	if now.Sub(m.lastSweep) > confirmIdle {
		for k, b := range m.buckets {
			if now.Sub(b.seen) >= confirmIdle {
				delete(m.buckets, k)
			}
		}
		m.lastSweep = now
	}
	b, ok := m.buckets[address]
	if !ok {
		b = &mailBucket{lim: rate.NewLimiter(rate.Every(confirmEvery), confirmBurst)}
		m.buckets[address] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}
