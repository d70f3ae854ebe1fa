package web

import (
	"errors"
	"net/http"
	"slices"

	"github.com/digestbot/digestbot/subscribers"
)

const signupHint = "Every section is ticked to start with; untick what you don't want."

// signupForm is GET /: "Sign Up for Daily Headlines".
func (s *Server) signupForm(w http.ResponseWriter, r *http.Request) error {
	v := s.formView(w, r, signupHint, func(string) bool { return true })
	// ?newsletter=SLUG (a link from a letter's archive) ticks that one.
	pick := r.URL.Query().Get("newsletter")
	if _, ok := s.letter(pick); !ok {
		pick = s.cfg.Newsletter
	}
	v.Letters = s.letterBoxes(func(slug string) bool { return slug == pick })
	s.render(w, r, http.StatusOK, "signup", v)
	return nil
}

// subscribe is POST /subscribe. The answer is the same page whether the
// address is new, pending or already active (SPEC §6: no enumeration); a
// malformed address gets the form back with the reason.
func (s *Server) subscribe(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	if err := s.csrf.check(r); err != nil {
		return err
	}
	email := r.PostForm.Get("email")
	sections, letters := r.PostForm["sections"], r.PostForm["newsletters"]
	if s.several() && len(letters) == 0 {
		v := s.formView(w, r, signupHint, func(name string) bool { return len(sections) == 0 || slices.Contains(sections, name) })
		v.Letters = s.letterBoxes(func(string) bool { return false })
		v.Email, v.Error = email, "Choose at least one newsletter."
		s.render(w, r, http.StatusBadRequest, "signup", v)
		return nil
	}
	err := s.subs.SubscribeEmailTo(r.Context(), email, sections, letters, subscribers.SourceWeb)
	switch {
	case err == nil:
		s.render(w, r, http.StatusOK, "check", s.view())
		return nil
	case errors.Is(err, subscribers.ErrInvalidAddress), errors.Is(err, subscribers.ErrUnknownSection),
		errors.Is(err, subscribers.ErrUnknownNewsletter):
		status, msg := statusOf(err)
		// Keep the reader's choice; an empty choice means every section.
		v := s.formView(w, r, signupHint, func(name string) bool {
			return len(sections) == 0 || slices.Contains(sections, name)
		})
		v.Letters = s.letterBoxes(func(slug string) bool { return slices.Contains(letters, slug) })
		v.Email, v.Error = email, msg
		s.render(w, r, status, "signup", v)
		return nil
	}
	return err
}
