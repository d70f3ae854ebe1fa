package web

import (
	"net/http"

	"github.com/digestbot/digestbot/subscribers"
)

// confirmForm is GET /confirm/{token}. It only shows a button: mail
// scanners and link previews fetch every link in a message, and a GET that
// confirmed would defeat the double opt-in.
func (s *Server) confirmForm(w http.ResponseWriter, r *http.Request) error {
	token := r.PathValue("token")
	sub, err := s.subs.Lookup(r.Context(), subscribers.PurposeConfirm, token)
	if err != nil {
		return err
	}
	switch sub.Status {
	case subscribers.Active:
		return s.showConfirmed(w, r, sub)
	case subscribers.Pending:
	default:
		// Same answer as the POST would give (Service.Confirm).
		return subscribers.ErrStaleLink
	}
	v := s.view()
	v.Sub, v.Token = sub, token
	s.render(w, r, http.StatusOK, "confirm", v)
	return nil
}

// confirm is POST /confirm/{token}: the subscription becomes active.
func (s *Server) confirm(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	sub, err := s.subs.Confirm(r.Context(), r.PathValue("token"))
	if err != nil {
		return err
	}
	return s.showConfirmed(w, r, sub)
}

func (s *Server) showConfirmed(w http.ResponseWriter, r *http.Request, sub subscribers.Subscription) error {
	v := s.view()
	v.Sub = sub
	v.PrefToken = s.subs.Token(subscribers.PurposePreferences, sub.ID)
	s.render(w, r, http.StatusOK, "confirmed", v)
	return nil
}
