// Command email profiles what `digestbot send-now` runs, in one process:
// it writes a config file, loads it with config.Load, seeds a temporary
// SQLite store (the subscribers' CSV import and the fixture feeds, as the
// binary's commands do), then times app.New + App.SendNow against an SMTP
// sink in another process. It prints messages per second, CPU microseconds
// per message (getrusage, user+sys, of this process, send phase only) and
// peak RSS (VmHWM). A CPU profile (-cpuprofile) covers exactly the send.
//
//	go run ./bench/email -n 100000
//	go run ./bench/email -n 10000 -cpuprofile /tmp/send.prof
//
// With -baseline (on by default) it then sends as many copies of one
// message the application wrote (a one-subscriber SendNow into the outbox
// directory, first) with the minimal pipelined client to the same sink:
// the ceiling. `go run ./bench` times the real binary instead.
package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/digestbot/digestbot/app"
	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/bench/internal/smtpsink"
	"github.com/digestbot/digestbot/config"
	"github.com/digestbot/digestbot/subscribers"
)

func main() {
	var (
		sink     = flag.Bool("sink", false, "run as the SMTP sink (internal)")
		n        = flag.Int("n", 100_000, "subscribers")
		conns    = flag.Int("conns", 16, "SMTP connections")
		baseline = flag.Bool("baseline", true, "also measure the minimal pipelined client on the same sink")
		keep     = flag.Bool("keep", false, "keep the temporary directory")
		verbose  = flag.Bool("v", false, "log the application")
		profile  = flag.String("cpuprofile", "", "write a CPU profile of the send to this file")
		dkimKind = flag.String("dkim", "", `sign with a fresh "rsa" (2048) or "ed25519" key`)
	)
	flag.Parse()
	if *sink {
		if err := smtpsink.Serve(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "sink:", err)
			os.Exit(1)
		}
		return
	}
	o := options{n: *n, conns: *conns, baseline: *baseline, keep: *keep, verbose: *verbose, profile: *profile, dkim: *dkimKind}
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/email:", err)
		os.Exit(1)
	}
}

type options struct {
	n, conns                int
	baseline, keep, verbose bool
	profile, dkim           string
}

func run(ctx context.Context, o options) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "digestbot-bench-email-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(os.Stderr, "keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	log := slog.New(slog.DiscardHandler)
	if o.verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	dkim, err := dkimSection(dir, o.dkim)
	if err != nil {
		return err
	}

	// One message the application writes itself: the ceiling's payload.
	sample, err := sampleMessage(ctx, root, filepath.Join(dir, "sample"), dkim, log)
	if err != nil {
		return fmt.Errorf("sample message: %w", err)
	}

	sinkProc, err := smtpsink.Start("-sink")
	if err != nil {
		return err
	}
	defer sinkProc.Stop()
	runDir := filepath.Join(dir, "run")
	cfg, err := setup(ctx, root, runDir, o.n, smtpSection(sinkProc.Port, o.conns)+dkim, log)
	if err != nil {
		return err
	}

	runtime.GC()
	if o.profile != "" {
		f, err := os.Create(o.profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	cpu0 := cpuTime()
	start := time.Now()
	rep, err := sendNow(ctx, cfg, log)
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	if o.profile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	got, err := sinkProc.Stats()
	if err != nil {
		return err
	}
	fmt.Printf("app.New + SendNow: %d subscribers, edition %s (%s), message %d bytes, dkim %q\n",
		o.n, rep.Edition.Date, rep.Final.Status, len(sample), o.dkim)
	fmt.Printf("  %.0f messages/s  (%d accepted by the sink in %v)\n", float64(got.Messages)/elapsed.Seconds(), got.Messages, elapsed.Round(time.Millisecond))
	fmt.Printf("  %.1f µs CPU per message (user+sys of this process, send phase)\n", float64(cpu.Microseconds())/float64(max(got.Messages, 1)))
	fmt.Printf("  first message after %v\n", got.First.Sub(start).Round(time.Millisecond))
	fmt.Printf("  peak RSS %.1f MiB (VmHWM, whole run)\n", float64(vmHWM())/1024)
	fmt.Printf("  sink: %d messages for %d distinct recipients\n", got.Messages, got.Recipients)
	if got.Messages != int64(o.n) || got.Recipients != int64(o.n) {
		return fmt.Errorf("MISMATCH: the sink has %d messages for %d recipients, want %d", got.Messages, got.Recipients, o.n)
	}

	if o.baseline {
		cpu0 := cpuTime()
		start := time.Now()
		if err := smtpsink.MinimalClient(sinkProc.Addr(), o.conns, o.n, sample, smtpsink.Pipelined); err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		el := time.Since(start)
		cpu := cpuTime() - cpu0
		fmt.Printf("minimal pipelined client, same sink, same message: %.0f messages/s, %.1f µs CPU per message\n",
			float64(o.n)/el.Seconds(), float64(cpu.Microseconds())/float64(o.n))
		fmt.Printf("  the application reaches %.0f%% of it\n", 100*(float64(got.Messages)/elapsed.Seconds())/(float64(o.n)/el.Seconds()))
	}
	return nil
}

// sendNow is what `digestbot send-now` does: app.New, SendNow, Close.
func sendNow(ctx context.Context, cfg config.Config, log *slog.Logger) (app.SendReport, error) {
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return app.SendReport{}, fmt.Errorf("app.New: %w", err)
	}
	rep, err := a.SendNow(ctx, "", io.Discard)
	if cerr := a.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return rep, fmt.Errorf("send-now: %w", err)
	}
	if rep.Empty || rep.AlreadySent {
		return rep, errors.New("send-now: nothing to send")
	}
	return rep, nil
}

