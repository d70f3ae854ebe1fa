package bounces

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"strings"
	"time"

	"github.com/emersion/go-message"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/digestbot/digestbot/subscribers"
)

// IDApplier changes a subscription named by id as a report says;
// *subscribers.Service implements it.
type IDApplier interface {
	ApplyReportByID(ctx context.Context, editionID, id int64, kind subscribers.ReportKind, softLimit int) (subscribers.ReportResult, error)
}

// Listener is the inbound SMTP server for the reports that come back to the
// return paths: delivery status notifications (RFC 3464) and feedback
// reports (ARF, RFC 5965). It accepts mail only for return paths whose
// token verifies; anything else is refused at RCPT and logged, never acted
// on. The token names the delivery, so the report is applied to that
// subscription whatever the report's own text claims.
type Listener struct {
	Addr       string // [bounces] listen, e.g. ":2525"
	Domain     string // the name the server greets with
	ReturnPath ReturnPath
	Apply      IDApplier
	SoftLimit  int
	Log        *slog.Logger
}

// maxReport is the largest report accepted: a DSN quotes the headers (or
// the whole) of a message of ours, some 50 KB.
const maxReport = 1 << 20

// Run serves until ctx ends. ready, when set, gets the listening address.
func (l *Listener) Run(ctx context.Context, ready func(addr string)) error {
	log := l.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := gosmtp.NewServer(&backend{l: l, log: log})
	srv.Domain = l.Domain
	if srv.Domain == "" {
		srv.Domain = l.ReturnPath.Domain
	}
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	srv.MaxMessageBytes = maxReport
	srv.MaxRecipients = 10
	srv.ErrorLog = slogLogger{log}
	ln, err := net.Listen("tcp", l.Addr)
	if err != nil {
		return fmt.Errorf("bounces.listen: %w", err)
	}
	log.InfoContext(ctx, "bounces: report listener on", slog.String("listen", ln.Addr().String()), slog.String("return_path_domain", l.ReturnPath.Domain))
	if ready != nil {
		ready(ln.Addr().String())
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(stop)
		<-done
		return nil
	case err := <-done:
		if errors.Is(err, gosmtp.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("bounces: listener: %w", err)
	}
}

type slogLogger struct{ log *slog.Logger }

func (s slogLogger) Printf(format string, v ...any) {
	s.log.Warn("bounces: smtp: " + fmt.Sprintf(format, v...))
}
func (s slogLogger) Println(v ...any) { s.log.Warn("bounces: smtp: " + fmt.Sprint(v...)) }

type backend struct {
	l   *Listener
	log *slog.Logger
}

func (b *backend) NewSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	return &session{b: b, remote: c.Conn().RemoteAddr().String()}, nil
}

type delivery struct{ edition, subscription int64 }

type session struct {
	b      *backend
	remote string
	rcpts  []delivery
}

func (s *session) Reset()        { s.rcpts = nil }
func (s *session) Logout() error { return nil }

// Mail accepts any reverse path: reports come from the null sender.
func (s *session) Mail(string, *gosmtp.MailOptions) error { return nil }

func (s *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	ed, sub, err := s.b.l.ReturnPath.Parse(to)
	if err != nil {
		s.b.log.Warn("bounces: report for an unknown or forged return path refused",
			slog.String("rcpt", to), slog.String("remote", s.remote))
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "No such return path"}
	}
	s.rcpts = append(s.rcpts, delivery{ed, sub})
	return nil
}

