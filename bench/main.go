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
// VmHWM polled every 20 ms, and getrusage ru_maxrss); first message is
// from process start to the sink accepting the first message. The serve
// row's schedule is the next minute boundary: its msg/s and first message
// count from that tick, to the last message (serve is then stopped with
// SIGTERM); its CPU includes the idle wait for the tick. The ceiling's
// payload is a message the binary wrote itself (a one-subscriber send-now
// into the outbox directory). The PostgreSQL rows use a throwaway
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
	"github.com/digestbot/digestbot/store"
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
		faults  = flag.Int("faults", 0, "run the fault suite with this many subscribers per fault instead (see faults.go)")
		down    = flag.Duration("down", 30*time.Second, "fault suite: how long the SMTP server stays down")
		runs    = flag.Int("runs", 1, "run each send-now row this many times (one table row each): this machine's speed drifts between runs")
		zones   = flag.Int("zones", 0, "spread the readers over this many time zones, each with its own delivery hour (at most 24; every hour has passed, so all are sent at once)")
	)
	flag.Parse()
	if *sink {
		if err := smtpsink.Serve(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "sink:", err)
			os.Exit(1)
		}
		return
	}
	b := &bench{runs: max(*runs, 1), conns: *conns, profile: *profile, zones: min(*zones, len(benchZones))}
	if *faults > 0 {
		ok, err := b.faults(context.Background(), faultOptions{N: *faults, Down: *down, Keep: *keep}, os.Stdout)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: faults:", err)
			os.Exit(1)
		}
		if !ok {
			os.Exit(1)
		}
		return
	}
	if err := b.run(*sizes, *stores, *serve, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type bench struct {
	runs    int
	seq     int // rows run so far: each has its own directory
	conns   int
	zones   int // readers spread over this many zones (-zones)
	profile string
	root    string // the module's directory
	dir     string // temporary
	bin     string // the digestbot binary
	pg      *storetest.Server
	sample  []byte // one message the binary wrote: the ceiling's payload
}

type row struct {
	name, store string
	n           int
	msgs        int64
	rcpts       int64
	wall        time.Duration
	cpu         time.Duration
	rssKiB      int64 // ru_maxrss
	hwmKiB      int64 // max VmHWM polled every 20 ms
	first       time.Duration
	last        time.Duration // process start (serve: the tick) to the last message accepted
	// msg/s of the minimal clients (smtpsink.Lockstep, .Pipelined),
	// before and after the run; the row's ceiling is their mean.
	ceilBefore, ceilAfter [2]float64
	note                  string
}

// prepare makes the temporary directory and builds the binary into it;
// cleanup removes the directory unless keep.
func (b *bench) prepare(keep bool) (cleanup func(), err error) {
	if b.root, err = moduleRoot(); err != nil {
		return nil, err
	}
	if b.dir, err = os.MkdirTemp("", "digestbot-bench-"); err != nil {
		return nil, err
	}
	cleanup = func() { os.RemoveAll(b.dir) }
	if keep {
		fmt.Fprintln(os.Stderr, "bench: keeping", b.dir)
		cleanup = func() {}
	}
	b.bin = filepath.Join(b.dir, "digestbot")
	build := exec.Command("go", "build", "-o", b.bin, "./cmd/digestbot")
	build.Dir, build.Stderr = b.root, os.Stderr
	if err := build.Run(); err != nil {
		cleanup()
		return nil, fmt.Errorf("go build ./cmd/digestbot: %w", err)
	}
	return cleanup, nil
}

func (b *bench) run(sizes, stores string, serve, keep bool) error {
	ctx := context.Background()
	cleanup, err := b.prepare(keep)
	if err != nil {
		return err
	}
	defer cleanup()
	if b.sample, err = b.sampleMessage(); err != nil {
		return fmt.Errorf("sample message: %w", err)
	}
	fmt.Fprintf(os.Stderr, "bench: ceiling payload: the binary's own message, %d bytes\n", len(b.sample))

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
			for range b.runs {
				r, err := b.row(ctx, "send-now", st, n)
				if err != nil {
					return fmt.Errorf("%s %s %d: %w", "send-now", st, n, err)
				}
				rows = append(rows, r)
			}
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
	if b.zones > 0 {
		r.name = fmt.Sprintf("%s, %d zones", mode, b.zones)
	}
	b.seq++
	dir := filepath.Join(b.dir, fmt.Sprintf("%s-%s-%d-%d", mode, storeName, n, b.seq))
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
	// serve: a schedule at the next minute boundary (at least 3 s away),
	// so that the start-up catch-up has nothing due and the tick is known.
	schedule, tick := "* * * * *", time.Time{}
	if mode == "serve" {
		tick = time.Now().UTC().Add(3 * time.Second).Truncate(time.Minute).Add(time.Minute)
		schedule = fmt.Sprintf("%d %d * * *", tick.Minute(), tick.Hour())
	}
	cfg := filepath.Join(dir, "config.toml")
	text := config(driver, dsn, dir, schedule, "127.0.0.1", sink.Port, b.conns)
	if b.zones > 0 {
		// The edition's date is the one of UTC−12, the last zone to reach
		// it: midnight of that date has passed in every zone.
		text = strings.Replace(text, `timezone = "UTC"`, `timezone = "Etc/GMT+12"`, 1)
	}
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		return r, err
	}
	if err := b.seed(dir, cfg, n); err != nil {
		return r, err
	}
	if err := b.spreadZones(ctx, driver, dsn); err != nil {
		return r, err
	}

	// The ceiling, on fresh sinks, just before and just after the run
	// (their mean is the row's): this machine's speed drifts between runs
	// by a fifth, so a ceiling taken far from the run misjudges its share.
	if r.ceilBefore, err = b.ceilings(n); err != nil {
		return r, err
	}

	cmd := exec.Command(b.bin, mode, "--config", cfg)
	cmd.Env = os.Environ()
	if b.profile != "" {
		if err := os.MkdirAll(b.profile, 0o755); err != nil {
			return r, err
		}
		cmd.Env = append(cmd.Env, "DIGESTBOT_CPUPROFILE="+filepath.Join(b.profile, fmt.Sprintf("%s-%s-%d-%d.prof", mode, storeName, n, b.seq)))
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return r, err
	}
	hwm := make(chan int64, 1)
	exited := make(chan struct{})
	go func() { hwm <- pollHWM(cmd.Process.Pid, exited) }()
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
	if d := os.Getenv("BENCH_LOGDIR"); d != "" {
		_ = os.WriteFile(filepath.Join(d, fmt.Sprintf("%s-%s-%d-%d.log", mode, storeName, n, b.seq)), stderr.Bytes(), 0o644)
		fmt.Fprintf(os.Stderr, "bench: started %s\n", start.UTC().Format("15:04:05.000"))
	}
	close(exited)
	r.hwmKiB = <-hwm
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
	if mode == "serve" {
		// From the tick to the last message (not to the stop); the first
		// message from the tick too.
		start = tick
		r.wall = got.Last.Sub(tick)
	}
	if !got.First.IsZero() {
		r.first, r.last = got.First.Sub(start), got.Last.Sub(start)
	}
	if r.msgs != int64(n) || r.rcpts != int64(n) {
		r.note = fmt.Sprintf("MISMATCH: %d messages for %d recipients", r.msgs, r.rcpts)
	}

	// The ceiling's payload is one subscriber's digest: the same size as these.

	if avg := got.Bytes / max(got.Messages, 1); avg > 0 && (avg < int64(len(b.sample))*9/10 || avg > int64(len(b.sample))*11/10) {
		r.note += fmt.Sprintf(" (messages %d bytes, ceiling payload %d)", avg, len(b.sample))
	}
	if r.ceilAfter, err = b.ceilings(n); err != nil {
		return r, err
	}
	return r, nil
}

