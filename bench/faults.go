package main

// The fault suite: `go run ./bench -faults N` sends one edition to N
// readers through the real binary for each fault below and prints one line
// per fault: readers sent to, lost (no message), repeated (messages beyond
// one per reader, or beyond the digest's parts in Telegram), against the
// bound the fault allows. The SMTP server and the fake Bot API run in this
// process; digestbot runs as its own process, as a publisher runs it.
// faults_test.go runs it at a small size in CI.
//
//   - kill -9 of send-now at 10, 30, 50, 70 and 90 % of the send (five
//     stores at once), then send-now again until it exits 0: 0 lost, at
//     most delivery.max_unrecorded (64) repeated each;
//   - the SMTP server down for -down (connections cut, the port refused)
//     after 30 % of the send, then back: 0 lost, repeated at most the
//     messages on the wire when it went (one per connection);
//   - 20 % of DATA answered 451: 0 lost, 0 repeated;
//   - Telegram: a storm of 429s (retry_after 1) after 30 % of the send,
//     10 % of sendMessage answered 500, 2 % of the accepted messages'
//     answers lost: 0 lost, repeated at most the answers lost (the sender
//     cannot know those went: at-least-once).
//
//   - PostgreSQL stopped (fast shutdown) after 30 % of the send and
//     started again after -down: send-now may fail meanwhile with a clear
//     error; run again, 0 lost, at most 64 repeated.
//
//   - the data directory full: the SQLite store on a 64 MiB tmpfs, filled
//     after 30 % of the send: the run ends with a clear error, the database
//     passes SQLite's integrity check, and once space is freed the next run
//     finishes: 0 lost, at most 64 repeated. Skipped where tmpfs cannot be
//     mounted (not root).
//
//   - the data directory read-only: the store's directory bind-mounted
//     read-only (root writes through file modes, so a mount it is) when
//     send-now starts: it exits 1 with the error and sends nothing; the
//     directory made writable again, the next run sends to everyone: 0
//     lost, 0 repeated. (A file system cannot turn read-only under
//     SQLite's open files: the kernel refuses the remount while files are
//     open for writing.) Skipped where it cannot mount.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/subscribers"
	"github.com/digestbot/digestbot/telegram/telegramtest"
)

type faultOptions struct {
	N    int           // readers per fault
	Down time.Duration // how long the SMTP server is down
	Keep bool          // keep the temporary directory
}

// faultResult is one line of the suite.
type faultResult struct {
	name                  string
	readers, sent, lost   int
	repeated, bound, runs int
	took                  time.Duration
	note                  string
	detail                string // printed under the table when the fault failed: what it takes to see why
	hung                  bool   // a run did not end on its own: a failure whatever the counts
}

func (r faultResult) ok() bool { return !r.hung && r.lost == 0 && r.repeated <= r.bound }

