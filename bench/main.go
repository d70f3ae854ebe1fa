// Command bench measures email delivery on the path a publisher runs: it
// builds the real binary (./cmd/digestbot), seeds a fresh store with the
// binary's own `subscribers import` and `import`, then times `digestbot
// send-now` (and one `serve` whose schedule fires) started as its own
// process, against an SMTP sink in another process. In the same run, on a
// fresh sink, a minimal pipelined client pushes as many messages of the
// same size: the ceiling. It prints one markdown table.
//
//	go run ./bench                                  # 10k and 100k, SQLite and PostgreSQL, one serve row
//	go run ./bench -sizes 10000 -stores sqlite      # the quick row
//	go run ./bench -cpuprofile /tmp/prof            # a CPU profile of each digestbot run
//
// Columns: msg/s is messages accepted by the sink over the wall time from
// process start to exit (startup, edition build, job insertion and the
// final records included); CPU µs/msg is the digestbot process's user+sys
// time over messages; peak RSS is its maximum resident set (getrusage
// ru_maxrss, which is VmHWM); first message is from process start to the
// sink accepting the first message. The PostgreSQL rows use a throwaway
// server started from the system binaries with fsync off, as the tests do.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/digestbot/digestbot/bench/internal/smtpsink"
	"github.com/digestbot/digestbot/store/storetest"
)

func main() {
	var (
		sink    = flag.Bool("sink", false, "run as the SMTP sink (internal)")
		sizes   = flag.String("sizes", "10000,100000", "subscriber counts, comma-separated")
		stores  = flag.String("stores", "sqlite,postgres", "stores, comma-separated")
		serve   = flag.Bool("serve", true, "also time one serve whose schedule fires (first size, SQLite)")
		conns   = flag.Int("conns", 16, "SMTP connections (digestbot and the minimal client)")
		profile = flag.String("cpuprofile", "", "directory for a CPU profile of each digestbot run")
		keep    = flag.Bool("keep", false, "keep the temporary directory")
	)
	flag.Parse()
	if *sink {
		if err := smtpsink.Serve(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "sink:", err)
			os.Exit(1)
		}
		return
	}
	b := &bench{conns: *conns, profile: *profile}
	if err := b.run(*sizes, *stores, *serve, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type bench struct {
	conns   int
	profile string
	root    string // the module's directory
	dir     string // temporary
	bin     string // the digestbot binary
	pg      *storetest.Server
}

type row struct {
	name, store string
	n           int
	msgs        int64
	rcpts       int64
	wall        time.Duration
	cpu         time.Duration
	rssKiB      int64
	first       time.Duration
	ceiling     float64 // msg/s of the minimal client
	note        string
}

func (b *bench) run(sizes, stores string, serve, keep bool) error {
	ctx := context.Background()
	var err error
	if b.root, err = moduleRoot(); err != nil {
		return err
	}
	if b.dir, err = os.MkdirTemp("", "digestbot-bench-"); err != nil {
		return err
	}
	if keep {
		fmt.Fprintln(os.Stderr, "bench: keeping", b.dir)
	} else {
		defer os.RemoveAll(b.dir)
	}
	b.bin = filepath.Join(b.dir, "digestbot")
	build := exec.Command("go", "build", "-o", b.bin, "./cmd/digestbot")
	build.Dir, build.Stderr = b.root, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/digestbot: %w", err)
	}

	var ns []int
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-sizes: %q", s)
		}
		ns = append(ns, n)
	}
	var rows []row
	start := time.Now()
	for _, st := range strings.Split(stores, ",") {
		st = strings.TrimSpace(st)
		if st == "postgres" {
			if b.pg, err = storetest.StartServer(); errors.Is(err, storetest.ErrNoPostgres) {
				fmt.Fprintln(os.Stderr, "bench: skipping PostgreSQL rows:", err)
				continue
			} else if err != nil {
				return err
			}
			defer b.pg.Stop()
		}
		for i, n := range ns {
			r, err := b.row(ctx, "send-now", st, n)
			if err != nil {
				return fmt.Errorf("%s %s %d: %w", "send-now", st, n, err)
			}
			rows = append(rows, r)
			if serve && st == "sqlite" && i == 0 {
				r, err := b.row(ctx, "serve", st, n)
				if err != nil {
					return fmt.Errorf("serve %s %d: %w", st, n, err)
				}
				rows = append(rows, r)
			}
		}
	}
	printTable(rows, time.Since(start))
	return nil
}

