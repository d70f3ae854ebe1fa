package email

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"strconv"
	"sync"
	"time"

	mail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
	"golang.org/x/time/rate"

	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/subscribers"
)

// SMTPOptions configures the SMTP sender: the keys of [email.smtp] and a
// few tunables with sensible defaults.
type SMTPOptions struct {
	Host          string
	Port          int     // 0: 25, or 465 when TLS is "tls"
	Username      string  // empty: no AUTH
	Password      string  //nolint:gosec // never logged
	TLS           string  // "none" | "starttls" | "tls"; empty means "starttls"
	Connections   int     // parallel connections, each reused; 0: 4
	RatePerSecond float64 // cap on messages per second over all connections; 0: none

	HelloName   string        // EHLO name; empty: the From domain
	Timeout     time.Duration // dial, and each transaction; 0: 30s
	IdleTimeout time.Duration // an unused connection is closed after this; 0: 30s
	RedialDelay time.Duration // after a failed dial, messages fail at once for this long; 0: 2s
	TLSConfig   *tls.Config   // nil: verify Host's certificate
}

// SMTPError is a reply of the server that refused a command.
type SMTPError struct {
	Command string // "MAIL", "RCPT", "DATA" or "end of data"
	Code    int
	Message string
}

func (e *SMTPError) Error() string {
	return "smtp " + e.Command + ": " + strconv.Itoa(e.Code) + " " + e.Message
}

// Temporary reports a 4xx reply (RFC 5321 §4.2.1).
func (e *SMTPError) Temporary() bool { return e.Code >= 400 && e.Code < 500 }

// connError marks a failure of the connection rather than a reply.
type connError struct{ err error }

func (e connError) Error() string { return "smtp connection: " + e.err.Error() }
func (e connError) Unwrap() error { return e.err }

// SMTPSender delivers the email channel over SMTP. It keeps
// opts.Connections connections, each reused for many messages: go-mail
// opens the session (EHLO, STARTTLS or implicit TLS by policy, AUTH); the
// transactions then write pre-built bytes on go-mail's smtp.Client.Text,
// with MAIL, RCPT and DATA pipelined (RFC 2920) when the server offers
// PIPELINING, and the next envelope sent along with the end of a message.
// It implements delivery.ChannelSender and delivery.StreamSender, and Transport for the
// Mailer. It is safe for concurrent use; Close it when done.
type SMTPSender struct {
	opts    SMTPOptions
	client  *mail.Client // session settings; one smtp.Client per connection
	b       *Builder
	from    string
	lim     *rate.Limiter // nil: no cap
	log     *slog.Logger
	work    chan *smtpItem  // unbuffered: nothing waits in a queue at Close
	warm    []chan struct{} // one a worker (Warm)
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	address string
}

