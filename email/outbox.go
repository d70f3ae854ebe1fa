package email

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/digestbot/digestbot/delivery"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/subscribers"
)

// fileLetter is the part of an outbox file name that tells a newsletter
// other than the default one apart: "slug-", or "".
func (b *Builder) fileLetter(ed digest.Edition) string {
	if _, ok := b.letters[ed.Newsletter]; !ok || ed.Newsletter == b.first {
		return ""
	}
	return fileSafe(ed.Newsletter) + "-"
}

// OutboxSender "delivers" email by writing each message as an .eml file to
// a directory (email.outbox_dir, used when no SMTP host is set). A file is
// named after the edition date and the subscription,
// "<YYYY-MM-DD>-<subscription id>.eml" ("<YYYY-MM-DD>-<slug>-<id>.eml" for
// a newsletter other than the default one), and written to a temporary file
// renamed into place, so a reader never sees half a message and sending
// again overwrites rather than duplicates. It implements delivery.ChannelSender,
// delivery.StreamSender and Transport.
type OutboxSender struct {
	dir string
	b   *Builder
	log *slog.Logger
	now func() time.Time
}

// NewOutboxSender creates dir if needed.
func NewOutboxSender(dir string, b *Builder, log *slog.Logger) (*OutboxSender, error) {
	if dir == "" {
		return nil, errors.New("delivery: email.outbox_dir is empty")
	}
	if b == nil {
		return nil, errors.New("delivery: outbox sender needs a Builder")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("delivery: outbox: %w", err)
	}
	return &OutboxSender{dir: dir, b: b, log: log, now: b.now}, nil
}

// Dir is the outbox directory.
func (o *OutboxSender) Dir() string { return o.dir }

// Send writes one file per subscription (delivery.ChannelSender).
func (o *OutboxSender) Send(ctx context.Context, ed digest.Edition, subs []subscribers.Subscription) ([]delivery.Result, error) {
	results := make([]delivery.Result, 0, len(subs))
	err := o.SendEach(ctx, ed, subs, delivery.EmitFunc(func(r delivery.Result) { results = append(results, r) }))
	return results, err
}

// SendEach writes one file per subscription, reporting each (delivery.StreamSender).
// A failure to write (disk full) fails the rest of the batch: they are
// reported delivery.Retry and the error returned when nothing was written.
func (o *OutboxSender) SendEach(ctx context.Context, ed digest.Edition, subs []subscribers.Subscription, sink delivery.Sink) error {
	emit := sink.Emit
	var buf []byte
	var firstErr error
	written := 0
	for i, sub := range subs {
		if err := ctx.Err(); err != nil {
			for _, rest := range subs[i:] {
				emit(delivery.Result{SubscriptionID: rest.ID, Outcome: delivery.Retry, Err: err})
			}
			return nil
		}
		if firstErr != nil {
			emit(delivery.Result{SubscriptionID: sub.ID, Outcome: delivery.Retry, Err: firstErr})
			continue
		}
		m, err := o.b.AppendMessage(buf, ed, sub)
		switch {
		case errors.Is(err, ErrBadAddress):
			emit(delivery.Result{SubscriptionID: sub.ID, Outcome: delivery.Failed, Err: err})
			continue
		case err != nil:
			return err
		case m.Skip:
			emit(delivery.Result{SubscriptionID: sub.ID, Outcome: delivery.Skipped})
			continue
		}
		buf = m.Data[:0]
		if err := sink.Admit(ctx, sub.ID); err != nil {
			emit(delivery.Result{SubscriptionID: sub.ID, Outcome: delivery.Retry, Err: err})
			continue
		}
		name := fileSafe(ed.Date) + "-" + o.b.fileLetter(ed) + strconv.FormatInt(sub.ID, 10) + ".eml"
		if err := o.write(name, m.Data); err != nil {
			firstErr = err
			emit(delivery.Result{SubscriptionID: sub.ID, Outcome: delivery.Retry, Err: err})
			continue
		}
		written++
		emit(delivery.Result{SubscriptionID: sub.ID, Outcome: delivery.Sent})
	}
	if firstErr != nil && written == 0 {
		return firstErr
	}
	return nil
}

// SendMessage writes one finished message (Transport, for the Mailer),
// named after the time and a random suffix.
func (o *OutboxSender) SendMessage(ctx context.Context, rcpt string, msg []byte) error {
	if _, err := addrSpec(rcpt); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var r [4]byte
	_, _ = rand.Read(r[:])
	name := "mail-" + o.now().UTC().Format("20060102T150405.000000000") + "-" + hex.EncodeToString(r[:]) + ".eml"
	return o.write(name, msg)
}

// write stores data as dir/name atomically: a temporary file in the same
// directory, synced, then renamed over any older one.
func (o *OutboxSender) write(name string, data []byte) error {
	f, err := os.CreateTemp(o.dir, ".tmp-*.eml")
	if err != nil {
		return fmt.Errorf("delivery: outbox: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(o.dir, name))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("delivery: outbox %s: %w", name, err)
	}
	return nil
}

// fileSafe keeps the letters, digits and dashes of s, so that no value can
// name a path outside the outbox.
func fileSafe(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
			b = append(b, c)
		}
	}
	if len(b) == 0 {
		return "edition"
	}
	return string(b)
}