// row seeds a fresh store with n subscribers and the fixture feeds, then
// times one digestbot run and the ceiling on fresh sinks.
func (b *bench) row(ctx context.Context, mode, storeName string, n int) (row, error) {
	r := row{name: mode, store: storeName, n: n}
	dir := filepath.Join(b.dir, fmt.Sprintf("%s-%s-%d", mode, storeName, n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return r, err
	}
	driver, dsn := "sqlite", filepath.Join(dir, "digestbot.db")
	if storeName == "postgres" {
		var err error
		if dsn, err = b.pg.CreateDatabase(ctx); err != nil {
			return r, err
		}
		driver = "postgres"
	}
	sink, err := smtpsink.Start("-sink")
	if err != nil {
		return r, err
	}
	defer sink.Stop()
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(config(driver, dsn, dir, sink.Port, b.conns)), 0o644); err != nil {
		return r, err
	}
	var csv bytes.Buffer
	csv.WriteString("email\n")
	for i := range n {
		fmt.Fprintf(&csv, "reader%07d@bench.example\n", i)
	}
	csvPath := filepath.Join(dir, "subscribers.csv")
	if err := os.WriteFile(csvPath, csv.Bytes(), 0o644); err != nil {
		return r, err
	}
	if err := b.digestbot("subscribers", "import", "--config", cfg, csvPath); err != nil {
		return r, err
	}
	for _, f := range []string{"pacific-stripes.rss.xml", "wire-a.rss.xml", "globe-news.atom.xml", "meridian.feed.json", "harborview-herald.rss.xml"} {
		if err := b.digestbot("import", "--config", cfg, filepath.Join(b.root, "testdata", "feeds", f)); err != nil {
			return r, err
		}
	}

	cmd := exec.Command(b.bin, mode, "--config", cfg)
	cmd.Env = os.Environ()
	if b.profile != "" {
		if err := os.MkdirAll(b.profile, 0o755); err != nil {
			return r, err
		}
		cmd.Env = append(cmd.Env, "DIGESTBOT_CPUPROFILE="+filepath.Join(b.profile, fmt.Sprintf("%s-%s-%d.prof", mode, storeName, n)))
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return r, err
	}
	if mode == "serve" {
		// The schedule fires every minute, and serve's catch-up publishes
		// at start: stop it once the sink has every message.
		deadline := time.Now().Add(10 * time.Minute)
		for {
			st, err := sink.Stats()
			if err != nil {
				return r, err
			}
			if st.Messages >= int64(n) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	waitErr := cmd.Wait()
	r.wall = time.Since(start)
	if waitErr != nil {
		return r, fmt.Errorf("%s: %w\n%s", mode, waitErr, lastLines(stderr.String(), 10))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	r.rssKiB = ru.Maxrss
	got, err := sink.Stop()
	if err != nil {
		return r, err
	}
	r.msgs, r.rcpts = got.Messages, got.Recipients
	if mode == "serve" && !got.Last.IsZero() {
		r.wall = got.Last.Sub(start) // to the last message, not to the stop
	}
	if !got.First.IsZero() {
		r.first = got.First.Sub(start)
	}
	if r.msgs != int64(n) || r.rcpts != int64(n) {
		r.note = fmt.Sprintf("MISMATCH: %d messages for %d recipients", r.msgs, r.rcpts)
	}

	// The ceiling, on a fresh sink: as many messages of the same size.
	size := int(got.Bytes / max(got.Messages, 1))
	ceil, err := smtpsink.Start("-sink")
	if err != nil {
		return r, err
	}
	defer ceil.Stop()
	t0 := time.Now()
	if err := smtpsink.MinimalClient(ceil.Addr(), b.conns, n, message(size)); err != nil {
		return r, fmt.Errorf("ceiling: %w", err)
	}
	r.ceiling = float64(n) / time.Since(t0).Seconds()
	return r, nil
}

// digestbot runs one seeding command of the binary, untimed.
func (b *bench) digestbot(args ...string) error {
	cmd := exec.Command(b.bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("digestbot %s: %w\n%s", strings.Join(args, " "), err, lastLines(out.String(), 10))
	}
	return nil
}

func config(driver, dsn, dir string, port, conns int) string {
	return fmt.Sprintf(`[newsletter]
title = "Daily Headlines"
base_url = "https://news.bench.example"
schedule = "* * * * *"
max_age = "0s"

[database]
driver = %q
dsn = %q

[http]
listen = "127.0.0.1:0"

[security]
secret = "bench-secret-bench-secret-bench-secret"

[email]
from = "Daily Headlines <news@bench.example>"
outbox_dir = %q

[email.smtp]
host = "127.0.0.1"
port = %d
tls = "none"
connections = %d
`, driver, dsn, filepath.Join(dir, "outbox"), port, conns)
}

// message is a well-formed message of about size bytes (CRLF lines of 76
// characters, ending in CRLF): the ceiling's payload, as long as the
// digest the sink received.
func message(size int) []byte {
	var m bytes.Buffer
	m.WriteString("From: news@bench.example\r\nTo: reader@bench.example\r\nSubject: ceiling\r\n\r\n")
	line := strings.Repeat("x", 76) + "\r\n"
	for m.Len()+len(line) <= max(size, 200) {
		m.WriteString(line)
	}
	return m.Bytes()
}

func printTable(rows []row, took time.Duration) {
	fmt.Printf("machine: %d CPUs, %s, %s; bench took %v\n\n", runtime.NumCPU(), cpuModel(), runtime.Version(), took.Round(time.Second))
	fmt.Println("| run | subscribers | store | msg/s | ceiling msg/s | share | CPU µs/msg | peak RSS MiB | first message ms | check |")
	fmt.Println("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, r := range rows {
		rate := float64(r.msgs) / r.wall.Seconds()
		check := "ok"
		if r.note != "" {
			check = r.note
		}
		fmt.Printf("| %s | %d | %s | %.0f | %.0f | %.2f | %.1f | %.1f | %d | %s |\n",
			r.name, r.n, r.store, rate, r.ceiling, rate/r.ceiling,
			float64(r.cpu.Microseconds())/float64(max(r.msgs, 1)), float64(r.rssKiB)/1024, r.first.Milliseconds(), check)
	}
}

func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run it inside the digestbot module")
	}
	return filepath.Dir(mod), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
