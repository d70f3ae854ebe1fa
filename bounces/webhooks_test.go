package bounces_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SNS SignatureVersion 1
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/digestbot/digestbot/bounces"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/subscribers"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const (
	mailgunKey = "key-mailgun-signing-0123456789"
	topic      = "arn:aws:sns:us-east-1:123456789012:ses-bounces"
	certURL    = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
)

type env struct {
	t         *testing.T
	st        *store.Store
	mux       *http.ServeMux
	now       time.Time
	sgKey     *ecdsa.PrivateKey
	snsKey    *rsa.PrivateKey
	confirmed []string
	fetched   []string
}

func newEnv(t *testing.T, st *store.Store) *env {
	t.Helper()
	e := &env{t: t, st: st, now: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	var err error
	if e.sgKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&e.sgKey.PublicKey)
	if e.snsKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sns.amazonaws.com"},
		NotBefore: e.now.Add(-time.Hour), NotAfter: e.now.Add(time.Hour)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &e.snsKey.PublicKey, e.snsKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(certDER)
	svc := &subscribers.Service{Store: st, Now: func() time.Time { return e.now }}
	h, err := bounces.New(bounces.Config{
		MailgunSigningKey: mailgunKey,
		SendGridPublicKey: base64.StdEncoding.EncodeToString(der),
		PostmarkUser:      "postmark", PostmarkPassword: "hook-password-0123",
		SESTopicARNs: []string{topic},
		// Amazon's certificate server is out of reach of a test: the
		// certificate comes from here, by the URL the message names.
		FetchCert: func(_ context.Context, u string) (*x509.Certificate, error) {
			e.fetched = append(e.fetched, u)
			return cert, nil
		},
		Confirm: func(_ context.Context, u string) error { e.confirmed = append(e.confirmed, u); return nil },
		Now:     func() time.Time { return e.now },
	}, svc)
	if err != nil {
		t.Fatal(err)
	}
	e.mux = http.NewServeMux()
	e.mux.Handle("POST /webhooks/{provider}", h)
	return e
}

func (e *env) subscribe(addrs ...string) {
	e.t.Helper()
	var subs []subscribers.Subscription
	for _, a := range addrs {
		subs = append(subs, subscribers.Subscription{Channel: subscribers.Email, Address: a, Status: subscribers.Active})
	}
	if _, err := e.st.CreateSubscriptions(context.Background(), subs); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) status(addr string) subscribers.Status {
	e.t.Helper()
	s, err := e.st.FindSubscription(context.Background(), subscribers.Email, addr)
	if err != nil {
		e.t.Fatal(err)
	}
	return s.Status
}

func (e *env) post(provider string, body []byte, hdr map[string]string) int {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/"+provider, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.mux.ServeHTTP(rec, req)
	return rec.Code
}

// mailgun is a webhook post as Mailgun documents it, signed with key.
func (e *env) mailgun(key, event, severity, rcpt, token string, at time.Time) []byte {
	ts := fmt.Sprint(at.Unix())
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(ts + token))
	b, _ := json.Marshal(map[string]any{
		"signature": map[string]string{"timestamp": ts, "token": token, "signature": hex.EncodeToString(mac.Sum(nil))},
		"event-data": map[string]any{"event": event, "severity": severity, "recipient": rcpt, "reason": "bounce",
			"delivery-status": map[string]any{"code": 550, "message": "5.1.1 The email account that you tried to reach does not exist."}},
	})
	return b
}

