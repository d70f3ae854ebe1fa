package articles

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestCanonicalURL(t *testing.T) {
	test := func(in, want string) {
		t.Helper()
		got, err := CanonicalURL(in)
		if err != nil {
			t.Errorf("CanonicalURL(%q): %v", in, err)
			return
		}
		if got != want {
			t.Errorf("CanonicalURL(%q) = %q, want %q", in, got, want)
		}
	}
	refused := func(in string) {
		t.Helper()
		got, err := CanonicalURL(in)
		if err == nil {
			t.Errorf("CanonicalURL(%q) = %q, want refusal", in, got)
		} else if !errors.Is(err, ErrBadURL) {
			t.Errorf("CanonicalURL(%q): %v does not wrap ErrBadURL", in, err)
		}
	}

	test("https://stripes.example/theaters/asia_pacific/2023-09-13/kim-jong-un-putin-vostochny-cosmodrome-11283746.html?utm_source=rss&utm_medium=feed",
		"https://stripes.example/theaters/asia_pacific/2023-09-13/kim-jong-un-putin-vostochny-cosmodrome-11283746.html")
	test("HTTPS://Stripes.EXAMPLE:443/a/B?x=1#frag", "https://stripes.example/a/B?x=1")
	test("http://example.com:80", "http://example.com/")
	test("http://example.com:8080/x", "http://example.com:8080/x")
	test("https://example.com/?id=7&utm_campaign=x&fbclid=abc&gclid=1&UTM_Term=y&page=2", "https://example.com/?id=7&page=2")
	test("https://example.com/?utm_source=a", "https://example.com/")
	test("https://user:pw@example.com/p", "https://example.com/p")
	test("  https://example.com/p  ", "https://example.com/p")
	test("https://exa\nmple.com/p", "https://example.com/p")
	// A link double-escaped by its feed: "&amp;" survives XML decoding.
	test("https://harborview.example/x/?p=1&amp;utm_source=rss&amp;utm_medium=feed", "https://harborview.example/x/?p=1")
	test("https://[2001:DB8::1]:443/x", "https://[2001:db8::1]/x")
	test("https://example.com/a%20b?q=%C3%A9", "https://example.com/a%20b?q=%C3%A9")

	refused("")
	refused("   ")
	refused("javascript:alert(document.cookie)")
	refused(" javascript:alert(5)")
	refused("JaVaScRiPt:alert(2)")
	refused("java\tscript:alert(1)")
	refused("data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==")
	refused("vbscript:msgbox(1)")
	refused("mailto:a@example.com")
	refused("ftp://example.com/file")
	refused("file:///etc/passwd")
	refused("//evil.example/redirect")
	refused("/relative/path")
	refused("https://")
	refused("http:example.com")
	refused("https://evil.example/redirect?to=javascript:alert(1)")
	refused("https://evil.example/redirect?to=javascript%3Aalert(1)")
}

func TestResolveURL(t *testing.T) {
	test := func(base, in, want string) {
		t.Helper()
		got, err := ResolveURL(base, in)
		if err != nil {
			t.Errorf("ResolveURL(%q, %q): %v", base, in, err)
			return
		}
		if got != want {
			t.Errorf("ResolveURL(%q, %q) = %q, want %q", base, in, got, want)
		}
	}
	test("https://hostile.example/feed.xml", "//cdn.example/img.jpg", "https://cdn.example/img.jpg")
	test("http://hostile.example/feed.xml", "//cdn.example/img.jpg", "http://cdn.example/img.jpg")
	test("https://site.example/news/feed", "/a/b?utm_source=x", "https://site.example/a/b")
	test("https://site.example/news/feed", "c.html", "https://site.example/news/c.html")
	test("https://site.example/news/feed", "https://other.example/x", "https://other.example/x")
	for _, bad := range []string{"javascript:alert(1)", " javascript:alert(5)", "data:image/png;base64,AAAA"} {
		if got, err := ResolveURL("https://site.example/", bad); err == nil {
			t.Errorf("ResolveURL(%q) = %q, want refusal", bad, got)
		}
	}
	if got, err := ResolveURL("javascript:alert(1)", "/x"); err == nil {
		t.Errorf("bad base accepted: %q", got)
	}
}

// checkCanonical holds the invariants of a CanonicalURL result.
func checkCanonical(t *testing.T, in, out string) {
	t.Helper()
	u, err := url.Parse(out)
	if err != nil {
		t.Fatalf("CanonicalURL(%q) = %q: does not parse: %v", in, out, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		t.Fatalf("CanonicalURL(%q) = %q: scheme %q", in, out, u.Scheme)
	}
	if u.Host == "" || u.User != nil {
		t.Fatalf("CanonicalURL(%q) = %q: host %q user %v", in, out, u.Host, u.User)
	}
	if strings.Contains(out, "#") {
		t.Fatalf("CanonicalURL(%q) = %q: has a fragment", in, out)
	}
	for k := range u.Query() {
		if isTrackingParam(k) {
			t.Fatalf("CanonicalURL(%q) = %q: tracking parameter %q", in, out, k)
		}
	}
	if strings.ContainsAny(out, " \t\r\n\x00") {
		t.Fatalf("CanonicalURL(%q) = %q: whitespace or NUL", in, out)
	}
	again, err := CanonicalURL(out)
	if err != nil {
		t.Fatalf("CanonicalURL(%q) = %q, which is then refused: %v", in, out, err)
	}
	if again != out {
		t.Fatalf("not idempotent: %q → %q → %q", in, out, again)
	}
}

func FuzzCanonicalURL(f *testing.F) {
	for _, s := range []string{
		"https://stripes.example/a?utm_source=rss&utm_medium=feed",
		"HTTP://Example.COM:80/a/../b?x=1&fbclid=2#top",
		"javascript:alert(1)", " javascript:alert(5)", "//evil.example/x",
		"data:text/html;base64,PHNjcmlwdD4=", "https://[::1]:8443/p?q=%zz",
		"https://a.example/?amp;utm_source=x&amp;b=1", "https://a.example/%2F..%2F",
		"http://a.example/?", "http://user@a.example:0/", "https://a.example/\u202e",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := CanonicalURL(in)
		if err != nil {
			if out != "" {
				t.Fatalf("CanonicalURL(%q) returned %q with error %v", in, out, err)
			}
			return
		}
		checkCanonical(t, in, out)
	})
}
