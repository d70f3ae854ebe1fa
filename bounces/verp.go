package bounces

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// ReturnPath makes and reads VERP return paths: each digest message's
// envelope sender is local+TOKEN@domain, TOKEN naming the delivery
// (edition and subscription) under an HMAC-SHA256 of security.secret, so a
// bounce that comes back names its reader without reading the message it
// quotes, and nobody can forge one for another reader.
type ReturnPath struct {
	Local  string // "bounces" when empty
	Domain string // the bounce domain, whose MX points at the listener
	Secret string // security.secret
}

// tokenMAC is how many bytes of the HMAC a token keeps: 80 bits.
const tokenMAC = 10

// lower-case base32 without padding: a local part that survives MTAs that
// fold case.
var tokenEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ErrBadToken is a return path that is not ours, or whose token does not
// verify.
var ErrBadToken = errors.New("bounces: not a valid return path token")

func (p ReturnPath) local() string {
	if p.Local == "" {
		return "bounces"
	}
	return p.Local
}

func (p ReturnPath) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, []byte("digestbot return path\x00"+p.Secret))
	m.Write(payload)
	return m.Sum(nil)[:tokenMAC]
}

// Address is the return path of the message of edition to subscription.
func (p ReturnPath) Address(editionID, subscriptionID int64) string {
	var buf [2*binary.MaxVarintLen64 + tokenMAC]byte
	n := binary.PutUvarint(buf[:], uint64(editionID))
	n += binary.PutUvarint(buf[n:], uint64(subscriptionID))
	n += copy(buf[n:], p.mac(buf[:n]))
	return p.local() + "+" + tokenEncoding.EncodeToString(buf[:n]) + "@" + p.Domain
}

// Parse reads the delivery a return path names; ErrBadToken when it is not
// one this ReturnPath made.
func (p ReturnPath) Parse(addr string) (editionID, subscriptionID int64, err error) {
	local, domain, ok := strings.Cut(strings.Trim(addr, "<>"), "@")
	if !ok || !strings.EqualFold(domain, p.Domain) {
		return 0, 0, fmt.Errorf("%w: %q is not at %s", ErrBadToken, addr, p.Domain)
	}
	prefix, token, ok := strings.Cut(local, "+")
	if !ok || !strings.EqualFold(prefix, p.local()) {
		return 0, 0, fmt.Errorf("%w: %q", ErrBadToken, addr)
	}
	token = strings.ToLower(token)
	raw, err := tokenEncoding.DecodeString(token)
	// Only the canonical spelling: unused low bits of the last character
	// must be zero, so one token has one address.
	if err != nil || len(raw) <= tokenMAC || tokenEncoding.EncodeToString(raw) != token {
		return 0, 0, fmt.Errorf("%w: %q", ErrBadToken, addr)
	}
	payload, sum := raw[:len(raw)-tokenMAC], raw[len(raw)-tokenMAC:]
	if !hmac.Equal(sum, p.mac(payload)) {
		return 0, 0, fmt.Errorf("%w: %q (signature)", ErrBadToken, addr)
	}
	e, n := binary.Uvarint(payload)
	if n <= 0 {
		return 0, 0, fmt.Errorf("%w: %q", ErrBadToken, addr)
	}
	s, m := binary.Uvarint(payload[n:])
	if m <= 0 || n+m != len(payload) {
		return 0, 0, fmt.Errorf("%w: %q", ErrBadToken, addr)
	}
	return int64(e), int64(s), nil
}