func TestMailgun(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.subscribe("hard@example.com", "soft@example.com", "spam@example.com", "forged@example.com")

		if c := e.post("mailgun", e.mailgun("wrong-key", "failed", "permanent", "forged@example.com", "tok-1", e.now), nil); c != 401 {
			t.Errorf("forged signature: %d, want 401", c)
		}
		if c := e.post("mailgun", e.mailgun(mailgunKey, "failed", "permanent", "forged@example.com", "tok-2", e.now.Add(-time.Hour)), nil); c != 401 {
			t.Errorf("an hour-old signature: %d, want 401", c)
		}
		if c := e.post("mailgun", []byte(`{"event-data":{"event":"failed","severity":"permanent","recipient":"forged@example.com"}}`), nil); c != 401 {
			t.Errorf("unsigned: %d, want 401", c)
		}
		if e.status("forged@example.com") != subscribers.Active {
			t.Fatal("a refused post changed the subscription")
		}

		body := e.mailgun(mailgunKey, "failed", "permanent", "hard@example.com", "tok-3", e.now)
		if c := e.post("mailgun", body, nil); c != 200 || e.status("hard@example.com") != subscribers.Bounced {
			t.Errorf("hard bounce: %d, %s", c, e.status("hard@example.com"))
		}
		if c := e.post("mailgun", body, nil); c != 401 {
			t.Errorf("the same post again (a replay): %d, want 401", c)
		}
		for i := range 3 {
			if c := e.post("mailgun", e.mailgun(mailgunKey, "failed", "temporary", "soft@example.com", fmt.Sprint("soft-", i), e.now), nil); c != 200 {
				t.Fatalf("soft bounce %d: %d", i, c)
			}
			want := subscribers.Active
			if i == 2 {
				want = subscribers.Bounced
			}
			if got := e.status("soft@example.com"); got != want {
				t.Errorf("after %d soft bounces: %s, want %s", i+1, got, want)
			}
		}
		if c := e.post("mailgun", e.mailgun(mailgunKey, "complained", "", "spam@example.com", "tok-4", e.now), nil); c != 200 {
			t.Fatalf("complaint: %d", c)
		}
		s, _ := st.FindSubscription(context.Background(), subscribers.Email, "spam@example.com")
		if s.Status != subscribers.Unsubscribed {
			t.Errorf("after a complaint: %s", s.Status)
		}
		if n, err := st.CountComplaints(context.Background()); err != nil || n != 1 {
			t.Errorf("complaints counted: %d %v", n, err)
		}
		// Delivered and unknown addresses change nothing and are not errors.
		if c := e.post("mailgun", e.mailgun(mailgunKey, "delivered", "", "hard@example.com", "tok-5", e.now), nil); c != 200 {
			t.Errorf("delivered event: %d", c)
		}
		if c := e.post("mailgun", e.mailgun(mailgunKey, "failed", "permanent", "stranger@example.com", "tok-6", e.now), nil); c != 200 {
			t.Errorf("unknown address: %d", c)
		}
	})
}

func TestSoftBouncesStartOver(t *testing.T) {
	st := storetest.OpenSQLite(t)
	e := newEnv(t, st)
	e.subscribe("soft@example.com")
	for i, days := range []int{0, 1, 12, 13} { // a gap of 11 days: the count starts over
		e.now = e.now.AddDate(0, 0, days)
		if c := e.post("mailgun", e.mailgun(mailgunKey, "failed", "temporary", "soft@example.com", fmt.Sprint("t", i), e.now), nil); c != 200 {
			t.Fatal(c)
		}
	}
	if got := e.status("soft@example.com"); got != subscribers.Active {
		t.Errorf("2 soft bounces, a pause, 2 more: %s, want still active", got)
	}
}

func TestPostmark(t *testing.T) {
	st := storetest.OpenSQLite(t)
	e := newEnv(t, st)
	e.subscribe("john@example.com", "jane@example.com")
	// The Bounce webhook's example payload (postmarkapp.com/developer/webhooks/bounce-webhook).
	bounce := []byte(`{"RecordType":"Bounce","MessageStream":"outbound","ID":4323372036854775807,"Type":"HardBounce",
		"TypeCode":1,"Name":"Hard bounce","Tag":"Test","MessageID":"883953f4-6105-42a2-a16a-77a8eac79483",
		"Metadata":{"a_key":"a_value"},"ServerID":23,"Description":"The server was unable to deliver your message (ex: unknown user, mailbox not found).",
		"Details":"Test bounce details","Email":"john@example.com","From":"sender@example.com","BouncedAt":"2019-11-05T16:33:54.9070259Z",
		"DumpAvailable":true,"Inactive":true,"CanActivate":true,"Subject":"Test subject","Content":"<Full dump of bounce>"}`)
	basic := func(u, p string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p))}
	}
	if c := e.post("postmark", bounce, nil); c != 401 {
		t.Errorf("no credentials: %d", c)
	}
	if c := e.post("postmark", bounce, basic("postmark", "guess")); c != 401 {
		t.Errorf("wrong password: %d", c)
	}
	if e.status("john@example.com") != subscribers.Active {
		t.Fatal("a refused post changed the subscription")
	}
	if c := e.post("postmark", bounce, basic("postmark", "hook-password-0123")); c != 200 || e.status("john@example.com") != subscribers.Bounced {
		t.Errorf("hard bounce: %d, %s", c, e.status("john@example.com"))
	}
	complaint := []byte(`{"RecordType":"SpamComplaint","MessageStream":"outbound","ID":42,"Type":"SpamComplaint","TypeCode":100001,
		"Email":"jane@example.com","From":"sender@example.com","BouncedAt":"2019-11-05T16:33:54.9070259Z"}`)
	if c := e.post("postmark", complaint, basic("postmark", "hook-password-0123")); c != 200 || e.status("jane@example.com") != subscribers.Unsubscribed {
		t.Errorf("spam complaint: %d, %s", c, e.status("jane@example.com"))
	}
}

