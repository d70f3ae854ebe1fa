package articles

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// ErrBadURL is wrapped by CanonicalURL and ResolveURL for every refused
// input: not absolute, not http(s), no host, or unparseable.
var ErrBadURL = errors.New("unusable URL")

// trackingParams are query keys that identify a campaign or a click, never
// the page; two links that differ only by them are the same article.
// utm_* is matched by prefix in isTrackingParam.
var trackingParams = map[string]bool{
	"fbclid": true, "gclid": true, "dclid": true, "gbraid": true, "wbraid": true,
	"msclkid": true, "yclid": true, "twclid": true, "ttclid": true, "li_fat_id": true,
	"igshid": true, "mc_cid": true, "mc_eid": true, "_hsenc": true, "_hsmi": true,
	"mkt_tok": true, "oly_enc_id": true, "oly_anon_id": true, "vero_id": true,
	"vero_conv": true, "ncid": true, "cmpid": true, "s_cid": true, "wt.mc_id": true,
}

func isTrackingParam(key string) bool {
	k := strings.ToLower(key)
	return strings.HasPrefix(k, "utm_") || trackingParams[k]
}

// CanonicalURL turns an absolute http(s) link into the form digestbot uses
// as an article's identity: lower-case scheme and host (an internationalized
// host as its xn-- A-label, no trailing dot), no default port, no user
// info, no fragment, no tracking parameters (utm_*, fbclid, gclid, …, in any
// case), no empty "?", one spelling of percent-escapes (unreserved
// characters decoded, the rest upper-case hex), and "/" for an empty path.
// The scheme, a trailing slash and the rest of the path are kept as given:
// http and https, or /a and /a/, may be different pages. Anything else is refused with ErrBadURL:
// relative and protocol-relative links (use ResolveURL with a base),
// javascript:, data:, vbscript:, mailto: and every other scheme.
//
// Leading and trailing spaces and control characters are dropped and tabs
// and newlines inside are removed first, as the WHATWG URL parser does, so
// " javascript:…" or "java\nscript:…" are seen for what a browser would run.
// CanonicalURL is idempotent: CanonicalURL(CanonicalURL(x)) == CanonicalURL(x).
func CanonicalURL(raw string) (string, error) {
	return ResolveURL("", raw)
}

// ResolveURL resolves raw against base (the feed's or page's URL) and
// returns its canonical form (see CanonicalURL). With an empty base, raw must
// be absolute. The base itself must be an absolute http(s) URL.
func ResolveURL(base, raw string) (string, error) {
	s := stripURLSpace(raw)
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrBadURL)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBadURL, truncateForError(raw), err)
	}
	if !u.IsAbs() {
		if base == "" {
			return "", fmt.Errorf("%w: %q is not absolute", ErrBadURL, truncateForError(raw))
		}
		b, err := parseHTTPURL(stripURLSpace(base))
		if err != nil {
			return "", fmt.Errorf("%w: base %q: %v", ErrBadURL, truncateForError(base), err)
		}
		u = b.ResolveReference(u)
	}
	if err := checkHTTPURL(u); err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBadURL, truncateForError(raw), err)
	}
	if embedsScript(s) {
		return "", fmt.Errorf("%w: %q embeds a script URL", ErrBadURL, truncateForError(raw))
	}
	return canonicalize(u)
}

// embedsScript reports a link that carries a script URL inside it, as an
// open redirect's target ("…/redirect?to=javascript:alert(1)"). No article
// URL needs one, and a reader who clicks it may land on the script.
func embedsScript(s string) bool {
	l := strings.ToLower(s)
	if d, err := url.QueryUnescape(l); err == nil {
		l = d
	}
	l = stripURLSpace(l)
	return strings.Contains(l, "javascript:") || strings.Contains(l, "vbscript:") || strings.Contains(l, "data:text/html")
}

func parseHTTPURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	return u, checkHTTPURL(u)
}

func checkHTTPURL(u *url.URL) error {
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	default:
		return fmt.Errorf("scheme %q not allowed", u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return errors.New("no host")
	}
	return nil
}

