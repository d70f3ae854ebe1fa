package digest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/digestbot/digestbot/internal/fakeclock"
	"github.com/robfig/cron/v3"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestWallScheduleDST(t *testing.T) {
	ny, berlin := mustLoad(t, "America/New_York"), mustLoad(t, "Europe/Berlin")
	test := func(loc *time.Location, spec string, from time.Time, want ...string) {
		t.Helper()
		s, err := ParseSchedule(spec, loc)
		if err != nil {
			t.Fatal(err)
		}
		at := from
		for _, w := range want {
			at = s.Next(at)
			if got := at.In(loc).Format("2006-01-02 15:04 MST"); got != w {
				t.Errorf("%s %q after %v: %s, want %s", loc, spec, from, got, w)
				return
			}
		}
	}
	// Spring forward: 02:30 does not exist; it runs at the end of the gap.
	test(ny, "30 2 * * *", time.Date(2024, 3, 9, 12, 0, 0, 0, ny),
		"2024-03-10 03:00 EDT", "2024-03-11 02:30 EDT")
	test(berlin, "30 2 * * *", time.Date(2024, 3, 30, 12, 0, 0, 0, berlin),
		"2024-03-31 03:00 CEST", "2024-04-01 02:30 CEST")
	// Fall back: 01:30 (New York) and 02:30 (Berlin) happen twice; once here.
	test(ny, "30 1 * * *", time.Date(2024, 11, 2, 12, 0, 0, 0, ny),
		"2024-11-03 01:30 EDT", "2024-11-04 01:30 EST")
	test(berlin, "30 2 * * *", time.Date(2024, 10, 26, 12, 0, 0, 0, berlin),
		"2024-10-27 02:30 CEST", "2024-10-28 02:30 CET")
	// Started inside the repeated hour, after its first 01:30: not again.
	test(ny, "30 1 * * *", time.Date(2024, 11, 3, 6, 45, 0, 0, time.UTC), // 01:45 EST
		"2024-11-04 01:30 EST")
	// Every half hour through both switches: each wall time once.
	test(ny, "*/30 * * * *", time.Date(2024, 11, 3, 0, 15, 0, 0, ny),
		"2024-11-03 00:30 EDT", "2024-11-03 01:00 EDT", "2024-11-03 01:30 EDT", "2024-11-03 02:00 EST")
	test(ny, "*/30 * * * *", time.Date(2024, 3, 10, 1, 15, 0, 0, ny),
		"2024-03-10 01:30 EST", "2024-03-10 03:00 EDT", "2024-03-10 03:30 EDT")
	// No DST at all.
	test(time.UTC, "0 7 * * *", time.Date(2024, 1, 1, 7, 0, 0, 0, time.UTC), "2024-01-02 07:00 UTC")
}

func TestParseSchedule(t *testing.T) {
	for _, bad := range []string{"", "61 * * * *", "CRON_TZ=Europe/Berlin 0 7 * * *", "TZ=UTC 0 7 * * *", "0 7 * *"} {
		if _, err := ParseSchedule(bad, time.UTC); err == nil {
			t.Errorf("ParseSchedule(%q) accepted", bad)
		}
	}
	for _, good := range []string{"0 7 * * *", "@daily", "0 7 * * mon-fri", "@every 1h"} {
		if _, err := ParseSchedule(good, time.UTC); err != nil {
			t.Errorf("ParseSchedule(%q): %v", good, err)
		}
	}
}

func TestDue(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	s, _ := ParseSchedule("0 7 * * *", ny)
	day := func(h, m int) time.Time { return time.Date(2024, 3, 10, h, m, 0, 0, ny) }
	for _, c := range []struct {
		now  time.Time
		want time.Time // zero: nothing due
	}{
		{day(6, 59), time.Time{}},
		{day(7, 0), day(7, 0)},
		{day(23, 59), day(7, 0)},
		{day(0, 0).AddDate(0, 0, 1), time.Time{}},
	} {
		got, ok := Due(s, ny, c.now)
		if ok != !c.want.IsZero() || !got.Equal(c.want) {
			t.Errorf("Due(%v) = %v, %v; want %v", c.now, got, ok, c.want)
		}
	}
	// The spring-forward 02:30 is due from the end of the gap.
	s, _ = ParseSchedule("30 2 * * *", ny)
	if got, ok := Due(s, ny, day(12, 0)); !ok || !got.Equal(day(3, 0)) {
		t.Errorf("spring-forward 02:30 due at %v, %v; want 03:00 EDT", got, ok)
	}
}

// markSending is what the lead's fan-out does first: built → sending.
func (s *fakeStore) markSending(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, e := range s.editions {
		if e.ID == id && e.Status == StatusBuilt {
			e.Status = StatusSending
			s.editions[k] = e
		}
	}
}

type yearRun struct {
	store   *fakeStore
	builder *Builder
	sched   *Scheduler
	clock   *fakeclock.Clock
	onBuilt map[string]int // date → fan-outs started
	started chan Edition   // when set, receives each edition started
}

