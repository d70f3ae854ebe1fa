package subscribers

import (
	"testing"
	"time"
)

// testZones are 24 zones with every kind of offset and daylight-saving
// rule: none, an hour at 02:00 (north and south), at midnight (Havana),
// half an hour (Lord Howe), 45-minute offsets (Chatham, Kathmandu).
var testZones = []string{
	"UTC", "America/New_York", "America/Chicago", "America/Los_Angeles", "America/Sao_Paulo",
	"America/Santiago", "America/Havana", "America/St_Johns", "Europe/London", "Europe/Berlin",
	"Europe/Moscow", "Africa/Cairo", "Asia/Tehran", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Shanghai",
	"Asia/Tokyo", "Australia/Adelaide", "Australia/Lord_Howe", "Pacific/Auckland", "Pacific/Chatham",
	"Pacific/Kiritimati", "Pacific/Pago_Pago", "America/Godthab",
}

// TestLocalTimeAtOverAYear: for every zone, hour and date of two years,
// the due instant reads hour:00 on that date in the zone — or, when the
// clocks skip that hour, it is the instant they jump past it; a repeated
// hour is due at its first occurrence.
func TestLocalTimeAtOverAYear(t *testing.T) {
	var zones Zones
	gaps, repeats := 0, 0
	for _, name := range testZones {
		loc, err := zones.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		for d := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC); d.Year() < 2028; d = d.AddDate(0, 0, 1) {
			date := d.Format(time.DateOnly)
			for h := range 24 {
				lt := LocalTime{Zone: name, Hour: h}
				at, err := lt.At(date, &zones)
				if err != nil {
					t.Fatal(err)
				}
				local := at.In(loc)
				want := time.Date(d.Year(), d.Month(), d.Day(), h, 0, 0, 0, time.UTC) // the wall clock wanted, as a UTC reading
				got := time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), local.Minute(), 0, 0, time.UTC)
				switch {
				case got.Equal(want):
					for _, back := range []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour} {
						if e := at.Add(-back).In(loc); e.Hour() == h && e.Minute() == 0 && e.Day() == local.Day() {
							t.Fatalf("%s %s: due at the second %02d:00 (%s); the first was %s", name, date, h, at, e)
						}
					}
					for _, ahead := range []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour} {
						if e := at.Add(ahead).In(loc); e.Hour() == h && e.Minute() == 0 && e.Day() == local.Day() {
							repeats++ // the clocks come back to this hour later
						}
					}
				case got.After(want):
					// A gap: a minute earlier the clock read before the hour.
					b := at.Add(-time.Minute).In(loc)
					before := time.Date(b.Year(), b.Month(), b.Day(), b.Hour(), b.Minute(), 0, 0, time.UTC)
					if !before.Before(want) || got.Sub(want) > 2*time.Hour {
						t.Fatalf("%s %s %02d:00: due %s (reads %s), not the end of a gap", name, date, h, at, local)
					}
					gaps++
				default:
					t.Fatalf("%s %s %02d:00: due %s, which reads %s", name, date, h, at, local)
				}
			}
		}
	}
	// The year has spring-forward nights in many of these zones.
	if gaps == 0 || repeats == 0 {
		t.Errorf("%d gaps and %d repeated hours met: the zones lost their DST rules?", gaps, repeats)
	}
	t.Logf("%d gaps, %d repeated hours", gaps, repeats)
}

func TestLocalTimeDST(t *testing.T) {
	for _, c := range []struct {
		zone, date string
		hour       int
		want       string
	}{
		{"America/Chicago", "2026-03-08", 2, "2026-03-08T03:00:00-05:00"},     // skipped: the gap's end
		{"America/Chicago", "2026-11-01", 1, "2026-11-01T01:00:00-05:00"},     // twice: the first (CDT)
		{"America/Chicago", "2026-07-01", 7, "2026-07-01T07:00:00-05:00"},     // summer
		{"Europe/Berlin", "2026-03-29", 2, "2026-03-29T03:00:00+02:00"},       // skipped
		{"Europe/Berlin", "2026-10-25", 2, "2026-10-25T02:00:00+02:00"},       // twice: CEST first
		{"Australia/Lord_Howe", "2026-10-04", 2, "2026-10-04T02:30:00+11:00"}, // a 30-minute gap
		{"America/Havana", "2026-03-08", 0, "2026-03-08T01:00:00-04:00"},      // midnight skipped
	} {
		at, err := LocalTime{Zone: c.zone, Hour: c.hour}.At(c.date, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := at.Format(time.RFC3339); got != c.want {
			t.Errorf("%s %s %02d:00 = %s, want %s", c.zone, c.date, c.hour, got, c.want)
		}
	}
}

func TestParseLocalTime(t *testing.T) {
	if lt, err := ParseLocalTime("Asia/Tokyo", 7); err != nil || lt.String() != "07:00 Asia/Tokyo" {
		t.Errorf("%v %v", lt, err)
	}
	for _, bad := range []struct {
		zone string
		hour int
	}{{"Asia/Tokyo", 24}, {"Asia/Tokyo", -1}, {"Mars/Olympus", 7}, {"", 7}, {"Local", 7}, {"../../etc/passwd", 7}} {
		if _, err := ParseLocalTime(bad.zone, bad.hour); err == nil {
			t.Errorf("ParseLocalTime(%q, %d) accepted", bad.zone, bad.hour)
		}
	}
}
