package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// maxJSONBytes caps an admin API request body.
const maxJSONBytes = 1 << 20

// apiHandler serves an admin endpoint; a returned error becomes a JSON
// {"error": "..."} with the status statusOf gives it.
type apiHandler func(w http.ResponseWriter, r *http.Request) error

// admin checks the bearer token (SPEC §6: constant-time) and runs h.
// Failed attempts count against the client's POST rate limit, so the
// token cannot be guessed at network speed.
func (s *Server) admin(h apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		if s.adminHash == nil {
			s.apiError(w, r, errStatus(http.StatusForbidden, "admin API disabled"))
			return
		}
		if !s.authorized(r) {
			if !s.allow(r) {
				s.apiError(w, r, errRateLimited)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="digestbot"`)
			s.apiError(w, r, errStatus(http.StatusUnauthorized, "missing or invalid bearer token"))
			return
		}
		if err := h(w, r); err != nil {
			s.apiError(w, r, err)
		}
	})
}

func (s *Server) authorized(r *http.Request) bool {
	// RFC 6750 §2.1; the scheme name is case-insensitive (RFC 9110 §11.1).
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(sum[:], s.adminHash[:]) == 1
}

func (s *Server) apiError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := statusOf(err)
	s.logError(r, status, err)
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(int(s.cfg.RateEvery.Seconds()+0.5)))
	}
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Our own types always marshal; this is a bug, not a client error.
		http.Error(w, `{"error":"internal error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// decodeJSON reads exactly one JSON value into v, refusing unknown fields
// and bodies over maxJSONBytes.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxJSONBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return errStatus(http.StatusBadRequest, "empty body: a JSON object is expected")
		}
		// encoding/json's messages name the field or offset and echo no
		// more of the input than a field name.
		return errStatus(http.StatusBadRequest, "invalid JSON: "+strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errStatus(http.StatusBadRequest, "invalid JSON: one object expected, found more data after it")
	}
	return nil
}

// pathID parses the {id} of the route.
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errStatus(http.StatusBadRequest, "id must be a positive integer")
	}
	return id, nil
}
