// Package bounces turns the email providers' late bounce and complaint
// notifications into changes of the subscriptions, at
// POST /webhooks/{provider}: Amazon SES through SNS (the message's RSA
// signature checked against Amazon's certificate), SendGrid's Event Webhook
// (ECDSA P-256 signature), Mailgun (HMAC-SHA256 of timestamp and token) and
// Postmark (HTTP basic auth on the webhook URL). A post that is unsigned or
// forged gets 401 and changes nothing; each report is applied through
// subscribers.Service.ApplyReport: a hard bounce marks the address
// bounced, soft ones count towards it, a complaint unsubscribes it.
package bounces

import (
	"context"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/digestbot/digestbot/subscribers"
)

// Applier changes a subscription as a report says; *subscribers.Service
// implements it.
type Applier interface {
	ApplyReport(ctx context.Context, address string, kind subscribers.ReportKind, softLimit int) (subscribers.ReportResult, error)
}

// Config holds each provider's verification secret; a provider without
// one is not served (404).
type Config struct {
	SoftLimit int // soft bounces in a row that make a bounce; 3 when 0

	MailgunSigningKey string // Mailgun's "HTTP webhook signing key"
	// SendGridPublicKey is the Event Webhook's verification key as
	// SendGrid shows it: base64 of the DER public key.
	SendGridPublicKey              string
	PostmarkUser, PostmarkPassword string // basic auth credentials put in the webhook URL
	// SESTopicARNs are the SNS topics whose notifications are believed.
	SESTopicARNs []string
	// FetchCert returns an SNS signing certificate; nil: an HTTPS GET of
	// the URL, which must be on sns.<region>.amazonaws.com.
	FetchCert func(ctx context.Context, url string) (*x509.Certificate, error)
	// Confirm answers an SNS subscription confirmation; nil: a GET of its
	// SubscribeURL, which must be on sns.<region>.amazonaws.com.
	Confirm func(ctx context.Context, url string) error

	Now func() time.Time
	Log *slog.Logger
}

// maxBody is the largest post read: SendGrid batches events, up to a few
// hundred KB.
const maxBody = 2 << 20

// Handler serves /webhooks/{provider}.
type Handler struct {
	cfg   Config
	apply Applier
	sg    *ecdsa.PublicKey
	ses   *snsVerifier

	mu   sync.Mutex
	seen map[string]time.Time // Mailgun tokens of the last signatureAge (replays)
}

// New checks the configured keys and returns the handler.
func New(cfg Config, apply Applier) (*Handler, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{cfg: cfg, apply: apply, seen: map[string]time.Time{}}
	if cfg.SendGridPublicKey != "" {
		der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cfg.SendGridPublicKey))
		if err != nil {
			return nil, fmt.Errorf("bounces.sendgrid.public_key: not base64: %w", err)
		}
		key, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			return nil, fmt.Errorf("bounces.sendgrid.public_key: %w", err)
		}
		ec, ok := key.(*ecdsa.PublicKey)
		if !ok {
			return nil, errors.New("bounces.sendgrid.public_key: not an ECDSA key")
		}
		h.sg = ec
	}
	if len(cfg.SESTopicARNs) > 0 {
		h.ses = newSNSVerifier(cfg.FetchCert, cfg.Confirm)
	}
	return h, nil
}

// Providers lists the providers this handler serves.
func (h *Handler) Providers() []string {
	var out []string
	if h.ses != nil {
		out = append(out, "ses")
	}
	if h.sg != nil {
		out = append(out, "sendgrid")
	}
	if h.cfg.MailgunSigningKey != "" {
		out = append(out, "mailgun")
	}
	if h.cfg.PostmarkUser != "" {
		out = append(out, "postmark")
	}
	return out
}

// report is one address and what a provider said of it.
type report struct {
	address string
	kind    subscribers.ReportKind
}

// errUnauthorized is a post whose signature or credentials do not verify.
var errUnauthorized = errors.New("signature or credentials do not verify")

