package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/subscribers"
)

func cmdMigrate(ctx context.Context, in *invocation) error {
	cfg, err := in.load()
	if err != nil {
		return err
	}
	log := in.logger(false)
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(in.stdout, "migrated %s database\n", cfg.Database.Driver)
	return nil
}

func cmdImport(ctx context.Context, in *invocation) error {
	title := in.fs.String("title", "", "headline of a plain-text file (required for one)")
	section := in.fs.String("section", "", "section of every imported article")
	cfg, err := in.load()
	if err != nil {
		return err
	}
	if in.fs.NArg() != 1 {
		return codeError{exitUsage, errors.New("import: want exactly one PATH or URL")}
	}
	log := in.logger(false)
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	src := in.fs.Arg(0)
	stored, err := (&articles.Importer{Store: st, Fetcher: newFetcher(cfg), Log: log}).Import(ctx, src, articles.ImportOptions{Title: *title, Section: *section})
	if err != nil {
		return err
	}
	// SPEC §4: one line per stored article, ID<TAB>TITLE<TAB>LEAD; tabs and
	// newlines inside the text would break the columns.
	flat := strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")
	for _, a := range stored {
		fmt.Fprintf(in.stdout, "%d\t%s\t%s\n", a.ID, flat.Replace(a.Title), flat.Replace(a.Lead))
	}
	fmt.Fprintf(in.stderr, "stored %d articles (new or updated in place) from %s\n", len(stored), src)
	return nil
}

func cmdPreview(ctx context.Context, in *invocation) error {
	format := in.fs.String("format", "text", "output `format`: html, text or telegram")
	cfg, err := in.load()
	if err != nil {
		return err
	}
	switch *format {
	case "html", "text", "telegram":
	default:
		return codeError{exitUsage, fmt.Errorf("preview: unknown format %q (html, text or telegram)", *format)}
	}
	log := in.logger(false)
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	ed, err := newBuilder(cfg, st, log).Preview(ctx)
	if errors.Is(err, digest.ErrEmpty) {
		fmt.Fprintln(in.stderr, "preview: no new headlines for the next edition")
		return nil
	}
	if err != nil {
		return err
	}
	o := renderOptions(cfg)
	// A preview is nobody's copy: its reader links show where they lead.
	o.UnsubscribeURL = cfg.Newsletter.BaseURL + "/unsubscribe/PREVIEW"
	o.PreferencesURL = cfg.Newsletter.BaseURL + "/preferences/PREVIEW"
	switch *format {
	case "html":
		out, err := digest.RenderEmailHTML(ed, o)
		if err != nil {
			return err
		}
		fmt.Fprint(in.stdout, out)
	case "text":
		out, err := digest.RenderEmailText(ed, o)
		if err != nil {
			return err
		}
		fmt.Fprint(in.stdout, out)
	case "telegram":
		msgs, err := digest.RenderTelegram(ed, o)
		if err != nil {
			return err
		}
		// SPEC §4: messages in order, separated by this exact line.
		fmt.Fprintln(in.stdout, strings.Join(msgs, "\n--- message break ---\n"))
	}
	return nil
}

func cmdSubscribersImport(ctx context.Context, in *invocation) error {
	cfg, err := in.load()
	if err != nil {
		return err
	}
	if in.fs.NArg() != 1 {
		return codeError{exitUsage, errors.New("subscribers import: want exactly one CSV file")}
	}
	f, err := os.Open(in.fs.Arg(0))
	if err != nil {
		return fmt.Errorf("subscribers import: %w", err)
	}
	defer f.Close()
	log := in.logger(false)
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := &subscribers.Service{Store: st, Sections: cfg.Newsletter.Sections}
	imported, skipped, err := importSubscribers(ctx, f, svc, st, in.stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(in.stdout, "imported %d, skipped %d\n", imported, skipped)
	return nil
}

// bulkStore is what the CSV import needs of the store.
type bulkStore interface {
	CreateSubscriptions(ctx context.Context, subs []subscribers.Subscription) (int, error)
}

// importSubscribers reads CSV rows email[,sections] (an optional header row,
// sections separated by ";") and adds them as active email subscriptions in
// chunks. Each line is parsed on its own: a stray quote spoils that row
// only, never the rows after it. Bad rows are reported with their line
// numbers and skipped, as are addresses already subscribed.
func importSubscribers(ctx context.Context, r io.Reader, svc *subscribers.Service, st bulkStore, report io.Writer) (imported, skipped int, err error) {
	const chunk = 1000
	batch := make([]subscribers.Subscription, 0, chunk)
	seen := make(map[string]int) // address → its first line
	existing := 0                // addresses the store already had
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := st.CreateSubscriptions(ctx, batch)
		if err != nil {
			return fmt.Errorf("subscribers import: %w", err)
		}
		imported += n
		skipped += len(batch) - n
		existing += len(batch) - n
		batch = batch[:0]
		return nil
	}
	bad := func(line int, format string, args ...any) {
		fmt.Fprintf(report, "line %d: %s\n", line, fmt.Sprintf(format, args...))
		skipped++
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if line == 1 {
			text = strings.TrimPrefix(text, "\uFEFF") // a spreadsheet's byte-order mark
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		cr := csv.NewReader(strings.NewReader(text))
		cr.FieldsPerRecord = -1
		cr.TrimLeadingSpace = true
		rec, err := cr.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			bad(line, "%v", err)
			continue
		}
		email := strings.TrimSpace(rec[0])
		if line == 1 && strings.EqualFold(email, "email") {
			continue // header row
		}
		if len(rec) > 2 {
			bad(line, "%d columns, want email[,sections]", len(rec))
			continue
		}
		addr, err := subscribers.NormalizeEmail(email)
		if err != nil {
			bad(line, "%v", err)
			continue
		}
		if first, dup := seen[addr]; dup {
			bad(line, "%s repeats line %d", addr, first)
			continue
		}
		seen[addr] = line
		var sections []string
		if len(rec) == 2 {
			for _, s := range strings.Split(rec[1], ";") {
				if s = strings.TrimSpace(s); s != "" {
					sections = append(sections, s)
				}
			}
		}
		if sections, err = svc.CheckSections(sections); err != nil {
			bad(line, "%v", err)
			continue
		}
		batch = append(batch, subscribers.Subscription{
			Channel:  subscribers.Email,
			Address:  addr,
			Status:   subscribers.Active,
			Sections: sections,
			Source:   subscribers.SourceImport,
		})
		if len(batch) == chunk {
			if err := flush(); err != nil {
				return imported, skipped, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return imported, skipped, fmt.Errorf("subscribers import: read: %w", err)
	}
	if err := flush(); err != nil {
		return imported, skipped, err
	}
	if existing > 0 {
		// Not errors: those readers keep their subscription as it is (an
		// unsubscribed one stays unsubscribed).
		fmt.Fprintf(report, "%d addresses were subscribed already and are left as they are\n", existing)
	}
	return imported, skipped, nil
}
