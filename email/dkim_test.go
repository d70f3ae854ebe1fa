package email_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/digestbot/digestbot/email"
	"github.com/digestbot/digestbot/email/emailtest"
	"github.com/emersion/go-msgauth/dkim"
)

// dkimKey makes a key and the TXT record a receiver would find at
// <selector>._domainkey.<domain> (RFC 6376 §3.6.1, RFC 8463 for Ed25519).
func dkimKey(t testing.TB, kind string) (crypto.Signer, string) {
	t.Helper()
	switch kind {
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		return k, "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	default:
		pub, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k, "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	}
}

// verifier is go-msgauth's verifier with a fake DNS holding one record.
func verify(t testing.TB, msg []byte, txt string) []*dkim.Verification {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{
		LookupTXT: func(domain string) ([]string, error) {
			if domain == "dgst._domainkey.example.com" {
				return []string{txt}, nil
			}
			return nil, errors.New("no such record: " + domain)
		},
	})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return vs
}

func TestDKIMSignedMessagesVerify(t *testing.T) {
	for _, kind := range []string{"rsa", "ed25519"} {
		t.Run(kind, func(t *testing.T) {
			key, txt := dkimKey(t, kind)
			signer, err := email.NewDKIMSigner("example.com", "dgst", key)
			if err != nil {
				t.Fatal(err)
			}
			b, tokens := emailtest.NewBuilder(t, signer)
			srv := emailtest.Start(t, 0)
			snd := emailtest.NewSender(t, b, srv.Host, srv.Port, nil)
			subs := emailtest.Subs(1, 4)
			subs[2].Sections = []string{"Sports"}
			if _, err := snd.Send(context.Background(), emailtest.Edition(3, "2026-01-05"), subs); err != nil {
				t.Fatal(err)
			}
			got := srv.ByRecipient()
			for _, sub := range subs {
				data := got[sub.Address][0].Data
				emailtest.CheckDigest(t, tokens, data, sub)
				vs := verify(t, data, txt)
				if len(vs) != 1 || vs[0].Err != nil {
					t.Fatalf("%s: verification %+v", sub.Address, vs[0])
				}
				if vs[0].Domain != "example.com" {
					t.Errorf("d=%s", vs[0].Domain)
				}
				var keys []string
				for _, k := range vs[0].HeaderKeys {
					keys = append(keys, strings.ToLower(k))
				}
				// RFC 8058 §3.1: both headers must be covered.
				for _, k := range []string{"from", "to", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post"} {
					if !slices.Contains(keys, k) {
						t.Errorf("h= lacks %s: %v", k, keys)
					}
				}
				if !bytes.Contains(data, []byte("c=relaxed/relaxed")) {
					t.Error("not relaxed/relaxed")
				}
				// Another reader's token in List-Unsubscribe breaks it.
				i := bytes.Index(data, []byte("/unsubscribe/")) + len("/unsubscribe/")
				tampered := bytes.Clone(data)
				tampered[i+5] ^= 1
				if vs := verify(t, tampered, txt); vs[0].Err == nil {
					t.Error("tampered List-Unsubscribe still verifies")
				}
			}
		})
	}
}

func TestLoadDKIM(t *testing.T) {
	dir := t.TempDir()
	rsaKey, rsaTXT := dkimKey(t, "rsa")
	edKey, edTXT := dkimKey(t, "ed25519")
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey.(*rsa.PrivateKey))})
	der, _ := x509.MarshalPKCS8PrivateKey(edKey)
	pkcs8 := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	for name, tc := range map[string]struct {
		pem []byte
		txt string
	}{"rsa.pem": {pkcs1, rsaTXT}, "ed25519.pem": {pkcs8, edTXT}} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, tc.pem, 0o600); err != nil {
			t.Fatal(err)
		}
		signer, err := email.LoadDKIM(email.DKIMConfig{Domain: "example.com", Selector: "dgst", KeyFile: path})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		msg, err := signer.Sign([]byte("From: a@example.com\r\nTo: b@example.org\r\nSubject: x\r\n\r\nbody\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		if vs := verify(t, msg, tc.txt); vs[0].Err != nil {
			t.Errorf("%s: %v", name, vs[0].Err)
		}
	}
	if s, err := email.LoadDKIM(email.DKIMConfig{}); s != nil || err != nil {
		t.Errorf("empty config: %v %v", s, err)
	}
	if _, err := email.LoadDKIM(email.DKIMConfig{Domain: "example.com", KeyFile: "x"}); err == nil || !strings.Contains(err.Error(), "selector") {
		t.Errorf("missing selector: %v", err)
	}
	bad := filepath.Join(dir, "bad.pem")
	_ = os.WriteFile(bad, []byte("not a key"), 0o600)
	if _, err := email.LoadDKIM(email.DKIMConfig{Domain: "example.com", Selector: "s", KeyFile: bad}); err == nil {
		t.Error("garbage key accepted")
	}
}

// BenchmarkBuildMessage is the per-subscriber cost without DKIM: headers,
// token copy, two HMACs.
func BenchmarkBuildMessage(b *testing.B) {
	bld, _ := emailtest.NewBuilder(b, nil)
	ed := emailtest.Edition(1, "2026-01-05")
	subs := emailtest.Subs(1, 1000)
	var buf []byte
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m, err := bld.AppendMessage(buf, ed, subs[i%len(subs)])
		if err != nil {
			b.Fatal(err)
		}
		buf = m.Data[:0]
		b.SetBytes(int64(len(m.Data)))
	}
}

// BenchmarkDKIMSign measures the CPU cost of signing one digest message.
func BenchmarkDKIMSign(b *testing.B) {
	for _, kind := range []string{"rsa2048", "ed25519"} {
		b.Run(kind, func(b *testing.B) {
			key, _ := dkimKey(b, strings.TrimSuffix(kind, "2048"))
			signer, err := email.NewDKIMSigner("example.com", "dgst", key)
			if err != nil {
				b.Fatal(err)
			}
			bld, _ := emailtest.NewBuilder(b, nil)
			m, err := bld.AppendMessage(nil, emailtest.Edition(1, "2026-01-05"), emailtest.Subs(1, 1)[0])
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(m.Data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := signer.Sign(m.Data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
