package web

import (
	"errors"
	"net/http"
)

// maxFormBytes caps every form body: a signup form is well under 1 KiB.
const maxFormBytes = 64 << 10

// parseForm reads an urlencoded or multipart/form-data body (RFC 8058 §3.2
// allows both for the one-click POST) within maxFormBytes.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	// ParseForm first: ParseMultipartForm would hide its error behind
	// ErrNotMultipart for an urlencoded body.
	err := r.ParseForm()
	if err == nil {
		if err = r.ParseMultipartForm(maxFormBytes); errors.Is(err, http.ErrNotMultipart) {
			err = nil
		}
	}
	if err == nil {
		return nil
	}
	if mb := (*http.MaxBytesError)(nil); errors.As(err, &mb) {
		return err
	}
	return errBadForm
}
