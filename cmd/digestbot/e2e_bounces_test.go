package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestE2EBounceWebhook: serve configured with a Mailgun signing key takes
// Mailgun's signed "failed/permanent" and "complained" posts at
// /webhooks/mailgun, refuses a forged one, and the admin API's stats show
// the bounced and complained readers.
func TestE2EBounceWebhook(t *testing.T) {
	dir := t.TempDir()
	const key = "e2e-mailgun-signing-key"
	cfg := writeConfig(t, dir, "config.toml", e2eConfig{Extra: "[bounces.mailgun]\nsigning_key = \"" + key + "\"\n"})
	csv := filepath.Join(dir, "subs.csv")
	if err := os.WriteFile(csv, []byte("email\nhard@example.com\nspam@example.com\nkept@example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, 0, "subscribers", "import", "--config", cfg, csv)
	s := startServe(t, cfg)

	post := func(event, severity, rcpt, token, sigKey string) int {
		ts := fmt.Sprint(time.Now().Unix())
		mac := hmac.New(sha256.New, []byte(sigKey))
		mac.Write([]byte(ts + token))
		body, _ := json.Marshal(map[string]any{
			"signature":  map[string]string{"timestamp": ts, "token": token, "signature": hex.EncodeToString(mac.Sum(nil))},
			"event-data": map[string]any{"event": event, "severity": severity, "recipient": rcpt},
		})
		resp, err := http.Post("http://"+s.Addr+"/webhooks/mailgun", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := post("failed", "permanent", "kept@example.com", "t0", "forged"); c != http.StatusUnauthorized {
		t.Errorf("forged post: %d", c)
	}
	if c := post("failed", "permanent", "hard@example.com", "t1", key); c != http.StatusOK {
		t.Errorf("hard bounce: %d", c)
	}
	if c := post("complained", "", "spam@example.com", "t2", key); c != http.StatusOK {
		t.Errorf("complaint: %d", c)
	}
	if c := post("failed", "permanent", "x@example.com", "t3", key); c != http.StatusOK {
		t.Errorf("unknown address: %d", c)
	}

	req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr+"/api/v1/stats", nil)
	req.Header.Set("Authorization", "Bearer "+e2eAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var st struct {
		Subscriptions map[string]map[string]int `json:"subscriptions"`
		Complaints    int                       `json:"complaints"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if e := st.Subscriptions["email"]; e["bounced"] != 1 || e["unsubscribed"] != 1 || e["active"] != 1 || st.Complaints != 1 {
		t.Errorf("stats after the webhooks: %s", b)
	}
	if !strings.Contains(s.logs.String(), "webhook refused") {
		t.Errorf("the forged post was not logged:\n%s", s.logs)
	}
}
