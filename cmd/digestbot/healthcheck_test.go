package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			_, _ = w.Write([]byte("ok\n"))
		case "/readyz":
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"not ready","checks":{"smtp":"connection refused"}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	cfg, _ := testConfig(t, "")
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(srv.URL, "http://")
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(data), "127.0.0.1:0", addr, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := digestbot(t, nil, "healthcheck", "--config", cfg); code != exitOK || !strings.Contains(out, "/healthz: ok") {
		t.Errorf("healthz: exit %d, %q %q", code, out, errOut)
	}
	if code, _, errOut := digestbot(t, nil, "healthcheck", "--ready", "--config", cfg); code != exitError || !strings.Contains(errOut, "smtp") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("readyz 503: exit %d, stderr %q (want one line naming smtp)", code, errOut)
	}
	srv.Close()
	if code, _, errOut := digestbot(t, nil, "healthcheck", "--config", cfg); code != exitError || !strings.Contains(errOut, "healthcheck") {
		t.Errorf("nothing listening: exit %d, stderr %q", code, errOut)
	}
}
