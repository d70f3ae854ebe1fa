// Command email benchmarks the email fan-out: one edition to N subscribers
// through a local SMTP sink, with the real store (a temporary SQLite file),
// the real River jobs and the real SMTP sender. It prints messages per
// second, CPU microseconds per message (getrusage, user+sys, of this
// process only) and peak RSS (VmHWM).
//
// The sink runs in a separate process (this binary with -sink), so that
// its CPU and memory are not counted:
//
//	go run ./bench/email -n 100000
//	go run ./bench/email -n 10000
//
// With -baseline (on by default) it then sends the same number of
// pre-built messages with a minimal pipelined client (PERF-NOTES' last row)
// to the same sink, for comparison.
package main

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/digestbot/digestbot/bench/internal/smtpsink"
	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/email"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/subscribers"
)

func main() {
	var (
		sink     = flag.Bool("sink", false, "run as the SMTP sink (internal)")
		n        = flag.Int("n", 100_000, "subscribers")
		conns    = flag.Int("conns", 16, "SMTP connections")
		batch    = flag.Int("batch", 200, "subscriptions per fan-out job")
		workers  = flag.Int("workers", 0, "fan-out jobs at once (0: the fan-out's default)")
		baseline = flag.Bool("baseline", true, "also measure a minimal pipelined client on the same sink")
		keep     = flag.Bool("keep", false, "keep the temporary directory")
		verbose  = flag.Bool("v", false, "log the fan-out")
		profile  = flag.String("cpuprofile", "", "write a CPU profile of the fan-out phase to this file")
		cooldown = flag.Duration("fetch-cooldown", 0, "River FetchCooldown (0: the fan-out's default)")
		poll     = flag.Duration("fetch-poll", 0, "River FetchPollInterval (0: the fan-out's default)")
		dkimKind = flag.String("dkim", "", `sign with a fresh "rsa" (2048) or "ed25519" key`)
		chunk    = flag.Int("record-chunk", 0, "delivery records per write (0: the fan-out's default)")
	)
	flag.Parse()
	if *sink {
		if err := smtpsink.Serve(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "sink:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*n, *conns, *batch, *workers, *baseline, *keep, *verbose, *profile, *cooldown, *poll, *dkimKind, *chunk); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n, conns, batch, workers int, baseline, keep, verbose bool, profile string, cooldown, poll time.Duration, dkimKind string, recordChunk int) error {
	ctx := context.Background()
	sinkProc, err := smtpsink.Start("-sink")
	if err != nil {
		return err
	}
	defer sinkProc.Stop()

	dir, err := os.MkdirTemp("", "digestbot-bench-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	log := slog.New(slog.DiscardHandler)
	if verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	st, err := store.Open(ctx, store.SQLite, filepath.Join(dir, "bench.db"), log)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}

	t0 := time.Now()
	chunk := make([]subscribers.Subscription, 0, 5000)
	for i := range n {
		chunk = append(chunk, subscribers.Subscription{
			Channel: subscribers.Email, Address: fmt.Sprintf("reader%07d@bench.example", i),
			Status: subscribers.Active, Source: subscribers.SourceImport,
		})
		if len(chunk) == cap(chunk) || i == n-1 {
			if _, err := st.CreateSubscriptions(ctx, chunk); err != nil {
				return err
			}
			chunk = chunk[:0]
		}
	}
	fmt.Printf("created %d subscribers in %v\n", n, time.Since(t0).Round(time.Millisecond))

	ed, _, err := st.CreateEdition(ctx, benchEdition())
	if err != nil {
		return err
	}
	var signer *email.DKIMSigner
	switch dkimKind {
	case "":
	case "rsa", "ed25519":
		var key crypto.Signer
		if dkimKind == "rsa" {
			key, err = rsa.GenerateKey(rand.Reader, 2048)
		} else {
			_, key, err = ed25519.GenerateKey(rand.Reader)
		}
		if err != nil {
			return err
		}
		if signer, err = email.NewDKIMSigner("bench.example", "bench", key); err != nil {
			return err
		}
	default:
		return fmt.Errorf("-dkim %q: want rsa or ed25519", dkimKind)
	}
	b, err := email.NewBuilder(email.BuilderConfig{
		DKIM: signer,
		From: "Daily Headlines <news@bench.example>",
		Render: digest.RenderOptions{
			Title: "Daily Headlines", BaseURL: "https://news.bench.example",
			PostalAddress: "Harborview Herald, 1 Quay Street, Harborview", Location: time.UTC,
			Sections: []string{"Local", "Business", "Science", "Sports"},
		},
		Tokens: subscribers.NewTokens("bench-secret", nil),
	})
	if err != nil {
		return err
	}
	sample, err := b.AppendMessage(nil, ed, subscribers.Subscription{ID: 1, Address: "reader@bench.example"})
	if err != nil {
		return err
	}
	snd, err := email.NewSMTPSender(email.SMTPOptions{
		Host: "127.0.0.1", Port: sinkProc.Port, TLS: "none", Connections: conns,
	}, b, log)
	if err != nil {
		return err
	}
	defer snd.Close()
	fo, err := delivery.NewFanout(st, delivery.FanoutConfig{
		Subscriptions: &subscribers.Service{Store: st},
		Channels: map[subscribers.Channel]delivery.ChannelConfig{
			subscribers.Email: {Sender: snd, BatchSize: batch, Workers: workers},
		},
		RecordChunk:       recordChunk,
		FetchCooldown:     cooldown,
		FetchPollInterval: poll,
		Logger:            log,
	})
	if err != nil {
		return err
	}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	runDone := make(chan error, 1)
	go func() { runDone <- fo.Run(runCtx) }()

	runtime.GC()
	if profile != "" {
		f, err := os.Create(profile)
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
	if ok, err := fo.Start(ctx, ed.ID); err != nil || !ok {
		return fmt.Errorf("start: %v %w", ok, err)
	}
	p, err := fo.Wait(ctx, ed.ID)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	if profile != "" {
		pprof.StopCPUProfile()
	}
	stopRun()
	<-runDone

	sent := 0
	for _, c := range p.Stats {
		if c.Status == digest.DeliverySent {
			sent += c.N
		}
	}
	fmt.Printf("digestbot fan-out: %d subscribers, %d sent (%s), message %d bytes, dkim %q\n", n, sent, p.Status, len(sample.Data), dkimKind)
	fmt.Printf("  %.0f messages/s  (%v)\n", float64(sent)/elapsed.Seconds(), elapsed.Round(time.Millisecond))
	fmt.Printf("  %.1f µs CPU per message (user+sys of this process, fan-out phase)\n", float64(cpu.Microseconds())/float64(max(sent, 1)))
	fmt.Printf("  peak RSS %.1f MiB (VmHWM, whole run)\n", float64(vmHWM())/1024)
	if sent != n {
		return fmt.Errorf("%d of %d sent", sent, n)
	}

	if baseline {
		cpu0 := cpuTime()
		start := time.Now()
		if err := smtpsink.MinimalClient(sinkProc.Addr(), conns, n, sample.Data); err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		el := time.Since(start)
		cpu := cpuTime() - cpu0
		fmt.Printf("minimal pipelined client, same sink: %.0f messages/s, %.1f µs CPU per message\n",
			float64(n)/el.Seconds(), float64(cpu.Microseconds())/float64(n))
		fmt.Printf("  digestbot reaches %.0f%% of it\n", 100*(float64(sent)/elapsed.Seconds())/(float64(n)/el.Seconds()))
	}
	got, err := sinkProc.Stop()
	if err != nil {
		return err
	}
	fmt.Printf("sink received %d messages (%d bytes) for %d distinct recipients\n", got.Messages, got.Bytes, got.Recipients)
	return nil
}

// benchEdition is ten items of realistic length over four sections.
func benchEdition() digest.Edition {
	titles := []string{
		"Council extends harbour ferry service through the winter",
		"Kelp forest off the northern point recovers to half its 2010 extent",
		"Rovers win home opener 3–1 behind two goals from academy forward",
		"Transit authority to pilot contactless fares on four bus lines",
		"Port traffic rises 8% as new container terminal opens",
		"School board approves later start times for high schools",
		"Storm knocks out power to 12,000 homes on the east shore",
		"Local bakery wins national award for sourdough",
		"University spin-off raises $4 million for tidal sensors",
		"Library to stay open until 9 p.m. on weeknights",
	}
	sections := []string{"Local", "Science", "Sports", "Local", "Business", "Local", "Local", "Business", "Science", "Local"}
	e := digest.Edition{Newsletter: digest.DefaultNewsletter, Date: time.Now().UTC().Format("2006-01-02"), Title: "Daily Headlines"}
	for i, t := range titles {
		e.Items = append(e.Items, digest.Item{
			ArticleID: int64(i + 1), Section: sections[i], Title: t,
			URL:         fmt.Sprintf("https://harborview-herald.example/news/%d", 1000+i),
			Lead:        "Officials said the change follows months of consultation and will take effect next month, with a review planned after the first year.",
			Source:      "Harborview Herald",
			PublishedAt: time.Now().Add(-time.Duration(i) * time.Hour),
		})
	}
	return e
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
