package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func TestLoggerFormat(t *testing.T) {
	file, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	var buf bytes.Buffer
	for _, c := range []struct {
		name   string
		in     *invocation
		serve  bool
		format string
		json   bool
	}{
		{"serve into a file (not a terminal)", &invocation{env: env{stderr: file, getenv: noEnv}}, true, "auto", true},
		{"one-shot command into a file", &invocation{env: env{stderr: file, getenv: noEnv}}, false, "auto", false},
		{"log.format text", &invocation{env: env{stderr: file, getenv: noEnv}}, true, "text", false},
		{"log.format json", &invocation{env: env{stderr: &buf, getenv: noEnv}}, false, "json", true},
		{"DIGESTBOT_LOG_FORMAT before the config", &invocation{env: env{stderr: &buf, getenv: func(k string) string {
			return map[string]string{"DIGESTBOT_LOG_FORMAT": "json"}[k]
		}}}, false, "", true},
	} {
		h := c.in.logger(c.serve, c.format).Handler()
		_, isJSON := h.(*slog.JSONHandler)
		_, isText := h.(*slog.TextHandler)
		if isJSON != c.json || isText == c.json {
			t.Errorf("%s: handler %T, want JSON %v", c.name, h, c.json)
		}
	}
}

func noEnv(string) string { return "" }
