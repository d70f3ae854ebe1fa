// Package web serves digestbot over HTTP: the reader pages (signup, confirm,
// unsubscribe, preferences, archive), the admin API, health and metrics.
// Every page works without JavaScript; templates and the stylesheet are
// embedded.
package web

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/metrics"
	"github.com/digestbot/digestbot/ratelimit"
	"github.com/digestbot/digestbot/subscribers"
)

// Store is what the web package reads directly; *store.Store implements it.
type Store interface {
	DB() *sql.DB // for the health check's ping
	UpsertArticles(ctx context.Context, as []articles.Article) ([]articles.Article, int, error)
	ListArticles(ctx context.Context, beforeID int64, limit int) ([]articles.Article, error)
	UpdateArticle(ctx context.Context, id int64, p articles.Patch) (articles.Article, error)
	CountArticles(ctx context.Context) (int, error)
	GetEdition(ctx context.Context, id int64) (digest.Edition, error)
	GetEditionByDate(ctx context.Context, newsletter, date string) (digest.Edition, error)
	LatestEdition(ctx context.Context, newsletter string) (digest.Edition, error)
	ListEditions(ctx context.Context, newsletter string, limit int) ([]digest.Edition, error)
	DeliveryStats(ctx context.Context, editionID int64) ([]digest.DeliveryCount, error)
	ListSubscriptions(ctx context.Context, afterID int64, limit int) ([]subscribers.Subscription, error)
	CountSubscriptions(ctx context.Context) (map[subscribers.Channel]map[subscribers.Status]int, error)
	SubscriberRecords(ctx context.Context, address string) ([]subscribers.Record, error)
	ForgetSubscriber(ctx context.Context, address string) (int, error)
	CountJobs(ctx context.Context) (map[[2]string]int64, error)
	CountComplaints(ctx context.Context) (int, error)
	EditionReports(ctx context.Context, editionID int64) (map[string]int, error)
}

// Subscriptions is the reader life cycle; *subscribers.Service implements it.
type Subscriptions interface {
	SubscribeEmailTo(ctx context.Context, address string, sections, letters []string, source string) error
	UnsubscribeFrom(ctx context.Context, token, slug string) (subscribers.Subscription, error)
	SetNewslettersByID(ctx context.Context, id int64, slugs []string) (subscribers.Subscription, error)
	LettersOf(sub subscribers.Subscription) []string
	AddConfirmedEmail(ctx context.Context, address string, sections []string, source string) (subscribers.Subscription, bool, error)
	Lookup(ctx context.Context, p subscribers.Purpose, token string) (subscribers.Subscription, error)
	Confirm(ctx context.Context, token string) (subscribers.Subscription, error)
	Unsubscribe(ctx context.Context, token string) (subscribers.Subscription, error)
	SetSections(ctx context.Context, token string, sections []string) (subscribers.Subscription, error)
	SetLocalTime(ctx context.Context, token string, lt *subscribers.LocalTime) (subscribers.Subscription, error)
	Token(p subscribers.Purpose, id int64) string
}

// Importer fetches a URL (an article page or a feed), cleans and stores
// what it finds; *articles.Importer implements it. The web layer only
// passes it http(s) URLs: Import also reads local files.
type Importer interface {
	Import(ctx context.Context, src string, opts articles.ImportOptions) ([]articles.Article, error)
}

// Publisher builds the edition of a date if needed and starts it
// (POST /api/v1/editions); *publish.Service implements it.
type Publisher interface {
	Date(t time.Time) string // the newsletter date of t
	// Publish returns what it did; an error wrapping digest.ErrEmpty when
	// nothing is new and empty editions are skipped.
	Publish(ctx context.Context, date string) (digest.Published, error)
}

// Config is what the web package needs from the configuration.
type Config struct {
	Title         string         // newsletter.title
	BaseURL       string         // newsletter.base_url
	PostalAddress string         // newsletter.postal_address
	Location      *time.Location // newsletter.timezone
	Sections      []string       // newsletter.sections
	Newsletter    string         // edition key; digest.DefaultNewsletter when ""
	// Letters are the instance's newsletters when it has several, the
	// default (Newsletter, Title) first: the signup form and the
	// preferences offer them, and each has its archive under
	// /archive/{slug}/. None or one: the one newsletter above.
	Letters []Letter
	Lang    string // lang of the pages; "en" when ""

	Secret     string // security.secret: keys the CSRF tokens
	AdminToken string // http.admin_token; "" disables the admin API

	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed. Empty: the client is RemoteAddr, whatever headers say.
	TrustedProxies []netip.Prefix
	// POST rate limit per client IP (IPv6: per /64): a bucket of RateBurst,
	// refilled one every RateEvery. Defaults 20 and 3s: 20 quick POSTs,
	// then 20 a minute.
	RateBurst int
	RateEvery time.Duration

	Log *slog.Logger
	Now func() time.Time // nil: time.Now
}

