package subscribers

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ImportCSV reads CSV rows email[,sections] (an optional header row,
// sections separated by ";") and adds them as active email subscriptions
// (source "import") in chunks: the publisher's existing list, which
// opted in elsewhere. Each line is parsed on its own: a stray quote spoils that row
// only, never the rows after it. Bad rows are reported with their line
// numbers and skipped, as are addresses already subscribed.
// report receives one line per row skipped.
func (s *Service) ImportCSV(ctx context.Context, r io.Reader, report io.Writer) (imported, skipped int, err error) {
	const chunk = 1000
	batch := make([]Subscription, 0, chunk)
	seen := make(map[string]int) // address → its first line
	existing := 0                // addresses the store already had
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := s.Store.CreateSubscriptions(ctx, batch)
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
		addr, err := NormalizeEmail(email)
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
			for _, sec := range strings.Split(rec[1], ";") {
				if sec = strings.TrimSpace(sec); sec != "" {
					sections = append(sections, sec)
				}
			}
		}
		if sections, err = s.CheckSections(sections); err != nil {
			bad(line, "%v", err)
			continue
		}
		batch = append(batch, Subscription{
			Channel:  Email,
			Address:  addr,
			Status:   Active,
			Sections: sections,
			Source:   SourceImport,
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
