package subscribers

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTokens(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tk := NewTokens("s3cret", func() time.Time { return now })
	other := NewTokens("other", func() time.Time { return now })

	for _, p := range []Purpose{PurposeConfirm, PurposeUnsubscribe, PurposePreferences} {
		tok := tk.Make(p, 42)
		if len(tok) != TokenLen {
			t.Fatalf("len %d, want %d", len(tok), TokenLen)
		}
		id, err := tk.Check(p, tok)
		if err != nil || id != 42 {
			t.Fatalf("Check(%c) = %d, %v", p, id, err)
		}
		if _, err := other.Check(p, tok); !errors.Is(err, ErrBadToken) {
			t.Errorf("other secret accepted: %v", err)
		}
	}

	unsub := tk.Make(PurposeUnsubscribe, 7)
	if _, err := tk.Check(PurposePreferences, unsub); !errors.Is(err, ErrBadToken) {
		t.Errorf("wrong purpose accepted: %v", err)
	}
	// Flip one character anywhere: always refused.
	for i := range unsub {
		c := byte('A')
		if unsub[i] == 'A' {
			c = 'B'
		}
		bad := unsub[:i] + string(c) + unsub[i+1:]
		if _, err := tk.Check(PurposeUnsubscribe, bad); err == nil {
			t.Fatalf("altered token at %d accepted", i)
		}
	}
	// Every other character in the last place is refused, including those
	// that differ only in the unused low bits of the final 6-bit group.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for _, c := range alphabet {
		bad := unsub[:len(unsub)-1] + string(c)
		if bad == unsub {
			continue
		}
		if _, err := tk.Check(PurposeUnsubscribe, bad); !errors.Is(err, ErrBadToken) {
			t.Errorf("last character %q accepted: %v", c, err)
		}
	}
	for _, bad := range []string{"", "x", strings.Repeat("A", TokenLen), unsub + "A", "%%%" + unsub[3:]} {
		if _, err := tk.Check(PurposeUnsubscribe, bad); !errors.Is(err, ErrBadToken) {
			t.Errorf("Check(%q) = %v", bad, err)
		}
	}

	conf := tk.Make(PurposeConfirm, 9)
	now = now.Add(ConfirmTTL + time.Second)
	if _, err := tk.Check(PurposeConfirm, conf); !errors.Is(err, ErrExpiredToken) {
		t.Errorf("expired confirm token: %v", err)
	}
	if _, err := tk.Check(PurposeUnsubscribe, unsub); err != nil {
		t.Errorf("unsubscribe token must not expire: %v", err)
	}
}

func FuzzTokenCheck(f *testing.F) {
	tk := NewTokens("k", nil)
	f.Add(tk.Make(PurposeUnsubscribe, 1))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := tk.Check(PurposeUnsubscribe, s)
		if err == nil && tk.Make(PurposeUnsubscribe, id) != s {
			t.Fatalf("accepted a token it did not make: %q", s)
		}
	})
}

// BenchmarkTokenMake: every digest message carries two tokens.
func BenchmarkTokenMake(b *testing.B) {
	t := NewTokens("secret-0123456789abcdef", nil)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = t.Make(PurposeUnsubscribe, int64(i))
	}
}

// AppendMake writes Make's token after what dst holds, and the token checks.
func TestTokenAppendMake(t *testing.T) {
	tk := NewTokens("secret-0123456789abcdef", nil)
	for _, p := range []Purpose{PurposeUnsubscribe, PurposePreferences, PurposeConfirm} {
		for _, id := range []int64{1, 42, 1 << 40} {
			dst := tk.AppendMake([]byte("prefix:"), p, id)
			got := string(dst[len("prefix:"):])
			if string(dst[:len("prefix:")]) != "prefix:" || len(got) != TokenLen {
				t.Fatalf("AppendMake(%c, %d) = %q", p, id, dst)
			}
			if p != PurposeConfirm && got != tk.Make(p, id) {
				t.Errorf("AppendMake(%c, %d) = %q, Make = %q", p, id, got, tk.Make(p, id))
			}
			if back, err := tk.Check(p, got); err != nil || back != id {
				t.Errorf("Check(%c, AppendMake(%d)) = %d, %v", p, id, back, err)
			}
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		var b [TokenLen]byte
		_ = tk.AppendMake(b[:0], PurposeUnsubscribe, 7)
	}); n != 0 {
		t.Errorf("AppendMake allocates %v times", n)
	}
}

// BenchmarkTokenAppendMake is the message builder's way: into a buffer.
func BenchmarkTokenAppendMake(b *testing.B) {
	t := NewTokens("secret-0123456789abcdef", nil)
	var buf [TokenLen]byte
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = t.AppendMake(buf[:0], PurposeUnsubscribe, int64(i))
	}
}