// ceilings are the minimal clients' rates (Lockstep, Pipelined) for n
// messages of the binary's own, each on a fresh sink.
func (b *bench) ceilings(n int) ([2]float64, error) {
	var out [2]float64
	for mode := range out {
		ceil, err := smtpsink.Start("-sink")
		if err != nil {
			return out, err
		}
		t0 := time.Now()
		err = smtpsink.MinimalClient(ceil.Addr(), b.conns, n, b.sample, mode)
		out[mode] = float64(n) / time.Since(t0).Seconds()
		if _, serr := ceil.Stop(); err == nil && serr != nil {
			err = serr
		}
		if err != nil {
			return out, fmt.Errorf("ceiling: %w", err)
		}
	}
	return out, nil
}

// ceiling is the mean of the before and after rates of the client mode.
func (r row) ceiling(mode int) float64 { return (r.ceilBefore[mode] + r.ceilAfter[mode]) / 2 }

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

// config is the TOML file of one run; an empty host writes .eml files to
// the outbox directory instead.
func config(driver, dsn, dir, schedule, host string, port, conns int) string {
	smtp := ""
	if host != "" {
		smtp = fmt.Sprintf(`
[email.smtp]
host = %q
port = %d
tls = "none"
connections = %d
rate_per_second = 0
`, host, port, conns)
	}
	return fmt.Sprintf(`[newsletter]
title = "Daily Headlines"
base_url = "https://news.bench.example"
timezone = "UTC"
schedule = %q
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
%s`, schedule, driver, dsn, filepath.Join(dir, "outbox"), smtp)
}

// seed imports n subscribers and the fixture feeds with the binary's own
// commands (not timed).
func (b *bench) seed(dir, cfg string, n int) error {
	var csv bytes.Buffer
	csv.WriteString("email\n")
	for i := range n {
		fmt.Fprintf(&csv, "reader%07d@bench.example\n", i)
	}
	csvPath := filepath.Join(dir, "subscribers.csv")
	if err := os.WriteFile(csvPath, csv.Bytes(), 0o644); err != nil {
		return err
	}
	if err := b.digestbot("subscribers", "import", "--config", cfg, csvPath); err != nil {
		return err
	}
	// The well-formed fixture feeds (testdata/feeds also holds malformed
	// and hostile ones); import takes one path at a time.
	for _, f := range []string{"pacific-stripes.rss.xml", "wire-a.rss.xml", "globe-news.atom.xml", "meridian.feed.json", "harborview-herald.rss.xml"} {
		if err := b.digestbot("import", "--config", cfg, filepath.Join(b.root, "testdata", "feeds", f)); err != nil {
			return err
		}
	}
	return nil
}

