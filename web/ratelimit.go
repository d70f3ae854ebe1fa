package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxClients bounds the limiter's memory when addresses are sprayed; past
// it, new clients are refused until idle ones are evicted.
const maxClients = 100_000

// limiter is a token bucket per client key.
type limiter struct {
	mu        sync.Mutex
	every     time.Duration
	burst     int
	idle      time.Duration // a bucket untouched this long is full again: drop it
	now       func() time.Time
	clients   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(burst int, every time.Duration, now func() time.Time) *limiter {
	return &limiter{
		every: every, burst: burst, now: now,
		idle:    time.Duration(burst) * every,
		clients: make(map[string]*bucket),
	}
}

func (l *limiter) allow(key string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > l.idle || len(l.clients) >= maxClients {
		l.sweep(now)
	}
	b, ok := l.clients[key]
	if !ok {
		if len(l.clients) >= maxClients {
			return false
		}
		b = &bucket{lim: rate.NewLimiter(rate.Every(l.every), l.burst)}
		l.clients[key] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}

// sweep drops buckets idle long enough to have refilled: a fresh bucket
// would allow exactly as much, so nothing is forgotten.
func (l *limiter) sweep(now time.Time) {
	for k, b := range l.clients {
		if now.Sub(b.seen) >= l.idle {
			delete(l.clients, k)
		}
	}
	l.lastSweep = now
}

// limit refuses a request with 429 once its client has used its bucket.
func (s *Server) limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.allow(r) {
			s.errorPage(w, r, errRateLimited)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) allow(r *http.Request) bool {
	return s.limiter.allow(clientKey(s.clientIP(r)))
}

// clientKey groups IPv6 clients by /64: one subscriber line usually gets a
// whole /64, so per-address buckets would be no limit at all.
func clientKey(ip netip.Addr) string {
	if ip.Is6() {
		p, _ := ip.WithZone("").Prefix(64)
		return p.String()
	}
	return ip.String()
}

// clientIP is the peer's address, or, when the peer is a trusted proxy,
// the right-most X-Forwarded-For entry that is not one: entries further
// left were written by the client and prove nothing.
func (s *Server) clientIP(r *http.Request) netip.Addr {
	ip := peerIP(r.RemoteAddr)
	if !s.trusted(ip) {
		return ip
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled header: stop at the last address we trust
		}
		ip = a.Unmap()
		if !s.trusted(ip) {
			return ip
		}
	}
	return ip
}

func (s *Server) trusted(ip netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func peerIP(remoteAddr string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}
