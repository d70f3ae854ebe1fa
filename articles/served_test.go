package articles

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"
)

// A feed served with the wrong Content-Type (text/html) and a legacy
// encoding is still a feed; an empty feed imports nothing, without error.
func TestImportServedFeeds(t *testing.T) {
	bodies := map[string][]byte{
		"/cp1252": readLocal(t, filepath.Join("feeds", "cp1252.rss.xml")),
		"/empty":  readLocal(t, filepath.Join("feeds", "empty.rss.xml")),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(bodies[r.URL.Path])
	}))
	defer srv.Close()
	st := newFakeStore()
	im := &Importer{Store: st, Fetcher: &Fetcher{Client: srv.Client()}, Now: func() time.Time { return testNow }}
	stored, err := im.Import(context.Background(), srv.URL+"/cp1252", ImportOptions{})
	if err != nil || len(stored) != 1 || stored[0].Title != "“Not for sale” – the € 5 billion deal" {
		t.Fatalf("%v %+v", err, stored)
	}
	stored, err = im.Import(context.Background(), srv.URL+"/empty", ImportOptions{})
	if err != nil || len(stored) != 0 {
		t.Fatalf("empty feed: %v %+v", err, stored)
	}
}
