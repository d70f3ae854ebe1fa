// Package smtpsink is the benchmarks' SMTP server and their ceiling: a
// sink that accepts everything and, like Postfix's smtp-sink, answers a
// pipelined group with one write, run as its own process so that its CPU
// and memory are not counted; and a minimal pipelined client (PERF-NOTES'
// last row) that pushes pre-built messages to it.
//
// A benchmark binary calls Serve when started with its sink flag, and Start
// to run itself that way.
package smtpsink

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Stats is what the sink received.
type Stats struct {
	Messages   int64
	Bytes      int64
	Recipients int64     // distinct RCPT TO addresses of accepted messages
	First      time.Time // the first message accepted (zero: none)
	Last       time.Time // the last one
}

// Serve runs the sink on 127.0.0.1: it prints "listening ADDR", then one
// stats line for every line read on stdin, and a last one when stdin
// closes.
func Serve(stdin io.Reader, stdout io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "listening %s\n", ln.Addr())
	s := &sink{rcpts: make(map[string]struct{})}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.conn(c)
		}
	}()
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		fmt.Fprintln(stdout, s.stats().line())
	}
	_ = ln.Close()
	fmt.Fprintln(stdout, s.stats().line())
	return nil
}

func (st Stats) line() string {
	first, last := int64(0), int64(0)
	if !st.First.IsZero() {
		first, last = st.First.UnixNano(), st.Last.UnixNano()
	}
	return fmt.Sprintf("stats %d %d %d %d %d", st.Messages, st.Bytes, st.Recipients, first, last)
}

func parseStats(line string) (Stats, error) {
	var st Stats
	var first, last int64
	if _, err := fmt.Sscanf(strings.TrimSpace(line), "stats %d %d %d %d %d", &st.Messages, &st.Bytes, &st.Recipients, &first, &last); err != nil {
		return st, fmt.Errorf("sink said %q: %w", line, err)
	}
	if first != 0 {
		st.First, st.Last = time.Unix(0, first), time.Unix(0, last)
	}
	return st, nil
}

type sink struct {
	msgs, bytes atomic.Int64
	mu          sync.Mutex
	rcpts       map[string]struct{}
	first, last time.Time
}

func (s *sink) stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Messages: s.msgs.Load(), Bytes: s.bytes.Load(), Recipients: int64(len(s.rcpts)), First: s.first, Last: s.last}
}

func (s *sink) accepted(to []string, n int64) {
	now := time.Now()
	s.msgs.Add(1)
	s.bytes.Add(n)
	s.mu.Lock()
	if s.first.IsZero() {
		s.first = now
	}
	s.last = now
	for _, r := range to {
		s.rcpts[r] = struct{}{}
	}
	s.mu.Unlock()
}

func (s *sink) conn(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriterSize(c, 4<<10)
	w.WriteString("220 sink ESMTP\r\n")
	w.Flush()
	var to []string
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(string(bytes.TrimSpace(line[:min(len(line), 4)])))
		switch cmd {
		case "EHLO":
			w.WriteString("250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n")
		case "RCPT":
			if i := bytes.IndexByte(line, '<'); i >= 0 {
				if j := bytes.IndexByte(line[i:], '>'); j > 0 {
					to = append(to, strings.ToLower(string(line[i+1:i+j])))
				}
			}
			w.WriteString("250 2.0.0 ok\r\n")
		case "MAIL", "RSET":
			to = to[:0]
			w.WriteString("250 2.0.0 ok\r\n")
		case "HELO", "NOOP":
			w.WriteString("250 2.0.0 ok\r\n")
		case "DATA":
			w.WriteString("354 go ahead\r\n")
			w.Flush()
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
			s.accepted(to, n)
			to = to[:0]
			w.WriteString("250 2.0.0 queued\r\n")
		case "QUIT":
			w.WriteString("221 bye\r\n")
			w.Flush()
			return
		default:
			w.WriteString("502 5.5.2 unknown command\r\n")
		}
		// Answer a pipelined group at once (RFC 2920 §3.2): flush only
		// when nothing more is waiting.
		if r.Buffered() == 0 {
			if w.Flush() != nil {
				return
			}
		}
	}
}

// Process is the sink running as a child process.
type Process struct {
	Port  int
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	done  bool
}

// Addr is the sink's host:port.
func (p *Process) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)) }

// Start runs this executable with args (its sink flag) and waits for the
// sink to listen.
func Start(args ...string) (*Process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	line, err := p.out.ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("sink: %w", err)
	}
	_, portStr, _ := net.SplitHostPort(strings.TrimSpace(strings.TrimPrefix(line, "listening ")))
	if p.Port, err = strconv.Atoi(portStr); err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("sink said %q", line)
	}
	return p, nil
}