// NewSMTPSender checks opts and starts the connection workers; they dial
// when the first message comes, or at Warm.
func NewSMTPSender(opts SMTPOptions, b *Builder, log *slog.Logger) (*SMTPSender, error) {
	if b == nil {
		return nil, errors.New("delivery: smtp sender needs a Builder")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Host == "" {
		return nil, errors.New("delivery: email.smtp.host is empty")
	}
	if opts.Connections <= 0 {
		opts.Connections = 4
	}
	if opts.RatePerSecond < 0 {
		return nil, fmt.Errorf("delivery: email.smtp.rate_per_second %v is negative", opts.RatePerSecond)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 30 * time.Second
	}
	if opts.RedialDelay <= 0 {
		opts.RedialDelay = 2 * time.Second
	}
	if opts.HelloName == "" {
		opts.HelloName = b.domain
	}
	mopts := []mail.Option{
		mail.WithTimeout(opts.Timeout),
		mail.WithHELO(opts.HelloName),
	}
	switch opts.TLS {
	case "none":
		mopts = append(mopts, mail.WithTLSPolicy(mail.NoTLS), mail.WithDialContextFunc(dialPlain))
	case "", "starttls":
		opts.TLS = "starttls"
		mopts = append(mopts, mail.WithTLSPolicy(mail.TLSMandatory))
	case "tls":
		mopts = append(mopts, mail.WithSSL())
		if opts.Port == 0 {
			opts.Port = 465
		}
	default:
		return nil, fmt.Errorf("delivery: email.smtp.tls %q: want none, starttls or tls", opts.TLS)
	}
	if opts.Port == 0 {
		opts.Port = 25
	}
	mopts = append(mopts, mail.WithPort(opts.Port))
	if opts.TLSConfig != nil {
		mopts = append(mopts, mail.WithTLSConfig(opts.TLSConfig))
	}
	if opts.Username != "" {
		// go-mail picks the strongest mechanism the server offers, and
		// none that sends the password in clear without TLS.
		mopts = append(mopts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(opts.Username), mail.WithPassword(opts.Password))
	}
	client, err := mail.NewClient(opts.Host, mopts...)
	if err != nil {
		return nil, fmt.Errorf("delivery: smtp client: %w", err)
	}
	s := &SMTPSender{
		opts:    opts,
		client:  client,
		b:       b,
		from:    b.EnvelopeFrom(),
		log:     log,
		work:    make(chan *smtpItem),
		address: net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port)),
	}
	if opts.RatePerSecond > 0 {
		burst := max(1, int(opts.RatePerSecond/20)) // ~50 ms worth
		s.lim = rate.NewLimiter(rate.Limit(opts.RatePerSecond), burst)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for i := range opts.Connections {
		warm := make(chan struct{}, 1)
		s.warm = append(s.warm, warm)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			w := &smtpConn{s: s, id: i, warm: warm}
			w.run()
		}()
	}
	return s, nil
}

// Warm asks every worker without a connection to open one now, without
// waiting for it: called as an edition is being built, the sessions
// (TCP, TLS, AUTH: a round trip or several each on a distant relay) are
// ready when its first message is. A connection nothing uses is closed
// after IdleTimeout; one that cannot be opened is dialled again by the
// first message, as if Warm had not been called.
func (s *SMTPSender) Warm() {
	for _, c := range s.warm {
		select {
		case c <- struct{}{}:
		default: // asked already
		}
	}
}

// Close stops the workers and ends their sessions with QUIT.
func (s *SMTPSender) Close() error {
	s.cancel()
	s.wg.Wait()
	return nil
}

// smtpItem is one message for a worker.
type smtpItem struct {
	ctx  context.Context
	actx context.Context // admit's: admitContext(ctx, hard)
	hard time.Time       // delivery.HardDeadline(ctx): a transaction on the wire is cut then
	tmpl *template       // edition message, built per subscriber by the worker
	sub  subscribers.Subscription
	raw  []byte // or a finished message (Mailer)
	rcpt string
	// admit is the fan-out's Sink.Admit (nil for the Mailer's messages):
	// called just before the content goes on the wire.
	admit func(ctx context.Context, subscriptionID int64) error
	out   chan<- smtpDone // buffered for every item of its call
}

type smtpDone struct{ res delivery.Result }

func (it *smtpItem) reply(o delivery.Outcome, err error) {
	it.out <- smtpDone{delivery.Result{SubscriptionID: it.sub.ID, Outcome: o, Err: err}}
}

// Send delivers ed to subs and returns one delivery.Result each (delivery.ChannelSender).
func (s *SMTPSender) Send(ctx context.Context, ed digest.Edition, subs []subscribers.Subscription) ([]delivery.Result, error) {
	results := make([]delivery.Result, 0, len(subs))
	err := s.SendEach(ctx, ed, subs, delivery.EmitFunc(func(r delivery.Result) { results = append(results, r) }))
	return results, err
}

