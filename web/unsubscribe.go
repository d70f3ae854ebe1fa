package web

import (
	"net/http"
	"slices"

	"github.com/digestbot/digestbot/subscribers"
)

// unsubscribeForm is GET /unsubscribe/{token}: a page with a button. Like
// confirm, a GET changes nothing (RFC 8058 §1: mail software fetches links).
func (s *Server) unsubscribeForm(w http.ResponseWriter, r *http.Request) error {
	token := r.PathValue("token")
	sub, err := s.subs.Lookup(r.Context(), subscribers.PurposeUnsubscribe, token)
	if err != nil {
		return err
	}
	return s.showUnsubscribe(w, r, sub, token, s.leaving(r))
}

// leaving is the newsletter an unsubscribe link names (?newsletter=SLUG,
// the link of a letter's own emails); "" is every letter, as is a slug
// this instance does not have (a letter since removed: leave them all).
func (s *Server) leaving(r *http.Request) string {
	slug := r.URL.Query().Get("newsletter")
	if r.PostForm != nil && r.PostForm.Get("all") != "" {
		return ""
	}
	if _, ok := s.letter(slug); !ok || !s.several() {
		return ""
	}
	return slug
}

// unsubscribe is POST /unsubscribe/{token}, also the RFC 8058 one-click
// target: the mailbox provider POSTs "List-Unsubscribe=One-Click"
// (urlencoded or multipart/form-data) with no cookie and follows no
// redirect (§3.2), so there is no CSRF check and the answer is a 200 page.
// The signed token is the whole authorization.
//
// Only refused tokens count against the client's rate limit: a large
// provider sends every one-click POST of its users from a few addresses,
// and turning those away would keep mailing people who asked to leave.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	token := r.PathValue("token")
	slug := s.leaving(r)
	sub, err := s.subs.UnsubscribeFrom(r.Context(), token, slug)
	if isTokenError(err) && !s.allow(r) {
		return errRateLimited
	}
	if err != nil {
		return err
	}
	v := s.unsubscribeView(sub, token, slug)
	if slug != "" && v.Active && !slices.Contains(s.subs.LettersOf(sub), slug) {
		// Left this letter, still reading others: say so, and offer the rest.
		v.Notice = "You won't receive " + v.Leaving + " anymore."
	}
	s.render(w, r, http.StatusOK, "unsubscribe", v)
	return nil
}

func (s *Server) showUnsubscribe(w http.ResponseWriter, r *http.Request, sub subscribers.Subscription, token, slug string) error {
	s.render(w, r, http.StatusOK, "unsubscribe", s.unsubscribeView(sub, token, slug))
	return nil
}

func (s *Server) unsubscribeView(sub subscribers.Subscription, token, slug string) view {
	v := s.view()
	v.Sub, v.Token = sub, token
	v.Active = sub.Status == subscribers.Active || sub.Status == subscribers.Pending
	if l, ok := s.letter(slug); ok && slug != "" {
		v.Leaving, v.LeaveSlug = l.Title, l.Slug
	}
	for _, x := range s.subs.LettersOf(sub) {
		if l, ok := s.letter(x); ok && s.several() {
			v.Letters = append(v.Letters, letterBox{Slug: l.Slug, Title: l.Title, Checked: true})
		}
	}
	v.PrefToken = s.subs.Token(subscribers.PurposePreferences, sub.ID)
	return v
}
