package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/telegram"
	"golang.org/x/sync/errgroup"
)

// Run serves: it runs every part (HTTP, scheduler, feed poller, Telegram
// updates, delivery workers) until ctx is cancelled (SIGINT/SIGTERM) or one
// part fails; then it stops them all, the HTTP server gracefully. ready,
// when set, receives the listening address.
func (a *App) Run(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", a.cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http.listen: %w", err)
	}
	var scheds []*digest.Scheduler
	for _, l := range a.letters {
		sched, err := digest.NewScheduler(l.publisher, l.cfg.Schedule, l.cfg.Location, a.log.With(slog.String("newsletter", l.builder.Newsletter)))
		if err != nil {
			ln.Close()
			return fmt.Errorf("newsletter %s: %w", l.builder.Newsletter, err)
		}
		scheds = append(scheds, sched)
	}

	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	part := func(name string, run func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil && ctx.Err() == nil {
				cancel(fmt.Errorf("%s: %w", name, err))
			}
		}()
	}

	part("delivery", a.fanout.Run)
	if a.reports != nil {
		part("bounces", func(ctx context.Context) error { return a.reports.Run(ctx, nil) })
	}
	a.lead.run = a.leaderParts(scheds)
	part("leader", a.lead.Run)

	srv := &http.Server{
		Handler:           a.web,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	part("http", func(ctx context.Context) error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	a.log.Info("digestbot: serving", slog.String("version", a.Version), slog.String("listen", ln.Addr().String()),
		slog.String("database", a.cfg.Database.Driver), slog.Any("newsletters", a.letterSummary()),
		slog.String("instance", instance()))
	if ready != nil {
		ready(ln.Addr().String())
	}

	<-ctx.Done()
	cause := context.Cause(ctx)
	a.log.Info("digestbot: stopping", slog.Any("cause", cause))
	shutdown, done := context.WithTimeout(context.Background(), 30*time.Second)
	defer done()
	if err := srv.Shutdown(shutdown); err != nil {
		a.log.Warn("http: shutdown", slog.Any("err", err))
	}
	wg.Wait()
	if parent.Err() != nil {
		return nil // a signal: a clean stop
	}
	return cause
}

// leaderParts is what only the leading instance runs: the schedule, the
// feed poller, the purge of unconfirmed signups and the Telegram update
// poller (one getUpdates at a time per bot, or Telegram answers 409). The
// first part to fail stops the others and is the error.
func (a *App) leaderParts(scheds []*digest.Scheduler) func(context.Context) error {
	return func(ctx context.Context) error {
		g, ctx := errgroup.WithContext(ctx)
		part := func(name string, run func(context.Context) error) {
			g.Go(func() error {
				if err := run(ctx); err != nil && ctx.Err() == nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				return nil
			})
		}
		for i, sched := range scheds {
			part("scheduler "+a.letters[i].builder.Newsletter, sched.Run)
		}
		poller := &articles.Poller{Store: a.store, Fetcher: a.fetcher, Interval: a.cfg.Ingest.PollInterval.Duration, Log: a.log,
			Observe: a.metrics.FeedPolled}
		part("feeds", poller.Run)
		part("purge", a.purgePending)
		if a.bot != nil {
			if err := a.tg.SetCommands(ctx, a.cfg.Telegram.Admins); err != nil {
				a.log.Warn("telegram: setMyCommands failed", slog.Any("err", err))
			}
			updates := &telegram.Poller{Client: a.tg, State: a.store, Handle: a.bot.HandleUpdate, Log: a.log}
			part("telegram", updates.Run)
		}
		return g.Wait()
	}
}

// SendReport is what SendNow did.
type SendReport struct {
	Empty       bool           // nothing new: no edition today
	Edition     digest.Edition // as it was found or built
	Built       bool           // SendNow built it
	AlreadySent bool           // it was sent before: nothing was done
	Final       delivery.Progress
}

// SendNow publishes today's edition of the newsletter slug ("": the
// default one), building it if needed, and delivers it with this process's
// workers until every batch is done or waits for a retry. notes receives
// progress lines for the operator.
func (a *App) SendNow(ctx context.Context, slug string, notes io.Writer) (SendReport, error) {
	l, err := a.letter(slug)
	if err != nil {
		return SendReport{}, err
	}
	p, err := l.publisher.Publish(ctx, l.publisher.Date(time.Now()))
	if errors.Is(err, digest.ErrEmpty) {
		return SendReport{Empty: true}, nil
	}
	if err != nil {
		return SendReport{}, err
	}
	ed := p.Edition
	r := SendReport{Edition: ed, Built: p.Built}
	if ed.Status == digest.StatusSent {
		r.AlreadySent = true
		return r, nil
	}
	if p.Built {
		fmt.Fprintf(notes, "built edition %s (id %d) with %d items\n", ed.Date, ed.ID, len(ed.Items))
	}

	workers, stop := context.WithCancel(ctx)
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- a.fanout.Run(workers) }()
	if !p.Started {
		// A second send-now after exit 3: run the waiting retries now
		// rather than at their backoff time.
		n, err := a.fanout.RetryNow(ctx, ed.ID)
		if err != nil {
			return r, err
		}
		if n > 0 {
			fmt.Fprintf(notes, "retrying %d waiting batches of edition %s now\n", n, ed.Date)
		}
	}
	r.Final, err = a.fanout.WaitNotify(ctx, ed.ID, func(p delivery.Progress) {
		if p.Held > 0 {
			fmt.Fprintf(notes, "waiting for %d batches held by a stopped process; they are taken over around %s (delivery.rescue_after)\n",
				p.Held, p.HeldUntil.Local().Format(time.TimeOnly))
		}
	})
	stop()
	if rerr := <-runErr; err == nil && rerr != nil && !errors.Is(rerr, context.Canceled) {
		err = rerr
	}
	return r, err
}

// Today is the default newsletter's date now.
func (a *App) Today() string { return a.publisher.Date(time.Now()) }

// letter returns the newsletter slug ("": the default one), or an error
// that lists them.
func (a *App) letter(slug string) (*letter, error) {
	if slug == "" {
		return a.letters[0], nil
	}
	var slugs []string
	for _, l := range a.letters {
		if l.builder.Newsletter == slug {
			return l, nil
		}
		slugs = append(slugs, l.builder.Newsletter)
	}
	return nil, fmt.Errorf("no newsletter %q (the newsletters: %s)", slug, strings.Join(slugs, ", "))
}

// letterSummary is what the serving log line says of the newsletters.
func (a *App) letterSummary() []string {
	var out []string
	for _, l := range a.letters {
		out = append(out, l.builder.Newsletter+" "+l.cfg.Schedule+" "+l.cfg.Timezone)
	}
	return out
}

// PendingTTL is how long a subscription may wait for its double opt-in
// confirmation before serve erases it.
const PendingTTL = 30 * 24 * time.Hour

// purgePending erases the pending subscriptions older than PendingTTL at
// start and every hour: an address that never confirmed is not kept.
func (a *App) purgePending(ctx context.Context) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := a.store.PurgePending(ctx, time.Now().Add(-PendingTTL))
		switch {
		case err != nil && ctx.Err() == nil:
			a.log.WarnContext(ctx, "subscribers: purge of unconfirmed subscriptions failed", slog.Any("error", err))
		case n > 0:
			a.log.InfoContext(ctx, "subscribers: erased unconfirmed subscriptions", slog.Int("n", n), slog.Duration("older_than", PendingTTL))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
