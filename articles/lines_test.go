package articles

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseJSONLines(t *testing.T) {
	in := `{"url":"https://a.example/1?utm_source=x","title":"First","lead":"Lead one. Two. Three. Four.","byline":"By Ann Lee","section":"world","published":"2023-09-13T10:00:00+02:00","image":"https://a.example/i.jpg"}

{"link":"https://a.example/2","title":"Second &amp; more","summary":"<p>Summary <b>html</b> &amp; entity.</p><p>Sign up for our newsletter</p>","author":{"name":"Bo"},"date":"Wed, 13 Sep 2023 09:00:00 GMT"}
{"url":"javascript:alert(1)","title":"","content":"<p>Untitled story text. Second sentence.</p>","published":"2098-01-01T00:00:00Z","id":42}
{"url":"https://a.example/1","title":"First again"}
`
	arts, err := ParseJSONLines(strings.NewReader(in), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(arts) != 3 {
		t.Fatalf("%d articles: %+v", len(arts), arts)
	}
	a := arts[0]
	if a.URL != "https://a.example/1" || a.Title != "First" || a.Lead != "Lead one. Two. Three." || a.Byline != "Ann Lee" ||
		a.Section != "world" || !a.PublishedAt.Equal(time.Date(2023, 9, 13, 8, 0, 0, 0, time.UTC)) || a.ImageURL != "https://a.example/i.jpg" {
		t.Errorf("line 1: %+v", a)
	}
	a = arts[1]
	if a.Title != "Second & more" || a.Lead != "Summary html & entity." || a.Byline != "Bo" ||
		!a.PublishedAt.Equal(time.Date(2023, 9, 13, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("line 3: %+v", a)
	}
	a = arts[2]
	if a.URL != "" || a.Title != "Untitled story text." || a.GUID != "42" || !a.PublishedAt.Equal(testNow) {
		t.Errorf("line 4: %+v", a)
	}

	for _, bad := range []struct {
		in   string
		line string
	}{
		{`{"title":"ok","url":"https://a.example/x"}` + "\n" + `{"title": 5}`, "line 2"},
		{`{"title":"ok"}` + "\n\n" + `not json`, "line 3"},
		{`{"url":"https://a.example/x"}`, "line 1"},
		{`["array"]`, "line 1"},
	} {
		_, err := ParseJSONLines(strings.NewReader(bad.in), testNow)
		if err == nil || !strings.Contains(err.Error(), bad.line) {
			t.Errorf("%q: error %v, want one naming %s", bad.in, err, bad.line)
		}
	}
}

func TestParseTextSeed(t *testing.T) {
	a, err := ParseText(readSeed(t), "Kim promises Putin full backing", testNow)
	if err != nil {
		t.Fatal(err)
	}
	checkSeed(t, "text", a)
	if a.Title != "Kim promises Putin full backing" || a.URL != "" || a.ContentHash == "" {
		t.Errorf("%+v", a)
	}
	if _, err := ParseText(readSeed(t), " \t", testNow); !errors.Is(err, ErrNoTitle) {
		t.Errorf("no title: %v", err)
	}
	// Plain text is text: markup-looking characters are literal.
	a, _ = ParseText([]byte("Use <b> for bold & more.\nSecond line."), "T", testNow)
	if a.Lead != "Use <b> for bold & more. Second line." {
		t.Errorf("lead %q", a.Lead)
	}
}