// SendEach delivers ed to subs, handing each delivery.Result to sink (from
// one goroutine) as soon as it is known (delivery.StreamSender); a message
// goes to a connection only once sink admits it. It returns an error, and
// nothing is known to be sent, when no message could be sent because the
// server could not be reached.
func (s *SMTPSender) SendEach(ctx context.Context, ed digest.Edition, subs []subscribers.Subscription, sink delivery.Sink) error {
	if len(subs) == 0 {
		return nil
	}
	tmpls := make(map[string]*template)
	for _, sub := range subs {
		k := sectionsKey(sub.Sections)
		if tmpls[k] == nil {
			t, err := s.b.template(ed, sub.Sections)
			if err != nil {
				return err
			}
			tmpls[k] = t
		}
	}
	out := make(chan smtpDone, len(subs))
	hard := delivery.HardDeadline(ctx)
	// The context every recipient of the call is admitted under (see
	// smtpConn.admit), made once: per message it cost an allocation and,
	// under a job's hard deadline, a timer.
	actx, cancel := admitContext(ctx, hard)
	defer cancel()
	admit := sink.Admit
	// One array for the call's items; each is a worker's until its reply.
	items := make([]smtpItem, len(subs))
	go func() {
		for i, sub := range subs {
			it := &items[i]
			*it = smtpItem{ctx: ctx, actx: actx, hard: hard, tmpl: tmpls[sectionsKey(sub.Sections)], sub: sub, admit: admit, out: out}
			s.enqueue(it)
		}
	}()
	var connErr error
	allConn := true
	for range subs {
		d := <-out
		if d.res.Outcome != delivery.Retry {
			allConn = false
		} else if ce, ok := asConnError(d.res.Err); !ok {
			allConn = false
		} else if connErr == nil {
			connErr = ce.err
		}
		sink.Emit(d.res)
	}
	if allConn && connErr != nil {
		return fmt.Errorf("delivery: smtp %s: %w", s.address, connErr)
	}
	return nil
}

// asConnError is errors.As(err, *connError), its target allocated only
// when called.
func asConnError(err error) (connError, bool) {
	var ce connError
	ok := errors.As(err, &ce)
	return ce, ok
}

func (s *SMTPSender) enqueue(it *smtpItem) {
	select {
	case s.work <- it:
	case <-s.ctx.Done():
		it.reply(delivery.Retry, delivery.ErrSenderClosed)
	case <-it.ctx.Done():
		it.reply(delivery.Retry, it.ctx.Err())
	}
}

// SendMessage sends one finished message (CRLF line ends) to rcpt
// (Transport, for the Mailer).
func (s *SMTPSender) SendMessage(ctx context.Context, rcpt string, msg []byte) error {
	to, err := addrSpec(rcpt)
	if err != nil {
		return err
	}
	if !bytes.HasSuffix(msg, []byte("\r\n")) {
		msg = append(msg[:len(msg):len(msg)], '\r', '\n') // "." must start a line
	}
	out := make(chan smtpDone, 1)
	s.enqueue(&smtpItem{ctx: ctx, raw: dotStuff(msg), rcpt: to, out: out})
	d := <-out
	if d.res.Outcome == delivery.Sent {
		return nil
	}
	return fmt.Errorf("delivery: send to %s: %w", s.address, d.res.Err)
}

// smtpConn is one worker and its connection.
type smtpConn struct {
	s          *SMTPSender
	id         int
	c          *smtp.Client
	pipelining bool
	used       bool // the connection carried a transaction already
	lastUse    time.Time
	warm       <-chan struct{} // Warm: connect now
	downUntil  time.Time
	downErr    error
	bufs       [2][]byte
	tail       []byte   // end of data and the next envelope, written with a message
	iov        [][]byte // writeContent's pieces of a message, reused
	wire       net.Buffers
	long       []byte    // a reply line longer than the read buffer
	raw        net.Conn  // the plain TCP connection (tls = "none"), else nil
	hard       time.Time // of the transaction under way: no wait on the server past it
}

// stage is a message on its way: built, and maybe its envelope written.
type stage struct {
	it      *smtpItem
	msg     []byte // the message, or its head when body is set
	body    body   // the body after msg, not copied into it (no DKIM)
	rcpt    string
	from    string // envelope sender: the return path
	buf     int    // which of bufs holds msg
	written bool   // MAIL, RCPT and DATA are on the wire, replies unread
	retried bool   // already re-sent once on a fresh connection
	reused  bool   // the connection had carried a transaction before this one
}