// Letter is one newsletter as the pages show it.
type Letter struct {
	Slug, Title string
	Templates   *digest.Templates // its archive page's; nil: the embedded ones
}

// Deps are the services the handlers call. Importer and Publisher
// may be nil: the admin endpoints that need them then answer 501.
type Deps struct {
	Store         Store
	Subscriptions Subscriptions
	Importer      Importer
	Publisher     Publisher
	// Publishers are every newsletter's, by slug, for POST
	// /api/v1/editions?newsletter=SLUG; nil: Publisher only.
	Publishers map[string]Publisher
	// Ready are the checks of GET /readyz beside the database ping
	// (migrations, SMTP, Telegram), each run with a deadline.
	Ready []ReadyCheck
	// Metrics is the process's registry: /metrics serves it, with the
	// database's figures and the HTTP request counters added. nil: a
	// registry of the server's own.
	Metrics *metrics.Metrics
	// Webhooks serves POST /webhooks/{provider} (bounces.Handler); nil:
	// 404.
	Webhooks http.Handler
}

// Server is the HTTP handler of digestbot. Mount it as the Handler of an
// http.Server; it has no goroutines and nothing to close.
type Server struct {
	cfg        Config
	store      Store
	subs       Subscriptions
	importer   Importer
	publisher  Publisher
	publishers map[string]Publisher
	ready      []ReadyCheck

	log         *slog.Logger
	now         func() time.Time
	handler     http.Handler
	pages       pages
	css         []byte
	tzJS        []byte
	csrf        *csrf
	limiter     *ratelimit.Keyed
	metrics     *metrics.Metrics
	promHandler http.Handler
	webhooks    http.Handler
	adminHash   *[sha256.Size]byte // nil: admin API disabled
}

// New returns the handler. Store and Subscriptions are required.
func New(cfg Config, d Deps) (*Server, error) {
	if d.Store == nil || d.Subscriptions == nil {
		return nil, errors.New("web: Store and Subscriptions are required")
	}
	if cfg.Secret == "" {
		return nil, errors.New("web: Secret is required (security.secret)")
	}
	if cfg.Title == "" {
		cfg.Title = "Daily Headlines"
	}
	if cfg.Newsletter == "" {
		cfg.Newsletter = digest.DefaultNewsletter
	}
	if len(cfg.Letters) == 0 {
		cfg.Letters = []Letter{{Slug: cfg.Newsletter, Title: cfg.Title}}
	}
	cfg.Newsletter, cfg.Title = cfg.Letters[0].Slug, cfg.Letters[0].Title
	if cfg.Lang == "" {
		cfg.Lang = "en"
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.RateBurst <= 0 {
		cfg.RateBurst = 20
	}
	if cfg.RateEvery <= 0 {
		cfg.RateEvery = 3 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p, css, err := parsePages()
	if err != nil {
		return nil, err
	}
	tzJS, err := assets.ReadFile("static/tz.js")
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, store: d.Store, subs: d.Subscriptions, importer: d.Importer, publisher: d.Publisher, publishers: d.Publishers, ready: d.Ready,
		log: cfg.Log, now: cfg.Now, pages: p, css: css, tzJS: tzJS,
		csrf:    newCSRF(cfg.Secret),
		limiter: ratelimit.NewKeyed(cfg.RateBurst, cfg.RateEvery, maxClients),
		metrics: d.Metrics, webhooks: d.Webhooks,
	}
	if s.metrics == nil {
		s.metrics = metrics.New()
	}
	if err := s.metrics.Register(storeCollector{s}); err != nil {
		return nil, fmt.Errorf("web: metrics: %w", err)
	}
	s.promHandler = s.metrics.Handler()
	if cfg.AdminToken != "" {
		// Compared as hashes so the comparison takes the same time
		// whatever the length of the guess.
		h := sha256.Sum256([]byte(cfg.AdminToken))
		s.adminHash = &h
	}
	s.handler = s.middleware(s.routes())
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }
