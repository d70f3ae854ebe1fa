package email

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"net/url"
	"strconv"
	"time"

	"github.com/digestbot/digestbot/subscribers"
)

// Transport sends one finished message (CRLF line ends) to one recipient.
// *SMTPSender and *OutboxSender implement it.
type Transport interface {
	SendMessage(ctx context.Context, rcpt string, msg []byte) error
}

// Mail is one transactional message. Text is required; HTML is optional.
type Mail struct {
	To      string
	Subject string
	Text    string
	HTML    string
}

// Mailer sends single transactional messages (the double opt-in mail)
// with the newsletter's From and DKIM key, over SMTP or to the outbox. It
// implements subscribers.Mailer.
type Mailer struct {
	b *Builder
	t Transport
}

// NewMailer returns a Mailer that builds with b and sends through t.
func NewMailer(b *Builder, t Transport) (*Mailer, error) {
	if b == nil || t == nil {
		return nil, errors.New("delivery: mailer needs a Builder and a Transport")
	}
	return &Mailer{b: b, t: t}, nil
}

// SendConfirmation sends the double opt-in mail with confirmURL, the link to
// the confirmation page.
func (m *Mailer) SendConfirmation(ctx context.Context, to, confirmURL string) error {
	title := m.title()
	days := strconv.Itoa(int(subscribers.ConfirmTTL / (24 * time.Hour)))
	return m.sendNotice(ctx, to, notice{
		subject: "Confirm your subscription to " + title,
		intro:   "Please confirm your subscription to " + title + ".",
		action:  "Open this link and press the Confirm button:",
		button:  "Confirm my subscription",
		link:    confirmURL,
		outro:   "The link is valid for " + days + " days. If you did not sign up, ignore this message: without a confirmation you will get nothing from us.",
	})
}

// SendAlreadySubscribed answers a signup for an address that is already
// subscribed: the reader gets the link to their preferences instead of a
// second confirmation, and the form's answer stays the same for every
// address (SPEC §6), in what it says and in how long it takes.
func (m *Mailer) SendAlreadySubscribed(ctx context.Context, to, preferencesURL string) error {
	title := m.title()
	return m.sendNotice(ctx, to, notice{
		subject: "You are already subscribed to " + title,
		intro:   "Someone, probably you, asked to subscribe this address to " + title + ". It is already subscribed.",
		action:  "To change your sections or unsubscribe, open your preferences:",
		button:  "My preferences",
		link:    preferencesURL,
		outro:   "If you did not ask, ignore this message: nothing has changed.",
	})
}

func (m *Mailer) title() string {
	if t := m.b.render.Title; t != "" {
		return t
	}
	return "Daily Headlines"
}

// notice is a short transactional message built around one link.
type notice struct {
	subject, intro, action, button, link, outro string
}

func (m *Mailer) sendNotice(ctx context.Context, to string, n notice) error {
	u, err := url.Parse(n.link)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("delivery: %s: the link is not an absolute http(s) URL", n.subject)
	}
	title := m.title()
	text := n.intro + "\n\n" + n.action + "\n\n" + n.link + "\n\n" + n.outro + "\n"
	h := html.EscapeString
	body := `<!doctype html><html><head><meta charset="utf-8"><title>` + h(title) + `</title></head>` +
		`<body style="font-family:sans-serif;line-height:1.5;max-width:36em;margin:2em auto;padding:0 1em">` +
		`<p>` + h(n.intro) + `</p>` +
		`<p><a href="` + h(n.link) + `" style="display:inline-block;padding:.6em 1.2em;background:#1a5fb4;color:#fff;text-decoration:none;border-radius:4px">` + h(n.button) + `</a></p>` +
		`<p>Or open this link: <a href="` + h(n.link) + `">` + h(n.link) + `</a></p>` +
		`<p style="color:#555">` + h(n.outro) + `</p>`
	if pa := m.b.render.PostalAddress; pa != "" {
		text += "\n" + pa + "\n"
		body += `<p style="color:#777;font-size:small">` + h(pa) + `</p>`
	}
	body += "</body></html>\n"
	return m.Send(ctx, Mail{To: to, Subject: n.subject, Text: text, HTML: body})
}

// Send builds and sends ml.
func (m *Mailer) Send(ctx context.Context, ml Mail) error {
	msg, err := m.Build(ml)
	if err != nil {
		return err
	}
	// Build checked that ml.To is a plain addr-spec.
	if err := m.t.SendMessage(ctx, ml.To, msg); err != nil {
		return fmt.Errorf("delivery: mail %q: %w", ml.Subject, err)
	}
	return nil
}

// Build returns the complete message of ml, DKIM-signed when configured.
func (m *Mailer) Build(ml Mail) ([]byte, error) {
	to, err := addrSpec(ml.To)
	if err != nil {
		return nil, err
	}
	if ml.Text == "" {
		return nil, errors.New("delivery: mail without text")
	}
	var r [12]byte
	_, _ = rand.Read(r[:])
	id := hex.EncodeToString(r[:])
	msg := make([]byte, 0, 2*(len(ml.Text)+len(ml.HTML))+1024)
	msg = append(msg, m.b.fromHdr...)
	msg = append(msg, "To: "+to+"\r\n"...)
	msg = append(msg, "Subject: "+headerText(ml.Subject, len("Subject: "))+"\r\n"...)
	msg = append(msg, "Date: "+m.b.dateOf(m.b.now())+"\r\n"...)
	// RFC 5322 §3.6.4: on the From domain, not the host name.
	msg = append(msg, "Message-ID: <"+id+"@"+m.b.domain+">\r\n"...)
	msg = append(msg, "MIME-Version: 1.0\r\n"...)
	// RFC 3834 §5: no auto-reply to an automatic message.
	msg = append(msg, "Auto-Submitted: auto-generated\r\n"...)
	if ml.HTML == "" {
		msg = append(msg, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"...)
		msg, _ = qpEncode(msg, ml.Text, nil)
		msg = append(msg, "\r\n"...)
	} else {
		boundary := "=_dgst_" + id
		msg = append(msg, "Content-Type: multipart/alternative;\r\n boundary=\""+boundary+"\"\r\n\r\n"...)
		for _, p := range [...]struct{ ctype, body string }{{"text/plain", ml.Text}, {"text/html", ml.HTML}} {
			msg = append(msg, "--"+boundary+"\r\nContent-Type: "+p.ctype+"; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"...)
			msg, _ = qpEncode(msg, p.body, nil)
			msg = append(msg, "\r\n"...)
		}
		msg = append(msg, "--"+boundary+"--\r\n"...)
	}
	if m.b.dkim != nil {
		return m.b.dkim.Sign(msg)
	}
	return msg, nil
}