func canonicalize(u *url.URL) (string, error) {
	c := *u
	c.Scheme = strings.ToLower(c.Scheme)
	c.User = nil // "https://bank.example@evil.example/" tricks readers; never part of identity
	c.Fragment, c.RawFragment = "", ""

	host := strings.ToLower(c.Hostname())
	port := c.Port()
	if host == "" || strings.ContainsAny(host, " \t\r\n%/\\@[]") {
		return "", fmt.Errorf("%w: bad host %q", ErrBadURL, truncateForError(host))
	}
	// An internationalized host has one identity, its A-label: "bücher.example"
	// and "xn--bcher-kva.example" are the same site.
	if !isASCII(host) {
		a, err := idna.Lookup.ToASCII(host)
		if err != nil || a == "" {
			return "", fmt.Errorf("%w: bad host %q", ErrBadURL, truncateForError(host))
		}
		host = a
	}
	// "example.com." is example.com.
	if h := strings.TrimRight(host, "."); h != "" && !strings.Contains(h, ":") {
		host = h
	}
	if (c.Scheme == "http" && port == "80") || (c.Scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		for _, r := range port {
			if r < '0' || r > '9' {
				return "", fmt.Errorf("%w: bad port %q", ErrBadURL, port)
			}
		}
	}
	switch {
	case port != "":
		c.Host = net.JoinHostPort(host, port) // brackets an IPv6 literal
	case strings.Contains(host, ":"): // IPv6 literal
		c.Host = "[" + host + "]"
	default:
		c.Host = host
	}

	// Percent-encoding has one spelling: unreserved characters decoded
	// ("%7E" is "~"), the rest in upper-case hex ("%c3%a9" is "%C3%A9").
	if ep := c.EscapedPath(); strings.IndexByte(ep, '%') >= 0 {
		np := normalizePercent(ep)
		if p, err := url.PathUnescape(np); err == nil {
			c.Path, c.RawPath = p, np
		}
	}
	c.RawQuery = cleanQuery(c.RawQuery)
	c.ForceQuery = false
	if c.Path == "" && c.RawPath == "" {
		c.Path = "/"
	}
	out := c.String()
	// url.URL.String is not a fixed point for every odd input (it may
	// re-escape what Parse accepted); one more round trip settles it, and
	// refusing what still moves keeps CanonicalURL idempotent.
	again, err := url.Parse(out)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBadURL, truncateForError(out), err)
	}
	if again.String() != out {
		return "", fmt.Errorf("%w: %q does not round-trip", ErrBadURL, truncateForError(out))
	}
	return out, nil
}

// cleanQuery drops tracking parameters and keeps the others in their order
// and their original escaping, so the article's own parameters stay intact.
// Links double-escaped by a feed ("&amp;" left after XML decoding) are
// split on the entity as well, or "amp;utm_medium" would survive.
func cleanQuery(q string) string {
	if q == "" {
		return ""
	}
	q = strings.ReplaceAll(q, "&amp;", "&")
	q = strings.ReplaceAll(q, "&#038;", "&")
	q = strings.ReplaceAll(q, "&#38;", "&")
	parts := strings.Split(q, "&")
	kept := parts[:0]
	for _, p := range parts {
		if p == "" {
			continue
		}
		key, _, _ := strings.Cut(p, "=")
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		if isTrackingParam(key) {
			continue
		}
		kept = append(kept, normalizePercent(p))
	}
	return escapeQuery(strings.Join(kept, "&"))
}

// normalizePercent decodes percent-escapes of unreserved characters
// (RFC 3986 §6.2.2.2) and writes the others in upper-case hex; a "%" that
// starts no escape is left alone.
func normalizePercent(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' || i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			b.WriteByte(c)
			continue
		}
		v := unhex(s[i+1])<<4 | unhex(s[i+2])
		if isUnreserved(v) {
			b.WriteByte(v)
		} else {
			b.WriteByte('%')
			b.WriteByte(upperHex[v>>4])
			b.WriteByte(upperHex[v&15])
		}
		i += 2
	}
	return b.String()
}

// upperHex spells percent-escapes: one spelling, upper case.
const upperHex = "0123456789ABCDEF"

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// escapeQuery percent-encodes what url.Parse lets through in a query but a
// URL may not carry: spaces, controls, quotes, angle brackets, non-ASCII.
func escapeQuery(q string) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"<>\\^`{|}", c) >= 0 {
			if b.Len() == 0 {
				b.Grow(len(q) + 8)
				b.WriteString(q[:i])
			}
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return q
	}
	return b.String()
}

// stripURLSpace follows the WHATWG URL parser: leading and trailing C0
// controls and spaces are removed, and so is every tab and newline.
func stripURLSpace(s string) string {
	s = strings.TrimFunc(s, func(r rune) bool { return r <= ' ' || r == '\u00a0' || r == '\ufeff' })
	if strings.ContainsAny(s, "\t\r\n") {
		s = strings.Map(func(r rune) rune {
			if r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, s)
	}
	return s
}

func truncateForError(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
