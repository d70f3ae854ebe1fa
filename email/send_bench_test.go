package email_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/email/emailtest"
)

// discardServer is an SMTP server that accepts every message and keeps
// nothing but counts, for benchmarks of the sender: it costs little CPU
// and allocates nothing a message, like the bench's sink.
type discardServer struct {
	ln          net.Listener
	wg          sync.WaitGroup
	msgs, bytes atomic.Int64
}

func startDiscard(tb testing.TB) *discardServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &discardServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
	tb.Cleanup(func() {
		_ = ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *discardServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *discardServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriterSize(c, 4<<10)
	_, _ = w.WriteString("220 discard ESMTP\r\n")
	_ = w.Flush()
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		var cmd [4]byte
		for i, c := range line[:min(len(line), 4)] {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			cmd[i] = c
		}
		switch string(cmd[:]) {
		case "EHLO":
			_, _ = w.WriteString("250-discard\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
		case "DATA":
			_, _ = w.WriteString("354 go ahead\r\n")
			_ = w.Flush()
			var n int64
			for {
				l, err := r.ReadSlice('\n')
				if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
					return
				}
				n += int64(len(l))
				if len(l) == 3 && l[0] == '.' && l[1] == '\r' {
					break
				}
			}
			s.msgs.Add(1)
			s.bytes.Add(n)
			_, _ = w.WriteString("250 queued\r\n")
		case "QUIT":
			_, _ = w.WriteString("221 bye\r\n")
			_ = w.Flush()
			return
		default: // MAIL, RCPT, RSET, NOOP
			_, _ = w.WriteString("250 ok\r\n")
		}
		if r.Buffered() == 0 {
			if w.Flush() != nil {
				return
			}
		}
	}
}

// bigEdition is emailtest.Edition with its items repeated, which makes a
// message of about 40 KB like the bench's (a digest of the fixture feeds).
func bigEdition(id int64) digest.Edition {
	ed := emailtest.Edition(id, "2026-01-05")
	items := ed.Items
	for k := 1; k < 3; k++ {
		for _, it := range items[:10] {
			it.ArticleID += int64(100 * k)
			it.URL = fmt.Sprintf("%s-%d", it.URL, k)
			ed.Items = append(ed.Items, it)
		}
	}
	return ed
}

// BenchmarkSMTPSendEach is the sender's cost a message on the path of
// send-now: a batch of 1000 readers streamed over four pipelined plain
// connections to a discarding server in the same process (whose CPU is
// in the figure too, as on the bench machine). ns/op and allocs/op are
// per batch; cpu-ns/msg is the process's user and system time a message
// (sender and server).
func BenchmarkSMTPSendEach(b *testing.B) {
	srv := startDiscard(b)
	bld, _ := emailtest.NewBuilder(b, nil)
	s := emailtest.NewSender(b, bld, "127.0.0.1", srv.port(), nil)
	ed := bigEdition(1)
	subs := emailtest.Subs(1, 1000)
	var sent atomic.Int64
	sink := delivery.EmitFunc(func(r delivery.Result) {
		if r.Outcome == delivery.Sent {
			sent.Add(1)
		}
	})
	m, err := bld.AppendMessage(nil, ed, subs[0])
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(m.Data)) * int64(len(subs)))
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		if err := s.SendEach(context.Background(), ed, subs, sink); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(sent.Load()), "cpu-ns/msg")
	if sent.Load() != int64(b.N)*int64(len(subs)) {
		b.Fatalf("%d sent of %d", sent.Load(), b.N*len(subs))
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
