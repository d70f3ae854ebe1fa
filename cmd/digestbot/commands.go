package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/digestbot/digestbot/app"
	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/digest"
	"github.com/digestbot/digestbot/subscribers"
)

func cmdMigrate(ctx context.Context, in *invocation) error {
	cfg, err := in.load()
	if err != nil {
		return err
	}
	log := in.logger(false, "")
	st, err := app.OpenStore(ctx, cfg, log)
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
	log := in.logger(false, "")
	st, err := app.OpenStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	src := in.fs.Arg(0)
	stored, err := (&articles.Importer{Store: st, Fetcher: app.NewFetcher(cfg), Log: log}).Import(ctx, src, articles.ImportOptions{Title: *title, Section: *section})
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
	slug := in.fs.String("newsletter", "", "the newsletter's `slug` (default: the first)")
	cfg, err := in.load()
	if err != nil {
		return err
	}
	n, ok := cfg.Letter(*slug)
	if !ok {
		return codeError{exitUsage, fmt.Errorf("preview: no newsletter %q", *slug)}
	}
	switch *format {
	case "html", "text", "telegram":
	default:
		return codeError{exitUsage, fmt.Errorf("preview: unknown format %q (html, text or telegram)", *format)}
	}
	log := in.logger(false, "")
	st, err := app.OpenStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	ed, err := app.NewLetterBuilder(n, st, log).Preview(ctx)
	if errors.Is(err, digest.ErrEmpty) {
		fmt.Fprintln(in.stderr, "preview: no new headlines for the next edition")
		return nil
	}
	if err != nil {
		return err
	}
	o, err := app.LetterRender(cfg, n)
	if err != nil {
		return err
	}
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

func cmdTemplates(_ context.Context, in *invocation) error {
	if err := in.parse(); err != nil {
		return err
	}
	if in.fs.NArg() != 1 {
		return codeError{exitUsage, errors.New("templates: want exactly one directory")}
	}
	dir := in.fs.Arg(0)
	names, err := digest.ExportTemplates(dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		fmt.Fprintln(in.stdout, filepath.Join(dir, n))
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
	log := in.logger(false, "")
	st, err := app.OpenStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := &subscribers.Service{Store: st, Sections: cfg.Newsletter.Sections}
	imported, skipped, err := svc.ImportCSV(ctx, f, in.stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(in.stdout, "imported %d, skipped %d\n", imported, skipped)
	return nil
}