func (w *smtpConn) run() {
	s := w.s
	tick := time.NewTicker(min(s.opts.IdleTimeout/2, time.Second))
	defer tick.Stop()
	defer w.quit()
	for {
		select {
		case <-s.ctx.Done():
			return
		case it := <-s.work:
			st := stage{it: it}
			for st.it != nil {
				if s.ctx.Err() != nil && !st.written {
					st.it.reply(delivery.Retry, delivery.ErrSenderClosed)
					break
				}
				st = w.transact(st)
			}
		case <-w.warm:
			if err := w.connect(); err != nil {
				w.downUntil = time.Time{} // the first message tries again
			}
		case <-tick.C:
			if w.c != nil && time.Since(w.lastUse) > s.opts.IdleTimeout {
				w.quit()
			}
		}
	}
}

// prepare builds the message of st.it into one of the buffers. false: the
// item got its result already (bad address, nothing to send).
func (w *smtpConn) prepare(st *stage) bool {
	it := st.it
	if it.tmpl == nil {
		st.msg, st.rcpt, st.from = it.raw, it.rcpt, w.s.from
		return true
	}
	var (
		m   Message
		bd  body
		err error
	)
	if w.s.b.dkim == nil {
		// The head only: the body goes on the wire from the template.
		m, m.Data, bd, err = w.s.b.appendParts(w.bufs[st.buf], it.tmpl, it.sub, w.s.b.now())
	} else {
		m, err = w.s.b.appendFor(w.bufs[st.buf], it.tmpl, it.sub, w.s.b.now())
	}
	switch {
	case err != nil && errors.Is(err, ErrBadAddress):
		it.reply(delivery.Failed, err)
		return false
	case err != nil:
		it.reply(delivery.Retry, err)
		return false
	case m.Skip:
		it.reply(delivery.Skipped, nil)
		return false
	}
	if cap(m.Data) > cap(w.bufs[st.buf]) && w.s.b.dkim == nil {
		w.bufs[st.buf] = m.Data[:0]
	}
	st.msg, st.body, st.rcpt, st.from = m.Data, bd, m.To, m.From
	return true
}

// transact runs one transaction and returns the next message when its
// envelope went out with this one's end of data.
func (w *smtpConn) transact(st stage) stage {
	s, it := w.s, st.it
	w.hard = it.hard
	if !st.written {
		if err := it.ctx.Err(); err != nil {
			it.reply(delivery.Retry, err)
			return stage{}
		}
		if st.msg == nil && !w.prepare(&st) {
			return stage{}
		}
		if s.lim != nil {
			if err := s.lim.Wait(it.ctx); err != nil {
				// Wait fails early when the deadline would pass first: the
				// message was not tried, like one whose context ended.
				if it.ctx.Err() == nil {
					err = fmt.Errorf("%w: %v", context.DeadlineExceeded, err)
				}
				it.reply(delivery.Retry, err)
				return stage{}
			}
		}
		if err := w.connect(); err != nil {
			it.reply(delivery.Retry, connError{err})
			return stage{}
		}
		st.reused = w.used
		w.tail = w.appendEnvelope(w.tail[:0], st.from, st.rcpt)
		_, _ = w.c.Text.W.Write(w.tail)
		if err := w.flush(); err != nil {
			return w.lost(st, err)
		}
		st.written = true
	}
	w.used = true
	w.lastUse = time.Now()

	if r, ok := w.readEnvelope(&st); !ok {
		return r
	}

	// 354: the content, already CRLF and dot-safe, then the end of data.
	// The fan-out admits the message first (delivery.Sink): from here on
	// a crash may repeat it.
	if it.admit != nil {
		if err := w.admit(it); err != nil {
			w.drop() // the server waits for content that will not come
			it.reply(delivery.Retry, err)
			return stage{}
		}
	}
	tail := append(w.tail[:0], ".\r\n"...)
	next := stage{buf: 1 - st.buf}
	if w.pipelining && s.ctx.Err() == nil {
		// RFC 2920 §3.1: message content may open a group of commands,
		// so the next envelope rides along with this end of data.
		select {
		case nx := <-s.work:
			next.it = nx
			if nx.ctx.Err() == nil && w.prepare(&next) {
				if s.lim == nil || s.lim.Allow() {
					tail = w.appendEnvelope(tail, next.from, next.rcpt)
					next.written, next.reused = true, true
				}
			} else if nx.ctx.Err() != nil {
				nx.reply(delivery.Retry, nx.ctx.Err())
				next = stage{}
			} else {
				next = stage{} // prepare replied
			}
		default:
		}
	}
	w.tail = tail
	if err := w.writeContent(&st, tail); err != nil {
		w.drop()
		it.reply(delivery.Retry, connError{err})
		next.written = false
		return next
	}
	code, msg, err := w.readReply(2)
	if err != nil {
		// The message may or may not have been accepted: a repeat is
		// possible, as with any message in flight at a failure.
		w.drop()
		it.reply(delivery.Retry, connError{err})
		next.written = false
		return next
	}
	switch {
	case code/100 == 2:
		it.reply(delivery.Sent, nil)
	case code/100 == 4:
		it.reply(delivery.Retry, &SMTPError{"end of data", code, msg})
	default:
		it.reply(delivery.Failed, &SMTPError{"end of data", code, msg})
	}
	if code == 421 {
		w.drop()
		next.written = false
	}
	return next
}

// admit waits for the fan-out to admit it, under it.actx (admitContext).
func (w *smtpConn) admit(it *smtpItem) error {
	return it.admit(it.actx, it.sub.ID)
}

// admitContext is the context a message is admitted under: the envelope is
// on the wire already, so the message is finished even when ctx has ended
// (the slice is over), but not past its hard deadline.
func admitContext(ctx context.Context, hard time.Time) (context.Context, context.CancelFunc) {
	ctx = context.WithoutCancel(ctx)
	if hard.IsZero() {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, hard)
}

// lost handles a write failure before any content went out: on a reused
// connection the server may just have closed it while idle, so the message
// is tried once more on a fresh one.
func (w *smtpConn) lost(st stage, err error) stage {
	w.drop()
	if st.reused && !st.retried {
		st.written, st.retried = false, true
		return st
	}
	st.it.reply(delivery.Retry, connError{err})
	return stage{}
}

func (w *smtpConn) appendEnvelope(b []byte, from, rcpt string) []byte {
	// The addresses passed addrSpec (the return path is ours: base32 and
	// the configured domain): no CR, LF or ">" can end the line.
	if from == "" {
		from = w.s.from
	}
	b = append(b, "MAIL FROM:<"...)
	b = append(b, from...)
	b = append(b, ">\r\n"...)
	if w.pipelining {
		// RFC 2920 §3.1: DATA may end a group; RCPT needs no reply first.
		b = append(b, "RCPT TO:<"...)
		b = append(b, rcpt...)
		b = append(b, ">\r\nDATA\r\n"...)
	}
	return b
}

// writeContent sends a message's content (already CRLF and dot-safe: its
// head or whole, and its body) and tail (the end of data, maybe the next
// envelope) in one write: on a plain connection one writev of them all,
// the body's bytes straight from the shared template with the reader's
// tokens between, no copy made; else through the write buffer, which holds
// a whole digest (sendBufSize). Writing the content and then the short tail
// cost a second system call and TCP segment per message, on both sides;
// copying the body into each reader's message a twentieth of the CPU.
func (w *smtpConn) writeContent(st *stage, tail []byte) error {
	iov := append(w.iov[:0], st.msg)
	if st.body.t != nil {
		iov = st.body.appendSegments(iov)
	}
	iov = append(iov, tail)
	w.iov = iov
	tw := w.c.Text.W
	if w.raw == nil || tw.Buffered() > 0 {
		for _, b := range iov {
			_, _ = tw.Write(b)
		}
		return w.flush()
	}
	if err := w.c.UpdateDeadline(w.timeout()); err != nil {
		return err
	}
	// WriteTo consumes w.wire (slices it, and the first slice of a
	// partial write); iov keeps the array for the next message.
	w.wire = iov
	_, err := w.wire.WriteTo(w.raw)
	return err
}

func (w *smtpConn) flush() error {
	if err := w.c.UpdateDeadline(w.timeout()); err != nil {
		return err
	}
	return w.c.Text.W.Flush()
}

