package web

import (
	"log/slog"
	"net/http"
	"strings"
)

// Content-Security-Policy of our own pages: nothing but our stylesheet, no
// inline script (one file: the preferences' time-zone hint), forms only to ourselves, never framed (clickjacking).
const cspPages = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// middleware wraps every response: security headers, panic recovery and the
// request counters of /metrics.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", cspPages)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		// Links carry tokens: never hand a URL to another site.
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")

		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { // net/http's signal to cut the response: let it through
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "handler panic", slog.String("route", r.Pattern), slog.Any("panic", v))
				if !rec.wrote {
					http.Error(rec, "internal error", http.StatusInternalServerError)
				}
			}
			s.metrics.HTTPRequest(routeLabel(r), rec.code())
		}()
		next.ServeHTTP(rec, r)
	})
}

// routeLabel is the matched pattern ("GET /confirm/{token}"): a bounded
// label set, and no token in the metrics.
func routeLabel(r *http.Request) string {
	if r.Pattern == "" || r.Pattern == "/" || strings.HasSuffix(r.Pattern, " /") {
		return "unmatched"
	}
	return r.Pattern
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.status, r.wrote = http.StatusOK, true
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) code() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// Unwrap lets http.ResponseController reach the connection (flushes, deadlines).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
