package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// CSRF protection for the browser forms, by signed double submit: the
// cookie holds a random nonce, the form field holds HMAC(secret, nonce).
// A cross-site page can make a browser send the cookie but cannot read it,
// and a sibling domain that can plant a cookie still cannot sign it.
const (
	csrfCookie = "digestbot_csrf"
	csrfField  = "csrf_token"
	nonceLen   = 32
)

type csrf struct {
	key []byte
}

func newCSRF(secret string) *csrf {
	// A key of its own, so a CSRF token is never also a link token.
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("digestbot csrf v1"))
	return &csrf{key: m.Sum(nil)}
}

func (c *csrf) sign(nonce string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func validNonce(v string) bool {
	b, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil && len(b) == nonceLen
}

// token returns the form value for this browser, setting the cookie when
// it has none yet. Reusing the cookie keeps several open tabs working.
func (c *csrf) token(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(csrfCookie); err == nil && validNonce(ck.Value) {
		return c.sign(ck.Value)
	}
	b := make([]byte, nonceLen)
	_, _ = rand.Read(b) // never fails (crypto/rand doc)
	nonce := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{
		Name:     csrfCookie,
		Value:    nonce,
		Path:     "/",
		HttpOnly: true,
		// Lax: sent on a top-level navigation, not on a cross-site POST.
		SameSite: http.SameSiteLaxMode,
		// Secure only when this request came over TLS: a cookie marked
		// Secure would never come back over plain HTTP (tests, a local
		// instance) and every form would fail.
		Secure: r.TLS != nil,
	})
	return c.sign(nonce)
}

// check verifies the form's token against the cookie (after ParseForm).
func (c *csrf) check(r *http.Request) error {
	ck, err := r.Cookie(csrfCookie)
	if err != nil || !validNonce(ck.Value) {
		return errCSRF
	}
	got := r.PostForm.Get(csrfField)
	if !hmac.Equal([]byte(got), []byte(c.sign(ck.Value))) {
		return errCSRF
	}
	return nil
}