// faults runs the suite and writes its table to out; ok is false when a
// fault lost a reader or repeated more than its bound.
func (b *bench) faults(ctx context.Context, o faultOptions, out io.Writer) (ok bool, err error) {
	cleanup, err := b.prepare(o.Keep)
	if err != nil {
		return false, err
	}
	defer cleanup()
	start := time.Now()

	var results []faultResult
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	note := func(r faultResult, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%s: %w", r.name, err)
		}
		results = append(results, r)
	}
	// The kills wait for River's rescue of the killed run's batches (about
	// a minute): all five at once.
	for _, pct := range []int{10, 30, 50, 70, 90} {
		wg.Go(func() {
			r, err := b.faultKill(ctx, o.N, pct)
			note(r, err)
		})
	}
	wg.Go(func() {
		r, err := b.faultPostgres(ctx, o.N, o.Down)
		note(r, err)
		r, err = b.faultDiskFull(ctx, o.N)
		note(r, err)
		r, err = b.faultReadOnly(ctx, o.N)
		note(r, err)
	})
	wg.Go(func() {
		r, err := b.faultSMTPDown(ctx, o.N, o.Down)
		note(r, err)
		r, err = b.faultTempfail(ctx, o.N)
		note(r, err)
		r, err = b.faultTelegram(ctx, o.N)
		note(r, err)
	})
	wg.Wait()
	if firstErr != nil {
		return false, firstErr
	}
	order := map[string]int{}
	for i, n := range []string{"kill -9 at 10%", "kill -9 at 30%", "kill -9 at 50%", "kill -9 at 70%", "kill -9 at 90%",
		"SMTP down for", "SMTP 20% 4xx", "PostgreSQL restarted, down", "data directory full", "data directory read-only", "Telegram 429 storm, 10% 500, 2% replies lost"} {
		order[n] = i
	}
	slices.SortStableFunc(results, func(a, b faultResult) int {
		key := func(name string) int { return order[strings.TrimRight(name, "0123456789mhs. ")] }
		return cmp.Compare(key(a.name), key(b.name))
	})
	fmt.Fprintf(out, "fault suite: %d readers per fault; took %v\n\n", o.N, time.Since(start).Round(time.Second))
	fmt.Fprintln(out, "| fault | readers | sent | lost | repeated | bound | send-now runs | took | verdict |")
	fmt.Fprintln(out, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	ok = true
	for _, r := range results {
		verdict := "ok"
		if !r.ok() {
			verdict, ok = "FAIL", false
		}
		if r.note != "" {
			verdict += " (" + r.note + ")"
		}
		fmt.Fprintf(out, "| %s | %d | %d | %d | %d | %d | %d | %v | %s |\n",
			r.name, r.readers, r.sent, r.lost, r.repeated, r.bound, r.runs, r.took.Round(time.Second), verdict)
	}
	for _, r := range results {
		if !r.ok() && r.detail != "" {
			fmt.Fprintf(out, "\n%s:\n%s\n", r.name, r.detail)
		}
	}
	return ok, nil
}

// faultDelivery is the [delivery] block of the suite: short slices and the
// shortest rescue the config allows, so a killed run's batches are taken
// over within a minute; quick retries.
const faultDelivery = `
[delivery]
retry_backoff = "1s"
slice_time = "2s"
rescue_after = "22s"
`

// telegramDelivery is the Telegram fault's: a reader whose digest has
// begun gets all of it, even after the batch's slice, so a slice has a
// tail of up to max_unrecorded readers × parts / rate (64 × 3 / 30 = 6.4 s,
// longer under a 429 storm) that must end before the job's deadline
// (halfway to rescue_after) — faultDelivery's 12 s is too short for it.
const telegramDelivery = `
[delivery]
retry_backoff = "1s"
slice_time = "5s"
rescue_after = "65s"
`

// faultSetup makes a store of n email readers and the fixture articles in
// its own directory, and a config for srv.
func (b *bench) faultSetup(name string, n int, srv *faultSMTP, extra string) (cfg string, err error) {
	return b.faultSetupDB(name, n, srv, extra, "sqlite", "")
}

// faultSetupDB is faultSetup on driver and dsn ("": a SQLite file in the
// directory).
func (b *bench) faultSetupDB(name string, n int, srv *faultSMTP, extra, driver, dsn string) (cfg string, err error) {
	dir := filepath.Join(b.dir, strings.NewReplacer(" ", "-", "%", "pct", ",", "").Replace(name))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if dsn == "" {
		dsn = filepath.Join(dir, "digestbot.db")
	}
	host, port := "", 0
	if srv != nil {
		host, port = "127.0.0.1", srv.port
	}
	cfg = filepath.Join(dir, "config.toml")
	delivery := faultDelivery
	if strings.Contains(extra, "[telegram]") {
		delivery = telegramDelivery
	}
	text := config(driver, dsn, dir, "0 6 * * *", host, port, 4) + delivery + extra
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		return "", err
	}
	return cfg, b.seed(dir, cfg, n)
}

