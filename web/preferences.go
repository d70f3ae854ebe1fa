package web

import (
	"errors"
	"net/http"
	"slices"

	"github.com/digestbot/digestbot/subscribers"
)

const preferencesHint = "Tick the sections you want in your digest."

// preferencesForm is GET /preferences/{token}: section checkboxes and an
// unsubscribe button.
func (s *Server) preferencesForm(w http.ResponseWriter, r *http.Request) error {
	token := r.PathValue("token")
	sub, err := s.subs.Lookup(r.Context(), subscribers.PurposePreferences, token)
	if err != nil {
		return err
	}
	s.showPreferences(w, r, http.StatusOK, sub, token, "", "", nil)
	return nil
}

// savePreferences is POST /preferences/{token}.
func (s *Server) savePreferences(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	token := r.PathValue("token")
	// The token first: a forged link is a 400 whatever the form holds.
	sub, err := s.subs.Lookup(r.Context(), subscribers.PurposePreferences, token)
	if err != nil {
		return err
	}
	if err := s.csrf.check(r); err != nil {
		return err
	}
	chosen := r.PostForm["sections"]
	saved, err := s.subs.SetSections(r.Context(), token, chosen)
	switch {
	case err == nil:
		s.showPreferences(w, r, http.StatusOK, saved, token, "Your preferences are saved.", "", nil)
		return nil
	case errors.Is(err, subscribers.ErrNoSections), errors.Is(err, subscribers.ErrUnknownSection):
		status, msg := statusOf(err)
		s.showPreferences(w, r, status, sub, token, "", msg, chosen)
		return nil
	}
	return err
}

// showPreferences renders the page; chosen, when not nil, overrides the
// stored sections (the form comes back as the reader left it).
func (s *Server) showPreferences(w http.ResponseWriter, r *http.Request, status int, sub subscribers.Subscription, token, notice, msg string, chosen []string) {
	wants := sub.Wants
	if chosen != nil {
		wants = func(name string) bool { return slices.Contains(chosen, name) }
	}
	v := s.formView(w, r, preferencesHint, wants)
	v.Sub, v.Token, v.Notice, v.Error = sub, token, notice, msg
	v.Active = sub.Status == subscribers.Active || sub.Status == subscribers.Pending
	v.UnsubToken = s.subs.Token(subscribers.PurposeUnsubscribe, sub.ID)
	s.render(w, r, status, "preferences", v)
}
