package email

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// DKIMConfig is [email.dkim]: the signing domain (d=), the selector (s=)
// and a PEM private key file (RSA or Ed25519, RFC 8463).
type DKIMConfig struct {
	Domain   string
	Selector string
	KeyFile  string
}

// dkimHeaderKeys are the fields every signature covers (h=). RFC 8058 §3.1:
// List-Unsubscribe and List-Unsubscribe-Post must both be signed for a
// receiver to offer one-click unsubscribe. A field a message lacks (a
// confirmation mail has no List-Unsubscribe) is signed as absent, so it
// cannot be added in transit (RFC 6376 §5.4.2).
func dkimHeaderKeys() []string {
	return []string{
		"From", "To", "Subject", "Date", "Message-ID",
		"List-Unsubscribe", "List-Unsubscribe-Post", "List-Id",
		"MIME-Version", "Content-Type",
	}
}

// DKIMSigner signs messages with one key (RFC 6376), relaxed/relaxed.
type DKIMSigner struct {
	domain, selector string
	key              crypto.Signer
}

// LoadDKIM reads the key file of cfg. It returns nil, nil when cfg is
// empty (no signing) and an error naming the key when cfg is incomplete.
func LoadDKIM(cfg DKIMConfig) (*DKIMSigner, error) {
	if cfg == (DKIMConfig{}) {
		return nil, nil
	}
	switch {
	case cfg.Domain == "":
		return nil, errors.New("delivery: email.dkim.domain is empty")
	case cfg.Selector == "":
		return nil, errors.New("delivery: email.dkim.selector is empty")
	case cfg.KeyFile == "":
		return nil, errors.New("delivery: email.dkim.key_file is empty")
	}
	pemBytes, err := os.ReadFile(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("delivery: email.dkim.key_file: %w", err)
	}
	key, err := ParseDKIMKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("delivery: email.dkim.key_file %s: %w", cfg.KeyFile, err)
	}
	return NewDKIMSigner(cfg.Domain, cfg.Selector, key)
}

// ParseDKIMKey parses a PEM private key: PKCS#1 RSA ("RSA PRIVATE KEY")
// or PKCS#8 RSA or Ed25519 ("PRIVATE KEY").
func ParseDKIMKey(pemBytes []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("unsupported PEM block %q (want RSA PRIVATE KEY or PRIVATE KEY)", block.Type)
	}
	if err != nil {
		return nil, err
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		// RFC 8301 §3.2: signers must use keys of at least 1024 bits.
		if k.N.BitLen() < 1024 {
			return nil, fmt.Errorf("RSA key of %d bits is too short (RFC 8301: at least 1024, 2048 advised)", k.N.BitLen())
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	default:
		return nil, fmt.Errorf("unsupported key type %T (want RSA or Ed25519)", key)
	}
}

// NewDKIMSigner returns a signer for domain and selector.
func NewDKIMSigner(domain, selector string, key crypto.Signer) (*DKIMSigner, error) {
	domain = strings.ToLower(strings.TrimSpace(domain))
	if domain == "" || selector == "" || key == nil {
		return nil, errors.New("delivery: dkim: domain, selector and key are required")
	}
	if !isPrintableASCII(domain+selector) || strings.ContainsAny(domain+selector, " ;=") {
		return nil, fmt.Errorf("delivery: dkim: bad domain %q or selector %q", domain, selector)
	}
	s := &DKIMSigner{domain: domain, selector: selector, key: key}
	if _, err := dkim.NewSigner(s.options()); err != nil {
		return nil, fmt.Errorf("delivery: dkim: %w", err)
	}
	return s, nil
}

func (s *DKIMSigner) options() *dkim.SignOptions {
	return &dkim.SignOptions{
		Domain:                 s.domain,
		Selector:               s.selector,
		Signer:                 s.key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             dkimHeaderKeys(),
	}
}

// Sign returns msg (CRLF line ends) with a DKIM-Signature field in front.
func (s *DKIMSigner) Sign(msg []byte) ([]byte, error) {
	sg, err := dkim.NewSigner(s.options())
	if err != nil {
		return nil, fmt.Errorf("delivery: dkim: %w", err)
	}
	if _, err := sg.Write(msg); err != nil {
		_ = sg.Close()
		return nil, fmt.Errorf("delivery: dkim sign: %w", err)
	}
	if err := sg.Close(); err != nil {
		return nil, fmt.Errorf("delivery: dkim sign: %w", err)
	}
	sig := sg.Signature()
	out := make([]byte, 0, len(sig)+len(msg))
	out = append(out, sig...)
	return append(out, msg...), nil
}
