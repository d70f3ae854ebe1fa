package delivery_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// captured is one message the test server accepted.
type captured struct {
	From string
	To   []string
	Data []byte
}

// testServer is a real SMTP server (emersion/go-smtp, which advertises
// PIPELINING and CHUNKING) that keeps what it accepts. The hooks decide
// replies: return a *gosmtp.SMTPError to refuse.
type testServer struct {
	t    *testing.T
	srv  *gosmtp.Server
	ln   net.Listener
	Host string
	Port int

	mu       sync.Mutex
	msgs     []captured
	sessions int
	authed   []string

	// OnRcpt and OnData run under no lock; they must be safe for
	// concurrent use.
	OnRcpt func(to string) error
	OnData func(to []string, data []byte) error
	// User and Pass, when set, make AUTH PLAIN required.
	User, Pass string
}

type serverOpt func(*testServer)

func withTLS(cfg *tls.Config) serverOpt { return func(s *testServer) { s.srv.TLSConfig = cfg } }

// startServer listens on 127.0.0.1 (port 0: any free port) and serves
// until the test ends.
func startServer(t *testing.T, port int, opts ...serverOpt) *testServer {
	t.Helper()
	s := &testServer{t: t}
	s.srv = gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		s.mu.Lock()
		s.sessions++
		s.mu.Unlock()
		return &testSession{s: s}, nil
	}))
	s.srv.Domain = "mx.test"
	s.srv.AllowInsecureAuth = true
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.MaxMessageBytes = 1 << 20
	for _, o := range opts {
		o(s)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s.ln = ln
	s.Host, s.Port = "127.0.0.1", ln.Addr().(*net.TCPAddr).Port
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(s.Close)
	return s
}

// Close stops the server (the "server down" tests call it early).
func (s *testServer) Close() { _ = s.srv.Close() }

// Messages returns a copy of what was accepted so far.
func (s *testServer) Messages() []captured {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]captured(nil), s.msgs...)
}

// Sessions is the number of SMTP sessions opened.
func (s *testServer) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// freePort returns a port nothing listens on (for a server that is down).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return p
}

type testSession struct {
	s      *testServer
	from   string
	to     []string
	authed bool
}

func (ss *testSession) AuthMechanisms() []string {
	if ss.s.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *testSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != ss.s.User || pass != ss.s.Pass {
			return errors.New("invalid credentials")
		}
		ss.authed = true
		ss.s.mu.Lock()
		ss.s.authed = append(ss.s.authed, user)
		ss.s.mu.Unlock()
		return nil
	}), nil
}

func (ss *testSession) Mail(from string, _ *gosmtp.MailOptions) error {
	if ss.s.User != "" && !ss.authed {
		return gosmtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *testSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if f := ss.s.OnRcpt; f != nil {
		if err := f(to); err != nil {
			return err
		}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *testSession) Data(r io.Reader) error {
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, r); err != nil {
		return err
	}
	if f := ss.s.OnData; f != nil {
		if err := f(ss.to, buf.Bytes()); err != nil {
			return err
		}
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, captured{From: ss.from, To: append([]string(nil), ss.to...), Data: buf.Bytes()})
	ss.s.mu.Unlock()
	return nil
}

func (ss *testSession) Reset() { ss.from, ss.to = "", nil }

func (ss *testSession) Logout() error { return nil }

func smtpErr(code int, msg string) error {
	return &gosmtp.SMTPError{Code: code, EnhancedCode: gosmtp.EnhancedCodeNotSet, Message: msg}
}
