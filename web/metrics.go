package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/digestbot/digestbot/digest"
)

// metricsPage is GET /metrics: the process's registry (metrics.Metrics),
// which holds storeCollector beside the parts' own instruments.
func (s *Server) metricsPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	s.promHandler.ServeHTTP(w, r)
}

// storeCollector reports what the database holds at each scrape: the same
// figures on every instance of one database. It is an unchecked collector
// (no Describe): its label values come from the data.
type storeCollector struct{ s *Server }

var (
	descSubscriptions = prometheus.NewDesc("digestbot_subscriptions", "Subscriptions by channel and status.", []string{"channel", "status"}, nil)
	descArticles      = prometheus.NewDesc("digestbot_articles", "Stored articles.", nil, nil)
	descLatestInfo    = prometheus.NewDesc("digestbot_latest_edition_info", "The latest edition; the value is always 1.", []string{"date", "status"}, nil)
	descLatestItems   = prometheus.NewDesc("digestbot_latest_edition_items", "Items in the latest edition.", nil, nil)
	descLatestReports = prometheus.NewDesc("digestbot_latest_edition_reports", "Late bounces and complaints counted against the latest edition, by kind (hard, soft, complaint).", []string{"kind"}, nil)
	descLatestDeliv   = prometheus.NewDesc("digestbot_latest_edition_deliveries", "Deliveries of the latest edition by channel and status.", []string{"channel", "status"}, nil)
	descComplaints    = prometheus.NewDesc("digestbot_complaints", "Subscriptions that left with a spam complaint (a provider's webhook).", nil, nil)
	descJobs          = prometheus.NewDesc("digestbot_jobs", "Queued jobs (every instance's) by kind and state.", []string{"kind", "state"}, nil)
	descStoreUp       = prometheus.NewDesc("digestbot_store_up", "1 when every store query of this scrape succeeded.", nil, nil)
)

func (storeCollector) Describe(chan<- *prometheus.Desc) {}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	up := 1.0
	fail := func(what string, err error) {
		up = 0
		s.log.WarnContext(ctx, "metrics: "+what, slog.Any("error", err))
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if counts, err := s.store.CountSubscriptions(ctx); err != nil {
		fail("count subscriptions", err)
	} else {
		for chn, byStatus := range counts {
			for st, n := range byStatus {
				gauge(descSubscriptions, float64(n), string(chn), string(st))
			}
		}
	}
	if n, err := s.store.CountArticles(ctx); err != nil {
		fail("count articles", err)
	} else {
		gauge(descArticles, float64(n))
	}
	switch e, err := s.store.LatestEdition(ctx, s.cfg.Newsletter); {
	case errors.Is(err, digest.ErrNotFound):
	case err != nil:
		fail("latest edition", err)
	default:
		gauge(descLatestInfo, 1, e.Date, e.Status)
		gauge(descLatestItems, float64(len(e.Items)))
		if reps, err := s.store.EditionReports(ctx, e.ID); err != nil {
			fail("edition reports", err)
		} else {
			for k, n := range reps {
				gauge(descLatestReports, float64(n), k)
			}
		}
		if stats, err := s.store.DeliveryStats(ctx, e.ID); err != nil {
			fail("delivery stats", err)
		} else {
			for _, d := range stats {
				gauge(descLatestDeliv, float64(d.N), d.Channel, d.Status)
			}
		}
	}
	if n, err := s.store.CountComplaints(ctx); err != nil {
		fail("count complaints", err)
	} else {
		gauge(descComplaints, float64(n))
	}
	if jobs, err := s.store.CountJobs(ctx); err != nil {
		fail("count jobs", err)
	} else {
		for k, n := range jobs {
			gauge(descJobs, float64(n), k[0], k[1])
		}
	}
	gauge(descStoreUp, up)
}