func (s *session) Data(r io.Reader) error {
	kind, detail, err := classify(r)
	log := s.b.log.With(slog.String("remote", s.remote))
	if err != nil {
		log.Warn("bounces: unreadable report dropped", slog.Any("error", err))
		return nil // accepted and dropped: a retry would not read better
	}
	if kind == "" {
		log.Info("bounces: message without a failure or complaint dropped", slog.String("detail", detail))
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, d := range s.rcpts {
		res, err := s.b.l.Apply.ApplyReportByID(ctx, d.edition, d.subscription, kind, s.b.l.SoftLimit)
		if err != nil {
			log.Error("bounces: report not applied", slog.Int64("subscription_id", d.subscription), slog.Any("error", err))
			// 451: the reporting MTA keeps the report and tries again.
			return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
		}
		log.Info("bounces: report applied", slog.Int64("edition_id", d.edition), slog.Int64("subscription_id", d.subscription),
			slog.String("report", string(kind)), slog.String("result", string(res)), slog.String("detail", detail))
	}
	return nil
}

// classify reads a report: a DSN (multipart/report; report-type=
// delivery-status) whose recipient failed permanently (status 5.x.x) is a
// hard bounce, temporarily (4.x.x) a soft one; a feedback report
// (report-type=feedback-report) of type abuse is a complaint. Anything else
// (a delay warning, a delivered notice, an auto-reply) is no report ("").
func classify(r io.Reader) (subscribers.ReportKind, string, error) {
	e, err := message.Read(r)
	if err != nil && !message.IsUnknownCharset(err) {
		return "", "", err
	}
	mt, params, err := e.Header.ContentType()
	if err != nil || !strings.EqualFold(mt, "multipart/report") {
		return "", "not a multipart/report: " + mt, nil
	}
	mr := e.MultipartReader()
	if mr == nil {
		return "", "", errors.New("multipart/report without parts")
	}
	reportType := strings.ToLower(params["report-type"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return "", reportType + " report without its machine-readable part", nil
		}
		if err != nil && !message.IsUnknownCharset(err) {
			return "", "", err
		}
		pt, _, _ := p.Header.ContentType()
		pt = strings.ToLower(pt)
		switch {
		case reportType == "delivery-status" && (pt == "message/delivery-status" || pt == "message/global-delivery-status"):
			return dsnKind(p.Body)
		case reportType == "feedback-report" && pt == "message/feedback-report":
			return arfKind(p.Body)
		}
	}
}

// fieldBlocks reads the header-like blocks of a DSN or ARF part.
func fieldBlocks(r io.Reader) ([]textproto.MIMEHeader, error) {
	tr := textproto.NewReader(bufio.NewReader(io.LimitReader(r, maxReport)))
	var out []textproto.MIMEHeader
	for len(out) < 100 {
		h, err := tr.ReadMIMEHeader()
		if len(h) > 0 {
			out = append(out, h)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
	}
	return out, nil
}

// dsnKind reads RFC 3464's per-recipient fields: Action and Status.
func dsnKind(r io.Reader) (subscribers.ReportKind, string, error) {
	blocks, err := fieldBlocks(r)
	if err != nil && len(blocks) == 0 {
		return "", "", fmt.Errorf("delivery-status: %w", err)
	}
	for _, h := range blocks {
		if !strings.EqualFold(strings.TrimSpace(h.Get("Action")), "failed") {
			continue
		}
		status := strings.TrimSpace(h.Get("Status"))
		detail := "failed " + status + " " + strings.TrimSpace(h.Get("Diagnostic-Code"))
		switch {
		case strings.HasPrefix(status, "5."):
			return subscribers.ReportHard, detail, nil
		case strings.HasPrefix(status, "4."):
			return subscribers.ReportSoft, detail, nil
		}
	}
	return "", "delivery-status without a failed recipient", nil
}

// arfKind reads RFC 5965's Feedback-Type.
func arfKind(r io.Reader) (subscribers.ReportKind, string, error) {
	blocks, err := fieldBlocks(r)
	if err != nil && len(blocks) == 0 {
		return "", "", fmt.Errorf("feedback-report: %w", err)
	}
	for _, h := range blocks {
		switch t := strings.ToLower(strings.TrimSpace(h.Get("Feedback-Type"))); t {
		case "abuse", "fraud":
			return subscribers.ReportComplaint, "feedback " + t, nil
		case "":
		default:
			return "", "feedback " + t, nil // not-spam, virus, other
		}
	}
	return "", "feedback-report without a Feedback-Type", nil
}
