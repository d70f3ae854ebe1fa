package digest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Scheduler builds each day's edition on newsletter.schedule, in
// newsletter.timezone, with github.com/robfig/cron/v3.
//
// Daylight saving time. robfig/cron evaluates a spec on instants: a time
// that spring-forward skips (02:30 in America/New_York or Europe/Berlin on
// the March switch) never fires that day, and a time that fall-back repeats
// fires twice. The Scheduler therefore hands cron a WallSchedule, which
// reads the spec on the wall clock the way ISC cron does: a skipped time
// fires at the first instant after the gap (03:00), a repeated time fires
// once, at its first occurrence. Whatever fires, a run builds the edition of
// the newsletter date of its scheduled time, and the store keeps one edition
// per date (Builder.Build), so a double run, a second instance or a restart
// cannot make two.
//
// Catch-up. Run first does what the latest scheduled time of today would
// have done (RunDue): a run missed while the process was down is made up on
// the same date, at start.
type Scheduler struct {
	// Publisher builds the edition of a date unless it exists and starts
	// its delivery while it is still built (publish.Service).
	Publisher Publisher
	Schedule  cron.Schedule  // from ParseSchedule
	Location  *time.Location // newsletter.timezone
	Log       *slog.Logger
	// Now is the clock of scheduled runs; time.Now when nil.
	Now func() time.Time
}

// A Publisher makes the edition of a newsletter date go out: it builds the
// edition unless it exists, and starts its delivery while it is still
// built (just created, or left unsent by a crash between building and
// fan-out). Starting is a compare-and-set, so a second call, a second
// instance or a restart starts nothing twice. publish.Service implements it.
type Publisher interface {
	Publish(ctx context.Context, date string) (Published, error)
}

// Published is what one Publish call did.
type Published struct {
	Edition Edition // as it is after the call
	Built   bool    // this call built and stored it
	Started bool    // this call started its delivery
}

// NewScheduler returns a Scheduler running spec (a standard five-field cron
// spec or a descriptor such as @daily) in loc for p. log may be nil.
func NewScheduler(p Publisher, spec string, loc *time.Location, log *slog.Logger) (*Scheduler, error) {
	if loc == nil {
		loc = time.UTC
	}
	sched, err := ParseSchedule(spec, loc)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{Publisher: p, Schedule: sched, Location: loc, Log: log}, nil
}

func (s *Scheduler) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Scheduler) location() *time.Location {
	if s.Location == nil {
		return time.UTC
	}
	return s.Location
}

func (s *Scheduler) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// Run catches up on today's missed run, then runs the schedule until ctx
// is done, and waits for a run in progress to finish (it sees ctx cancelled).
// A failed catch-up is logged, not fatal: the next scheduled run retries.
func (s *Scheduler) Run(ctx context.Context) error {
	if s.Schedule == nil || s.Publisher == nil {
		return errors.New("digest: scheduler: no schedule or publisher")
	}
	s.runLogged(ctx, "catch_up")

	logger := cronLogger{s.log()}
	c := cron.New(
		cron.WithLocation(s.location()),
		cron.WithLogger(logger),
		cron.WithChain(jobWrappers(logger)...),
	)
	c.Schedule(s.Schedule, cron.FuncJob(func() { s.runLogged(ctx, "scheduled") }))
	c.Start()
	s.log().InfoContext(ctx, "digest: scheduler started",
		slog.String("location", s.location().String()), slog.Time("next_run", s.Schedule.Next(s.now())))
	<-ctx.Done()
	<-c.Stop().Done()
	return nil
}

// jobWrappers wraps each run. SkipIfStillRunning must be outermost: it
// hands its token back only when the wrapped job returns, so a panic
// escaping to it would leave every later run skipped. Recover, inside it,
// turns a panic into a log line and a normal return.
func jobWrappers(l cron.Logger) []cron.JobWrapper {
	return []cron.JobWrapper{cron.SkipIfStillRunning(l), cron.Recover(l)}
}

func (s *Scheduler) runLogged(ctx context.Context, trigger string) {
	p, err := s.RunDue(ctx, s.now())
	e, created := p.Edition, p.Built
	log := s.log()
	switch {
	case errors.Is(err, ErrEmpty):
		log.InfoContext(ctx, "digest: run found nothing new", slog.String("trigger", trigger))
	case err != nil:
		log.ErrorContext(ctx, "digest: run failed", slog.String("trigger", trigger), slog.Any("error", err))
	case e.Date != "":
		log.InfoContext(ctx, "digest: run done", slog.String("trigger", trigger),
			slog.String("date", e.Date), slog.Int64("edition_id", e.ID), slog.Bool("created", created),
			slog.String("status", e.Status), slog.Bool("started", p.Started))
	}
}

