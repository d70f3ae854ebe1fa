package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/digestbot/digestbot/store"
)

// leaderRetry is how often an instance that does not lead tries to take the
// lead, and how often the leader checks that its lease still holds. A
// killed leader's lease ends with its connection, so another instance
// leads within leaderRetry.
const leaderRetry = 5 * time.Second

// errLeaseLost ends the leader's parts when its lease stopped holding.
var errLeaseLost = errors.New("leadership lost")

// leader runs the parts only one instance may run (polling feeds and
// Telegram updates, firing the schedule, purging) while this instance holds
// the store's lease (store.TryLead), and waits to take it over otherwise.
// The parts stop before the lease is released, so two instances never run
// them at once; a part's own failure ends leader with that error, as any
// part's does in Run.
type leader struct {
	a       *App
	run     func(context.Context) error
	leading atomic.Bool
}

func (l *leader) Run(ctx context.Context) error {
	log := l.a.log
	waiting := false
	for {
		lease, err := l.a.store.TryLead(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.WarnContext(ctx, "leader: cannot reach the lease", slog.Any("error", err))
		case lease != nil:
			waiting = false
			log.InfoContext(ctx, "leader: this instance leads (feeds, schedule, Telegram updates)", slog.String("instance", instance()))
			l.leading.Store(true)
			err := l.hold(ctx, lease)
			l.leading.Store(false)
			lease.Release()
			if err != nil {
				return err
			}
			if ctx.Err() == nil {
				log.WarnContext(ctx, "leader: lease lost; this instance follows")
			}
		case !waiting && ctx.Err() == nil:
			waiting = true
			log.InfoContext(ctx, "leader: another instance leads; this one sends and serves HTTP", slog.Duration("retry", leaderRetry))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(leaderRetry):
		}
	}
}

// hold runs the parts under lease until ctx ends, the lease stops holding
// (nil: follow again) or a part fails (its error).
func (l *leader) hold(ctx context.Context, lease *store.Lease) error {
	pctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	done := make(chan error, 1)
	go func() { done <- l.run(pctx) }()
	t := time.NewTicker(leaderRetry)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			if ctx.Err() != nil || errors.Is(context.Cause(pctx), errLeaseLost) {
				return nil
			}
			if err == nil {
				err = errors.New("leader parts ended")
			}
			return err
		case <-t.C:
			if err := lease.Check(ctx); err != nil && ctx.Err() == nil {
				l.a.log.WarnContext(ctx, "leader: lease check failed, stopping the leader's parts", slog.Any("error", err))
				stop(fmt.Errorf("%w: %w", errLeaseLost, err))
				<-done
				return nil
			}
		}
	}
}

// Leading reports whether this instance leads now.
func (l *leader) Leading() bool { return l.leading.Load() }
