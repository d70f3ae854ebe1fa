package bounces_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/digestbot/digestbot/bounces"
)

func TestReturnPath(t *testing.T) {
	rp := bounces.ReturnPath{Domain: "bounces.news.example", Secret: "secret-0123456789abcdef"}
	for _, c := range [][2]int64{{1, 1}, {7, 123456}, {1 << 40, 1 << 50}} {
		addr := rp.Address(c[0], c[1])
		if len(addr) > 64+1+len(rp.Domain) || !strings.HasPrefix(addr, "bounces+") {
			t.Errorf("address %q", addr)
		}
		e, s, err := rp.Parse(addr)
		if err != nil || e != c[0] || s != c[1] {
			t.Errorf("Parse(%q) = %d, %d, %v", addr, e, s, err)
		}
		// MTAs may fold the case of a local part, and add angle brackets.
		if e, s, err := rp.Parse("<" + strings.ToUpper(addr) + ">"); err != nil || e != c[0] || s != c[1] {
			t.Errorf("upper case: %d, %d, %v", e, s, err)
		}
	}
	addr := rp.Address(7, 42)
	local, domain, _ := strings.Cut(addr, "@")
	flip := []byte(local)
	if flip[len(flip)-1] == 'a' {
		flip[len(flip)-1] = 'b'
	} else {
		flip[len(flip)-1] = 'a'
	}
	other := bounces.ReturnPath{Domain: rp.Domain, Secret: "another-secret-0123456789"}
	for _, bad := range []string{
		string(flip) + "@" + domain,          // tampered
		local + "@elsewhere.example",         // another domain
		other.Address(7, 42),                 // another secret
		"bounces@" + domain,                  // no token
		"bounces+!!!@" + domain,              // not base32
		"postmaster@" + domain, "", "@", "+", // not ours at all
		strings.Replace(addr, "bounces+", "other+", 1),
	} {
		if _, _, err := rp.Parse(bad); !errors.Is(err, bounces.ErrBadToken) {
			t.Errorf("Parse(%q): %v, want ErrBadToken", bad, err)
		}
	}
}

func FuzzReturnPathParse(f *testing.F) {
	rp := bounces.ReturnPath{Domain: "b.example", Secret: "s"}
	f.Add(rp.Address(3, 4))
	f.Add("bounces+aaaa@b.example")
	f.Fuzz(func(t *testing.T, addr string) {
		e, s, err := rp.Parse(addr)
		if err == nil && rp.Address(e, s) != strings.ToLower(strings.Trim(addr, "<>")) &&
			!strings.EqualFold(rp.Address(e, s), strings.Trim(addr, "<>")) {
			t.Fatalf("%q parsed to %d, %d, which makes %q", addr, e, s, rp.Address(e, s))
		}
	})
}