// readEnvelope reads the replies to MAIL, RCPT and DATA; without
// PIPELINING it sends RCPT and DATA one at a time (RFC 5321 §4.1.4) and
// stops at the first refusal. ok: DATA got 354 and the content may follow;
// otherwise the item has its result, or is returned to be tried again on a
// fresh connection, and a failed transaction is reset.
func (w *smtpConn) readEnvelope(st *stage) (stage, bool) {
	var codes [3]int
	var msgs [3]string
	for i := range 3 {
		if !w.pipelining && i > 0 {
			if codes[i-1]/100 != 2 {
				break
			}
			tw := w.c.Text.W
			if i == 1 {
				_, _ = tw.WriteString("RCPT TO:<" + st.rcpt + ">\r\n")
			} else {
				_, _ = tw.WriteString("DATA\r\n")
			}
			if err := w.flush(); err != nil {
				*st = w.lost(*st, err)
				return *st, false
			}
		}
		expect := 2
		if i == 2 {
			expect = 354
		}
		code, msg, err := w.readReply(expect)
		if err != nil {
			*st = w.lost(*st, err)
			return *st, false
		}
		codes[i], msgs[i] = code, msg
	}
	it := st.it
	switch {
	case codes[0]/100 != 2:
		// A refused sender is no fault of the reader's: retry later.
		it.reply(delivery.Retry, &SMTPError{"MAIL", codes[0], msgs[0]})
	case codes[1]/100 != 2:
		it.reply(rcptOutcome(codes[1]), &SMTPError{"RCPT", codes[1], msgs[1]})
	case codes[2] != 354:
		o := delivery.Failed
		if codes[2]/100 == 4 {
			o = delivery.Retry
		}
		it.reply(o, &SMTPError{"DATA", codes[2], msgs[2]})
	default:
		return stage{}, true
	}
	w.reset(codes[0] == 421 || codes[1] == 421 || codes[2] == 421)
	return stage{}, false
}

// readReply reads one reply (RFC 5321 §4.2.1), single- or multi-line, as
// textproto.Reader.ReadResponse(0) does, but without allocating for the
// replies a transaction expects: the text is kept only when the code is not
// expect (354) or, for expect 2, not 2xx. Four replies a message made
// ReadResponse a sixth of the sender's allocations. One difference: a
// first line with an invalid code is an error at once, where textproto
// reads on when it ends in "-"; both give the connection up.
func (w *smtpConn) readReply(expect int) (code int, msg string, err error) {
	return readReply(w.c.Text.R, &w.long, expect)
}

func readReply(r *bufio.Reader, long *[]byte, expect int) (code int, msg string, err error) {
	line, err := replyLine(r, long)
	if err != nil {
		return 0, "", err
	}
	code, more, ok := replyCode(line)
	if !ok {
		return 0, "", textproto.ProtocolError(replyLineError(line) + strconv.Quote(string(line)))
	}
	keep := code != expect && (expect != 2 || code/100 != 2)
	var b []byte
	if keep {
		b = append(b, line[4:]...)
	}
	for more {
		if line, err = replyLine(r, long); err != nil {
			return 0, "", err
		}
		code2, more2, ok := replyCode(line)
		if !ok || code2 != code {
			// Not a line of this reply: kept as text, and the reply goes on.
			if keep {
				b = append(append(b, '\n'), line...)
			}
			continue
		}
		if keep {
			b = append(append(b, '\n'), line[4:]...)
		}
		more = more2
	}
	return code, string(b), nil
}

// replyCode parses a reply line's code and whether a line follows, as
// textproto does: three digits (at least 100), then a space or "-".
func replyCode(line []byte) (code int, more, ok bool) {
	if len(line) < 4 || line[3] != ' ' && line[3] != '-' {
		return 0, false, false
	}
	for _, c := range line[:3] {
		if c < '0' || c > '9' {
			return 0, false, false
		}
		code = code*10 + int(c-'0')
	}
	return code, line[3] == '-', code >= 100
}

// replyLineError is textproto's message for a line replyCode refuses.
func replyLineError(line []byte) string {
	if len(line) < 4 || line[3] != ' ' && line[3] != '-' {
		return "short response: "
	}
	return "invalid response code: "
}

