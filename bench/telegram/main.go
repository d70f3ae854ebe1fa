// Command telegram benchmarks Telegram delivery: N subscribers (default
// 3,000) in a real temporary SQLite store, one edition delivered through
// the fan-out (River jobs, delivery records) and the Telegram sender to the
// fake Bot API (telegram/telegramtest), which enforces Telegram's limits.
//
// Two runs by default:
//
//   - the fake's broadcast limit at 30/s, the sender at rate_per_second 30:
//     sustained rate ≥ 28.5/s (95 %), zero 429s, zero lost;
//   - the limit at 1000/s with paid broadcast on (allow_paid_broadcast):
//     sustained rate ≥ 900/s, zero 429s, zero lost.
//
// "Sustained" is messages over the time between the first and the last
// message the fake accepted; "lost" counts subscribers without exactly one
// message or without a "sent" delivery record. It exits 1 when a target is
// missed.
//
//	go run ./bench/telegram                 # both runs (about 2 minutes)
//	go run ./bench/telegram -run paid       # only the 1000/s run
//	go run ./bench/telegram -mode sender    # drive the Sender directly, no fan-out
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/subscribers"
	"github.com/digestbot/digestbot/telegram"
	"github.com/digestbot/digestbot/telegram/telegramtest"
)

type run struct {
	name   string
	rate   float64 // the fake's limit and the sender's rate_per_second
	paid   bool
	target float64 // messages per second
	// parts > 1: a long edition, split into that many messages per
	// reader, against a strict fake: at most rate messages in any sliding
	// second, and a chat a burst of 3 then one a second.
	parts int
	subs  int // subscribers of this run (0: -subscribers)
}

