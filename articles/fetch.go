package articles

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Defaults of a zero Fetcher.
const (
	DefaultFetchTimeout = 30 * time.Second
	DefaultMaxBytes     = 10 << 20
	DefaultUserAgent    = "digestbot/1.0 (+https://github.com/digestbot/digestbot)"
)

// ErrTooLarge is wrapped when a response body exceeds Fetcher.MaxBytes.
var ErrTooLarge = errors.New("response exceeds size cap")

// StatusError is an HTTP answer that is neither 2xx nor 304.
type StatusError struct {
	URL    string
	Code   int
	Status string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("GET %s: %s", e.URL, e.Status)
}

// Fetcher downloads feeds and pages: one GET with a timeout covering the
// whole exchange (body included), a size cap, a User-Agent, and the
// conditional headers of a previous answer. The zero value works; set
// Client to route requests (tests, proxies).
type Fetcher struct {
	Client    *http.Client  // nil: http.DefaultClient (the timeout below still applies)
	Timeout   time.Duration // 0: DefaultFetchTimeout
	MaxBytes  int64         // 0: DefaultMaxBytes
	UserAgent string        // "": DefaultUserAgent
}

// Response is a fetched document.
type Response struct {
	URL          string // after redirects
	Body         []byte // nil when NotModified
	ContentType  string
	ETag         string // validators to send next time
	LastModified string
	NotModified  bool // 304: nothing changed since etag/lastModified
}

// Fetch GETs rawURL (http or https only). etag and lastModified, from the
// previous answer, make it a conditional GET (RFC 9110 §13.1.2, §13.1.4): a
// 304 returns NotModified with the old validators kept.
func (f *Fetcher) Fetch(ctx context.Context, rawURL, etag, lastModified string) (Response, error) {
	// Only http(s) is fetched; the request goes to the URL as given (user
	// info and all), the canonical form only validates it.
	if _, err := CanonicalURL(rawURL); err != nil {
		return Response{}, fmt.Errorf("articles: fetch: %w", err)
	}
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = DefaultFetchTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, stripURLSpace(rawURL), nil)
	if err != nil {
		return Response{}, fmt.Errorf("articles: fetch %s: %w", rawURL, err)
	}
	ua := f.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	req.Header.Set("User-Agent", ua)
	req.Header.Set("Accept", "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/html;q=0.8, */*;q=0.5")
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	if lastModified != "" {
		req.Header.Set("If-Modified-Since", lastModified)
	}
	client := f.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Response{}, fmt.Errorf("articles: fetch %s: %w", rawURL, err)
	}
	defer resp.Body.Close()

	out := Response{
		URL:          resp.Request.URL.String(),
		ContentType:  resp.Header.Get("Content-Type"),
		ETag:         resp.Header.Get("ETag"),
		LastModified: resp.Header.Get("Last-Modified"),
	}
	if resp.StatusCode == http.StatusNotModified {
		out.NotModified = true
		if out.ETag == "" {
			out.ETag = etag
		}
		if out.LastModified == "" {
			out.LastModified = lastModified
		}
		return out, nil
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Response{}, fmt.Errorf("articles: fetch: %w", &StatusError{URL: rawURL, Code: resp.StatusCode, Status: resp.Status})
	}
	max := f.MaxBytes
	if max <= 0 {
		max = DefaultMaxBytes
	}
	if resp.ContentLength > max {
		return Response{}, fmt.Errorf("articles: fetch %s: %w (%d bytes, cap %d)", rawURL, ErrTooLarge, resp.ContentLength, max)
	}
	// Read one byte past the cap: a body of exactly max bytes is fine, one
	// more is an error, never a silently truncated (and so broken) feed.
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return Response{}, fmt.Errorf("articles: fetch %s: read body: %w", rawURL, err)
	}
	if int64(len(body)) > max {
		return Response{}, fmt.Errorf("articles: fetch %s: %w (cap %d bytes)", rawURL, ErrTooLarge, max)
	}
	out.Body = body
	return out, nil
}
