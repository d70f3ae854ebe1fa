package subscribers

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestImportCSV(t *testing.T) {
	svc, st, _, _ := newService(t)
	ctx := context.Background()
	if _, _, err := st.CreateSubscription(ctx, Subscription{Channel: Email, Address: "old@example.org", Status: Unsubscribed}); err != nil {
		t.Fatal(err)
	}
	in := "\uFEFFemail,sections\n" +
		"Ada@Example.org, World;Sport\n" +
		"\n" +
		"bob@example.org\n" +
		"not-an-address\n" +
		"ada@example.org\n" + // repeats line 2 once normalised
		"carol@example.org,Cooking\n" +
		"dan@example.org,World,extra\n" +
		"\"eve@example.org\n" + // a stray quote spoils this row only
		"old@example.org\n" +
		"frank@example.org,Business\n"
	var report strings.Builder
	imported, skipped, err := svc.ImportCSV(ctx, strings.NewReader(in), &report)
	if err != nil {
		t.Fatal(err)
	}
	if imported != 3 || skipped != 6 {
		t.Errorf("imported %d, skipped %d; want 3, 6\n%s", imported, skipped, report.String())
	}
	for _, want := range []string{"line 5:", "line 6: ada@example.org repeats line 2", "line 7:", "line 8: 3 columns", "line 9:", "1 addresses were subscribed already"} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, report.String())
		}
	}
	ada, err := st.FindSubscription(ctx, Email, "ada@example.org")
	if err != nil || ada.Status != Active || ada.Source != SourceImport || !slices.Equal(ada.Sections, []string{"World", "Sport"}) {
		t.Errorf("ada: %+v, %v", ada, err)
	}
	if old, _ := st.FindSubscription(ctx, Email, "old@example.org"); old.Status != Unsubscribed {
		t.Errorf("an unsubscribed reader was re-activated by the import: %s", old.Status)
	}
	if f, err := st.FindSubscription(ctx, Email, "frank@example.org"); err != nil || !slices.Equal(f.Sections, []string{"Business"}) {
		t.Errorf("frank: %+v, %v ", f, err)
	}
}
