package web

import "net/http"

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
	m.HandleFunc("GET /static/style.css", s.stylesheet)

	// Operations.
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /readyz", s.readyz)
	m.HandleFunc("GET /metrics", s.metricsPage)

	// Admin API.
	m.Handle("POST /api/v1/articles", s.admin(s.createArticle))
	m.Handle("GET /api/v1/articles", s.admin(s.listArticles))
	m.Handle("PATCH /api/v1/articles/{id}", s.admin(s.patchArticle))
	m.Handle("POST /api/v1/editions", s.admin(s.sendEdition))
	m.Handle("GET /api/v1/editions/{id}", s.admin(s.getEdition))
	m.Handle("GET /api/v1/stats", s.admin(s.stats))
	m.Handle("GET /api/v1/subscribers", s.admin(s.exportSubscribers))
	m.Handle("POST /api/v1/subscribers", s.admin(s.addSubscriber))
	m.Handle("/api/", s.admin(func(http.ResponseWriter, *http.Request) error { return errNotFound }))

	// Anything else: a page, not Go's plain-text 404.
	m.Handle("/", s.page(func(http.ResponseWriter, *http.Request) error { return errNotFound }))
	return m
}