// sendgrid signs body as SendGrid's Signed Event Webhook does.
func (e *env) sendgrid(body []byte, ts string) map[string]string {
	sum := sha256.Sum256(append([]byte(ts), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, e.sgKey, sum[:])
	if err != nil {
		e.t.Fatal(err)
	}
	return map[string]string{"X-Twilio-Email-Event-Webhook-Signature": base64.StdEncoding.EncodeToString(sig),
		"X-Twilio-Email-Event-Webhook-Timestamp": ts}
}

func TestSendGrid(t *testing.T) {
	st := storetest.OpenSQLite(t)
	e := newEnv(t, st)
	e.subscribe("bounce@example.com", "blocked@example.com", "spam@example.com", "open@example.com")
	// Events as in SendGrid's Event Webhook reference.
	body := []byte(`[
	{"email":"bounce@example.com","timestamp":1513299569,"smtp-id":"<14c5d75ce93.dfd.64b469@ismtpd-555>","event":"bounce","category":"cat facts","sg_event_id":"6g4ZI7SA-xmRDv57GoPIPw==","sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0","reason":"500 unknown recipient","status":"5.0.0","type":"bounce"},
	{"email":"blocked@example.com","timestamp":1513299569,"event":"bounce","reason":"451 try again later","status":"4.0.0","type":"blocked"},
	{"email":"spam@example.com","timestamp":1513299569,"event":"spamreport","sg_event_id":"37nvH5QBz858KGVYCM4uOA=="},
	{"email":"open@example.com","timestamp":1513299569,"event":"open","useragent":"Mozilla/4.0"},
	{"email":"open@example.com","timestamp":1513299569,"event":"deferred","response":"400 try again later","attempt":"5"}
	]`)
	ts := fmt.Sprint(e.now.Unix())
	tampered := bytes.Replace(body, []byte("open@example.com"), []byte("spam@example.com"), 1)
	if c := e.post("sendgrid", tampered, e.sendgrid(body, ts)); c != 401 {
		t.Errorf("a body other than the one signed: %d", c)
	}
	if c := e.post("sendgrid", body, nil); c != 401 {
		t.Errorf("unsigned: %d", c)
	}
	if c := e.post("sendgrid", body, e.sendgrid(body, ts)); c != 200 {
		t.Fatalf("signed post: %d", c)
	}
	for addr, want := range map[string]subscribers.Status{"bounce@example.com": subscribers.Bounced, "blocked@example.com": subscribers.Active,
		"spam@example.com": subscribers.Unsubscribed, "open@example.com": subscribers.Active} {
		if got := e.status(addr); got != want {
			t.Errorf("%s: %s, want %s", addr, got, want)
		}
	}
}

// sns builds an SNS delivery signed with the test certificate's key.
func (e *env) sns(typ, message, version string, mod func(m map[string]any)) []byte {
	return e.snsSigned(typ, message, version, nil, mod)
}

// snsSigned is sns with pre applied before signing and post after.
func (e *env) snsSigned(typ, message, version string, pre, mod func(m map[string]any)) []byte {
	m := map[string]any{"Type": typ, "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b", "TopicArn": topic,
		"Message": message, "Timestamp": "2026-12-07T09:00:00.000Z", "SignatureVersion": version, "SigningCertURL": certURL,
		"UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=" + topic + ":x"}
	if typ == "SubscriptionConfirmation" {
		m["Token"] = "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736"
		m["SubscribeURL"] = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + topic + "&Token=2336412f37"
	} else {
		m["Subject"] = "Amazon SES Email Event Notification"
	}
	if pre != nil {
		pre(m)
	}
	str := func(k string) string { s, _ := m[k].(string); return s }
	var b strings.Builder
	add := func(k string) { b.WriteString(k + "\n" + str(k) + "\n") }
	if typ == "Notification" {
		for _, k := range []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"} {
			add(k)
		}
	} else {
		for _, k := range []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"} {
			add(k)
		}
	}
	var sig []byte
	var err error
	if version == "1" {
		sum := sha1.Sum([]byte(b.String())) //nolint:gosec
		sig, err = rsa.SignPKCS1v15(rand.Reader, e.snsKey, crypto.SHA1, sum[:])
	} else {
		sum := sha256.Sum256([]byte(b.String()))
		sig, err = rsa.SignPKCS1v15(rand.Reader, e.snsKey, crypto.SHA256, sum[:])
	}
	if err != nil {
		e.t.Fatal(err)
	}
	m["Signature"] = base64.StdEncoding.EncodeToString(sig)
	if mod != nil {
		mod(m)
	}
	out, _ := json.Marshal(m)
	return out
}

