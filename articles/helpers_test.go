package articles

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixtureDir holds the shared feed fixtures (testdata/feeds/README.md is
// their answer key).
const fixtureDir = "../testdata/feeds"

// testNow is the ingestion clock of the fixture tests: the morning after
// the fixtures' news days.
var testNow = time.Date(2023, 9, 14, 6, 0, 0, 0, time.UTC)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func readSeed(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile("../testdata/seed-article.txt")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// fakeStore is an in-memory FeedStore with the store's dedupe rule:
// (feed_id, guid) when both are set, else the canonical URL.
type fakeStore struct {
	mu       sync.Mutex
	nextID   int64
	articles map[int64]Article
	feeds    map[int64]Feed
	polls    []pollRecord
	failList error
	lists    int // ListFeeds calls
}

type pollRecord struct {
	id                 int64
	etag, lastModified string
	at                 time.Time
	lastErr            string
}

func newFakeStore(feeds ...Feed) *fakeStore {
	s := &fakeStore{articles: map[int64]Article{}, feeds: map[int64]Feed{}}
	for _, f := range feeds {
		s.feeds[f.ID] = f
	}
	return s
}

func (s *fakeStore) find(a Article) (int64, bool) {
	for id, b := range s.articles {
		if a.FeedID != 0 && a.GUID != "" {
			if b.FeedID == a.FeedID && b.GUID == a.GUID {
				return id, true
			}
			continue
		}
		if a.URL != "" && b.URL == a.URL {
			return id, true
		}
	}
	return 0, false
}

func (s *fakeStore) UpsertArticles(ctx context.Context, as []Article) ([]Article, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Article, 0, len(as))
	created := 0
	for _, a := range as {
		if id, ok := s.find(a); ok {
			old := s.articles[id]
			a.ID, a.IngestedAt, a.Pinned, a.Hidden, a.Priority = id, old.IngestedAt, old.Pinned, old.Hidden, old.Priority
		} else {
			s.nextID++
			a.ID = s.nextID
			created++
		}
		s.articles[a.ID] = a
		out = append(out, a)
	}
	return out, created, nil
}

func (s *fakeStore) ListFeeds(ctx context.Context) ([]Feed, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lists++
	if s.failList != nil {
		return nil, s.failList
	}
	out := make([]Feed, 0, len(s.feeds))
	for id := int64(1); len(out) < len(s.feeds); id++ {
		if f, ok := s.feeds[id]; ok {
			out = append(out, f)
		}
	}
	return out, nil
}

func (s *fakeStore) RecordFeedPoll(ctx context.Context, id int64, etag, lastModified string, polledAt time.Time, lastErr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.feeds[id]
	f.ETag, f.LastModified, f.LastPolledAt, f.LastError = etag, lastModified, polledAt, lastErr
	s.feeds[id] = f
	s.polls = append(s.polls, pollRecord{id, etag, lastModified, polledAt, lastErr})
	return nil
}

func (s *fakeStore) feed(id int64) Feed {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.feeds[id]
}

func (s *fakeStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.articles)
}

func (s *fakeStore) all() []Article {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Article, 0, len(s.articles))
	for _, a := range s.articles {
		out = append(out, a)
	}
	return out
}

// storedText is every text field of an article, for "appears at most
// once" and "never appears" checks.
func storedText(a Article) string {
	return strings.Join([]string{a.URL, a.GUID, a.Source, a.Title, a.Lead, a.Byline, a.ImageURL, a.Section}, "\n")
}
