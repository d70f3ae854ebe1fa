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
	"strings"
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
	startParse := time.Now()
	parsed, err := articles.ParseFeed(data, articles.Feed{}, now)
	if err != nil {
		return err
	}
	tookParse := time.Since(startParse)
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
	start := time.Now()
	stored, err := im.Import(ctx, feedPath, articles.ImportOptions{})
	if err != nil {
		return err
	}
	took := time.Since(start)
	count, err := st.CountArticles(ctx)
	if err != nil {
		return err
	}
	if len(stored) != *n || count != *n {
		return fmt.Errorf("stored %d (store counts %d), want %d", len(stored), count, *n)
	}

	// A second import of the same file: every item found, none created.
	start2 := time.Now()
	if _, err := im.Import(ctx, feedPath, articles.ImportOptions{}); err != nil {
		return err
	}
	took2 := time.Since(start2)
	if count2, err := st.CountArticles(ctx); err != nil || count2 != *n {
		return fmt.Errorf("re-import changed the count to %d (%v)", count2, err)
	}

	hwm, err := peakRSS()
	if err != nil {
		return err
	}
	fmt.Printf("items:           %d (feed %.1f MB)\n", *n, float64(info.Size())/1e6)
	fmt.Printf("parse+clean:     %s, %.0f items/s (no store)\n", tookParse.Round(time.Millisecond), float64(*n)/tookParse.Seconds())
	fmt.Printf("import:          %s, %.0f items/s\n", took.Round(time.Millisecond), float64(*n)/took.Seconds())
	fmt.Printf("re-import:       %s, %.0f items/s (all updates in place)\n", took2.Round(time.Millisecond), float64(*n)/took2.Seconds())
	fmt.Printf("peak RSS:        %s\n", hwm)
	if *keep {
		fmt.Printf("kept:            %s\n", work)
	}
	return nil
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
