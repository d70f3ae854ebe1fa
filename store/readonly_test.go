package store_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
)

// TestOpenReadOnlyDirectory: a store whose directory is on a read-only
// mount fails to open with an error that says so (SQLite alone says
// "unable to open database file"). Root writes through file modes, so the
// test makes a read-only bind mount, which needs root; it skips, saying
// why, elsewhere.
func TestOpenReadOnlyDirectory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data, ro := filepath.Join(dir, "data"), filepath.Join(dir, "ro")
	for _, d := range []string{data, ro} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s, err := store.Open(ctx, store.SQLite, filepath.Join(data, "digestbot.db"), storetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	check(t, s.Migrate(ctx))
	check(t, s.Close())
	if out, err := exec.Command("mount", "--bind", data, ro).CombinedOutput(); err != nil {
		t.Skipf("read-only test skipped: cannot bind-mount (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", ro).Run() })
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", ro).CombinedOutput(); err != nil {
		t.Skipf("read-only test skipped: cannot remount read-only: %v %s", err, out)
	}
	_, err = store.Open(ctx, store.SQLite, filepath.Join(ro, "digestbot.db"), storetest.Logger())
	if err == nil || !strings.Contains(err.Error(), "is not writable") {
		t.Fatalf("open on a read-only mount: %v, want an error naming the directory as not writable", err)
	}
	// Nothing was harmed: the writable path opens and reads.
	s, err = store.Open(ctx, store.SQLite, filepath.Join(data, "digestbot.db"), storetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var integrity string
	if err := s.DB().QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&integrity); err != nil || integrity != "ok" {
		t.Fatalf("integrity %q %v", integrity, err)
	}
}