// sendNow runs send-now on cfg; with kill, it is killed with SIGKILL when
// kill returns true (polled every 2 ms). code is the exit code, -9 when
// killed.
func (b *bench) sendNow(ctx context.Context, cfg string, kill func() bool) (code int, out string, err error) {
	cmd := exec.CommandContext(ctx, b.bin, "send-now", "--config", cfg)
	cmd.Env = append(os.Environ(), "DIGESTBOT_LOG_LEVEL=info", "DIGESTBOT_LOG_FORMAT=text") // what logDigest reads when a fault fails
	var buf strings.Builder
	var bmu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) {
		bmu.Lock()
		defer bmu.Unlock()
		return buf.Write(p)
	})
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		return 0, "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if kill != nil {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
	poll:
		for {
			select {
			case err := <-exited:
				exited <- err
				break poll
			case <-t.C:
				if kill() {
					_ = cmd.Process.Signal(syscall.SIGKILL)
					break poll
				}
			}
		}
	}
	werr := <-exited
	bmu.Lock()
	out = buf.String()
	bmu.Unlock()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		return -9, out, nil
	}
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		return 0, out, werr
	}
	return cmd.ProcessState.ExitCode(), out, nil
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// finish runs send-now until it exits 0 (3: messages wait for a retry, run
// it again), at most 4 times; it returns how many runs it took. anyExit
// runs it again after any failure (the database was away).
func (b *bench) finish(ctx context.Context, cfg string, anyExit bool) (int, error) {
	for run := 1; ; run++ {
		code, out, err := b.sendNow(ctx, cfg, nil)
		if err != nil {
			return run, err
		}
		// The run's output stays beside its config (-keep shows it).
		_ = os.WriteFile(filepath.Join(filepath.Dir(cfg), fmt.Sprintf("send-now-%d.log", run)), []byte(out), 0o644)
		if code == 0 {
			return run, nil
		}
		if (code != 3 && !anyExit) || run == 4 {
			return run, fmt.Errorf("send-now exited %d:\n%s", code, lastLines(out, 15))
		}
	}
}

// tally fills sent, lost and repeated from per-reader message counts
// (parts: messages one reader should get).
func tally(r *faultResult, counts map[string]int, readers []string, parts int) {
	r.readers = len(readers)
	for _, a := range readers {
		switch n := counts[a]; {
		case n == 0:
			r.lost++
		default:
			r.sent++
			r.repeated += max(0, n-parts)
			if n < parts {
				r.lost++ // part of the digest missing
			}
		}
	}
}

// partPatterns tells how the readers who got more or fewer than parts
// messages got them: each message by its part number (1 2 3 1 2 3 is the
// whole digest twice, 1 1 2 3 the first part retried after a lost answer),
// the patterns by how many readers got each.
func partPatterns(got map[string][]telegramtest.Message, parts int) string {
	part := map[string]int{} // text → part number, from a reader who got exactly parts
	for _, ms := range got {
		if len(ms) == parts {
			for i, m := range ms {
				part[m.Text] = i + 1
			}
			break
		}
	}
	n := map[string]int{}
	for _, ms := range got {
		if len(ms) == parts {
			continue
		}
		seq := make([]string, len(ms))
		for i, m := range ms {
			seq[i] = strconv.Itoa(part[m.Text]) // 0: a text no full reader got
		}
		n[strings.Join(seq, " ")]++
	}
	keys := slices.Sorted(maps.Keys(n))
	var b strings.Builder
	b.WriteString("parts received, by readers who got other than " + strconv.Itoa(parts) + ":\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-20s × %d\n", k, n[k])
	}
	return b.String()
}

// logDigest is the log of the send-now runs in dir (info and above: the
// suite runs them with DIGESTBOT_LOG_LEVEL=info), lines that repeat
// counted once with their number.
func logDigest(dir string) string {
	files, _ := filepath.Glob(filepath.Join(dir, "send-now-*.log"))
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		seen := map[string]int{}
		var order []string
		for line := range strings.Lines(string(data)) {
			if !strings.Contains(line, "level=") || strings.Contains(line, "level=DEBUG") {
				continue
			}
			msg := line
			if i := strings.Index(line, " level="); i >= 0 {
				msg = line[i+1:] // without the time, so that repeats meet
			}
			msg = strings.TrimSpace(msg)
			if seen[msg] == 0 {
				order = append(order, msg)
			}
			seen[msg]++
		}
		fmt.Fprintf(&b, "%s: %d distinct log lines\n", filepath.Base(f), len(order))
		for i, m := range order {
			if i == 60 {
				fmt.Fprintf(&b, "  … %d more\n", len(order)-i)
				break
			}
			fmt.Fprintf(&b, "  %s (×%d)\n", m, seen[m])
		}
	}
	return b.String()
}

