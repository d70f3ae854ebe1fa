package web_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/digestbot/digestbot/email"
	"github.com/digestbot/digestbot/email/emailtest"
	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/web"
)

func TestReadyz(t *testing.T) {
	st := storetest.OpenSQLite(t)
	smtp := emailtest.Start(t, 0)
	// A port nothing listens on: the SMTP server of a broken setup.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	smtpCheck := func(port int) web.ReadyCheck {
		return web.ReadyCheck{Name: "smtp", Check: func(ctx context.Context) error {
			return email.ProbeSMTP(ctx, "127.0.0.1", port, false)
		}}
	}
	readiness := func(e *env) (int, map[string]string, string) {
		t.Helper()
		r := e.get("/readyz")
		var body struct {
			Status string            `json:"status"`
			Checks map[string]string `json:"checks"`
		}
		if err := json.Unmarshal([]byte(r.body), &body); err != nil {
			t.Fatalf("readyz body %q: %v", r.body, err)
		}
		return r.status, body.Checks, body.Status
	}

	ok := newEnv(t, st, func(_ *web.Config, d *web.Deps) {
		d.Ready = []web.ReadyCheck{{Name: "migrations", Check: st.CheckMigrations}, smtpCheck(smtp.Port)}
	})
	code, checks, status := readiness(ok)
	if code != http.StatusOK || status != "ready" || checks["database"] != "ok" || checks["migrations"] != "ok" || checks["smtp"] != "ok" {
		t.Fatalf("all up: %d %s %v", code, status, checks)
	}

	down := newEnv(t, st, func(_ *web.Config, d *web.Deps) {
		d.Ready = []web.ReadyCheck{{Name: "migrations", Check: st.CheckMigrations}, smtpCheck(deadPort)}
	})
	code, checks, status = readiness(down)
	if code != http.StatusServiceUnavailable || status != "not ready" || checks["database"] != "ok" ||
		!strings.Contains(checks["smtp"], "127.0.0.1:"+strconv.Itoa(deadPort)) {
		t.Fatalf("SMTP down: %d %s %v", code, status, checks)
	}
	// /healthz is liveness: the process and its database answer.
	if r := down.get("/healthz"); r.status != http.StatusOK {
		t.Errorf("healthz with SMTP down: %d", r.status)
	}

	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	code, checks, _ = readiness(ok)
	if code != http.StatusServiceUnavailable || checks["database"] == "ok" || checks["migrations"] == "ok" {
		t.Fatalf("database closed: %d %v", code, checks)
	}
}