// errNotServed is a provider without configuration.
var errNotServed = errors.New("provider not configured")

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	provider := r.PathValue("provider")
	log := h.cfg.Log.With(slog.String("provider", provider))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "body too large or unreadable"})
		return
	}
	var reports []report
	switch provider {
	case "mailgun":
		reports, err = h.mailgun(body)
	case "postmark":
		reports, err = h.postmark(r, body)
	case "sendgrid":
		reports, err = h.sendgrid(r, body)
	case "ses":
		reports, err = h.sesPost(r.Context(), body)
	default:
		err = errNotServed
	}
	switch {
	case errors.Is(err, errNotServed):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no webhook for this provider"})
		return
	case errors.Is(err, errUnauthorized):
		log.WarnContext(r.Context(), "webhook refused: "+err.Error(), slog.String("remote", r.RemoteAddr))
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": err.Error()})
		return
	case err != nil:
		log.WarnContext(r.Context(), "webhook: bad post", slog.Any("error", err))
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	counts := map[subscribers.ReportResult]int{}
	for _, rep := range reports {
		res, err := h.apply.ApplyReport(r.Context(), rep.address, rep.kind, h.cfg.SoftLimit)
		if err != nil {
			// The provider retries a post that failed: nothing is lost.
			log.ErrorContext(r.Context(), "webhook: report not applied", slog.Any("error", err))
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "not applied; try again"})
			return
		}
		counts[res]++
	}
	if len(reports) > 0 {
		log.InfoContext(r.Context(), "webhook reports applied", slog.Int("reports", len(reports)),
			slog.Int("bounced", counts[subscribers.ResultBounced]), slog.Int("unsubscribed", counts[subscribers.ResultUnsubscribed]),
			slog.Int("counted", counts[subscribers.ResultCounted]), slog.Int("ignored", counts[subscribers.ResultIgnored]))
	}
	writeJSON(w, http.StatusOK, map[string]int{"reports": len(reports)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// signatureAge is how old (or early) a signed timestamp may be.
const signatureAge = 15 * time.Minute

// ---- Mailgun ----

// mailgun reads a webhook post (https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks):
// signature.signature is hex HMAC-SHA256 of timestamp+token under the
// signing key; the timestamp must be recent and a token is used once.
func (h *Handler) mailgun(body []byte) ([]report, error) {
	if h.cfg.MailgunSigningKey == "" {
		return nil, errNotServed
	}
	var p struct {
		Signature struct {
			Timestamp string `json:"timestamp"`
			Token     string `json:"token"`
			Signature string `json:"signature"`
		} `json:"signature"`
		Event struct {
			Event     string `json:"event"`
			Severity  string `json:"severity"`
			Recipient string `json:"recipient"`
		} `json:"event-data"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("mailgun: %w", err)
	}
	sig := p.Signature
	mac := hmac.New(sha256.New, []byte(h.cfg.MailgunSigningKey))
	mac.Write([]byte(sig.Timestamp + sig.Token))
	want := mac.Sum(nil)
	got, err := hex.DecodeString(sig.Signature)
	if err != nil || sig.Token == "" || !hmac.Equal(got, want) {
		return nil, fmt.Errorf("mailgun: %w", errUnauthorized)
	}
	var ts int64
	if _, err := fmt.Sscan(sig.Timestamp, &ts); err != nil {
		return nil, fmt.Errorf("mailgun: %w: timestamp", errUnauthorized)
	}
	now := h.cfg.Now()
	if d := now.Sub(time.Unix(ts, 0)); d > signatureAge || d < -signatureAge {
		return nil, fmt.Errorf("mailgun: %w: timestamp %s away", errUnauthorized, d.Round(time.Second))
	}
	if !h.firstUse(sig.Token, now) {
		return nil, fmt.Errorf("mailgun: %w: token used before (a replay)", errUnauthorized)
	}
	e := p.Event
	var kind subscribers.ReportKind
	switch {
	case e.Event == "failed" && e.Severity == "permanent":
		kind = subscribers.ReportHard
	case e.Event == "failed" && e.Severity == "temporary":
		kind = subscribers.ReportSoft
	case e.Event == "complained":
		kind = subscribers.ReportComplaint
	default:
		return nil, nil // delivered, opened, …: nothing to do
	}
	return []report{{e.Recipient, kind}}, nil
}

// firstUse records a Mailgun token, false when it was seen within
// signatureAge.
func (h *Handler) firstUse(token string, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for t, at := range h.seen {
		if now.Sub(at) > 2*signatureAge {
			delete(h.seen, t)
		}
	}
	if _, ok := h.seen[token]; ok {
		return false
	}
	h.seen[token] = now
	return true
}

// ---- Postmark ----

// postmarkKinds maps Postmark's bounce types
// (https://postmarkapp.com/developer/api/bounce-api#bounce-types).
var postmarkKinds = map[string]subscribers.ReportKind{
	"HardBounce": subscribers.ReportHard, "BadEmailAddress": subscribers.ReportHard,
	"ManuallyDeactivated": subscribers.ReportHard,
	"SoftBounce":          subscribers.ReportSoft, "Transient": subscribers.ReportSoft, "DnsError": subscribers.ReportSoft,
	"SpamComplaint": subscribers.ReportComplaint,
}

// postmark reads a Bounce or SpamComplaint webhook; Postmark signs
// nothing, so the URL carries basic auth credentials
// (https://postmarkapp.com/developer/webhooks/webhooks-overview#protecting-your-webhook).
func (h *Handler) postmark(r *http.Request, body []byte) ([]report, error) {
	if h.cfg.PostmarkUser == "" {
		return nil, errNotServed
	}
	user, pass, ok := r.BasicAuth()
	uOK := subtle.ConstantTimeCompare([]byte(user), []byte(h.cfg.PostmarkUser))
	pOK := subtle.ConstantTimeCompare([]byte(pass), []byte(h.cfg.PostmarkPassword))
	if !ok || uOK&pOK != 1 {
		return nil, fmt.Errorf("postmark: %w", errUnauthorized)
	}
	var p struct {
		RecordType string `json:"RecordType"`
		Type       string `json:"Type"`
		Email      string `json:"Email"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("postmark: %w", err)
	}
	switch p.RecordType {
	case "SpamComplaint":
		return []report{{p.Email, subscribers.ReportComplaint}}, nil
	case "Bounce":
		if kind, ok := postmarkKinds[p.Type]; ok {
			return []report{{p.Email, kind}}, nil
		}
	}
	return nil, nil
}

// ---- SendGrid ----

// sendgrid reads a signed Event Webhook post
// (https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features):
// the ECDSA signature covers the timestamp header and the raw body.
func (h *Handler) sendgrid(r *http.Request, body []byte) ([]report, error) {
	if h.sg == nil {
		return nil, errNotServed
	}
	sig, err := base64.StdEncoding.DecodeString(r.Header.Get("X-Twilio-Email-Event-Webhook-Signature"))
	ts := r.Header.Get("X-Twilio-Email-Event-Webhook-Timestamp")
	if err != nil || len(sig) == 0 || ts == "" {
		return nil, fmt.Errorf("sendgrid: %w: no signature", errUnauthorized)
	}
	sum := sha256.Sum256(append([]byte(ts), body...))
	if !ecdsa.VerifyASN1(h.sg, sum[:], sig) {
		return nil, fmt.Errorf("sendgrid: %w", errUnauthorized)
	}
	var events []struct {
		Email  string `json:"email"`
		Event  string `json:"event"`
		Type   string `json:"type"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(body, &events); err != nil {
		return nil, fmt.Errorf("sendgrid: %w", err)
	}
	var out []report
	for _, e := range events {
		switch {
		case e.Event == "bounce" && e.Type == "blocked":
			out = append(out, report{e.Email, subscribers.ReportSoft})
		case e.Event == "bounce":
			out = append(out, report{e.Email, subscribers.ReportHard})
		case e.Event == "spamreport":
			out = append(out, report{e.Email, subscribers.ReportComplaint})
		case e.Event == "dropped" && strings.Contains(e.Reason, "Spam Reporting Address"):
			out = append(out, report{e.Email, subscribers.ReportComplaint})
		case e.Event == "dropped" && (strings.Contains(e.Reason, "Bounced Address") || strings.Contains(e.Reason, "Invalid")):
			out = append(out, report{e.Email, subscribers.ReportHard})
		}
	}
	return out, nil
}
