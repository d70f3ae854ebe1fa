package subscribers

import (
	"errors"
	"fmt"
	"time"
)

// LocalTime is the hour at which a reader wants the digest, in their own
// time zone: "7 in the morning in Chicago", whatever the newsletter's zone.
type LocalTime struct {
	Zone string // IANA name, e.g. "America/Chicago"
	Hour int    // 0–23
}

// ParseLocalTime checks a zone name and an hour as a reader gives them.
func ParseLocalTime(zone string, hour int) (LocalTime, error) {
	if hour < 0 || hour > 23 {
		return LocalTime{}, fmt.Errorf("hour %d: want 0 to 23", hour)
	}
	if zone == "" || zone == "Local" {
		return LocalTime{}, errors.New("a time zone name is required, e.g. Europe/Berlin")
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return LocalTime{}, fmt.Errorf("unknown time zone %q", zone)
	}
	return LocalTime{Zone: loc.String(), Hour: hour}, nil
}

// String is "07:00 America/Chicago".
func (l LocalTime) String() string { return fmt.Sprintf("%02d:00 %s", l.Hour, l.Zone) }

// At is when the edition of date (YYYY-MM-DD) is due to this reader:
// Hour:00 on that calendar date in Zone. Daylight saving time is handled
// by rule, not by whatever the time package picks: an hour the clocks skip
// that day is due when the gap ends (02:00 on the spring-forward night of
// America/Chicago is 03:00 CDT), and an hour the clocks go through twice
// is due at its first occurrence.
func (l LocalTime) At(date string, zones *Zones) (time.Time, error) {
	loc, err := zones.Load(l.Zone)
	if err != nil {
		return time.Time{}, err
	}
	// The calendar date only: midnight itself may not exist in loc.
	d, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return time.Time{}, fmt.Errorf("edition date %q: %w", date, err)
	}
	return localHour(d.Year(), d.Month(), d.Day(), l.Hour, loc), nil
}

// wall is a local wall-clock reading as one comparable number
// (YYYYMMDDhhmm).
func wall(t time.Time) int64 {
	return int64(t.Year())*100000000 + int64(t.Month())*1000000 + int64(t.Day())*10000 + int64(t.Hour())*100 + int64(t.Minute())
}

func localHour(y int, m time.Month, d, h int, loc *time.Location) time.Time {
	t := time.Date(y, m, d, h, 0, 0, 0, loc)
	want := int64(y)*100000000 + int64(m)*1000000 + int64(d)*10000 + int64(h)*100
	if got := wall(t); got != want {
		// In a gap: the first instant whose wall clock reads want or later.
		// Around a spring-forward gap the wall clock only moves forward, so
		// a search over instants finds the jump (transitions fall on whole
		// minutes).
		lo, hi := t.Add(-6*time.Hour).Truncate(time.Minute), t.Add(6*time.Hour).Truncate(time.Minute)
		for hi.Sub(lo) > time.Minute {
			mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Minute)
			if wall(mid.In(loc)) >= want {
				hi = mid
			} else {
				lo = mid
			}
		}
		return hi.In(loc)
	}
	// Twice: an earlier instant with the same wall clock is the first one
	// (fall-back transitions repeat 30 minutes to 2 hours).
	for _, back := range []time.Duration{2 * time.Hour, time.Hour, 30 * time.Minute} {
		if e := t.Add(-back); wall(e) == want {
			return e
		}
	}
	return t
}

// Zones caches loaded time zones: time.LoadLocation reads the zone database
// each time, and a fan-out asks for the same few zones for every reader.
// The zero value is ready; a nil *Zones loads without caching. Not safe for
// concurrent use.
type Zones struct{ m map[string]*time.Location }

// Load returns the named zone.
func (z *Zones) Load(name string) (*time.Location, error) {
	if z != nil {
		if loc, ok := z.m[name]; ok {
			return loc, nil
		}
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	if z != nil {
		if z.m == nil {
			z.m = make(map[string]*time.Location)
		}
		z.m[name] = loc
	}
	return loc, nil
}
