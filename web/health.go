package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// healthz is GET /healthz: 200 "ok" when the database answers, else 503.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), probeTimeout)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.pingDatabase(ctx); err != nil {
		s.log.WarnContext(ctx, "health check failed", slog.Any("error", err))
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("database unavailable\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// ReadyCheck is one part of GET /readyz: Check returns nil when the part
// is ready.
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// probeTimeout bounds each health and readiness check, so a probe never
// hangs on a stuck database or server.
const probeTimeout = 3 * time.Second

// pingDatabase is the database part of both probes.
func (s *Server) pingDatabase(ctx context.Context) error {
	return s.store.DB().PingContext(ctx)
}

// readyz is GET /readyz: the database ping and every ReadyCheck, run at
// once. 200 with {"status":"ready", "checks":{name:"ok"}} when all pass;
// 503 with "not ready" and each failing part's error otherwise. /healthz
// is the liveness probe (the process and its database answer); /readyz
// says whether this instance can do its work.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	checks := append([]ReadyCheck{{Name: "database", Check: s.pingDatabase}}, s.ready...)
	results := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), probeTimeout)
			defer cancel()
			results[i] = c.Check(ctx)
		})
	}
	wg.Wait()
	body := struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}{Status: "ready", Checks: map[string]string{}}
	code := http.StatusOK
	for i, c := range checks {
		if err := results[i]; err != nil {
			body.Checks[c.Name] = err.Error()
			body.Status = "not ready"
			code = http.StatusServiceUnavailable
			s.log.WarnContext(r.Context(), "readiness check failed", slog.String("check", c.Name), slog.Any("error", err))
			continue
		}
		body.Checks[c.Name] = "ok"
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}
