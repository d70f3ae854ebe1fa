package bot

import (
	"testing"
	"time"
)

func TestDescribeSchedule(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	test := func(spec string, loc *time.Location, want string) {
		t.Helper()
		if got := DescribeSchedule(spec, loc); got != want {
			t.Errorf("DescribeSchedule(%q) = %q, want %q", spec, got, want)
		}
	}
	test("0 7 * * *", berlin, "every day at 07:00 (Europe/Berlin time)")
	test("30 6 * * 1-5", nil, "every weekday (Monday to Friday) at 06:30 (UTC time)")
	test("0 7,18 * * *", berlin, "every day at 07:00 and 18:00 (Europe/Berlin time)")
	test("0 0 9 * * MON,WED,FRI", berlin, "every Monday, Wednesday and Friday at 09:00 (Europe/Berlin time)")
	test("0 8 * * 0,6", berlin, "every Saturday and Sunday at 08:00 (Europe/Berlin time)")
	test("0 8 * * 5-7", berlin, "every Friday, Saturday and Sunday at 08:00 (Europe/Berlin time)")
	test("CRON_TZ=America/New_York 0 6 * * *", berlin, "every day at 06:00 (America/New_York time)")
	test("@daily", berlin, "every day at 00:00 (Europe/Berlin time)")
	test("@every 12h", berlin, "every 12h")
	test("*/15 7 * * *", berlin, "on the schedule “*/15 7 * * *” (Europe/Berlin time)")
	test("0 7 1 * *", berlin, "on the schedule “0 7 1 * *” (Europe/Berlin time)")
	test("", berlin, "once a day")
}

func TestParseCommand(t *testing.T) {
	test := func(text, cmd, at, args string, ok bool) {
		t.Helper()
		c, a, r, k := parseCommand(text)
		if c != cmd || a != at || r != args || k != ok {
			t.Errorf("parseCommand(%q) = %q %q %q %v", text, c, a, r, k)
		}
	}
	test("/start", "start", "", "", true)
	test("/Start@Digest_Bot promo", "start", "Digest_Bot", "promo", true)
	test("/post https://x.example/a  World ", "post", "", "https://x.example/a  World", true)
	test("/email\nme@example.org", "email", "", "me@example.org", true)
	test("hello /start", "", "", "", false)
	test("/", "", "", "", false)
	test("/@bot", "", "", "", false)
}

func TestSourceOf(t *testing.T) {
	if got := sourceOf("promo-2026_x"); got != "promo-2026_x" {
		t.Errorf("sourceOf = %q", got)
	}
	if got := sourceOf("a<b>c d"); got != "abcd" {
		t.Errorf("sourceOf dropped nothing: %q", got)
	}
	long := sourceOf("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz")
	if len(cbSubscribe+":"+long) > maxCallbackData {
		t.Errorf("callback data %d bytes", len(cbSubscribe+":"+long))
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"/start", "/start@bot payload", "/\n", "/a@", "hello", "/é@ü x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cmd, _, _, ok := parseCommand(s)
		if ok && (cmd == "" || len(cmd) > 32) {
			t.Fatalf("parseCommand(%q) accepted command %q", s, cmd)
		}
	})
}

func FuzzDescribeSchedule(f *testing.F) {
	for _, s := range []string{"0 7 * * *", "CRON_TZ=UTC 0 7 * * 1-5", "@daily", "0 0 7 * * MON-FRI", "5-1 7 * * *", "0 7 * * 7-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if DescribeSchedule(s, time.UTC) == "" {
			t.Fatalf("empty description for %q", s)
		}
	})
}