// Stats asks the sink what it has received so far.
func (p *Process) Stats() (Stats, error) {
	if _, err := io.WriteString(p.stdin, "stats\n"); err != nil {
		return Stats{}, err
	}
	line, err := p.out.ReadString('\n')
	if err != nil {
		return Stats{}, err
	}
	return parseStats(line)
}

// Stop ends the sink and returns what it received in all.
func (p *Process) Stop() (Stats, error) {
	if p.done {
		return Stats{}, nil
	}
	p.done = true
	_ = p.stdin.Close()
	line, err := p.out.ReadString('\n')
	werr := p.cmd.Wait()
	if err != nil {
		return Stats{}, err
	}
	st, err := parseStats(line)
	if err != nil {
		return st, err
	}
	return st, werr
}

// Ceiling clients: how MinimalClient uses the wire.
const (
	// Lockstep pipelines MAIL, RCPT and DATA (one write), waits for their
	// replies, writes the content and the end of data, and waits for that
	// reply before the next message: two round trips and three writes a
	// message.
	Lockstep = iota
	// Pipelined uses the wire as well as it can (RFC 2920 §3.1): each
	// message's content, its end of data and the next message's envelope
	// leave in one writev (no copy), so a message costs one system call
	// and one round trip. digestbot's sender does the same.
	Pipelined
)

// MinimalClient sends n copies of msg over conns connections with nothing
// else to do (no message building, no records): the ceiling a sender is
// compared with. mode is Lockstep or Pipelined.
func MinimalClient(addr string, conns, n int, msg []byte, mode int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn := pipelinedConn
			if mode == Lockstep {
				conn = lockstepConn
			}
			if err := conn(addr, n, &next, msg); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// greet dials addr and says EHLO; expect reads replies from the connection.
func greet(addr string) (c net.Conn, expect func(k int) error, err error) {
	if c, err = net.Dial("tcp", addr); err != nil {
		return nil, nil, err
	}
	expect = replies(bufio.NewReader(c))
	if _, err = c.Write([]byte("EHLO client\r\n")); err == nil {
		err = expect(2)
	}
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, expect, nil
}

// envelope appends message i's MAIL, RCPT and DATA to b.
func envelope(b []byte, i int64) []byte {
	return fmt.Appendf(b, "MAIL FROM:<news@bench.example>\r\nRCPT TO:<r%d@bench.example>\r\nDATA\r\n", i)
}

func pipelinedConn(addr string, n int, next *atomic.Int64, msg []byte) error {
	c, expect, err := greet(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	i := next.Add(1)
	if i > int64(n) {
		_, _ = c.Write([]byte("QUIT\r\n"))
		return nil
	}
	if _, err := c.Write(envelope(nil, i)); err != nil {
		return err
	}
	tail := make([]byte, 0, 128)
	for i <= int64(n) {
		if err := expect(3); err != nil { // MAIL, RCPT, DATA (354)
			return err
		}
		tail = append(tail[:0], ".\r\n"...)
		i = next.Add(1)
		if i <= int64(n) {
			tail = envelope(tail, i)
		} else {
			tail = append(tail, "QUIT\r\n"...)
		}
		bufs := net.Buffers{msg, tail}
		if _, err := bufs.WriteTo(c); err != nil {
			return err
		}
		if err := expect(1); err != nil { // end of data
			return err
		}
	}
	return nil
}

func lockstepConn(addr string, n int, next *atomic.Int64, msg []byte) error {
	c, expect, err := greet(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	w := bufio.NewWriterSize(c, 16<<10)
	for {
		i := next.Add(1)
		if i > int64(n) {
			break
		}
		w.Write(envelope(nil, i))
		w.Flush()
		if err := expect(3); err != nil {
			return err
		}
		w.Write(msg)
		w.WriteString(".\r\n")
		w.Flush()
		if err := expect(1); err != nil {
			return err
		}
	}
	w.WriteString("QUIT\r\n")
	return w.Flush()
}

// replies returns a function that reads k SMTP replies from r and fails on
// anything but 2xx and 3xx.
func replies(r *bufio.Reader) func(k int) error {
	return func(k int) error {
		for range k {
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return err
				}
				if len(l) < 4 || l[0] > '3' {
					return fmt.Errorf("reply %q", l)
				}
				if l[3] == ' ' {
					break
				}
			}
		}
		return nil
	}
}
