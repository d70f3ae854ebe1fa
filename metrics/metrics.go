// Package metrics holds the Prometheus instruments of one digestbot
// process, on a registry of its own (github.com/prometheus/client_golang):
// counters the parts bump as things happen (feeds polled, editions built,
// messages per channel and outcome with their send latency, HTTP
// requests), gauges read when scraped (leader, Telegram 429s, queued jobs)
// and collectors of what the database holds (subscriptions, articles, the
// latest edition). Names are listed in the README; every one starts with
// digestbot_.
//
// Counters are per process: with several instances, sum them over the
// instances (sum by (channel, outcome) (rate(digestbot_messages_total[5m]))).
// The database gauges are the same on every instance.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one process's registry and instruments. The zero value is not
// usable; a nil *Metrics is: every method then does nothing, for tests and
// commands that keep no metrics.
type Metrics struct {
	reg *prometheus.Registry

	feedPolls    *prometheus.CounterVec
	feedArticles *prometheus.CounterVec
	editions     prometheus.Counter
	messages     *prometheus.CounterVec
	sendSeconds  *prometheus.HistogramVec
	httpRequests *prometheus.CounterVec

	mu       sync.Mutex
	perEvent map[delivered]instruments // resolved label sets: a message costs no label hashing
}

type delivered struct{ channel, outcome string }

type instruments struct {
	n       prometheus.Counter
	latency prometheus.Observer
}

// New returns a registry with the process and Go runtime collectors and
// digestbot's instruments.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		feedPolls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "digestbot_feed_polls_total", Help: "Feed fetches by feed URL and result (ok, error).",
		}, []string{"feed", "result"}),
		feedArticles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "digestbot_feed_articles_total", Help: "Articles stored (new or changed) from each feed.",
		}, []string{"feed"}),
		editions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "digestbot_editions_built_total", Help: "Editions this process built.",
		}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "digestbot_messages_total",
			Help: "Digest messages by channel and outcome (sent, failed, bounced, blocked, skipped, retry).",
		}, []string{"channel", "outcome"}),
		sendSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "digestbot_send_duration_seconds",
			Help: "Time from a sender taking a reader to the answer (SMTP accepted, Telegram replied), by channel.",
			// From a pipelined SMTP answer (≈ 1 ms) to a Telegram message
			// held by the per-chat and global pacing (seconds).
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}, []string{"channel"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "digestbot_http_requests_total", Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		perEvent: make(map[delivered]instruments),
	}
	m.reg.MustRegister(
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
		m.feedPolls, m.feedArticles, m.editions, m.messages, m.sendSeconds, m.httpRequests,
	)
	return m
}

// Handler serves the registry in the exposition format the scraper asks for.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Register adds collectors (the database gauges, a gauge function).
func (m *Metrics) Register(cs ...prometheus.Collector) error {
	if m == nil {
		return nil
	}
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Gauge registers a gauge read from f at each scrape.
func (m *Metrics) Gauge(name, help string, f func() float64) error {
	return m.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// Counter registers a counter read from f (monotonic) at each scrape.
func (m *Metrics) Counter(name, help string, f func() float64) error {
	return m.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
}

// FeedPolled counts one fetch of feed: stored articles, or its error.
func (m *Metrics) FeedPolled(feed string, stored int, err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.feedPolls.WithLabelValues(feed, "error").Inc()
		return
	}
	m.feedPolls.WithLabelValues(feed, "ok").Inc()
	m.feedArticles.WithLabelValues(feed).Add(float64(stored))
}

// EditionBuilt counts an edition built by this process.
func (m *Metrics) EditionBuilt() {
	if m != nil {
		m.editions.Inc()
	}
}

// Delivered counts one reader's outcome on channel; latency < 0 means the
// sender did not time it.
func (m *Metrics) Delivered(channel, outcome string, latency time.Duration) {
	if m == nil {
		return
	}
	k := delivered{channel, outcome}
	m.mu.Lock()
	in, ok := m.perEvent[k]
	if !ok {
		in = instruments{n: m.messages.WithLabelValues(channel, outcome), latency: m.sendSeconds.WithLabelValues(channel)}
		m.perEvent[k] = in
	}
	m.mu.Unlock()
	in.n.Inc()
	if latency >= 0 {
		in.latency.Observe(latency.Seconds())
	}
}

// HTTPRequest counts one request by its route pattern and status code.
func (m *Metrics) HTTPRequest(route string, code int) {
	if m != nil {
		m.httpRequests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	}
}
