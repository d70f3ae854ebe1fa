package web

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/digestbot/digestbot/digest"
)

// httpMetrics counts requests by route pattern and status code.
type httpMetrics struct {
	mu sync.Mutex
	n  map[routeCode]uint64
}

type routeCode struct {
	route string
	code  int
}

func newHTTPMetrics() *httpMetrics { return &httpMetrics{n: make(map[routeCode]uint64)} }

func (m *httpMetrics) count(route string, code int) {
	m.mu.Lock()
	m.n[routeCode{route, code}]++
	m.mu.Unlock()
}

func (m *httpMetrics) snapshot() map[routeCode]uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.n)
}

// promWriter writes the Prometheus text exposition format (version 0.0.4)
// by hand: a few gauges and one counter do not justify a client library.
type promWriter struct{ bytes.Buffer }

func (p *promWriter) family(name, typ, help string) {
	fmt.Fprintf(p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// sample writes one line; labels come in name, value pairs.
func (p *promWriter) sample(name string, value float64, labels ...string) {
	p.WriteString(name)
	if len(labels) > 0 {
		p.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				p.WriteByte(',')
			}
			p.WriteString(labels[i])
			p.WriteString(`="`)
			p.WriteString(labelEscaper.Replace(labels[i+1]))
			p.WriteByte('"')
		}
		p.WriteByte('}')
	}
	p.WriteByte(' ')
	p.WriteString(strconv.FormatFloat(value, 'g', -1, 64))
	p.WriteByte('\n')
}

// The format's label escapes: backslash, double quote and line feed.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// metricsPage is GET /metrics.
func (s *Server) metricsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var p promWriter
	up := 1.0
	fail := func(what string, err error) {
		up = 0
		s.log.WarnContext(ctx, "metrics: "+what, slog.Any("error", err))
	}

	if counts, err := s.store.CountSubscriptions(ctx); err != nil {
		fail("count subscriptions", err)
	} else {
		p.family("digestbot_subscriptions", "gauge", "Subscriptions by channel and status.")
		for _, ch := range sortedKeys(counts) {
			for _, st := range sortedKeys(counts[ch]) {
				p.sample("digestbot_subscriptions", float64(counts[ch][st]), "channel", string(ch), "status", string(st))
			}
		}
	}
	if n, err := s.store.CountArticles(ctx); err != nil {
		fail("count articles", err)
	} else {
		p.family("digestbot_articles", "gauge", "Stored articles.")
		p.sample("digestbot_articles", float64(n))
	}
	switch e, err := s.store.LatestEdition(ctx, s.cfg.Newsletter); {
	case errors.Is(err, digest.ErrNotFound):
	case err != nil:
		fail("latest edition", err)
	default:
		p.family("digestbot_latest_edition_info", "gauge", "The latest edition; the value is always 1.")
		p.sample("digestbot_latest_edition_info", 1, "date", e.Date, "status", e.Status)
		p.family("digestbot_latest_edition_items", "gauge", "Items in the latest edition.")
		p.sample("digestbot_latest_edition_items", float64(len(e.Items)))
		if stats, err := s.store.DeliveryStats(ctx, e.ID); err != nil {
			fail("delivery stats", err)
		} else {
			p.family("digestbot_latest_edition_deliveries", "gauge", "Deliveries of the latest edition by channel and status.")
			sort.Slice(stats, func(i, j int) bool {
				if stats[i].Channel != stats[j].Channel {
					return stats[i].Channel < stats[j].Channel
				}
				return stats[i].Status < stats[j].Status
			})
			for _, c := range stats {
				p.sample("digestbot_latest_edition_deliveries", float64(c.N), "channel", c.Channel, "status", c.Status)
			}
		}
	}
	p.family("digestbot_store_up", "gauge", "1 when every store query of this scrape succeeded.")
	p.sample("digestbot_store_up", up)

	reqs := s.metrics.snapshot()
	keys := make([]routeCode, 0, len(reqs))
	for k := range reqs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].route != keys[j].route {
			return keys[i].route < keys[j].route
		}
		return keys[i].code < keys[j].code
	})
	p.family("digestbot_http_requests_total", "counter", "HTTP requests by route and status code.")
	for _, k := range keys {
		p.sample("digestbot_http_requests_total", float64(reqs[k]), "route", k.route, "code", strconv.Itoa(k.code))
	}

	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(p.Bytes())
}

func sortedKeys[K ~string, V any](m map[K]V) []K { return slices.Sorted(maps.Keys(m)) }
