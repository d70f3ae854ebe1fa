package web

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/digestbot/digestbot/subscribers"
)

const preferencesHint = "Tick the sections you want in your digest."

// preferencesForm is GET /preferences/{token}: section checkboxes, the
// delivery hour and time zone, and an unsubscribe button.
func (s *Server) preferencesForm(w http.ResponseWriter, r *http.Request) error {
	token := r.PathValue("token")
	sub, err := s.subs.Lookup(r.Context(), subscribers.PurposePreferences, token)
	if err != nil {
		return err
	}
	s.showPreferences(w, r, http.StatusOK, sub, token, "", "", nil, nil, nil)
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
	chosen, letters := r.PostForm["sections"], r.PostForm["newsletters"]
	hour, zone := r.PostForm.Get("hour"), strings.TrimSpace(r.PostForm.Get("zone"))
	back := func(err error) error {
		status, msg := statusOf(err)
		s.showPreferences(w, r, status, sub, token, "", msg, chosen, &localChoice{hour, zone}, letters)
		return nil
	}
	if s.several() {
		// Checked before anything is saved: a refused form changes nothing.
		if len(letters) == 0 {
			return back(subscribers.ErrNoNewsletters)
		}
		for _, x := range letters {
			if _, ok := s.letter(x); !ok {
				return back(subscribers.ErrUnknownNewsletter)
			}
		}
	}
	lt, err := parseLocalChoice(hour, zone)
	if err != nil {
		return back(err)
	}
	saved, err := s.subs.SetSections(r.Context(), token, chosen)
	if errors.Is(err, subscribers.ErrNoSections) || errors.Is(err, subscribers.ErrUnknownSection) {
		return back(err)
	}
	if err != nil {
		return err
	}
	if s.several() {
		if saved, err = s.subs.SetNewslettersByID(r.Context(), sub.ID, letters); err != nil {
			return err
		}
	}
	if !sameLocal(saved.Local, lt) {
		if saved, err = s.subs.SetLocalTime(r.Context(), token, lt); err != nil {
			if errors.Is(err, subscribers.ErrBadLocalTime) {
				return back(err)
			}
			return err
		}
	}
	s.showPreferences(w, r, http.StatusOK, saved, token, "Your preferences are saved.", "", nil, nil, nil)
	return nil
}

// localChoice is the delivery time as the form sent it.
type localChoice struct{ hour, zone string }

// parseLocalChoice reads the form's hour ("" or 0–23) and zone; no hour is
// the newsletter's schedule, whatever the zone says.
func parseLocalChoice(hour, zone string) (*subscribers.LocalTime, error) {
	if hour == "" {
		return nil, nil
	}
	h, err := strconv.Atoi(hour)
	if err != nil {
		return nil, fmt.Errorf("%w: hour %q", subscribers.ErrBadLocalTime, hour)
	}
	lt, err := subscribers.ParseLocalTime(zone, h)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", subscribers.ErrBadLocalTime, err)
	}
	return &lt, nil
}

func sameLocal(a, b *subscribers.LocalTime) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// showPreferences renders the page; chosen and local, when not nil,
// override the stored sections and delivery time (the form comes back as
// the reader left it).
func (s *Server) showPreferences(w http.ResponseWriter, r *http.Request, status int, sub subscribers.Subscription, token, notice, msg string, chosen []string, local *localChoice, letters []string) {
	wants := sub.Wants
	if chosen != nil {
		wants = func(name string) bool { return slices.Contains(chosen, name) }
	}
	v := s.formView(w, r, preferencesHint, wants)
	if letters == nil {
		letters = s.subs.LettersOf(sub)
	}
	v.Letters = s.letterBoxes(func(slug string) bool { return slices.Contains(letters, slug) })
	v.Sub, v.Token, v.Notice, v.Error = sub, token, notice, msg
	v.Active = sub.Status == subscribers.Active || sub.Status == subscribers.Pending
	v.UnsubToken = s.subs.Token(subscribers.PurposeUnsubscribe, sub.ID)
	if local == nil {
		local = &localChoice{}
		if sub.Local != nil {
			local = &localChoice{strconv.Itoa(sub.Local.Hour), sub.Local.Zone}
		}
	}
	v.Hours, v.Zone = hourOptions(local.hour), local.zone
	v.Schedule = s.cfg.Location.String()
	s.render(w, r, status, "preferences", v)
}
