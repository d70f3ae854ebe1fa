package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/telegram"
)

func cmdServe(ctx context.Context, in *invocation) error {
	return withApp(ctx, in, true, func(a *app) error { return a.serve(ctx, in.ready) })
}

func cmdSendNow(ctx context.Context, in *invocation) error {
	return withApp(ctx, in, false, func(a *app) error { return a.sendNow(ctx, in) })
}

// withApp loads the config, builds the app, runs fn and closes the app.
func withApp(ctx context.Context, in *invocation, serve bool, fn func(*app) error) error {
	cfg, err := in.load()
	if err != nil {
		return err
	}
	a, err := newApp(ctx, cfg, in.logger(serve))
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a)
}

// serve runs every part until ctx is cancelled (SIGINT/SIGTERM) or one part
// fails; then it stops them all, the HTTP server gracefully. ready, when
// set, receives the listening address.
func (a *app) serve(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", a.cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http.listen: %w", err)
	}
	sched, err := digest.NewScheduler(a.builder, a.cfg.Newsletter.Schedule, a.cfg.Newsletter.Location, a.log)
	if err != nil {
		ln.Close()
		return err
	}
	sched.OnBuilt = a.startEdition

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
	part("scheduler", sched.Run)
	poller := &articles.Poller{Store: a.store, Fetcher: a.fetcher, Interval: a.cfg.Ingest.PollInterval.Duration, Log: a.log}
	part("feeds", poller.Run)
	if a.bot != nil {
		if err := a.tg.SetCommands(ctx, a.cfg.Telegram.Admins); err != nil {
			a.log.Warn("telegram: setMyCommands failed", slog.Any("err", err))
		}
		updates := &telegram.Poller{Client: a.tg, State: a.store, Handle: a.bot.HandleUpdate, Log: a.log}
		part("telegram", updates.Run)
	}

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
	a.log.Info("digestbot: serving", slog.String("version", version), slog.String("listen", ln.Addr().String()),
		slog.String("database", a.cfg.Database.Driver), slog.String("schedule", a.cfg.Newsletter.Schedule),
		slog.String("timezone", a.cfg.Newsletter.Timezone), slog.String("instance", instance()))
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

// sendNow builds today's edition if needed, delivers it with this process's
// workers and reports the counts. SPEC §4: exit 0 when all was delivered or
// nothing was to do, 3 while messages wait for a retry.
func (a *app) sendNow(ctx context.Context, in *invocation) error {
	date := a.builder.Date(time.Now())
	ed, created, err := a.builder.Build(ctx, date)
	if errors.Is(err, digest.ErrEmpty) {
		fmt.Fprintf(in.stdout, "no new headlines for %s: nothing to send\n", date)
		return nil
	}
	if err != nil {
		return err
	}
	if ed.Status == digest.StatusSent {
		fmt.Fprintf(in.stdout, "edition %s (id %d) was already sent\n", ed.Date, ed.ID)
		printStats(in, nil)
		return nil
	}
	if created {
		fmt.Fprintf(in.stderr, "built edition %s (id %d) with %d items\n", ed.Date, ed.ID, len(ed.Items))
	}

	workers, stop := context.WithCancel(ctx)
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- a.fanout.Run(workers) }()
	started, err := a.fanout.Start(ctx, ed.ID)
	if err != nil {
		return err
	}
	if !started && ed.Status != digest.StatusBuilt {
		// A second send-now after exit 3: run the waiting retries now
		// rather than at their backoff time.
		n, err := a.fanout.RetryNow(ctx, ed.ID)
		if err != nil {
			return err
		}
		if n > 0 {
			fmt.Fprintf(in.stderr, "retrying %d waiting batches of edition %s now\n", n, ed.Date)
		}
	}
	p, err := a.fanout.WaitNotify(ctx, ed.ID, func(p delivery.Progress) {
		if p.Held > 0 {
			fmt.Fprintf(in.stderr, "waiting for %d batches held by a stopped process; they are taken over around %s (delivery.rescue_after)\n",
				p.Held, p.HeldUntil.Local().Format(time.TimeOnly))
		}
	})
	stop()
	if rerr := <-runErr; err == nil && rerr != nil && !errors.Is(rerr, context.Canceled) {
		err = rerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(in.stdout, "edition %s (id %d): %s\n", ed.Date, ed.ID, p.Status)
	printStats(in, p.Stats)
	switch {
	case p.Pending > 0:
		return codeError{exitPending, fmt.Errorf("%d messages wait for a retry; run send-now again or leave serve running to finish them", p.Pending)}
	case p.Status == digest.StatusPaused:
		return codeError{exitPending, errors.New("the edition is paused; /resume it to finish")}
	}
	return nil
}

func printStats(in *invocation, stats []delivery.Count) {
	for _, c := range stats {
		fmt.Fprintf(in.stdout, "  %-9s %-8s %d\n", c.Channel, c.Status, c.N)
	}
}