func emailReaders(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("reader%07d@bench.example", i)
	}
	return out
}

func (b *bench) faultKill(ctx context.Context, n, pct int) (faultResult, error) {
	r := faultResult{name: fmt.Sprintf("kill -9 at %d%%", pct), bound: 64}
	srv, err := startFaultSMTP()
	if err != nil {
		return r, err
	}
	defer srv.close()
	cfg, err := b.faultSetup(r.name, n, srv, "")
	if err != nil {
		return r, err
	}
	t0 := time.Now()
	at := int64(n * pct / 100)
	code, out, err := b.sendNow(ctx, cfg, func() bool { return srv.total() >= at })
	if err != nil {
		return r, err
	}
	if code != -9 {
		r.note = fmt.Sprintf("send-now ended (exit %d) before the kill", code)
		if code != 0 {
			return r, fmt.Errorf("send-now exited %d before the kill:\n%s", code, lastLines(out, 15))
		}
	}
	runs, err := b.finish(ctx, cfg, false)
	r.runs, r.took = runs+1, time.Since(t0)
	if err != nil {
		return r, err
	}
	tally(&r, srv.counts(), emailReaders(n), 1)
	return r, nil
}

func (b *bench) faultSMTPDown(ctx context.Context, n int, down time.Duration) (faultResult, error) {
	r := faultResult{name: fmt.Sprintf("SMTP down for %v", down), bound: 4} // one per connection
	srv, err := startFaultSMTP()
	if err != nil {
		return r, err
	}
	defer srv.close()
	cfg, err := b.faultSetup("smtp-down", n, srv, "")
	if err != nil {
		return r, err
	}
	t0 := time.Now()
	at := int64(n * 30 / 100)
	var once sync.Once
	srv.setOnAccept(func(total int64) {
		if total >= at {
			once.Do(func() {
				go func() {
					srv.down()
					time.Sleep(down)
					if err := srv.up(); err != nil {
						fmt.Fprintln(os.Stderr, "bench: SMTP server back up:", err)
					}
				}()
			})
		}
	})
	runs, err := b.finish(ctx, cfg, false)
	r.runs, r.took = runs, time.Since(t0)
	if err != nil {
		return r, err
	}
	tally(&r, srv.counts(), emailReaders(n), 1)
	return r, nil
}

func (b *bench) faultTempfail(ctx context.Context, n int) (faultResult, error) {
	r := faultResult{name: "SMTP 20% 4xx"}
	srv, err := startFaultSMTP()
	if err != nil {
		return r, err
	}
	defer srv.close()
	srv.tempfail = 0.2
	cfg, err := b.faultSetup("smtp-4xx", n, srv, "")
	if err != nil {
		return r, err
	}
	t0 := time.Now()
	runs, err := b.finish(ctx, cfg, false)
	r.runs, r.took = runs, time.Since(t0)
	if err != nil {
		return r, err
	}
	tally(&r, srv.counts(), emailReaders(n), 1)
	r.note = fmt.Sprintf("%d answered 451", srv.failed())
	return r, nil
}

