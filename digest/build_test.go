package digest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/digestbot/digestbot/articles"
	"github.com/digestbot/digestbot/internal/fakeclock"
)

// fakeStore is the Store of the digest tests: maps behind a mutex, with the
// (newsletter, date) uniqueness of the real one.
type fakeStore struct {
	mu       sync.Mutex
	articles []articles.Article
	weights  map[int64]float64
	editions map[[2]string]Edition // (newsletter, date) → edition
	nextID   int64
	creates  int // CreateEdition calls that stored an edition
	selects  [][2]time.Time
}

func newFakeStore() *fakeStore {
	return &fakeStore{editions: map[[2]string]Edition{}, weights: map[int64]float64{}}
}

func (s *fakeStore) add(as ...articles.Article) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range as {
		if a.ID == 0 {
			a.ID = int64(len(s.articles) + 1)
		}
		s.articles = append(s.articles, a)
	}
}

func (s *fakeStore) SelectArticles(ctx context.Context, after, upTo time.Time, limit int) ([]articles.Article, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.selects = append(s.selects, [2]time.Time{after, upTo})
	var out []articles.Article
	for _, a := range s.articles {
		if !a.Hidden && a.IngestedAt.After(after) && !a.IngestedAt.After(upTo) {
			out = append(out, a)
		}
	}
	slices.SortStableFunc(out, func(a, b articles.Article) int { return b.IngestedAt.Compare(a.IngestedAt) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, ctx.Err()
}

func (s *fakeStore) FeedWeights(ctx context.Context) (map[int64]float64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.weights, ctx.Err()
}

func (s *fakeStore) CreateEdition(ctx context.Context, e Edition) (Edition, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{e.Newsletter, e.Date}
	if old, ok := s.editions[k]; ok {
		return old, false, nil
	}
	s.nextID++
	e.ID = s.nextID
	s.editions[k] = e
	s.creates++
	return e, true, ctx.Err()
}

func (s *fakeStore) GetEditionByDate(ctx context.Context, newsletter, date string) (Edition, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.editions[[2]string{newsletter, date}]; ok {
		return e, nil
	}
	return Edition{}, fmt.Errorf("fake store: edition %s %s: %w", newsletter, date, ErrNotFound)
}

func (s *fakeStore) LatestEdition(ctx context.Context, newsletter string) (Edition, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var latest Edition
	for k, e := range s.editions {
		if k[0] == newsletter && e.Date > latest.Date {
			latest = e
		}
	}
	if latest.ID == 0 {
		return Edition{}, fmt.Errorf("fake store: latest %s: %w", newsletter, ErrNotFound)
	}
	return latest, nil
}

func (s *fakeStore) dates(newsletter string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ds []string
	for k := range s.editions {
		if k[0] == newsletter {
			ds = append(ds, k[1])
		}
	}
	slices.Sort(ds)
	return ds
}

func newTestBuilder(s Store, c *fakeclock.Clock, o Options) *Builder {
	b := NewBuilder(s, o, nil)
	b.Now = c.Now
	return b
}

func itemIDs(e Edition) []int64 {
	var ids []int64
	for _, it := range e.Items {
		ids = append(ids, it.ArticleID)
	}
	slices.Sort(ids)
	return ids
}

func TestBuildWindows(t *testing.T) {
	ctx := context.Background()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	day1 := time.Date(2023, 9, 13, 7, 0, 0, 0, ny)
	s := newFakeStore()
	c := fakeclock.New(day1)
	b := newTestBuilder(s, c, Options{Title: "Daily Headlines", Location: ny, MaxAge: DefaultMaxAge, SkipEmpty: true})
	story := func(id int64, title string, pub, ingested time.Time) articles.Article {
		return articles.Article{ID: id, Source: fmt.Sprintf("Outlet %d", id), Title: title, PublishedAt: pub, IngestedAt: ingested}
	}
	s.add(
		story(1, "Too old for the first edition", day1.Add(-30*time.Hour), day1.Add(-25*time.Hour)),
		story(2, "Yesterday evening's news", day1.Add(-14*time.Hour), day1.Add(-13*time.Hour)),
		story(3, "Overnight news without a date", time.Time{}, day1.Add(-2*time.Hour)),
		story(4, "Published long ago, just found", day1.Add(-72*time.Hour), day1.Add(-time.Hour)),
		story(5, "Dated in the future by a broken feed", time.Date(2098, 9, 13, 9, 0, 0, 0, time.UTC), day1.Add(-time.Hour)),
		story(6, "Arrives after the edition", day1.Add(time.Hour), day1.Add(time.Hour)),
	)
	hidden := story(7, "Hidden by an editor", day1.Add(-time.Hour), day1.Add(-time.Hour))
	hidden.Hidden = true
	s.add(hidden)

	e, created, err := b.Build(ctx, "2023-09-13")
	if err != nil || !created {
		t.Fatalf("first build: created %v, %v", created, err)
	}
	// First edition: the last 24 hours; max_age drops the article published
	// 72 hours ago; undated and future-dated count as published when stored.
	if got, want := itemIDs(e), []int64{2, 3, 5}; !slices.Equal(got, want) {
		t.Errorf("first edition items %v, want %v", got, want)
	}
	if !e.CutoffFrom.Equal(day1.Add(-24*time.Hour)) || !e.CutoffTo.Equal(day1) {
		t.Errorf("first window (%v, %v]", e.CutoffFrom, e.CutoffTo)
	}
	if e.Date != "2023-09-13" || e.Status != StatusBuilt || e.Title != "Daily Headlines" || e.Newsletter != DefaultNewsletter {
		t.Errorf("edition %+v", e)
	}

	// The same date again: the stored edition, never a second one.
	c.Set(day1.Add(time.Hour))
	again, created, err := b.Build(ctx, "2023-09-13")
	if err != nil || created || again.ID != e.ID || s.creates != 1 {
		t.Errorf("rebuild: id %d created %v err %v, %d stored", again.ID, created, err, s.creates)
	}

	// Next day: everything after the previous cutoff.
	day2 := day1.AddDate(0, 0, 1)
	c.Set(day2)
	s.add(story(8, "Late news of the 13th", day1.Add(10*time.Hour), day1.Add(10*time.Hour)))
	e2, created, err := b.Build(ctx, "2023-09-14")
	if err != nil || !created {
		t.Fatalf("second build: %v %v", created, err)
	}
	if got, want := itemIDs(e2), []int64{6, 8}; !slices.Equal(got, want) {
		t.Errorf("second edition items %v, want %v", got, want)
	}
	if !e2.CutoffFrom.Equal(e.CutoffTo) {
		t.Errorf("second window starts %v, want the first's cutoff %v", e2.CutoffFrom, e.CutoffTo)
	}
}

func TestBuildMaxAgeBoundsTheQuery(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2023, 9, 13, 7, 0, 0, 0, time.UTC)
	s := newFakeStore()
	// The previous edition is a month old.
	s.CreateEdition(ctx, Edition{Newsletter: DefaultNewsletter, Date: "2023-08-13", CutoffTo: now.AddDate(0, -1, 0)})
	s.add(articles.Article{ID: 1, Title: "Recent", PublishedAt: now.Add(-time.Hour), IngestedAt: now.Add(-time.Hour)})
	b := newTestBuilder(s, fakeclock.New(now), Options{MaxAge: 36 * time.Hour})
	e, err := b.Preview(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Items) != 1 {
		t.Errorf("%d items", len(e.Items))
	}
	if got := s.selects[len(s.selects)-1][0]; !got.Equal(now.Add(-36 * time.Hour)) {
		t.Errorf("selected after %v, want now−max_age", got)
	}
	if !e.CutoffFrom.Equal(now.AddDate(0, -1, 0)) {
		t.Errorf("window starts %v, want the previous cutoff", e.CutoffFrom)
	}

	// No age limit: the whole window is read.
	b.MaxAge = 0
	if _, err := b.Preview(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.selects[len(s.selects)-1][0]; !got.Equal(now.AddDate(0, -1, 0)) {
		t.Errorf("selected after %v, want the previous cutoff", got)
	}
}

func TestBuildEmpty(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2023, 9, 13, 7, 0, 0, 0, time.UTC)
	s := newFakeStore()
	b := newTestBuilder(s, fakeclock.New(now), Options{SkipEmpty: true})
	_, created, err := b.Build(ctx, "2023-09-13")
	if !errors.Is(err, ErrEmpty) || created || s.creates != 0 {
		t.Fatalf("skip_empty: created %v err %v stored %d", created, err, s.creates)
	}
	b.SkipEmpty = false
	e, created, err := b.Build(ctx, "2023-09-13")
	if err != nil || !created || len(e.Items) != 0 {
		t.Fatalf("empty edition: created %v err %v items %d", created, err, len(e.Items))
	}
}

func TestBuildBadDate(t *testing.T) {
	b := newTestBuilder(newFakeStore(), fakeclock.New(time.Now()), Options{})
	for _, d := range []string{"", "2023-9-13", "13/09/2023", "2023-02-30"} {
		if _, _, err := b.Build(context.Background(), d); err == nil {
			t.Errorf("Build(%q) accepted", d)
		}
	}
}

func TestPreview(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2023, 9, 13, 9, 0, 0, 0, time.UTC)
	s := newFakeStore()
	s.add(articles.Article{ID: 1, Title: "News", PublishedAt: now.Add(-time.Hour), IngestedAt: now.Add(-time.Hour)})
	c := fakeclock.New(now)
	b := newTestBuilder(s, c, Options{SkipEmpty: true})

	p, err := b.Preview(ctx)
	if err != nil || p.Date != "2023-09-13" || len(p.Items) != 1 || p.ID != 0 {
		t.Fatalf("preview before today's edition: %+v, %v", p, err)
	}
	if s.creates != 0 {
		t.Fatal("preview stored an edition")
	}
	if _, _, err := b.Build(ctx, "2023-09-13"); err != nil {
		t.Fatal(err)
	}
	c.Set(now.Add(time.Hour))
	p, err = b.Preview(ctx)
	if err != nil || p.Date != "2023-09-14" || len(p.Items) != 0 {
		t.Fatalf("preview after today's edition: date %s, %d items, %v", p.Date, len(p.Items), err)
	}
}

// TestBuildRace builds one date from many goroutines, as several instances
// or an overlapping run would: the store's unique key leaves one edition.
func TestBuildRace(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2023, 9, 13, 7, 0, 0, 0, time.UTC)
	s := newFakeStore()
	s.add(articles.Article{ID: 1, Title: "News", IngestedAt: now.Add(-time.Hour)})
	var wg sync.WaitGroup
	ids := make([]int64, 8)
	for i := range ids {
		wg.Go(func() {
			b := newTestBuilder(s, fakeclock.New(now), Options{})
			e, _, err := b.Build(ctx, "2023-09-13")
			if err != nil {
				t.Error(err)
			}
			ids[i] = e.ID
		})
	}
	wg.Wait()
	if s.creates != 1 || slices.Min(ids) != slices.Max(ids) {
		t.Errorf("%d editions stored, ids %v", s.creates, ids)
	}
}
