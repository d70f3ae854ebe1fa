package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/digestbot/digestbot/subscribers"
)

func TestSubscribersExportDelete(t *testing.T) {
	cfg, dir := testConfig(t, "")
	csv := filepath.Join(dir, "subs.csv")
	if err := os.WriteFile(csv, []byte("email,sections\nAnn@Example.COM,world\nbob@example.com,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := digestbot(t, nil, "subscribers", "import", "--config", cfg, csv); code != exitOK {
		t.Fatalf("import: %d %q %q", code, out, errOut)
	}

	code, out, errOut := digestbot(t, nil, "subscribers", "export", "--config", cfg, "Ann@EXAMPLE.com")
	if code != exitOK {
		t.Fatalf("export: %d %q", code, errOut)
	}
	var exp subscribers.Export
	if err := json.Unmarshal([]byte(out), &exp); err != nil {
		t.Fatalf("export output %q: %v", out, err)
	}
	if len(exp.Subscriptions) != 1 || exp.Subscriptions[0].Status != "active" ||
		exp.Subscriptions[0].Source != "import" || len(exp.Subscriptions[0].Sections) != 1 || exp.Subscriptions[0].Deliveries == nil {
		t.Fatalf("export %+v", exp)
	}

	if code, out, errOut := digestbot(t, nil, "subscribers", "delete", "--config", cfg, "Ann@example.com"); code != exitOK || !strings.Contains(out, "erased 1 subscription") {
		t.Fatalf("delete: %d %q %q", code, out, errOut)
	}
	if _, out, _ := digestbot(t, nil, "subscribers", "export", "--config", cfg, "Ann@example.com"); !strings.Contains(out, `"subscriptions": []`) {
		t.Errorf("export after delete: %q", out)
	}
	if code, _, errOut := digestbot(t, nil, "subscribers", "delete", "--config", cfg, "Ann@example.com"); code != exitError || !strings.Contains(errOut, "nothing stored") {
		t.Errorf("second delete: %d %q", code, errOut)
	}
	if _, out, _ := digestbot(t, nil, "subscribers", "export", "--config", cfg, "bob@example.com"); !strings.Contains(out, `"status": "active"`) {
		t.Errorf("the other subscriber: %q", out)
	}
	if code, _, errOut := digestbot(t, nil, "subscribers", "export", "--config", cfg, "not an address"); code != exitUsage || strings.Count(errOut, "\n") != 1 {
		t.Errorf("bad address: %d %q", code, errOut)
	}
	if code, _, _ := digestbot(t, nil, "subscribers", "frobnicate"); code != exitUsage {
		t.Errorf("unknown subcommand: %d", code)
	}
}
