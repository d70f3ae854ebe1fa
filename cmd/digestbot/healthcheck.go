package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// cmdHealthcheck asks the serve process of this config for /healthz (or
// /readyz with --ready) on its http.listen address and fails unless it
// answers 200 within --timeout. The image has no curl: Docker's
// HEALTHCHECK runs this.
func cmdHealthcheck(ctx context.Context, in *invocation) error {
	ready := in.fs.Bool("ready", false, "ask /readyz (database, migrations, SMTP, Telegram) instead of /healthz")
	timeout := in.fs.Duration("timeout", 5*time.Second, "give up after this long")
	cfg, err := in.load()
	if err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("healthcheck: http.listen %q: %w", cfg.HTTP.Listen, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	path := "/healthz"
	if *ready {
		path = "/readyz"
	}
	url := "http://" + net.JoinHostPort(host, port) + path
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s: %s: %s", url, res.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(in.stdout, "%s: %s\n", url, strings.TrimSpace(string(body)))
	return nil
}