// RunDue does what the latest scheduled time at or before now on now's
// newsletter date calls for: it publishes that date's edition. Before the
// day's first scheduled time it does nothing and returns a zero Published.
// Scheduled runs and the catch-up at start both come here.
func (s *Scheduler) RunDue(ctx context.Context, now time.Time) (Published, error) {
	due, ok := Due(s.Schedule, s.location(), now)
	if !ok {
		return Published{}, nil
	}
	return s.Publisher.Publish(ctx, due.In(s.location()).Format(DateLayout))
}

// Due returns the latest time of sched at or before now that falls on now's
// date in loc, and false when the day has none yet.
func Due(sched cron.Schedule, loc *time.Location, now time.Time) (time.Time, bool) {
	local := now.In(loc)
	y, m, d := local.Date()
	// Start just before local midnight (or whatever instant begins the day
	// where DST skips midnight) and walk the day's times up to now.
	start := time.Date(y, m, d, 0, 0, 0, 0, loc).Add(-time.Second)
	var last time.Time
	for t := sched.Next(start); !t.IsZero() && !t.After(now); t = sched.Next(t) {
		if ty, tm, td := t.In(loc).Date(); ty != y || tm != m || td != d {
			break
		}
		last = t
	}
	return last, !last.IsZero()
}

// ParseSchedule parses a standard cron spec (minute hour day month weekday,
// or a descriptor like @daily) into a WallSchedule in loc. A CRON_TZ= or TZ=
// prefix is refused: the zone is newsletter.timezone, set in one place.
// "@every" intervals do not depend on the wall clock and are returned as
// robfig parses them.
func ParseSchedule(spec string, loc *time.Location) (cron.Schedule, error) {
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=") {
		return nil, fmt.Errorf("digest: schedule %q: set the time zone with newsletter.timezone", spec)
	}
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("digest: schedule %q: %w", spec, err)
	}
	ss, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return sched, nil
	}
	if loc == nil {
		loc = time.UTC
	}
	wall := *ss
	wall.Location = time.UTC // evaluated on wall-clock readings, see WallSchedule
	return WallSchedule{Spec: &wall, Location: loc}, nil
}

// WallSchedule runs a cron spec on the wall clock of Location, as ISC cron
// does across daylight saving time: each scheduled wall-clock time of a day
// fires once, at the first instant the clock shows it or, when a
// spring-forward gap skips it, at the first instant after the gap. A
// fall-back repetition of the time does not fire again.
type WallSchedule struct {
	Spec     *cron.SpecSchedule // Location UTC: matched against wall-clock readings
	Location *time.Location
}

// Next returns the first firing strictly after t.
func (w WallSchedule) Next(t time.Time) time.Time {
	lt := t.In(w.Location)
	// The wall-clock reading of t, as a UTC time so that the spec matches it
	// field by field without any zone arithmetic.
	wall := time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), lt.Minute(), lt.Second(), lt.Nanosecond(), time.UTC)
	// A reading after wall can still map to an instant at or before t while
	// the clock repeats an hour (t in the second pass, the reading's first
	// occurrence in the first): skip those. A day holds at most 1440 minute
	// readings, so this ends.
	for range 2 * 24 * 60 {
		wall = w.Spec.Next(wall)
		if wall.IsZero() {
			return time.Time{}
		}
		if at := firstInstant(wall, w.Location); at.After(t) {
			return at
		}
	}
	return time.Time{}
}

// firstInstant returns the first instant at which loc's clock shows the
// wall-clock reading w (given as UTC fields): the earlier of two in a
// fall-back overlap, and the end of the gap when spring-forward skips w.
// time.Date leaves both cases unspecified, hence the walk through the zone
// periods around w.
func firstInstant(w time.Time, loc *time.Location) time.Time {
	u := w.Unix()
	// Any zone in use at w's reading began less than a day before u: walk the
	// zone periods from there, in time order.
	at := time.Unix(u-86400, 0).In(loc)
	for range 16 {
		_, offset := at.Zone()
		start, end := at.ZoneBounds()
		cand := time.Unix(u-int64(offset), int64(w.Nanosecond())).In(loc)
		if !start.IsZero() && cand.Before(start) {
			return start // w fell in the gap before this period began
		}
		if end.IsZero() || cand.Before(end) {
			return cand
		}
		at = end
	}
	return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc)
}

// cronLogger adapts slog to cron.Logger. robfig logs every wake-up at Info;
// those go to Debug, while skipped runs and recovered panics stay visible.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, keysAndValues ...any) {
	level := slog.LevelDebug
	if msg == "skip" {
		msg = "skipped: the previous run is still going"
		level = slog.LevelWarn
	}
	l.log.Log(context.Background(), level, "cron: "+msg, keysAndValues...)
}

func (l cronLogger) Error(err error, msg string, keysAndValues ...any) {
	l.log.Error("cron: "+msg, append([]any{slog.Any("error", err)}, keysAndValues...)...)
}
