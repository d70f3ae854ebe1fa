// Package emailtest holds what the email and delivery tests share: a real
// SMTP server (emersion/go-smtp) that keeps what it accepts, a realistic
// edition, and a reader that takes a digest message apart the way a mail
// client would and checks it against SPEC §5.
package emailtest

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

// Message is one message the server accepted.
type Message struct {
	From string
	To   []string
	Data []byte
}

// Server is a real SMTP server (emersion/go-smtp, which advertises
// PIPELINING and CHUNKING) that keeps what it accepts. The hooks decide
// replies: return a *gosmtp.SMTPError to refuse.
type Server struct {
	t    *testing.T
	srv  *gosmtp.Server
	ln   net.Listener
	Host string
	Port int

	mu       sync.Mutex
	msgs     []Message
	sessions int
	authed   []string

	// OnRcpt and OnData run under no lock; they must be safe for
	// concurrent use.
	OnRcpt   func(to string) error
	OnData   func(to []string, data []byte) error
	implicit *tls.Config

	// User and Pass, when set, make AUTH PLAIN required.
	User, Pass string
}

type Option func(*Server)

// WithTLS offers STARTTLS with cfg.
func WithTLS(cfg *tls.Config) Option { return func(s *Server) { s.srv.TLSConfig = cfg } }

// ImplicitTLS serves TLS from the first byte (port 465 style) with cfg.
func ImplicitTLS(cfg *tls.Config) Option { return func(s *Server) { s.implicit = cfg } }

// Start listens on 127.0.0.1 (port 0: any free port) and serves
// until the test ends.
func Start(t *testing.T, port int, opts ...Option) *Server {
	t.Helper()
	s := &Server{t: t}
	s.srv = gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		s.mu.Lock()
		s.sessions++
		s.mu.Unlock()
		return &session{s: s}, nil
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
	if s.implicit != nil {
		ln = tls.NewListener(ln, s.implicit)
	}
	s.ln = ln
	s.Host, s.Port = "127.0.0.1", ln.Addr().(*net.TCPAddr).Port
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(s.Close)
	return s
}

// Close stops the server (the "server down" tests call it early).
func (s *Server) Close() { _ = s.srv.Close() }

// Messages returns a copy of what was accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// ByRecipient is what was accepted so far, by envelope recipient.
func (s *Server) ByRecipient() map[string][]Message {
	m := make(map[string][]Message)
	for _, c := range s.Messages() {
		for _, to := range c.To {
			m[to] = append(m[to], c)
		}
	}
	return m
}

// Authed lists the users that authenticated, one per session.
func (s *Server) Authed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.authed...)
}

// Sessions is the number of SMTP sessions opened.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// FreePort returns a port nothing listens on (for a server that is down).
func FreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return p
}

type session struct {
	s      *Server
	from   string
	to     []string
	authed bool
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
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

func (ss *session) Mail(from string, _ *gosmtp.MailOptions) error {
	if ss.s.User != "" && !ss.authed {
		return gosmtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if f := ss.s.OnRcpt; f != nil {
		if err := f(to); err != nil {
			return err
		}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
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
	ss.s.msgs = append(ss.s.msgs, Message{From: ss.from, To: append([]string(nil), ss.to...), Data: buf.Bytes()})
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }

// Err is an SMTP reply for the hooks to return: Err(550, "5.1.1 no such user").
func Err(code int, msg string) error {
	return &gosmtp.SMTPError{Code: code, EnhancedCode: gosmtp.EnhancedCodeNotSet, Message: msg}
}
