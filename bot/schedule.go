package bot

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DescribeSchedule says when a cron spec (newsletter.schedule, robfig/cron
// syntax: five fields, an optional leading seconds field, @descriptors,
// CRON_TZ=) fires, in words for readers: "every day at 07:00 (Europe/Berlin
// time)". Specs it cannot put in words are quoted as they are.
func DescribeSchedule(spec string, loc *time.Location) string {
	spec = strings.TrimSpace(spec)
	zone := "UTC"
	if loc != nil {
		zone = loc.String()
	}
	for _, p := range []string{"CRON_TZ=", "TZ="} {
		if rest, ok := strings.CutPrefix(spec, p); ok {
			z, r, _ := strings.Cut(rest, " ")
			zone, spec = z, strings.TrimSpace(r)
		}
	}
	if zone == "Local" {
		zone = "server"
	}
	in := " (" + zone + " time)"
	switch spec {
	case "":
		return "once a day"
	case "@daily", "@midnight":
		return "every day at 00:00" + in
	case "@weekly":
		return "every Sunday at 00:00" + in
	case "@hourly":
		return "every hour"
	case "@monthly":
		return "on the 1st of every month at 00:00" + in
	}
	if d, ok := strings.CutPrefix(spec, "@every "); ok {
		return "every " + d
	}
	f := strings.Fields(spec)
	if len(f) == 6 {
		f = f[1:] // robfig/cron's optional seconds
	}
	fallback := "on the schedule “" + spec + "”" + in
	if len(f) != 5 || f[2] != "*" || f[3] != "*" {
		return fallback
	}
	mins, ok1 := numbers(f[0], 59)
	hours, ok2 := numbers(f[1], 23)
	days, ok3 := weekdays(f[4])
	if !ok1 || !ok2 || !ok3 || len(mins)*len(hours) > 6 {
		return fallback
	}
	var times []string
	for _, h := range hours {
		for _, m := range mins {
			times = append(times, fmt.Sprintf("%02d:%02d", h, m))
		}
	}
	return dayWords(days) + " at " + joinWords(times) + in
}

// numbers parses a cron field of plain numbers ("7", "7,18"); ranges and
// steps are left to the fallback.
func numbers(field string, maxV int) ([]int, bool) {
	var out []int
	for _, p := range strings.Split(field, ",") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > maxV {
			return nil, false
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), true
}

// weekdays parses the day-of-week field: "*", numbers or names, lists
// and ranges ("MON-FRI", "1-5", "0,6"). Sunday is 0 (7 also works).
func weekdays(field string) ([]time.Weekday, bool) {
	if field == "*" || field == "?" {
		return nil, true
	}
	day := func(s string) (int, bool) {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 7 {
			return n % 7, true
		}
		for d := time.Sunday; d <= time.Saturday; d++ {
			if strings.EqualFold(s, d.String()[:3]) {
				return int(d), true
			}
		}
		return 0, false
	}
	set := map[time.Weekday]bool{}
	for _, p := range strings.Split(field, ",") {
		lo, hi, isRange := strings.Cut(p, "-")
		a, ok := day(lo)
		if !ok {
			return nil, false
		}
		b := a
		if isRange {
			if b, ok = day(hi); !ok {
				return nil, false
			}
			if hi == "7" {
				b = 7
			}
		}
		if b < a {
			return nil, false
		}
		for d := a; d <= b; d++ {
			set[time.Weekday(d%7)] = true
		}
	}
	// Listed Monday first, as readers expect a week to read.
	var out []time.Weekday
	for i := 1; i <= 7; i++ {
		if d := time.Weekday(i % 7); set[d] {
			out = append(out, d)
		}
	}
	return out, true
}

func dayWords(days []time.Weekday) string {
	switch {
	case len(days) == 0 || len(days) == 7:
		return "every day"
	case slices.Equal(days, []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}):
		return "every weekday (Monday to Friday)"
	case slices.Equal(days, []time.Weekday{time.Saturday, time.Sunday}):
		return "every Saturday and Sunday"
	}
	names := make([]string, len(days))
	for i, d := range days {
		names[i] = d.String()
	}
	return "every " + joinWords(names)
}