func (b *bench) faultTelegram(ctx context.Context, n int) (faultResult, error) {
	r := faultResult{name: "Telegram 429 storm, 10% 500, 2% replies lost"}
	tg := telegramtest.NewServer(telegramtest.Options{AllChatsKnown: true, FailRate: 0.1, LoseReplyRate: 0.02})
	defer tg.Close()
	extra := fmt.Sprintf("\n[telegram]\ntoken = %q\napi_endpoint = %q\nrate_per_second = 30\n", tg.Token(), tg.Endpoint())
	cfg, err := b.faultSetup("telegram", 0, nil, extra)
	if err != nil {
		return r, err
	}
	// Telegram readers straight into the store: the CSV import is email's.
	dbPath := filepath.Join(filepath.Dir(cfg), "digestbot.db")
	st, err := store.Open(ctx, store.SQLite, dbPath, nil)
	if err != nil {
		return r, err
	}
	subs := make([]subscribers.Subscription, n)
	chats := make([]string, n)
	now := time.Now().UTC()
	for i := range subs {
		chats[i] = strconv.Itoa(2_000_000_000 + i)
		subs[i] = subscribers.Subscription{Channel: subscribers.Telegram, Address: chats[i], Status: subscribers.Active,
			Source: subscribers.SourceImport, CreatedAt: now, ConfirmedAt: now}
	}
	_, err = st.CreateSubscriptions(ctx, subs)
	st.Close()
	if err != nil {
		return r, err
	}
	// The storm: 20 answers of 429 retry_after 1 once 30 % are sent.
	stormAt := int64(n * 30 / 100)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if tg.Stats().Sent >= stormAt {
				fs := make([]telegramtest.Failure, 20)
				for i := range fs {
					fs[i] = telegramtest.Failure{Status: 429, Description: "Too Many Requests: retry after 1", RetryAfter: 1}
				}
				tg.FailNext("sendMessage", fs...)
				return
			}
		}
	}()
	t0 := time.Now()
	runs, err := b.finish(ctx, cfg, false)
	r.runs, r.took = runs, time.Since(t0)
	if err != nil {
		return r, err
	}
	counts := make(map[string]int, n)
	freq := map[int]int{}
	got := make(map[string][]telegramtest.Message, n)
	for _, c := range chats {
		id, _ := strconv.ParseInt(c, 10, 64)
		got[c] = tg.Messages(id)
		counts[c] = len(got[c])
		freq[counts[c]]++
	}
	// The digest's parts: what most readers got (a lost answer adds one
	// to a reader, a lost part would take one away).
	parts := 0
	for k, v := range freq {
		if k > 0 && (parts == 0 || v > freq[parts]) {
			parts = k
		}
	}
	tally(&r, counts, chats, parts)
	stats := tg.Stats()
	r.bound = int(stats.LostReplies)
	r.note = fmt.Sprintf("%d-part digest; 20 × 429 injected, %d × 500, %d answers lost", parts, stats.Injected, stats.LostReplies)
	if !r.ok() {
		r.detail = partPatterns(got, parts) + "\n" + logDigest(filepath.Dir(cfg))
	}
	return r, nil
}

// faultPostgres restarts PostgreSQL (down for down) after 30 % of the
// send. send-now may fail while the database is away (a clear error); run
// again, it finishes the edition.
func (b *bench) faultPostgres(ctx context.Context, n int, down time.Duration) (faultResult, error) {
	r := faultResult{name: fmt.Sprintf("PostgreSQL restarted, down %v", down), bound: 64}
	pg, err := storetest.StartServer()
	if errors.Is(err, storetest.ErrNoPostgres) {
		r.note = "skipped: " + err.Error()
		return r, nil
	}
	if err != nil {
		return r, err
	}
	defer pg.Stop()
	dsn, err := pg.CreateDatabase(ctx)
	if err != nil {
		return r, err
	}
	srv, err := startFaultSMTP()
	if err != nil {
		return r, err
	}
	defer srv.close()
	cfg, err := b.faultSetupDB("postgres-restart", n, srv, "", "postgres", dsn)
	if err != nil {
		return r, err
	}
	at := int64(n * 30 / 100)
	var once sync.Once
	restarted := make(chan error, 1)
	srv.setOnAccept(func(total int64) {
		if total >= at {
			once.Do(func() { go func() { restarted <- pg.Restart(down) }() })
		}
	})
	t0 := time.Now()
	runs, err := b.finish(ctx, cfg, true)
	r.runs, r.took = runs, time.Since(t0)
	if err != nil {
		return r, err
	}
	select {
	case err := <-restarted:
		if err != nil {
			return r, err
		}
	default:
		r.note = "the send ended before the restart"
	}
	tally(&r, srv.counts(), emailReaders(n), 1)
	return r, nil
}

