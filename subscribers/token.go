package subscribers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sync"
	"time"
)

// Purpose binds a token to the one action it may be used for.
type Purpose byte

const (
	PurposeConfirm     Purpose = 'c'
	PurposeUnsubscribe Purpose = 'u'
	PurposePreferences Purpose = 'p'
)

// ConfirmTTL is how long a confirmation link stays valid.
const ConfirmTTL = 7 * 24 * time.Hour

// TokenLen is the length of every token: links can be pre-rendered with a
// placeholder of this size and filled in per subscriber.
const TokenLen = 46

const (
	tokenVersion = 1
	rawLen       = 1 + 1 + 8 + 8 + 16 // version, purpose, id, expiry, mac
)

// Token errors. ErrBadToken covers forged, altered and wrongly purposed
// tokens alike: a caller should not learn which check failed.
var (
	ErrBadToken     = errors.New("invalid link")
	ErrExpiredToken = errors.New("expired link")
)

// Tokens makes and checks the signed tokens in readers' links:
// HMAC-SHA256 over purpose, subscription id and expiry, keyed by
// security.secret and truncated to 128 bits.
type Tokens struct {
	key  []byte
	now  func() time.Time
	macs sync.Pool // of *macState: HMAC-SHA256 under key, its pads computed once
}

// NewTokens returns a token signer. now may be nil for time.Now.
func NewTokens(secret string, now func() time.Time) *Tokens {
	if now == nil {
		now = time.Now
	}
	k := sha256.Sum256([]byte("digestbot token v1\x00" + secret))
	return &Tokens{key: k[:], now: now}
}

// Make returns a token for purpose and subscription id. Confirm tokens
// expire after ConfirmTTL; the others do not expire.
func (t *Tokens) Make(p Purpose, id int64) string {
	var b [TokenLen]byte
	return string(t.AppendMake(b[:0], p, id))
}

// AppendMake appends Make(p, id) to dst (TokenLen bytes) and returns the
// extended slice: a message builder writes its readers' tokens into place
// with no allocation.
func (t *Tokens) AppendMake(dst []byte, p Purpose, id int64) []byte {
	var exp int64
	if p == PurposeConfirm {
		exp = t.now().Add(ConfirmTTL).Unix()
	}
	m := t.getMAC()
	defer t.macs.Put(m)
	raw := &m.raw
	raw[0] = tokenVersion
	raw[1] = byte(p)
	binary.BigEndian.PutUint64(raw[2:10], uint64(id))
	binary.BigEndian.PutUint64(raw[10:18], uint64(exp))
	copy(raw[18:], m.sum(raw[:18]))
	return base64.RawURLEncoding.AppendEncode(dst, raw[:])
}

// Check verifies token for purpose and returns the subscription id it names.
func (t *Tokens) Check(p Purpose, token string) (int64, error) {
	if len(token) != TokenLen {
		return 0, ErrBadToken
	}
	var raw [rawLen]byte
	// Strict: a token whose last character differs only in the unused low
	// bits decodes to the same bytes; it was altered all the same.
	n, err := base64.RawURLEncoding.Strict().Decode(raw[:], []byte(token))
	if err != nil || n != rawLen {
		return 0, ErrBadToken
	}
	if !hmac.Equal(raw[18:], t.mac(raw[:18])) || raw[0] != tokenVersion || Purpose(raw[1]) != p {
		return 0, ErrBadToken
	}
	id := int64(binary.BigEndian.Uint64(raw[2:10]))
	if exp := int64(binary.BigEndian.Uint64(raw[10:18])); exp != 0 && t.now().Unix() > exp {
		return 0, fmt.Errorf("subscription %d: %w", id, ErrExpiredToken)
	}
	return id, nil
}

func (t *Tokens) mac(b []byte) []byte {
	m := t.getMAC()
	defer t.macs.Put(m)
	return append([]byte(nil), m.sum(b)...)
}

// macState is an HMAC under the key and the buffers of one token, reused
// through Tokens.macs: neither the token's bytes nor the sum escape to
// the heap through the hash.Hash interface.
type macState struct {
	h   hash.Hash
	raw [rawLen]byte
	out [sha256.Size]byte
}

func (t *Tokens) getMAC() *macState {
	if m, ok := t.macs.Get().(*macState); ok {
		return m
	}
	return &macState{h: hmac.New(sha256.New, t.key)}
}

// sum is the MAC of b truncated to 128 bits, in m's storage (valid until
// m is used again).
func (m *macState) sum(b []byte) []byte {
	m.h.Reset()
	m.h.Write(b)
	return m.h.Sum(m.out[:0])[:16]
}