// Publish is publish.Service's contract over the fake store: build unless
// stored, start (built → sending) while built.
func (r *yearRun) Publish(ctx context.Context, date string) (Published, error) {
	e, created, err := r.builder.Build(ctx, date)
	if err != nil {
		return Published{}, err
	}
	p := Published{Edition: e, Built: created}
	if e.Status == StatusBuilt {
		r.onBuilt[e.Date]++
		r.store.markSending(e.ID)
		p.Started, p.Edition.Status = true, StatusSending
		if r.started != nil {
			r.started <- p.Edition
		}
	}
	return p, nil
}

func newYearRun(t *testing.T, loc *time.Location, spec string) *yearRun {
	r := &yearRun{store: newFakeStore(), clock: fakeclock.New(time.Time{}), onBuilt: map[string]int{}}
	// Empty editions too: the test is about dates, not articles.
	r.builder = newTestBuilder(r.store, r.clock, Options{Location: loc})
	s, err := NewScheduler(r, spec, loc, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Now = r.clock.Now
	r.sched = s
	return r
}

// run is one run at t, as the cron job or the catch-up at start does it.
func (r *yearRun) run(t *testing.T, at time.Time) {
	t.Helper()
	r.clock.Set(at)
	if _, err := r.sched.RunDue(context.Background(), at); err != nil {
		t.Fatalf("run at %v: %v", at, err)
	}
}

// TestScheduleYear walks a whole year of scheduled runs with a fake clock in
// two zones, through both DST switches, and finds exactly one edition (and
// one fan-out) per day: first as the Scheduler's own schedule fires, then as
// raw robfig/cron would fire, with its spring-forward skip made up by the
// catch-up and its fall-back double run building nothing twice.
func TestScheduleYear(t *testing.T) {
	for _, zone := range []string{"America/New_York", "Europe/Berlin"} {
		loc := mustLoad(t, zone)
		start := time.Date(2024, 1, 1, 0, 0, 0, 0, loc)
		end := start.AddDate(1, 0, 0)
		var days []string
		for d := start; d.Before(end); d = d.AddDate(0, 0, 1) {
			days = append(days, d.Format(DateLayout))
		}
		for _, spec := range []string{"0 7 * * *", "30 2 * * *", "30 1 * * *"} {
			t.Run(zone+"/"+spec+"/scheduler", func(t *testing.T) {
				r := newYearRun(t, loc, spec)
				fires := map[string]int{}
				for at := r.sched.Schedule.Next(start.Add(-time.Second)); at.Before(end); at = r.sched.Schedule.Next(at) {
					fires[at.In(loc).Format(DateLayout)]++
					r.run(t, at)
				}
				for _, d := range days {
					if fires[d] != 1 || r.onBuilt[d] != 1 {
						t.Errorf("%s: %d runs, %d fan-outs; want 1 and 1", d, fires[d], r.onBuilt[d])
					}
				}
				if got := r.store.dates(DefaultNewsletter); len(got) != len(days) || r.store.creates != len(days) {
					t.Errorf("%d editions (%d stored) for %d days", len(got), r.store.creates, len(days))
				}
			})
			t.Run(zone+"/"+spec+"/robfig", func(t *testing.T) {
				r := newYearRun(t, loc, spec)
				raw, err := cron.ParseStandard(spec)
				if err != nil {
					t.Fatal(err)
				}
				// cron.Cron with WithLocation(loc) asks Next with times in loc.
				fires := map[string]int{}
				for at := raw.Next(start.Add(-time.Second)); at.Before(end); at = raw.Next(at.In(loc)) {
					fires[at.In(loc).Format(DateLayout)]++
					r.run(t, at)
				}
				var skipped, doubled []string
				for _, d := range days {
					switch fires[d] {
					case 0:
						skipped = append(skipped, d)
						// A restart at noon catches up on the same date.
						noon, _ := time.ParseInLocation("2006-01-02 15:04", d+" 12:00", loc)
						r.run(t, noon)
					case 2:
						doubled = append(doubled, d)
					}
					if r.onBuilt[d] != 1 {
						t.Errorf("%s: %d fan-outs, want 1", d, r.onBuilt[d])
					}
				}
				if got := r.store.dates(DefaultNewsletter); len(got) != len(days) || r.store.creates != len(days) {
					t.Errorf("%d editions (%d stored) for %d days", len(got), r.store.creates, len(days))
				}
				// What robfig does around DST, which the above absorbed.
				wantSkipped, wantDoubled := 0, 0
				switch {
				case spec == "30 2 * * *":
					wantSkipped = 1 // 02:30 on the spring-forward day, both zones
					if zone == "Europe/Berlin" {
						wantDoubled = 1 // 02:30 twice on 27 October
					}
				case spec == "30 1 * * *" && zone == "America/New_York":
					wantDoubled = 1 // 01:30 twice on 3 November
				}
				if len(skipped) != wantSkipped || len(doubled) != wantDoubled {
					t.Errorf("robfig skipped %v and ran twice on %v; want %d and %d days", skipped, doubled, wantSkipped, wantDoubled)
				}
			})
		}
	}
}

func TestRestartAfterMissedRun(t *testing.T) {
	ctx := context.Background()
	ny := mustLoad(t, "America/New_York")
	at := func(day, h, m int) time.Time { return time.Date(2023, 9, day, h, m, 0, 0, ny) }
	r := newYearRun(t, ny, "0 7 * * *")

	// 12 September: the 07:00 run happens.
	r.run(t, at(12, 7, 0))
	// Down from 06:50 to 09:30 on the 13th: the restart builds the 13th's
	// edition, over everything since the 12th's cutoff.
	r.run(t, at(13, 9, 30))
	e, err := r.store.GetEditionByDate(ctx, DefaultNewsletter, "2023-09-13")
	if err != nil {
		t.Fatalf("13th not caught up: %v", err)
	}
	if !e.CutoffFrom.Equal(at(12, 7, 0)) || !e.CutoffTo.Equal(at(13, 9, 30)) || r.onBuilt["2023-09-13"] != 1 {
		t.Errorf("caught-up edition (%v, %v], %d fan-outs", e.CutoffFrom, e.CutoffTo, r.onBuilt["2023-09-13"])
	}
	// The 07:00 run of the 13th no longer builds anything.
	r.run(t, at(14, 7, 0).AddDate(0, 0, -1))
	// A restart before 07:00 has nothing due yet.
	r.run(t, at(14, 6, 30))
	if _, err := r.store.GetEditionByDate(ctx, DefaultNewsletter, "2023-09-14"); !errors.Is(err, ErrNotFound) {
		t.Errorf("14th built before its time: %v", err)
	}
	// Crash between building and fan-out: the restart resumes the fan-out.
	r.clock.Set(at(14, 7, 0))
	if _, _, err := r.builder.Build(ctx, "2023-09-14"); err != nil {
		t.Fatal(err)
	}
	r.run(t, at(14, 7, 5))
	if r.onBuilt["2023-09-14"] != 1 {
		t.Errorf("unsent edition after restart: %d fan-outs, want 1", r.onBuilt["2023-09-14"])
	}
	// Down over a whole day: the missed date stays missed (catch-up is for
	// the same date), the new day is built at restart.
	r.run(t, at(16, 8, 0))
	if got := r.store.dates(DefaultNewsletter); strings.Join(got, " ") != "2023-09-12 2023-09-13 2023-09-14 2023-09-16" {
		t.Errorf("editions %v", got)
	}
	if r.store.creates != 4 {
		t.Errorf("%d editions stored", r.store.creates)
	}
}

// TestSchedulerRun starts the real cron loop: the catch-up happens before
// Run settles, and cancelling ctx stops it. Nothing sleeps: the next
// scheduled time is hours away on the real clock.
func TestSchedulerRun(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	r := newYearRun(t, ny, "0 7 * * *")
	r.clock.Set(time.Date(2023, 9, 13, 9, 30, 0, 0, ny))
	built := make(chan Edition, 1)
	r.started = built
	var logs bytes.Buffer
	r.sched.Log = slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.sched.Run(ctx) }()
	if e := <-built; e.Date != "2023-09-13" {
		t.Errorf("caught up %s", e.Date)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "trigger=catch_up") {
		t.Errorf("no catch-up logged:\n%s", logs.String())
	}
}