// faultDiskFull puts the store on a 64 MiB tmpfs and fills it after 30 %
// of the send; the run must end with a clear error, the database must
// pass SQLite's integrity check, and once space is freed the next run
// finishes the edition.
func (b *bench) faultDiskFull(ctx context.Context, n int) (faultResult, error) {
	r := faultResult{name: "data directory full", bound: 64}
	mnt := filepath.Join(b.dir, "full-mnt")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		return r, err
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", mnt).CombinedOutput(); err != nil {
		r.note = "skipped: cannot mount a tmpfs: " + strings.TrimSpace(string(out))
		return r, nil
	}
	defer exec.Command("umount", "-l", mnt).Run()
	srv, err := startFaultSMTP()
	if err != nil {
		return r, err
	}
	defer srv.close()
	dbPath := filepath.Join(mnt, "digestbot.db")
	cfg, err := b.faultSetupDB("disk-full", n, srv, "", "sqlite", dbPath)
	if err != nil {
		return r, err
	}
	filler := filepath.Join(mnt, "filler")
	at := int64(n * 30 / 100)
	var once sync.Once
	srv.setOnAccept(func(total int64) {
		if total >= at {
			once.Do(func() { fill(filler) })
		}
	})
	t0 := time.Now()
	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	code, out, err := b.sendNow(fctx, cfg, nil)
	timedOut := fctx.Err() != nil
	cancel()
	if err != nil {
		return r, err
	}
	_ = os.WriteFile(filepath.Join(filepath.Dir(cfg), "send-now-full.log"), []byte(out), 0o644)
	switch {
	case timedOut:
		r.note = "the run with the disk full did not end within 2 minutes"
		r.hung = true
	case code == 0:
		r.note = "the send ended before the disk filled"
	default:
		r.note = fmt.Sprintf("full disk: exit %d, %q", code, firstError(out))
	}
	if err := os.Remove(filler); err != nil && !errors.Is(err, os.ErrNotExist) {
		return r, err
	}
	runs, err := b.finish(ctx, cfg, true)
	r.runs, r.took = runs+1, time.Since(t0)
	if err != nil {
		return r, err
	}
	st, err := store.Open(ctx, store.SQLite, dbPath, nil)
	if err != nil {
		return r, err
	}
	var check string
	err = st.DB().QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check)
	st.Close()
	if err != nil || check != "ok" {
		return r, fmt.Errorf("integrity check after the full disk: %q %v", check, err)
	}
	tally(&r, srv.counts(), emailReaders(n), 1)
	r.note += "; integrity ok"
	return r, nil
}

