package digest

import (
	"slices"
	"testing"
	"time"

	"github.com/digestbot/digestbot/articles"
)

// TestRankAlsoInDistinct: "Also in" names each other outlet once, never the
// representative's own outlet, however many reports each outlet filed and
// however the feed spells its name; and the story counts outlets, not items.
func TestRankAlsoInDistinct(t *testing.T) {
	now := time.Date(2023, 9, 14, 12, 0, 0, 0, time.UTC)
	art := func(id int64, source string, feed int64, title string) articles.Article {
		return articles.Article{ID: id, Source: source, FeedID: feed, Title: title, Lead: title + ".",
			PublishedAt: now.Add(-time.Hour), IngestedAt: now.Add(-time.Hour)}
	}
	as := []articles.Article{
		art(1, "Alpha", 1, "Storm Daniel floods Derna in eastern Libya"),
		art(2, "Alpha", 1, "Derna floods: Storm Daniel bursts dams in Libya"),
		art(3, "Beta", 2, "Libya: Storm Daniel floods wreck Derna"),
		art(4, " Beta ", 2, "Storm Daniel: Derna floods after Libya dams burst"),
		art(5, "Gamma", 3, "Derna, Libya: Storm Daniel floods the city"),
		art(6, "Delta", 4, "Unity per-install fee angers game developers"),
		art(7, "Delta", 4, "Arm prices IPO at top of range"),
	}
	items := Rank(as, RankOptions{Weights: map[int64]float64{1: 2}, Now: now})
	if len(items) != 3 {
		t.Fatalf("%d items, want 3 stories", len(items))
	}
	top := items[0]
	if top.Source != "Alpha" {
		t.Fatalf("first %q from %q, want the Derna story from the weight-2 outlet Alpha", top.Title, top.Source)
	}
	got := slices.Clone(top.AlsoIn)
	slices.Sort(got)
	if !slices.Equal(got, []string{"Beta", "Gamma"}) {
		t.Errorf("also in %q, want Beta and Gamma once each", top.AlsoIn)
	}
	for _, it := range items[1:] {
		if len(it.AlsoIn) != 0 {
			t.Errorf("single story %q has also-in %v", it.Title, it.AlsoIn)
		}
		if it.Score >= top.Score {
			t.Errorf("single story %q scores %.3f, not below the three-outlet story's %.3f", it.Title, it.Score, top.Score)
		}
	}
}
