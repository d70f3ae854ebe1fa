package subscribers

import (
	"errors"
	"net/mail"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidAddress is matched (errors.Is) by every *AddressError.
var ErrInvalidAddress = errors.New("invalid email address")

// AddressError says why an email address was refused. Reason is written for
// the reader who typed it and carries no input back, so any page may show it.
type AddressError struct {
	Reason string
}

func (e *AddressError) Error() string { return "invalid email address: " + e.Reason }

// Is makes errors.Is(err, ErrInvalidAddress) hold for every AddressError.
func (e *AddressError) Is(target error) bool { return target == ErrInvalidAddress }

// RFC 5321 §4.5.3.1: 64 octets for the local part; 254 is the longest
// address that fits a 256-octet forward path with its angle brackets.
const (
	maxAddressLen = 254
	maxLocalLen   = 64
	maxLabelLen   = 63
)

// NormalizeEmail checks that s is one bare email address (RFC 5322
// addr-spec: no display name, comment, angle brackets or second address)
// and returns it with its domain lower-cased. The local part keeps its case:
// RFC 5321 §2.4 lets a server tell "Ann" from "ann".
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", &AddressError{Reason: "Please enter your email address."}
	case strings.ContainsAny(s, "\r\n"):
		// Header injection: an address ends up in a To: line.
		return "", &AddressError{Reason: "An email address cannot span several lines."}
	case len(s) > maxAddressLen:
		return "", &AddressError{Reason: "That address is too long (at most 254 characters)."}
	case !utf8.ValidString(s):
		return "", &AddressError{Reason: "That address contains invalid characters."}
	}
	a, err := mail.ParseAddress(s)
	// Comparing with the input refuses what ParseAddress accepts around an
	// addr-spec ("Name <a@b>", "a@b (comment)", "<a@b>") and quoted local
	// parts, which many mail systems mishandle.
	if err != nil || a.Name != "" || a.Address != s {
		return "", &AddressError{Reason: "That doesn't look like an email address (name@example.com)."}
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], strings.ToLower(s[at+1:])
	if len(local) > maxLocalLen {
		return "", &AddressError{Reason: "The part before @ is too long (at most 64 characters)."}
	}
	if !validDomain(domain) {
		return "", &AddressError{Reason: "The part after @ is not a valid domain name."}
	}
	// RFC 5321 lets the local part be case-sensitive, but no mailbox
	// provider of note treats it so, and readers type their address in any
	// case: one mailbox must be one subscription, or "Ann@" and "ann@" both
	// get the digest and unsubscribing one leaves the other.
	return strings.ToLower(local) + "@" + domain, nil
}

// validDomain accepts a dotted host name: at least two labels, none empty,
// longer than 63 octets or starting or ending with a hyphen. Address
// literals ("[192.0.2.1]") and dotless names are refused: no public
// mailbox needs them and they are a favourite of form spammers.
func validDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > maxLabelLen || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			// Letters of any script (IDN in Unicode form), digits, hyphens.
			if r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' ||
				r > unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)) {
				continue
			}
			return false
		}
	}
	return true
}

// NormalizeAddress reads a subscriber address as a data request names it:
// a Telegram chat id (a decimal integer, negative for groups) as it is, or
// an email address as NormalizeEmail stores it.
func NormalizeAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return s, nil
	}
	return NormalizeEmail(s)
}