// TestJobWrappers checks the wrapper order: a panicking run is logged and
// the next run still happens; a run while one is going is skipped.
func TestJobWrappers(t *testing.T) {
	var logs bytes.Buffer
	l := cronLogger{slog.New(slog.NewTextHandler(&logs, nil))}
	calls := 0
	job := cron.NewChain(jobWrappers(l)...).Then(cron.FuncJob(func() {
		calls++
		if calls == 1 {
			panic("boom")
		}
	}))
	job.Run()
	job.Run()
	if calls != 2 {
		t.Errorf("%d runs after a panic, want 2", calls)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "boom") {
		t.Errorf("panic not logged:\n%s", logs.String())
	}
	// The opposite order loses SkipIfStillRunning's token to the panic and
	// skips every later run: the reason for the order above.
	calls = 0
	wrong := cron.NewChain(cron.Recover(l), cron.SkipIfStillRunning(l)).Then(cron.FuncJob(func() {
		calls++
		panic("boom")
	}))
	wrong.Run()
	wrong.Run()
	if calls != 1 {
		t.Errorf("reversed wrappers: %d runs, expected the second skipped", calls)
	}

	// Overlap: the second run while the first is going is skipped.
	started, release := make(chan struct{}), make(chan struct{})
	runs := 0
	slow := cron.NewChain(jobWrappers(l)...).Then(cron.FuncJob(func() {
		runs++
		close(started)
		<-release
	}))
	finished := make(chan struct{})
	go func() { slow.Run(); close(finished) }()
	<-started
	slow.Run() // returns at once: skipped
	close(release)
	<-finished
	if runs != 1 || !strings.Contains(logs.String(), "skipped") {
		t.Errorf("%d runs of an overlapping job; logs:\n%s", runs, logs.String())
	}
}
