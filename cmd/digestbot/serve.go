package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/digestbot/digestbot/app"
	"github.com/digestbot/digestbot/digest"
)

func cmdServe(ctx context.Context, in *invocation) error {
	return withApp(ctx, in, true, func(a *app.App) error { return a.Run(ctx, in.ready) })
}

// cmdSendNow builds today's edition if needed, delivers it with this
// process's workers and reports the counts. SPEC §4: exit 0 when all was
// delivered or nothing was to do, 3 while messages wait for a retry.
func cmdSendNow(ctx context.Context, in *invocation) error {
	slug := in.fs.String("newsletter", "", "the newsletter's `slug` (default: the first)")
	return withApp(ctx, in, false, func(a *app.App) error {
		r, err := a.SendNow(ctx, *slug, in.stderr)
		if err != nil {
			return err
		}
		switch {
		case r.Empty:
			fmt.Fprintf(in.stdout, "no new headlines for %s: nothing to send\n", a.Today())
			return nil
		case r.AlreadySent:
			fmt.Fprintf(in.stdout, "edition %s (id %d) was already sent\n", r.Edition.Date, r.Edition.ID)
			return nil
		}
		p := r.Final
		fmt.Fprintf(in.stdout, "edition %s (id %d): %s\n", r.Edition.Date, r.Edition.ID, p.Status)
		printStats(in, p.Stats)
		switch {
		case p.Pending > 0:
			next := ""
			if !p.NextRetry.IsZero() {
				next = ", the next at " + p.NextRetry.Local().Format("2006-01-02 15:04 MST")
			}
			return codeError{exitPending, fmt.Errorf("%d messages wait for a retry or for their readers' own delivery hour%s; leave serve running (or run send-now again) to finish them", p.Pending, next)}
		case p.Status == digest.StatusPaused:
			return codeError{exitPending, errors.New("the edition is paused; /resume it to finish")}
		}
		return nil
	})
}

// withApp loads the config, builds the app, runs fn and closes the app.
func withApp(ctx context.Context, in *invocation, serve bool, fn func(*app.App) error) error {
	cfg, err := in.load()
	if err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, in.logger(serve, cfg.Log.Format))
	if err != nil {
		return err
	}
	defer a.Close()
	a.Version = version
	return fn(a)
}

func printStats(in *invocation, stats []digest.DeliveryCount) {
	for _, c := range stats {
		fmt.Fprintf(in.stdout, "  %-9s %-8s %d\n", c.Channel, c.Status, c.N)
	}
}
