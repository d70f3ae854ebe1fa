package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxClients bounds the limiter's memory when addresses are sprayed; past
// it, new clients are refused until idle ones are evicted.
const maxClients = 100_000

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
	return s.limiter.Allow(clientKey(s.clientIP(r)), s.now())
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