func main() {
	n := flag.Int("subscribers", 3000, "Telegram subscribers")
	which := flag.String("run", "all", "free (30/s), paid (1000/s) or all")
	mode := flag.String("mode", "fanout", "fanout: delivery.Fanout with River jobs; sender: call Sender.SendEach with batches directly")
	batch := flag.Int("batch", 200, "subscriptions per batch job")
	workers := flag.Int("workers", 4, "batch jobs at once")
	verbose := flag.Bool("v", false, "log at info level to stderr")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	runs := []run{
		{name: "free", rate: 30, target: 28.5},
		{name: "paid", rate: 1000, paid: true, target: 900},
		{name: "long", rate: 30, target: 28.5, parts: 3, subs: 600},
	}
	ok := true
	for _, r := range runs {
		if *which != "all" && *which != r.name {
			continue
		}
		subs := *n
		if r.subs > 0 {
			subs = r.subs
		}
		res, err := bench(r, subs, *mode, *batch, *workers, log)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench %s: %v\n", r.name, err)
			os.Exit(1)
		}
		pass := res.rate >= r.target && res.tooMany == 0 && res.lost == 0 && res.dups == 0
		ok = ok && pass
		verdict := "PASS"
		if !pass {
			verdict = "FAIL"
		}
		fmt.Printf("%s  %-4s limit %4.0f/s paid=%-5v mode=%s: %d subscribers, %d messages in %.2fs → sustained %.1f/s (target ≥ %.1f), peak %d in 1s, 429s %d, lost %d, duplicates %d, wall %.1fs\n",
			verdict, r.name, r.rate, r.paid, *mode, subs, res.sent, res.span.Seconds(), res.rate, r.target, res.peak, res.tooMany, res.lost, res.dups, res.wall.Seconds())
	}
	if !ok {
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

type result struct {
	sent       int64
	span, wall time.Duration
	rate       float64
	peak       int
	tooMany    int64
	lost, dups int
}

func bench(r run, n int, mode string, batchSize, workers int, log *slog.Logger) (result, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Free run: the broadcast limit at r.rate. Paid run: the free limit
	// stays 30/s and messages with allow_paid_broadcast count at r.rate.
	o := telegramtest.Options{GlobalRate: r.rate, AllChatsKnown: true}
	if r.paid {
		o.GlobalRate, o.PaidRate = 30, r.rate
	}
	parts := max(r.parts, 1)
	if parts > 1 {
		o.SlidingWindow, o.ChatTolerance = true, 2*time.Second
	}
	srv := telegramtest.NewServer(o)
	defer srv.Close()

	dir, err := os.MkdirTemp("", "digestbot-bench-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(ctx, store.SQLite, filepath.Join(dir, "bench.db"), log)
	if err != nil {
		return result{}, err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return result{}, err
	}

	// Subscribers: chat ids 1e9+i, all active.
	subs := make([]subscribers.Subscription, n)
	now := time.Now().UTC()
	for i := range subs {
		subs[i] = subscribers.Subscription{Channel: subscribers.Telegram, Address: strconv.Itoa(1_000_000_000 + i),
			Status: subscribers.Active, Source: subscribers.SourceImport, CreatedAt: now, ConfirmedAt: now}
	}
	if _, err := st.CreateSubscriptions(ctx, subs); err != nil {
		return result{}, err
	}
	items := []digest.Item{
		{ArticleID: 1, Section: "World", Title: "Leaders meet at the spaceport", URL: "https://news.example/a/1", Lead: "Talks ran late into the night.", Source: "Harborview Herald"},
		{ArticleID: 2, Section: "Business", Title: "Markets close higher", URL: "https://news.example/a/2", Lead: "A quiet day, then a rally.", Source: "Pacific Stripes Daily"},
		{ArticleID: 3, Section: "Sport", Title: "Cup final goes to penalties", URL: "https://news.example/a/3", Lead: "Nobody left early.", Source: "Globe News"},
	}
	if parts > 1 {
		items = longEdition(parts)
	}
	ed, _, err := st.CreateEdition(ctx, digest.Edition{Date: now.Format(digest.DateLayout), Title: "Daily Headlines", Status: digest.StatusBuilt, Items: items})
	if err != nil {
		return result{}, err
	}

	client, err := telegram.New(ctx, telegram.Config{Token: srv.Token(), APIEndpoint: srv.Endpoint(), RatePerSecond: r.rate, PaidBroadcast: r.paid, Log: log})
	if err != nil {
		return result{}, err
	}
	sender := telegram.NewSender(client, telegram.SenderOptions{Log: log, Render: digest.RenderOptions{
		Title: "Daily Headlines", BaseURL: "https://news.example", Location: time.UTC, Sections: []string{"World", "Business", "Sport"},
	}})
	if msgs, err := sender.Render(ed, nil); err != nil || len(msgs) != parts {
		return result{}, fmt.Errorf("edition renders to %d messages (%v); the benchmark counts %d per subscriber", len(msgs), err, parts)
	}

	start := time.Now()
	switch mode {
	case "fanout":
		err = viaFanout(ctx, st, sender, ed.ID, batchSize, workers, log)
	case "sender":
		err = viaSender(ctx, st, sender, ed, batchSize, workers)
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		return result{}, err
	}
	wall := time.Since(start)

	if st := client.Limiter().StaleSlots(); st > 0 {
		fmt.Fprintf(os.Stderr, "bench %s: %d slots lost to stalls (%.1fs)\n", r.name, st, float64(st)/r.rate)
	}
	stats := srv.Stats()
	res := result{sent: stats.Sent, span: stats.LastSent.Sub(stats.FirstSent), rate: stats.Rate(), peak: srv.MaxInWindow(time.Second),
		tooMany: stats.TooManyRequests, wall: wall}
	recorded, err := st.RecordedDeliveries(ctx, ed.ID, 0, 1<<62)
	if err != nil {
		return result{}, err
	}
	all, err := st.RecipientsInRange(ctx, subscribers.Telegram, 0, 1<<62)
	if err != nil {
		return result{}, err
	}
	for _, s := range all {
		id, _ := strconv.ParseInt(s.Address, 10, 64)
		got := len(srv.Messages(id))
		switch {
		case got == 0 || recorded[s.ID] != digest.DeliverySent:
			res.lost++
		case got > parts:
			res.dups += got - parts
		case got < parts:
			res.lost++ // part of the digest missing
		}
	}
	res.lost += n - len(all)
	return res, nil
}

// longEdition is an edition whose Telegram digest splits into parts
// messages: as many items as still fit in parts messages.
func longEdition(parts int) []digest.Item {
	sections := []string{"World", "Business", "Sport"}
	lead := "Officials said the plan would be reviewed again next week after objections from residents, " +
		"who asked for more time to study the figures and for a public hearing before any vote."
	messages := func(items []digest.Item) int {
		msgs, err := digest.RenderTelegram(digest.Edition{Title: "Daily Headlines", Items: items},
			digest.RenderOptions{Title: "Daily Headlines", BaseURL: "https://news.example", Location: time.UTC, Sections: sections})
		if err != nil {
			return 0
		}
		return len(msgs)
	}
	var items []digest.Item
	for i := 1; messages(items) <= parts; i++ {
		items = append(items, digest.Item{ArticleID: int64(i), Section: sections[i%3],
			Title: fmt.Sprintf("Story %d: council weighs the harbour plan again", i),
			URL:   fmt.Sprintf("https://news.example/a/%d", i), Lead: lead, Source: "Harborview Herald"})
	}
	return items[:len(items)-1]
}

// viaFanout runs the real fan-out: River jobs on the SQLite store, the
// Telegram sender as the telegram channel, delivery records written as
// results stream in.
func viaFanout(ctx context.Context, st *store.Store, sender *telegram.Sender, editionID int64, batchSize, workers int, log *slog.Logger) error {
	f, err := delivery.NewFanout(st, delivery.FanoutConfig{
		Subscriptions: &subscribers.Service{Store: st},
		Channels: map[subscribers.Channel]delivery.ChannelConfig{
			subscribers.Telegram: {Sender: sender, BatchSize: batchSize, Workers: workers},
		},
		FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond,
		FinishPoll: 200 * time.Millisecond, WaitPoll: 100 * time.Millisecond,
		Logger: log,
	})
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.Run(runCtx) }()
	defer func() {
		stop()
		<-done
	}()
	started, err := f.Start(ctx, editionID)
	if err != nil {
		return err
	}
	if !started {
		return errors.New("edition not started")
	}
	p, err := f.Wait(ctx, editionID)
	if err != nil {
		return err
	}
	if p.Status != digest.StatusSent || p.Pending != 0 {
		return fmt.Errorf("edition %s with %d pending", p.Status, p.Pending)
	}
	return nil
}

// viaSender drives the sender without the fan-out: batches of batchSize,
// workers of them at once, results recorded as the fan-out would.
func viaSender(ctx context.Context, st *store.Store, sender *telegram.Sender, ed digest.Edition, batchSize, workers int) error {
	subs, err := st.RecipientsInRange(ctx, subscribers.Telegram, 0, 1<<62)
	if err != nil {
		return err
	}
	jobs := make(chan []subscribers.Subscription)
	errs := make(chan error, workers)
	for range workers {
		go func() {
			var firstErr error
			for b := range jobs {
				var ds []delivery.Delivery
				err := sender.SendEach(ctx, ed, b, delivery.EmitFunc(func(r delivery.Result) {
					if r.Outcome == delivery.Sent {
						ds = append(ds, delivery.Delivery{EditionID: ed.ID, SubscriptionID: r.SubscriptionID, Status: digest.DeliverySent, Attempts: 1, SentAt: time.Now()})
					}
				}))
				if err == nil {
					err = st.RecordDeliveries(ctx, ds)
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
			}
			errs <- firstErr
		}()
	}
	for i := 0; i < len(subs); i += batchSize {
		jobs <- subs[i:min(i+batchSize, len(subs))]
	}
	close(jobs)
	var err2 error
	for range workers {
		if err := <-errs; err != nil && err2 == nil {
			err2 = err
		}
	}
	return err2
}
