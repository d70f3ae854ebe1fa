package email

import (
	"bufio"
	"net/textproto"
	"strings"
	"testing"
)

// readReply reads what textproto's ReadResponse(0) reads, with the same
// code and error, and the same text whenever the reply is not the one
// expected; the reader is left at the same place.
func TestReadReplyLikeTextproto(t *testing.T) {
	long := "250 " + strings.Repeat("x", 5000) + "\r\n"
	inputs := []string{
		"250 ok\r\n",
		"250 2.0.0 queued as 1234\r\nMAIL",
		"354 go ahead\r\n",
		"250-first\r\n250-second\r\n250 last\r\n",
		"550-5.1.1 no such user\r\n550 5.1.1 see https://example.org\r\n",
		"421 closing\r\n",
		"452 4.2.2 mailbox full\n",
		"250-a\r\n251 b\r\n250 c\r\n", // a line of another code inside a reply
		"250-a\r\nbroken\r\n250 c\r\n",
		"25\r\n",
		"250\r\n",
		"abc hello\r\n",
		"099 low\r\n",
		"+50 sign\r\n",
		"250x what\r\n",
		"250 no line end",
		"250-open\r\n",
		"099-bad code, more to come\r\n099 end\r\n",
		"",
		"\r\n",
		"554 bad\r\r\n",
		long,
		"550-" + strings.Repeat("y", 5000) + "\r\n550 end\r\n",
	}
	for _, in := range inputs {
		for _, expect := range []int{2, 354} {
			tr := textproto.NewReader(bufio.NewReaderSize(strings.NewReader(in), 4096))
			wantCode, wantMsg, wantErr := tr.ReadResponse(0)
			wantRest, _ := tr.R.Peek(tr.R.Buffered())

			r := bufio.NewReaderSize(strings.NewReader(in), 4096)
			var buf []byte
			code, msg, err := readReply(r, &buf, expect)
			rest, _ := r.Peek(r.Buffered())

			name := trunc(in)
			if (err == nil) != (wantErr == nil) {
				t.Errorf("%q (expect %d): error %v, textproto %v", name, expect, err, wantErr)
				continue
			}
			if err != nil {
				// A first line with a bad code that announces more: textproto
				// reads on to the end of the input; readReply stops there.
				// Either way the connection is given up.
				if err.Error() != wantErr.Error() && !strings.HasPrefix(in, "099-") {
					t.Errorf("%q: error %v, textproto %v", name, err, wantErr)
				}
				continue
			}
			if code != wantCode {
				t.Errorf("%q: code %d, textproto %d", name, code, wantCode)
			}
			expected := code == expect || (expect == 2 && code/100 == 2)
			if !expected && msg != wantMsg {
				t.Errorf("%q (expect %d): text %q, textproto %q", name, expect, trunc(msg), trunc(wantMsg))
			}
			if expected && msg != "" {
				t.Errorf("%q (expect %d): text %q kept for an expected reply", name, expect, trunc(msg))
			}
			if string(rest) != string(wantRest) {
				t.Errorf("%q: left %q, textproto %q", name, rest, wantRest)
			}
		}
	}
}

// An expected reply costs no allocation.
func TestReadReplyAllocs(t *testing.T) {
	const in = "250-first\r\n250 2.0.0 queued\r\n"
	sr := strings.NewReader(in)
	r := bufio.NewReader(sr)
	var buf []byte
	if n := testing.AllocsPerRun(100, func() {
		sr.Reset(in)
		r.Reset(sr)
		if code, _, err := readReply(r, &buf, 2); code != 250 || err != nil {
			t.Fatal(code, err)
		}
	}); n != 0 {
		t.Errorf("%v allocations a reply", n)
	}
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