// faultReadOnly runs send-now with the store's directory mounted
// read-only, then writable again.
func (b *bench) faultReadOnly(ctx context.Context, n int) (faultResult, error) {
	r := faultResult{name: "data directory read-only", bound: 0}
	srv, err := startFaultSMTP()
	if err != nil {
		return r, err
	}
	defer srv.close()
	data := filepath.Join(b.dir, "ro-data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return r, err
	}
	cfg, err := b.faultSetupDB("read-only", n, srv, "", "sqlite", filepath.Join(data, "digestbot.db"))
	if err != nil {
		return r, err
	}
	// The same directory, through a read-only bind mount: the config of
	// the failing run points there.
	ro := filepath.Join(b.dir, "ro-mnt")
	if err := os.MkdirAll(ro, 0o755); err != nil {
		return r, err
	}
	if out, err := exec.Command("mount", "--bind", data, ro).CombinedOutput(); err != nil {
		r.note = "skipped: cannot bind-mount: " + strings.TrimSpace(string(out))
		return r, nil
	}
	defer exec.Command("umount", "-l", ro).Run()
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", ro).CombinedOutput(); err != nil {
		r.note = "skipped: cannot remount read-only: " + strings.TrimSpace(string(out))
		return r, nil
	}
	text, err := os.ReadFile(cfg)
	if err != nil {
		return r, err
	}
	roCfg := filepath.Join(filepath.Dir(cfg), "config-ro.toml")
	if err := os.WriteFile(roCfg, []byte(strings.ReplaceAll(string(text), data, ro)), 0o644); err != nil {
		return r, err
	}
	t0 := time.Now()
	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	code, out, err := b.sendNow(fctx, roCfg, nil)
	timedOut := fctx.Err() != nil
	cancel()
	if err != nil {
		return r, err
	}
	_ = os.WriteFile(filepath.Join(filepath.Dir(cfg), "send-now-ro.log"), []byte(out), 0o644)
	switch {
	case timedOut:
		r.note, r.hung = "the run on the read-only directory did not end within 2 minutes", true
	case code == 0:
		r.note, r.hung = "send-now exited 0 on a read-only directory", true
	default:
		r.note = fmt.Sprintf("read-only: exit %d, %q, %d sent", code, firstError(out), srv.total())
	}
	runs, err := b.finish(ctx, cfg, true)
	r.runs, r.took = runs+1, time.Since(t0)
	if err != nil {
		return r, err
	}
	tally(&r, srv.counts(), emailReaders(n), 1)
	return r, nil
}

// fill writes path until the file system is full.
func fill(path string) {
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			return
		}
	}
}

// firstError is the command's own error line ("digestbot: …"), else the
// first line of out that says error, shortened.
func firstError(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "digestbot: ") {
			return l
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(strings.ToLower(l), "error") || strings.Contains(l, "full") {
			if len(l) > 160 {
				l = l[:160] + "…"
			}
			return l
		}
	}
	return lastLines(out, 1)
}

// faultSMTP is an SMTP server (emersion/go-smtp) that counts the messages
// of each recipient and can be taken down, or refuse a share of DATA.
type faultSMTP struct {
	port     int
	tempfail float64
	onAccept func(total int64)

	mu      sync.Mutex
	srv     *gosmtp.Server
	perRcpt map[string]int
	n       int64
	refused int64
	rnd     *rand.Rand
}

func startFaultSMTP() (*faultSMTP, error) {
	s := &faultSMTP{perRcpt: map[string]int{}, rnd: rand.New(rand.NewPCG(3, 4))}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	s.serve(ln)
	return s, nil
}

func (s *faultSMTP) serve(ln net.Listener) {
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) {
		return &faultSession{s: s}, nil
	}))
	srv.Domain = "mx.bench.example"
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	srv.MaxMessageBytes = 4 << 20
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// down closes the listener and every connection: the port refuses.
func (s *faultSMTP) down() {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	_ = srv.Close()
}

// up listens on the same port again.
func (s *faultSMTP) up() error {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)))
	if err != nil {
		return err
	}
	s.serve(ln)
	return nil
}

func (s *faultSMTP) close() { s.down() }

func (s *faultSMTP) setOnAccept(f func(total int64)) {
	s.mu.Lock()
	s.onAccept = f
	s.mu.Unlock()
}

func (s *faultSMTP) total() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func (s *faultSMTP) failed() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

func (s *faultSMTP) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.perRcpt)
}

type faultSession struct {
	s  *faultSMTP
	to []string
}

func (fs *faultSession) Mail(string, *gosmtp.MailOptions) error { return nil }

func (fs *faultSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	fs.to = append(fs.to, strings.ToLower(to))
	return nil
}

func (fs *faultSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s := fs.s
	s.mu.Lock()
	if s.tempfail > 0 && s.rnd.Float64() < s.tempfail {
		s.refused++
		s.mu.Unlock()
		return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	for _, a := range fs.to {
		s.perRcpt[a]++
	}
	s.n++
	total, hook := s.n, s.onAccept
	s.mu.Unlock()
	if hook != nil {
		hook(total)
	}
	return nil
}

func (fs *faultSession) Reset()        { fs.to = nil }
func (fs *faultSession) Logout() error { return nil }