func TestSES(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.subscribe("bounce@example.com", "transient@example.com", "complaint@example.com", "forged@example.com")
		// SES notification contents, as documented (docs.aws.amazon.com/ses/latest/dg/notification-examples.html).
		bounce := `{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General",
			"bouncedRecipients":[{"emailAddress":"bounce@example.com","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}],
			"timestamp":"2026-12-07T08:59:59.000Z","feedbackId":"0000013786031775-fea503bc-7497-49e1-881b-a0379bb037d3-000000"},
			"mail":{"timestamp":"2026-12-07T08:59:58.000Z","source":"news@news.example","messageId":"00000137860315fd-34208509-5b74-41f3-95c5-22c1edc3c924-000000","destination":["bounce@example.com"]}}`
		complaint := `{"notificationType":"Complaint","complaint":{"userAgent":"AnyCompany Feedback Loop (V0.01)",
			"complainedRecipients":[{"emailAddress":"complaint@example.com"}],"complaintFeedbackType":"abuse",
			"timestamp":"2026-12-07T08:59:59.000Z","feedbackId":"000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000"},
			"mail":{"source":"news@news.example","destination":["complaint@example.com"]}}`
		transient := `{"eventType":"Bounce","bounce":{"bounceType":"Transient","bounceSubType":"MailboxFull",
			"bouncedRecipients":[{"emailAddress":"transient@example.com"}]},"mail":{}}`

		forged := e.sns("Notification", bounce, "1", func(m map[string]any) {
			m["Message"] = strings.Replace(bounce, "bounce@example.com", "forged@example.com", 2)
		})
		if c := e.post("ses", forged, nil); c != 401 {
			t.Errorf("a message other than the one signed: %d", c)
		}
		if c := e.post("ses", e.sns("Notification", bounce, "1", func(m map[string]any) { m["SigningCertURL"] = "https://evil.example/cert.pem" }), nil); c != 401 {
			t.Errorf("a certificate off Amazon's host: %d", c)
		}
		for _, u := range e.fetched {
			if u != certURL {
				t.Errorf("fetched a certificate from %s", u)
			}
		}
		other := e.snsSigned("Notification", bounce, "2", func(m map[string]any) { m["TopicArn"] = "arn:aws:sns:us-east-1:999:other" }, nil)
		if c := e.post("ses", other, nil); c != 401 {
			t.Errorf("a well-signed message of another topic: %d", c)
		}
		if e.status("forged@example.com") != subscribers.Active || e.status("bounce@example.com") != subscribers.Active {
			t.Fatal("refused posts changed subscriptions")
		}

		if c := e.post("ses", e.sns("Notification", bounce, "1", nil), nil); c != 200 || e.status("bounce@example.com") != subscribers.Bounced {
			t.Errorf("permanent bounce (SignatureVersion 1): %d, %s", c, e.status("bounce@example.com"))
		}
		if c := e.post("ses", e.sns("Notification", complaint, "2", nil), nil); c != 200 || e.status("complaint@example.com") != subscribers.Unsubscribed {
			t.Errorf("complaint (SignatureVersion 2): %d, %s", c, e.status("complaint@example.com"))
		}
		if c := e.post("ses", e.sns("Notification", transient, "2", nil), nil); c != 200 || e.status("transient@example.com") != subscribers.Active {
			t.Errorf("one transient bounce: %d, %s", c, e.status("transient@example.com"))
		}
		if c := e.post("ses", e.sns("SubscriptionConfirmation", "You have chosen to subscribe to the topic "+topic, "1", nil), nil); c != 200 ||
			len(e.confirmed) != 1 || !strings.HasPrefix(e.confirmed[0], "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription") {
			t.Errorf("subscription confirmation: %d, confirmed %v", c, e.confirmed)
		}
	})
}

func TestNotServed(t *testing.T) {
	st := storetest.OpenSQLite(t)
	h, err := bounces.New(bounces.Config{}, &subscribers.Service{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/{provider}", h)
	for _, p := range []string{"mailgun", "sendgrid", "postmark", "ses", "mailchimp"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/webhooks/"+p, strings.NewReader("{}")))
		if rec.Code != 404 {
			t.Errorf("%s without configuration: %d, want 404", p, rec.Code)
		}
	}
	if _, err := bounces.New(bounces.Config{SendGridPublicKey: "not base64!"}, nil); err == nil {
		t.Error("a bad SendGrid key was accepted")
	}
}
