package bounces

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SNS SignatureVersion 1 is SHA1withRSA
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/digestbot/digestbot/subscribers"
)

// snsHost is where Amazon SNS serves its signing certificates and
// subscription confirmations.
var snsHost = regexp.MustCompile(`^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// checkSNSURL refuses a certificate or confirmation URL that is not Amazon
// SNS's over HTTPS: a forged message must not make us fetch (or trust)
// anything else.
func checkSNSURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || !snsHost.MatchString(u.Hostname()) || u.Port() != "" || u.User != nil {
		return nil, fmt.Errorf("%w: %q is not an Amazon SNS https URL", errUnauthorized, raw)
	}
	return u, nil
}

type snsVerifier struct {
	fetch   func(ctx context.Context, url string) (*x509.Certificate, error)
	confirm func(ctx context.Context, url string) error

	mu    sync.Mutex
	certs map[string]*x509.Certificate
}

func newSNSVerifier(fetch func(context.Context, string) (*x509.Certificate, error), confirm func(context.Context, string) error) *snsVerifier {
	client := &http.Client{Timeout: 10 * time.Second}
	if fetch == nil {
		fetch = func(ctx context.Context, raw string) (*x509.Certificate, error) {
			b, err := get(ctx, client, raw)
			if err != nil {
				return nil, err
			}
			block, _ := pem.Decode(b)
			if block == nil {
				return nil, errors.New("signing certificate: no PEM block")
			}
			return x509.ParseCertificate(block.Bytes)
		}
	}
	if confirm == nil {
		confirm = func(ctx context.Context, raw string) error {
			_, err := get(ctx, client, raw)
			return err
		}
	}
	return &snsVerifier{fetch: fetch, confirm: confirm, certs: map[string]*x509.Certificate{}}
}

// get fetches an SNS URL (checked) with a size cap.
func get(ctx context.Context, client *http.Client, raw string) ([]byte, error) {
	if _, err := checkSNSURL(raw); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", raw, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 64<<10))
}

func (v *snsVerifier) cert(ctx context.Context, raw string) (*x509.Certificate, error) {
	if _, err := checkSNSURL(raw); err != nil {
		return nil, err
	}
	v.mu.Lock()
	c := v.certs[raw]
	v.mu.Unlock()
	if c != nil {
		return c, nil
	}
	c, err := v.fetch(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("SNS signing certificate: %w", err)
	}
	v.mu.Lock()
	v.certs[raw] = c
	v.mu.Unlock()
	return c, nil
}

// snsMessage is an SNS HTTP(S) delivery
// (https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html).
type snsMessage struct {
	Type             string
	MessageID        string `json:"MessageId"`
	Token            string
	TopicArn         string
	Subject          *string
	Message          string
	Timestamp        string
	SignatureVersion string
	Signature        string
	SigningCertURL   string `json:"SigningCertURL"`
	SubscribeURL     string `json:"SubscribeURL"`
}

// stringToSign is the canonical form the signature covers
// (https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html).
func (m snsMessage) stringToSign() string {
	var b strings.Builder
	add := func(k, v string) { b.WriteString(k + "\n" + v + "\n") }
	add("Message", m.Message)
	add("MessageId", m.MessageID)
	if m.Type == "Notification" {
		if m.Subject != nil {
			add("Subject", *m.Subject)
		}
		add("Timestamp", m.Timestamp)
		add("TopicArn", m.TopicArn)
		add("Type", m.Type)
		return b.String()
	}
	add("SubscribeURL", m.SubscribeURL)
	add("Timestamp", m.Timestamp)
	add("Token", m.Token)
	add("TopicArn", m.TopicArn)
	add("Type", m.Type)
	return b.String()
}

func (v *snsVerifier) verify(ctx context.Context, m snsMessage) error {
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil || len(sig) == 0 {
		return fmt.Errorf("%w: no signature", errUnauthorized)
	}
	c, err := v.cert(ctx, m.SigningCertURL)
	if err != nil {
		return err
	}
	pub, ok := c.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: the signing certificate's key is not RSA", errUnauthorized)
	}
	msg := []byte(m.stringToSign())
	switch m.SignatureVersion {
	case "1":
		sum := sha1.Sum(msg) //nolint:gosec // the version Amazon chose
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA1, sum[:], sig)
	case "2":
		sum := sha256.Sum256(msg)
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
	default:
		return fmt.Errorf("%w: SignatureVersion %q", errUnauthorized, m.SignatureVersion)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", errUnauthorized, err)
	}
	return nil
}

// sesPost reads an SNS delivery of SES notifications
// (https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html):
// the signature first, then the topic, then the bounce or complaint.
func (h *Handler) sesPost(ctx context.Context, body []byte) ([]report, error) {
	if h.ses == nil {
		return nil, errNotServed
	}
	var m snsMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("ses: %w", err)
	}
	if err := h.ses.verify(ctx, m); err != nil {
		return nil, fmt.Errorf("ses: %w", err)
	}
	if !slices.Contains(h.cfg.SESTopicARNs, m.TopicArn) {
		return nil, fmt.Errorf("ses: %w: topic %q is not in bounces.ses.topic_arns", errUnauthorized, m.TopicArn)
	}
	switch m.Type {
	case "SubscriptionConfirmation":
		if _, err := checkSNSURL(m.SubscribeURL); err != nil {
			return nil, fmt.Errorf("ses: %w", err)
		}
		if err := h.ses.confirm(ctx, m.SubscribeURL); err != nil {
			return nil, fmt.Errorf("ses: confirm the subscription to %s: %w", m.TopicArn, err)
		}
		h.cfg.Log.InfoContext(ctx, "ses: SNS subscription confirmed", "topic", m.TopicArn)
		return nil, nil
	case "Notification":
	default:
		return nil, nil // UnsubscribeConfirmation
	}
	var n struct {
		NotificationType string `json:"notificationType"`
		EventType        string `json:"eventType"` // configuration-set event publishing
		Bounce           struct {
			BounceType        string `json:"bounceType"`
			BouncedRecipients []struct {
				EmailAddress string `json:"emailAddress"`
			} `json:"bouncedRecipients"`
		} `json:"bounce"`
		Complaint struct {
			ComplaintFeedbackType string `json:"complaintFeedbackType"`
			ComplainedRecipients  []struct {
				EmailAddress string `json:"emailAddress"`
			} `json:"complainedRecipients"`
		} `json:"complaint"`
	}
	if err := json.Unmarshal([]byte(m.Message), &n); err != nil {
		return nil, fmt.Errorf("ses: the notification: %w", err)
	}
	typ := n.NotificationType
	if typ == "" {
		typ = n.EventType
	}
	var out []report
	switch typ {
	case "Bounce":
		kind := subscribers.ReportSoft // Transient, Undetermined
		if n.Bounce.BounceType == "Permanent" {
			kind = subscribers.ReportHard
		}
		for _, r := range n.Bounce.BouncedRecipients {
			out = append(out, report{r.EmailAddress, kind})
		}
	case "Complaint":
		if n.Complaint.ComplaintFeedbackType == "not-spam" {
			return nil, nil
		}
		for _, r := range n.Complaint.ComplainedRecipients {
			out = append(out, report{r.EmailAddress, subscribers.ReportComplaint})
		}
	}
	return out, nil
}
