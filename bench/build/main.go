// Command build measures building an edition over a large store: it fills a
// SQLite database with a year of articles (1,000,000 by default, a few
// thousand a day, stories told by several outlets), closes and reopens it,
// then times Builder.Preview and Builder.Build and prints the median.
//
//	go run ./bench/build                       # fill /tmp/digestbot-bench.db once, then measure
//	go run ./bench/build -db /path/b.db -runs 15
//	go run ./bench/build -fill                 # refill from scratch
//
// The database is kept between runs (filling takes minutes); each run builds
// its editions under a newsletter key of its own, so reruns measure real
// builds, not lookups of editions a previous run stored.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/store"
)

func main() {
	var (
		dbPath  = flag.String("db", os.TempDir()+"/digestbot-bench.db", "SQLite database file")
		total   = flag.Int("n", 1_000_000, "articles to store")
		days    = flag.Int("days", 365, "days of ingestion the articles span")
		outlets = flag.Int("outlets", 40, "feeds (outlets)")
		runs    = flag.Int("runs", 9, "timed runs of each measure")
		fill    = flag.Bool("fill", false, "refill the database even if it exists")
		profile = flag.String("cpuprofile", "", "write a CPU profile of the timed runs to this file")
	)
	flag.Parse()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench/build:", err)
			os.Exit(1)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench/build:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(context.Background(), *dbPath, *total, *days, *outlets, *runs, *fill); err != nil {
		fmt.Fprintln(os.Stderr, "bench/build:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(ctx context.Context, dbPath string, total, days, outlets, runs int, fill bool) error {
	// The last ingestion time of the generated year; the builder's clock
	// stands there.
	end := time.Date(2026, 6, 30, 6, 0, 0, 0, time.UTC)
	if _, err := os.Stat(dbPath); fill || errors.Is(err, os.ErrNotExist) {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(dbPath + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		if err := fillStore(ctx, dbPath, end, total, days, outlets); err != nil {
			return fmt.Errorf("fill: %w", err)
		}
	}

	// Reopen: the measures below are "after the first open", as a restarted
	// server would see them.
	openStart := time.Now()
	s, err := store.Open(ctx, store.SQLite, dbPath, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	n, err := s.CountArticles(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("store: %s, %d articles, opened in %v\n", dbPath, n, time.Since(openStart).Round(time.Millisecond))

	clock := end
	b := digest.NewBuilder(s, digest.Options{
		Newsletter: fmt.Sprintf("bench-%d", time.Now().UnixNano()),
		Title:      "Daily Headlines",
		Location:   time.UTC,
		Sections:   []string{"world", "us", "business", "tech", "military"},
		MaxItems:   25,
		MaxAge:     digest.DefaultMaxAge,
		SkipEmpty:  true,
	}, slog.New(slog.DiscardHandler))
	b.Now = func() time.Time { return clock }

	// The first query after opening pays for cold pages; report it apart.
	t0 := time.Now()
	first, err := b.Preview(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("first Preview after open: %v (%d items)\n", time.Since(t0).Round(10*time.Microsecond), len(first.Items))

	var preview, previewCPU, sel, clusterRank []time.Duration
	var window int
	for range runs {
		t, c := time.Now(), cpuTime()
		if _, err := b.Preview(ctx); err != nil {
			return err
		}
		preview = append(preview, time.Since(t))
		previewCPU = append(previewCPU, cpuTime()-c)

		// The two halves of a preview: the query, and clustering + ranking.
		t = time.Now()
		as, err := s.SelectArticles(ctx, clock.Add(-24*time.Hour), clock, digest.DefaultSelectLimit)
		if err != nil {
			return err
		}
		sel = append(sel, time.Since(t))
		window = len(as)
		t = time.Now()
		digest.Rank(as, digest.RankOptions{Sections: b.Sections, MaxItems: b.MaxItems, Now: clock})
		clusterRank = append(clusterRank, time.Since(t))
	}

	// Build stores an edition per date: walk back one day per run so each
	// build covers a fresh 24-hour window, oldest first.
	var build []time.Duration
	var items int
	for i := runs; i > 0; i-- {
		clock = end.AddDate(0, 0, -i)
		t := time.Now()
		e, created, err := b.Build(ctx, b.Date(clock))
		if err != nil {
			return err
		}
		build = append(build, time.Since(t))
		if !created {
			return fmt.Errorf("edition of %s already existed", e.Date)
		}
		items = len(e.Items)
	}

	fmt.Printf("window: %d articles in the last 24 h\n", window)
	fmt.Printf("Preview:           median %v  (min %v, max %v, %d runs; CPU time median %v)\n",
		median(preview), slices.Min(preview).Round(10*time.Microsecond), slices.Max(preview).Round(10*time.Microsecond), runs, median(previewCPU))
	fmt.Printf("  SelectArticles:  median %v\n", median(sel))
	fmt.Printf("  Cluster + Rank:  median %v\n", median(clusterRank))
	fmt.Printf("Build (stored):    median %v  (min %v, max %v, %d runs, %d items)\n",
		median(build), slices.Min(build).Round(10*time.Microsecond), slices.Max(build).Round(10*time.Microsecond), runs, items)
	return nil
}

// cpuTime is the process's user and system CPU time: on a shared machine
// it says what a build costs when wall time also counts waiting for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2].Round(10 * time.Microsecond)
}

// fillStore writes total articles spread over days of ingestion, in chunks.
func fillStore(ctx context.Context, dbPath string, end time.Time, total, days, outlets int) error {
	s, err := store.Open(ctx, store.SQLite, dbPath, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		return err
	}
	sections := []string{"world", "us", "business", "tech", "military", "sports"}
	feeds := make([]articles.Feed, outlets)
	for i := range feeds {
		f, err := s.UpsertFeed(ctx, articles.Feed{
			URL:     fmt.Sprintf("https://outlet%d.example/feed.xml", i),
			Name:    fmt.Sprintf("Outlet %d News", i),
			Section: sections[i%len(sections)],
			Weight:  1 + float64(i%3)/2,
		})
		if err != nil {
			return err
		}
		feeds[i] = f
	}

	g := newGenerator(1)
	start := end.AddDate(0, 0, -days)
	step := end.Sub(start) / time.Duration(total)
	const chunk = 5000
	batch := make([]articles.Article, 0, chunk)
	began := time.Now()
	for i := 0; i < total; {
		// One story, told by one to six outlets within a few hours.
		size := min(1+g.r.IntN(6), total-i)
		title, lead, names := g.story()
		for k := range size {
			f := feeds[g.r.IntN(len(feeds))]
			at := start.Add(step * time.Duration(i))
			pub := at.Add(-time.Duration(g.r.IntN(180)) * time.Minute)
			batch = append(batch, articles.Article{
				URL:         fmt.Sprintf("https://outlet%d.example/%d", f.ID, i),
				GUID:        fmt.Sprintf("g-%d", i),
				FeedID:      f.ID,
				Source:      f.Name,
				Title:       g.retell(title, names),
				Lead:        g.retell(lead, names),
				Section:     f.Section,
				PublishedAt: pub,
				IngestedAt:  at,
				ContentHash: fmt.Sprintf("h-%d-%d", i, k),
			})
			i++
			if len(batch) == chunk {
				if _, _, err := s.UpsertArticles(ctx, batch); err != nil {
					return err
				}
				batch = batch[:0]
				if i%100_000 == 0 {
					fmt.Printf("filled %d articles in %v\n", i, time.Since(began).Round(time.Second))
				}
			}
		}
	}
	if len(batch) > 0 {
		if _, _, err := s.UpsertArticles(ctx, batch); err != nil {
			return err
		}
	}
	fmt.Printf("filled %d articles in %v\n", total, time.Since(began).Round(time.Second))
	return nil
}

// generator writes English-shaped headlines and leads: function words at
// their real frequency, a long Zipf tail of other words, and each story's
// own names, so that clustering sees the vocabulary of a real window.
type generator struct {
	r     *rand.Rand
	zipf  *rand.Zipf
	vocab []string
}

func newGenerator(seed uint64) *generator {
	r := rand.New(rand.NewPCG(seed, seed))
	vocab := strings.Fields(`the of to in and a for on says with as at after by from is over new
		said its will be are was has his their more than about who into up amid could would`)
	for i := len(vocab); i < 30000; i++ {
		vocab = append(vocab, syllables(r, 2+r.IntN(3)))
	}
	return &generator{r: r, zipf: rand.NewZipf(r, 1.07, 3, uint64(len(vocab)-1)), vocab: vocab}
}

func syllables(r *rand.Rand, n int) string {
	const cons, vow = "bcdfghklmnprstvz", "aeiou"
	var b strings.Builder
	for range n {
		b.WriteByte(cons[r.IntN(len(cons))])
		b.WriteByte(vow[r.IntN(len(vow))])
	}
	return b.String()
}

func (g *generator) word() string { return g.vocab[g.zipf.Uint64()] }

func (g *generator) name() string {
	w := syllables(g.r, 2+g.r.IntN(2))
	return strings.ToUpper(w[:1]) + w[1:]
}

// story returns a headline and a lead (as word lists) and its names.
func (g *generator) story() (title, lead, names []string) {
	names = []string{g.name(), g.name(), g.name()}
	title = append(title, names[0])
	for range 7 + g.r.IntN(5) {
		title = append(title, g.word())
	}
	title = append(title, "in", names[2])
	lead = append(lead, names[1])
	for range 30 + g.r.IntN(15) {
		lead = append(lead, g.word())
	}
	lead = append(lead, "said", names[0])
	return title, lead, names
}

// retell rewrites a story's text as another outlet would: most words kept,
// some replaced, the names always kept.
func (g *generator) retell(ws, names []string) string {
	out := make([]string, len(ws))
	for i, w := range ws {
		if !slices.Contains(names, w) && g.r.IntN(3) == 0 {
			w = g.word()
		}
		out[i] = w
	}
	s := strings.Join(out, " ")
	return strings.ToUpper(s[:1]) + s[1:] + "."
}
