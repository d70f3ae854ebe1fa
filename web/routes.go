package web

import (
	_ "embed"
	"net/http"
)

// routes is the one list of what the server answers (SPEC §4 HTTP).
func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()

	// Reader pages. CSRF tokens guard the two forms a browser fills in
	// from a page of ours; the token routes are authorized by their signed
	// token, which a cross-site attacker cannot know either.
	m.Handle("GET /{$}", s.page(s.signupForm))
	m.Handle("POST /subscribe", s.limit(s.page(s.subscribe)))
	m.Handle("GET /subscribe", http.RedirectHandler("/", http.StatusSeeOther))
	m.Handle("GET /confirm/{token}", s.page(s.confirmForm))
	m.Handle("POST /confirm/{token}", s.limit(s.page(s.confirm)))
	m.Handle("GET /unsubscribe/{token}", s.page(s.unsubscribeForm))
	// Rate limited inside: only refused tokens count (see unsubscribe).
	m.Handle("POST /unsubscribe/{token}", s.page(s.unsubscribe))
	m.Handle("GET /preferences/{token}", s.page(s.preferencesForm))
	m.Handle("POST /preferences/{token}", s.limit(s.page(s.savePreferences)))
	m.Handle("GET /archive", s.page(s.archiveList))
	m.Handle("GET /archive/{date}", s.page(s.archiveEdition))
	m.Handle("GET /archive/feed.atom", s.page(s.archiveFeed))
	// Each newsletter's own archive (the paths above are the default one's).
	m.Handle("GET /archive/{slug}/{$}", s.page(s.archiveList))
	m.Handle("GET /archive/{slug}/{date}", s.page(s.archiveEdition))
	m.Handle("GET /archive/{slug}/feed.atom", s.page(s.archiveFeed))
	m.HandleFunc("GET /static/style.css", s.stylesheet)
	m.HandleFunc("GET /static/tz.js", s.tzScript)

	// Operations.
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /readyz", s.readyz)
	m.HandleFunc("GET /metrics", s.metricsPage)
	if s.webhooks != nil {
		// Signed by the providers (or basic auth): no CSRF token, no
		// per-IP limit (a provider posts from a few addresses, a lot).
		m.Handle("POST /webhooks/{provider}", s.webhooks)
	}

	// Admin API (its OpenAPI document lists exactly these routes).
	for _, rt := range s.adminRoutes() {
		m.Handle(rt.pattern, s.admin(rt.h))
	}
	m.HandleFunc("GET /api/v1/openapi.json", serveOpenAPI)
	m.Handle("/api/", s.admin(func(http.ResponseWriter, *http.Request) error { return errNotFound }))

	// Anything else: a page, not Go's plain-text 404.
	m.Handle("/", s.page(func(http.ResponseWriter, *http.Request) error { return errNotFound }))
	return m
}

// adminRoute is one admin API endpoint: a ServeMux pattern and its handler.
type adminRoute struct {
	pattern string
	h       apiHandler
}

// adminRoutes are the admin API's endpoints, behind the bearer token.
func (s *Server) adminRoutes() []adminRoute {
	return []adminRoute{
		{"POST /api/v1/articles", s.createArticle},
		{"GET /api/v1/articles", s.listArticles},
		{"PATCH /api/v1/articles/{id}", s.patchArticle},
		{"POST /api/v1/editions", s.sendEdition},
		{"GET /api/v1/editions/{id}", s.getEdition},
		{"GET /api/v1/stats", s.stats},
		{"GET /api/v1/subscribers", s.exportSubscribers},
		{"POST /api/v1/subscribers", s.addSubscriber},
		{"GET /api/v1/subscribers/{address}", s.subscriberData},
		{"DELETE /api/v1/subscribers/{address}", s.forgetSubscriber},
	}
}

// openAPI is the admin API's OpenAPI 3 document.
//
//go:embed openapi.json
var openAPI []byte

// serveOpenAPI is GET /api/v1/openapi.json, without a token: it describes
// the API, it reveals nothing stored.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(openAPI)
}
