package web

import (
	"net/http"

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
	return s.showUnsubscribe(w, r, sub, token)
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
	sub, err := s.subs.Unsubscribe(r.Context(), token)
	if isTokenError(err) && !s.allow(r) {
		return errRateLimited
	}
	if err != nil {
		return err
	}
	return s.showUnsubscribe(w, r, sub, token)
}

func (s *Server) showUnsubscribe(w http.ResponseWriter, r *http.Request, sub subscribers.Subscription, token string) error {
	v := s.view()
	v.Sub, v.Token = sub, token
	v.Active = sub.Status == subscribers.Active || sub.Status == subscribers.Pending
	v.PrefToken = s.subs.Token(subscribers.PurposePreferences, sub.ID)
	s.render(w, r, http.StatusOK, "unsubscribe", v)
	return nil
}
