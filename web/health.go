package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// pingTimeout keeps a health probe from hanging on a stuck database.
const pingTimeout = 2 * time.Second

// healthz is GET /healthz: 200 "ok" when the database answers, else 503.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), pingTimeout)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.store.DB().PingContext(ctx); err != nil {
		s.log.WarnContext(ctx, "health check failed", slog.Any("error", err))
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("database unavailable\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}
