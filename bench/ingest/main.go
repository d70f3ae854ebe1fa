// Command ingest measures feed ingestion end to end: it writes a feed file
// of realistic items (about 1 KB of HTML each), imports it through
// articles.Importer into a fresh, migrated SQLite store, and prints the
// throughput and the peak resident memory.
//
//	go run ./bench/ingest            # 10,000 items
//	go run ./bench/ingest -n 50000 -keep
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/articles/articlestest"
	"github.com/digestbot/digestbot/store"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	n := fs.Int("n", 10000, "items in the generated feed")
	dir := fs.String("dir", "", "work directory (default: a new temporary one)")
	keep := fs.Bool("keep", false, "keep the feed file and the database")
	if err := fs.Parse(args); err != nil {
		return err
	}
	work := *dir
	if work == "" {
		d, err := os.MkdirTemp("", "digestbot-ingest-")
		if err != nil {
			return err
		}
		work = d
	}
	if !*keep {
		defer os.RemoveAll(work)
	}

	feedPath := filepath.Join(work, "feed.xml")
	dbPath := filepath.Join(work, "ingest.db")
	now := time.Now().UTC()
	if err := writeFeed(feedPath, *n, now); err != nil {
		return err
	}
	info, err := os.Stat(feedPath)
	if err != nil {
		return err
	}

	// Parse and clean alone, for the share of the store in the total.
	data, err := os.ReadFile(feedPath)
	if err != nil {
		return err
	}
	parse := startPhase()
	parsed, err := articles.ParseFeed(data, articles.Feed{}, now)
	if err != nil {
		return err
	}
	parse.stop()
	if len(parsed) != *n {
		return fmt.Errorf("parsed %d items, want %d", len(parsed), *n)
	}
	data, parsed = nil, nil

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := store.Open(ctx, "sqlite", dbPath, log)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}

	im := &articles.Importer{Store: st, Log: log}
	imp := startPhase()
	stored, err := im.Import(ctx, feedPath, articles.ImportOptions{})
	if err != nil {
		return err
	}
	imp.stop()
	count, err := st.CountArticles(ctx)
	if err != nil {
		return err
	}
	if len(stored) != *n || count != *n {
		return fmt.Errorf("stored %d (store counts %d), want %d", len(stored), count, *n)
	}

	// A second import of the same file: every item found, none created.
	reimp := startPhase()
	if _, err := im.Import(ctx, feedPath, articles.ImportOptions{}); err != nil {
		return err
	}
	reimp.stop()
	if count2, err := st.CountArticles(ctx); err != nil || count2 != *n {
		return fmt.Errorf("re-import changed the count to %d (%v)", count2, err)
	}

	hwm, err := peakRSS()
	if err != nil {
		return err
	}
	fmt.Printf("items: %d (feed file %.1f MB), GOMAXPROCS %d\n", *n, float64(info.Size())/1e6, runtime.GOMAXPROCS(0))
	fmt.Println("phase          wall      items/s   cpu(user+sys)  items/cpu-s")
	parse.print("parse+clean", *n)
	imp.print("import", *n)
	reimp.print("re-import", *n)
	fmt.Printf("peak RSS (VmHWM): %s\n", hwm)
	if *keep {
		fmt.Printf("kept:            %s\n", work)
	}
	return nil
}

// phase measures wall time and the process's CPU time (user+sys, all
// threads: the pure-Go SQLite and the GC included), so the numbers stay
// meaningful on a machine shared with other work.
type phase struct {
	start   time.Time
	cpu0    time.Duration
	wall    time.Duration
	cpuUsed time.Duration
}

func startPhase() *phase { return &phase{start: time.Now(), cpu0: cpuTime()} }

func (p *phase) stop() {
	p.wall = time.Since(p.start)
	p.cpuUsed = cpuTime() - p.cpu0
}

func (p *phase) print(name string, n int) {
	fmt.Printf("%-12s %7.3fs %10.0f %12.3fs %12.0f\n", name, p.wall.Seconds(), float64(n)/p.wall.Seconds(),
		p.cpuUsed.Seconds(), float64(n)/p.cpuUsed.Seconds())
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func writeFeed(path string, n int, now time.Time) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := articlestest.WriteRSS(f, n, now); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// peakRSS reads VmHWM, the process's peak resident set size (Linux).
func peakRSS() (string, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "", fmt.Errorf("peak RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("peak RSS: no VmHWM in /proc/self/status")
}