// sampleMessage runs a one-subscriber send-now with no SMTP host, which
// writes the message to the outbox directory, and returns its bytes.
func (b *bench) sampleMessage() ([]byte, error) {
	dir := filepath.Join(b.dir, "sample")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(config("sqlite", filepath.Join(dir, "digestbot.db"), dir, "* * * * *", "", 0, b.conns)), 0o644); err != nil {
		return nil, err
	}
	if err := b.seed(dir, cfg, 1); err != nil {
		return nil, err
	}
	if err := b.digestbot("send-now", "--config", cfg); err != nil {
		return nil, err
	}
	emls, err := filepath.Glob(filepath.Join(dir, "outbox", "*.eml"))
	if err != nil || len(emls) != 1 {
		return nil, fmt.Errorf("want one .eml in %s, have %d (%v)", filepath.Join(dir, "outbox"), len(emls), err)
	}
	msg, err := os.ReadFile(emls[0])
	if err != nil {
		return nil, err
	}
	// SMTP DATA wants CRLF line ends.
	if !bytes.Contains(msg, []byte("\r\n")) {
		msg = bytes.ReplaceAll(msg, []byte("\n"), []byte("\r\n"))
	}
	return msg, nil
}

// pollHWM reads VmHWM of pid every 20 ms until exited is closed and
// returns the largest value seen, in KiB.
func pollHWM(pid int, exited <-chan struct{}) int64 {
	path := fmt.Sprintf("/proc/%d/status", pid)
	var peak int64
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if data, err := os.ReadFile(path); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
					peak = max(peak, kb)
				}
			}
		}
		select {
		case <-exited:
			return peak
		case <-t.C:
		}
	}
}

func printTable(rows []row, took time.Duration) {
	fmt.Printf("machine: %d CPUs, %s, %s; bench took %v\n\n", runtime.NumCPU(), cpuModel(), runtime.Version(), took.Round(time.Second))
	fmt.Println("| run | subscribers | store | msg/s | lockstep ceiling msg/s | share | pipelined ceiling msg/s | share | CPU µs/msg | peak RSS MiB (VmHWM / maxrss) | first message ms | last message ms | check |")
	fmt.Println("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, r := range rows {
		rate := float64(r.msgs) / r.wall.Seconds()
		check := fmt.Sprintf("ok: %d messages, %d recipients", r.msgs, r.rcpts)
		if strings.HasPrefix(r.note, "MISMATCH") {
			check = r.note
		} else {
			check += r.note
		}
		check += fmt.Sprintf("; ceilings before %.0f / %.0f, after %.0f / %.0f",
			r.ceilBefore[smtpsink.Lockstep], r.ceilBefore[smtpsink.Pipelined], r.ceilAfter[smtpsink.Lockstep], r.ceilAfter[smtpsink.Pipelined])
		lock, pipe := r.ceiling(smtpsink.Lockstep), r.ceiling(smtpsink.Pipelined)
		fmt.Printf("| %s | %d | %s | %.0f | %.0f | %.2f | %.0f | %.2f | %.1f | %.1f / %.1f | %d | %d | %s |\n",
			r.name, r.n, r.store, rate, lock, rate/lock, pipe, rate/pipe,
			float64(r.cpu.Microseconds())/float64(max(r.msgs, 1)), float64(r.hwmKiB)/1024, float64(r.rssKiB)/1024, r.first.Milliseconds(), r.last.Milliseconds(), check)
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

// benchZones are the zones -zones spreads the readers over, west to east.
var benchZones = []string{
	"Pacific/Pago_Pago", "Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles", "America/Denver",
	"America/Chicago", "America/New_York", "America/Halifax", "America/Sao_Paulo", "Atlantic/South_Georgia",
	"Atlantic/Azores", "Europe/London", "Europe/Berlin", "Europe/Athens", "Europe/Moscow", "Asia/Dubai",
	"Asia/Karachi", "Asia/Kolkata", "Asia/Dhaka", "Asia/Bangkok", "Asia/Shanghai", "Asia/Tokyo",
	"Australia/Sydney", "Pacific/Auckland",
}

// spreadZones gives reader i the zone i mod b.zones and delivery hour 0
// (not timed: a publisher's readers chose theirs over months).
func (b *bench) spreadZones(ctx context.Context, driver, dsn string) error {
	if b.zones == 0 {
		return nil
	}
	st, err := store.Open(ctx, driver, dsn, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	for k := range b.zones {
		if _, err := st.DB().ExecContext(ctx, `UPDATE subscriptions SET local_zone = $1, local_hour = 0 WHERE id % $2 = $3`,
			benchZones[k], b.zones, k); err != nil {
			return fmt.Errorf("spread zones: %w", err)
		}
	}
	return nil
}
