package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/subscribers"
)

// httpError is an error the web layer itself raises, with its status and
// the message shown to the client.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errStatus(status int, msg string) error { return &httpError{status, msg} }

var (
	errNotFound    = errStatus(http.StatusNotFound, "There is no page at this address.")
	errCSRF        = errStatus(http.StatusForbidden, "This form has expired. Please reload the page and try again.")
	errRateLimited = errStatus(http.StatusTooManyRequests, "Too many attempts from your network. Please wait a minute and try again.")
	errBadForm     = errStatus(http.StatusBadRequest, "The form data could not be read.")
	errUnavailable = errStatus(http.StatusNotImplemented, "Not available on this server.")
)

// importError is a failed import of a URL the admin gave.
type importError struct{ err error }

func (e *importError) Error() string { return "import: " + e.err.Error() }
func (e *importError) Unwrap() error { return e.err }

// statusOf is the one place where errors become HTTP statuses and the
// message a client may see. Anything unknown is a 500 whose details stay
// in the log.
func statusOf(err error) (int, string) {
	var he *httpError
	var mb *http.MaxBytesError
	var ae *subscribers.AddressError
	var ie *importError
	var se *articles.StatusError
	switch {
	case errors.As(err, &ie):
		switch {
		case errors.As(err, &se):
			return http.StatusBadGateway, "Could not import that URL: it answered " + strconv.Itoa(se.Code) + "."
		case errors.Is(err, articles.ErrTooLarge):
			return http.StatusBadGateway, "Could not import that URL: the document is too large."
		case errors.Is(err, articles.ErrNotFeed), errors.Is(err, articles.ErrNoTitle), errors.Is(err, articles.ErrBadURL):
			return http.StatusUnprocessableEntity, "Could not import that URL: no article or feed found there."
		}
		return http.StatusBadGateway, "Could not import that URL: it could not be fetched or read."
	case errors.Is(err, digest.ErrEmpty):
		return http.StatusConflict, "No new articles since the last edition: nothing to send."
	case errors.As(err, &he):
		return he.status, he.msg
	case errors.As(err, &mb):
		return http.StatusRequestEntityTooLarge, "The request is too large."
	case errors.As(err, &ae):
		return http.StatusBadRequest, ae.Reason
	case errors.Is(err, subscribers.ErrExpiredToken):
		return http.StatusBadRequest, "This link has expired. Please sign up again to get a new one."
	case errors.Is(err, subscribers.ErrBadToken):
		return http.StatusBadRequest, "This link is not valid. Please use the link from your most recent email, exactly as it was sent."
	case errors.Is(err, subscribers.ErrStaleLink):
		return http.StatusBadRequest, "This link is no longer valid. Please sign up again."
	case errors.Is(err, subscribers.ErrUnknownSection):
		return http.StatusBadRequest, "Please choose among the listed sections."
	case errors.Is(err, subscribers.ErrUnknownNewsletter):
		return http.StatusBadRequest, "Please choose among the listed newsletters."
	case errors.Is(err, subscribers.ErrNoNewsletters):
		return http.StatusBadRequest, "Choose at least one newsletter, or unsubscribe below."
	case errors.Is(err, subscribers.ErrBadLocalTime):
		return http.StatusBadRequest, "Choose an hour from the list and a time zone by its name, such as Europe/Berlin or America/Chicago."
	case errors.Is(err, subscribers.ErrNoSections):
		return http.StatusBadRequest, "Choose at least one section, or unsubscribe below."
	case errors.Is(err, subscribers.ErrOptedOut):
		return http.StatusConflict, "This address unsubscribed or is blocked; only its owner can sign up again."
	case errors.Is(err, subscribers.ErrNotFound), errors.Is(err, articles.ErrNotFound), errors.Is(err, digest.ErrNotFound):
		return http.StatusNotFound, "Not found."
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "The server is busy. Please try again."
	}
	return http.StatusInternalServerError, "Something went wrong on our side. Please try again later."
}

// isTokenError reports whether err is a refused link token.
func isTokenError(err error) bool {
	return errors.Is(err, subscribers.ErrBadToken) || errors.Is(err, subscribers.ErrExpiredToken)
}

// heading is the title of an error page.
func heading(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "This didn't work"
	case http.StatusForbidden:
		return "Please try again"
	case http.StatusNotFound:
		return "Page not found"
	case http.StatusConflict:
		return "Not possible"
	case http.StatusRequestEntityTooLarge:
		return "Too much data"
	case http.StatusTooManyRequests:
		return "Slow down"
	case http.StatusServiceUnavailable:
		return "Try again"
	}
	return "Something went wrong"
}
