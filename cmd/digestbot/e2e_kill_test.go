package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestE2EKill9SendNow: a real `digestbot send-now` process is killed with
// SIGKILL midway through 20,000 subscribers; a second run finishes the
// edition. Every subscriber gets the digest, and the repeats are at most
// what can be in flight and unrecorded at the moment of the kill.
func TestE2EKill9SendNow(t *testing.T) {
	t.Parallel()
	const (
		subscribers = 20000
		killAt      = 5000 // messages accepted by the server before the kill
		connections = 4
	)
	dir := t.TempDir()
	bin := filepath.Join(dir, "digestbot")
	built := make(chan error, 1)
	go func() { built <- buildBinary(bin) }()

	sink := startSink(t, false)
	// Short slices and the shortest rescue config allows, so that the
	// second run takes over the killed run's batches within a minute.
	cfg := writeConfig(t, dir, "config.toml", e2eConfig{SMTPPort: sink.Port, Connections: connections, MaxItems: 5,
		Delivery: "slice_time = \"2s\"\nrescue_after = \"22s\"\n"})
	var csv strings.Builder
	csv.WriteString("email\n")
	for i := range subscribers {
		fmt.Fprintf(&csv, "reader%05d@example.com\n", i)
	}
	csvPath := filepath.Join(dir, "subscribers.csv")
	if err := os.WriteFile(csvPath, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, _ := mustRun(t, 0, "subscribers", "import", "--config", cfg, csvPath); strings.TrimSpace(out) != fmt.Sprintf("imported %d, skipped 0", subscribers) {
		t.Fatalf("subscribers import: %q", out)
	}
	importFixtures(t, cfg)
	if err := <-built; err != nil {
		t.Fatalf("cannot build the digestbot binary: %v", err)
	}

	var once sync.Once
	reached := make(chan struct{})
	sink.SetOnAccept(func(total int) {
		if total >= killAt {
			once.Do(func() { close(reached) })
		}
	})
	first := exec.Command(bin, "send-now", "--config", cfg)
	var firstOut syncBuffer
	first.Stdout, first.Stderr = &firstOut, &firstOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- first.Wait() }()
	select {
	case <-reached:
		if err := first.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill -9: %v", err)
		}
	case err := <-exited:
		t.Fatalf("send-now ended (%v) before %d messages; %d accepted:\n%s", err, killAt, sink.Total(), &firstOut)
	case <-time.After(2 * time.Minute):
		_ = first.Process.Kill()
		t.Fatalf("only %d messages after 2 minutes:\n%s", sink.Total(), &firstOut)
	}
	err := <-exited
	if ws, ok := first.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("first send-now was not killed by SIGKILL: %v\n%s", err, &firstOut)
	}
	atKill := sink.Total()
	if atKill >= subscribers {
		t.Fatalf("all %d messages went out before the kill took effect", atKill)
	}

	// The second run, to completion. Jobs the killed process left
	// "running" are only given to another worker after River's rescue
	// (delivery.rescue_after, 22s here, checked on River's 30 s rescue
	// round), which send-now waits for.
	start := time.Now()
	var out string
	for try := 1; ; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
		second := exec.CommandContext(ctx, bin, "send-now", "--config", cfg)
		b, err := second.CombinedOutput()
		cancel()
		out = string(b)
		code := second.ProcessState.ExitCode()
		t.Logf("second send-now, run %d: exit %d after %s", try, code, time.Since(start).Round(time.Second))
		if code == 0 {
			break
		}
		if code != exitPending || try == 3 {
			t.Fatalf("send-now after the kill: %v (exit %d)\n%s", err, code, out)
		}
	}
	if strings.Contains(out, "held by a stopped process") {
		t.Logf("the second run said why it waited: %s", regexp.MustCompile(`waiting for [^\n]*`).FindString(out))
	}
	if !regexp.MustCompile(`(?m)^\s+email\s+sent\s+` + fmt.Sprint(subscribers) + `$`).MatchString(out) {
		t.Errorf("send-now does not report %d sent:\n%s", subscribers, out)
	}

	counts := sink.Counts()
	repeats, missing := 0, 0
	for i := range subscribers {
		n := counts[fmt.Sprintf("reader%05d@example.com", i)]
		if n == 0 {
			missing++
		}
		if n > 1 {
			repeats += n - 1
		}
	}
	if len(counts) != subscribers {
		t.Errorf("%d recipients got mail, want %d", len(counts), subscribers)
	}
	if missing > 0 {
		t.Errorf("%d subscribers got nothing", missing)
	}
	// What a kill -9 can repeat: a message the server accepted whose
	// delivery record was not written yet. Every email recipient holds
	// one of delivery.max_unrecorded (64) slots from the moment the
	// sender takes it until its record is committed, over all the batches
	// of the process (docs/crash-bound.md), so at most 64 are repeated.
	const bound = 64
	t.Logf("repeats after kill -9: %d (killed after %d accepted messages; second run %s)", repeats, atKill, time.Since(start).Round(time.Second))
	if repeats > bound {
		t.Errorf("%d repeats after kill -9, more than the %d that can be in flight", repeats, bound)
	}
}

// buildBinary builds the digestbot command at path.
func buildBinary(path string) error {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	out, err := exec.Command(gobin, "build", "-o", path, ".").CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	return nil
}