// replyLine is the next line from the server without its line end, in the
// reader's buffer or in *long (valid until the next read), as bufio.Reader.ReadLine
// gives it: a last line without one is a line.
func replyLine(r *bufio.Reader, long *[]byte) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		*long = append((*long)[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = r.ReadSlice('\n')
			*long = append(*long, line...)
		}
		line = *long
	}
	if len(line) == 0 && err != nil {
		return nil, err
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	return line, nil
}

// rcptOutcome: RFC 5321 §4.2.1, 5xx is permanent (the address bounced),
// 4xx transient.
func rcptOutcome(code int) delivery.Outcome {
	if code/100 == 5 {
		return delivery.Bounced
	}
	return delivery.Retry
}

// timeout is the SMTP timeout, cut short by the job's hard deadline: a
// batch must end before River may rescue it (FanoutConfig.RescueAfter).
func (w *smtpConn) timeout() time.Duration {
	d := w.s.opts.Timeout
	if !w.hard.IsZero() {
		d = max(min(d, time.Until(w.hard)), time.Millisecond)
	}
	return d
}

// reset ends a failed transaction with RSET (RFC 5321 §4.1.1.5), or drops
// the connection when the server said it is closing it (421).
func (w *smtpConn) reset(closing bool) {
	if closing {
		w.drop()
		return
	}
	_, _ = w.c.Text.W.WriteString("RSET\r\n")
	if err := w.flush(); err != nil {
		w.drop()
		return
	}
	if c, _, err := w.c.Text.ReadResponse(0); err != nil || c/100 != 2 {
		w.drop()
	}
}

// sendBufSize is a connection's write buffer: a digest with its headers
// fits (typically 30–60 KB); a bigger one goes out in two or three writes.
const sendBufSize = 96 << 10

// plainConnKey carries, in a dial's context, where dialPlain stores the
// connection it made.
type plainConnKey struct{}

// dialPlain is the dialer of tls = "none": a TCP connection, which the
// smtpConn keeps (plainConnKey) to write a message and its tail with one
// writev.
func dialPlain(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err == nil {
		if p, ok := ctx.Value(plainConnKey{}).(*net.Conn); ok {
			*p = c
		}
	}
	return c, err
}

// flushWriter passes each write straight on to the connection's own
// buffered writer (a write bigger than its buffer goes to the socket
// directly, a small one is flushed at once).
type flushWriter struct{ w *bufio.Writer }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.w.Flush()
	}
	return n, err
}

// connect dials when there is no connection; after a failed dial it fails
// at once until RedialDelay has passed, so a dead server fails a batch fast.
func (w *smtpConn) connect() error {
	if w.c != nil {
		return nil
	}
	if time.Now().Before(w.downUntil) {
		return w.downErr
	}
	ctx, cancel := context.WithTimeout(w.s.ctx, w.timeout())
	defer cancel()
	w.raw = nil
	if w.s.opts.TLS == "none" {
		ctx = context.WithValue(ctx, plainConnKey{}, &w.raw)
	}
	c, err := w.s.client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		w.downUntil, w.downErr = time.Now().Add(w.s.opts.RedialDelay), err
		w.s.log.Warn("smtp dial failed", slog.String("server", w.s.address), slog.Int("conn", w.id), slog.String("error", err.Error()))
		return err
	}
	if w.raw == nil {
		// TLS: a message and its tail go through one buffer (writeContent).
		c.Text.W = bufio.NewWriterSize(flushWriter{c.Text.W}, sendBufSize)
	}
	w.c, w.used = c, false
	w.pipelining, _ = c.Extension("PIPELINING")
	w.lastUse = time.Now()
	return nil
}

// drop closes a broken connection without a QUIT.
func (w *smtpConn) drop() {
	if w.c != nil {
		_ = w.c.Close()
		w.c = nil
	}
}

// quit ends the session politely (RFC 5321 §4.1.1.10).
func (w *smtpConn) quit() {
	if w.c == nil {
		return
	}
	_ = w.c.UpdateDeadline(5 * time.Second)
	if err := w.c.Quit(); err != nil {
		_ = w.c.Close()
	}
	w.c = nil
}