// setup writes dir/config.toml, loads it, and seeds the store with n
// subscribers (subscribers.Service.ImportCSV, as `subscribers import`) and
// the fixture feeds (articles.Importer, as `import`).
func setup(ctx context.Context, root, dir string, n int, extra string, log *slog.Logger) (config.Config, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return config.Config{}, err
	}
	path := filepath.Join(dir, "config.toml")
	toml := fmt.Sprintf(`[newsletter]
title = "Daily Headlines"
base_url = "https://news.bench.example"
timezone = "UTC"
max_age = "0s"

[database]
driver = "sqlite"
dsn = %q

[security]
secret = "bench-secret-bench-secret-bench-secret"

[email]
from = "Daily Headlines <news@bench.example>"
outbox_dir = %q
%s`, filepath.Join(dir, "digestbot.db"), filepath.Join(dir, "outbox"), extra)
	if err := os.WriteFile(path, []byte(toml), 0o644); err != nil {
		return config.Config{}, err
	}
	cfg, err := config.Load(path, func(string) string { return "" })
	if err != nil {
		return cfg, err
	}
	st, err := app.OpenStore(ctx, cfg, log)
	if err != nil {
		return cfg, err
	}
	defer st.Close()
	var csv bytes.Buffer
	csv.WriteString("email\n")
	for i := range n {
		fmt.Fprintf(&csv, "reader%07d@bench.example\n", i)
	}
	svc := &subscribers.Service{Store: st, Sections: cfg.Newsletter.Sections}
	if _, _, err := svc.ImportCSV(ctx, &csv, io.Discard); err != nil {
		return cfg, fmt.Errorf("import subscribers: %w", err)
	}
	imp := &articles.Importer{Store: st, Fetcher: app.NewFetcher(cfg), Log: log}
	for _, f := range []string{"pacific-stripes.rss.xml", "wire-a.rss.xml", "globe-news.atom.xml", "meridian.feed.json", "harborview-herald.rss.xml"} {
		if _, err := imp.Import(ctx, filepath.Join(root, "testdata", "feeds", f), articles.ImportOptions{}); err != nil {
			return cfg, fmt.Errorf("import %s: %w", f, err)
		}
	}
	return cfg, nil
}

// sampleMessage runs a one-subscriber SendNow with no SMTP host, which
// writes the message to the outbox directory, and returns its bytes.
func sampleMessage(ctx context.Context, root, dir, extra string, log *slog.Logger) ([]byte, error) {
	cfg, err := setup(ctx, root, dir, 1, extra, log)
	if err != nil {
		return nil, err
	}
	if _, err := sendNow(ctx, cfg, log); err != nil {
		return nil, err
	}
	emls, err := filepath.Glob(filepath.Join(dir, "outbox", "*.eml"))
	if err != nil || len(emls) != 1 {
		return nil, fmt.Errorf("want one .eml in the outbox, have %d (%v)", len(emls), err)
	}
	msg, err := os.ReadFile(emls[0])
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(msg, []byte("\r\n")) {
		msg = bytes.ReplaceAll(msg, []byte("\n"), []byte("\r\n"))
	}
	return msg, nil
}

func smtpSection(port, conns int) string {
	return fmt.Sprintf(`
[email.smtp]
host = "127.0.0.1"
port = %d
tls = "none"
connections = %d
rate_per_second = 0
`, port, conns)
}

// dkimSection writes a fresh key of kind ("" for none) and returns the
// [email.dkim] section naming it.
func dkimSection(dir, kind string) (string, error) {
	if kind == "" {
		return "", nil
	}
	var (
		key crypto.Signer
		err error
	)
	switch kind {
	case "rsa":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ed25519":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		return "", fmt.Errorf("-dkim %q: want rsa or ed25519", kind)
	}
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "dkim.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return "", err
	}
	return fmt.Sprintf("\n[email.dkim]\ndomain = \"bench.example\"\nselector = \"bench\"\nkey_file = %q\n", path), nil
}

func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("run it inside the digestbot module")
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// vmHWM is the peak resident set size in KiB.
func vmHWM() int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return kb
		}
	}
	return 0
}
