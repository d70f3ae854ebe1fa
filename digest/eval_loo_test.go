package digest

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEvalLeaveOneDayOut chooses the clustering thresholds the way they
// should be chosen, and measures the choice on days it did not see: every
// setting of a grid is scored on the tuning pool (the tuning days of
// testdata/eval, the two older sets and the fixture day); each tuning day is
// then clustered with the setting that did best on the other days of the
// pool, and those left-out scores are pooled. A near-miss merge, a single
// story lost or a wrong pair costs penalty correct pairs. A setting must
// keep the fixture day's top story (the seed article's, told by the most
// outlets) first when the day is ranked: the product test's "top story
// first". Held-out days are never read here.
//
// The defaults of cluster.go must be the setting the selection picks on
// the whole pool at penalty choicePenalty (the same at 7): the test fails
// when they are changed by hand, or when a day added to the pool moves the
// choice. It takes a few seconds (each pool day is linked about a
// thousand times; the pairs are scored once per nameMin and wordExp):
//
//	go test ./digest -run TestEvalLeaveOneDayOut -v
func TestEvalLeaveOneDayOut(t *testing.T) {
	if testing.Short() {
		t.Skip("the leave-one-day-out selection links each pool day about a thousand times")
	}
	pool := tuningPool(t)
	grid := looGrid()
	// scores[s][d]: setting s on pool day d. The pairs' scores depend on
	// nameMin and wordExp only, so they are computed once per pair of those.
	scores := make([][]evalScore, len(grid))
	topOK := make([]bool, len(grid))
	type pre struct{ nameMin, wordExp float64 }
	type scored struct {
		docs  [][]doc
		edges [][]edge
	}
	cache := map[pre]scored{}
	for s, p := range grid {
		k := pre{p.nameMin, p.wordExp}
		c, ok := cache[k]
		if !ok {
			for _, day := range pool {
				ds := analyze(day.articles, p, nil)
				c.docs = append(c.docs, ds)
				c.edges = append(c.edges, scorePairsOf(ds, p))
			}
			cache[k] = c
		}
		scores[s] = make([]evalScore, len(pool))
		for d, day := range pool {
			groups := linkGroups(c.docs[d], c.edges[d], p)
			scores[s][d] = evaluate(day, groups)
			if day.day == fixtureDay {
				topOK[s] = fixtureSeedFirst(day, groups)
			}
		}
	}
	out := t.Output()
	fmt.Fprintf(out, "%d settings, %d pool days (%d open the fixture day with its top story)\n", len(grid), len(pool), countTrue(topOK))
	fmt.Fprintln(out, "penalty  left-out tuning days: P      R   nm  lost   | chosen on the whole pool, tuning days: P      R   nm  lost  setting")
	for _, penalty := range []int{3, 5, 7, 10} {
		utility := func(s evalScore) float64 {
			wrong := s.pairs.foundPairs - s.pairs.correct
			return float64(s.pairs.correct - penalty*(s.pairs.nearMissMerges+s.singlesLost+wrong))
		}
		best := func(skip int) int {
			b, bu := -1, 0.0
			for s := range grid {
				if !topOK[s] {
					continue
				}
				var u float64
				for d := range pool {
					if d != skip {
						u += utility(scores[s][d])
					}
				}
				if b < 0 || u > bu {
					b, bu = s, u
				}
			}
			return b
		}
		var left, whole evalScore
		all := best(-1)
		for d, day := range pool {
			if day.split != splitTuning {
				continue
			}
			b := best(d)
			left.add(scores[b][d])
			whole.add(scores[all][d])
			if sc := scores[b][d]; testing.Verbose() && (sc.pairs.nearMissMerges > 0 || sc.singlesLost > 0) {
				fmt.Fprintf(out, "         left out %s: %s  (%s)\n", day.day, sc.row("", ""), describeParams(grid[b]))
			}
		}
		fmt.Fprintf(out, "%7d  %26.3f %6.3f %4d %5d   | %38.3f %6.3f %4d %5d  %s\n", penalty,
			left.pairs.precision(), left.pairs.recall(), left.pairs.nearMissMerges, left.singlesLost,
			whole.pairs.precision(), whole.pairs.recall(), whole.pairs.nearMissMerges, whole.singlesLost, describeParams(grid[all]))
		if penalty == choicePenalty && describeParams(grid[all]) != describeParams(defaultClusterParams) {
			t.Errorf("the selection at penalty %d picks %s; cluster.go's defaults are %s",
				penalty, describeParams(grid[all]), describeParams(defaultClusterParams))
		}
	}
}

// choicePenalty is how many "Also in"s found a near-miss merge, a lost
// story or a wrong pair is worth when the defaults are chosen: a reader
// who misses a story because it was folded into another is the worst
// failure a digest can have.
const choicePenalty = 10

const fixtureDay = "fixture"

// tuningPool is every answer-keyed day the parameters may be chosen on.
func tuningPool(t *testing.T) []clusterDay {
	files, err := filepath.Glob(filepath.Join(evalDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pool []clusterDay
	for _, f := range files {
		if d := loadClusterDay(t, f); d.split == splitTuning {
			pool = append(pool, d)
		}
	}
	for _, f := range []string{"cluster_set2.json", "cluster_set3.json"} {
		d := loadClusterDay(t, filepath.Join("testdata", f))
		d.day, d.split = f, "older set"
		pool = append(pool, d)
	}
	as, key := fixtureArticles(t, time.Date(2023, 9, 14, 0, 0, 0, 0, time.UTC))
	pool = append(pool, clusterDay{day: fixtureDay, split: "fixture", articles: as, key: key, nearMiss: map[string]string{}})
	return pool
}

// fixtureSeedFirst reports whether the fixture day, ranked with groups,
// opens with the seed article's story (the summit, told by the most
// outlets), shown by the seed article: cmd/digestbot's
// TestImportPreviewAndSendToOutbox asks this of the real import.
func fixtureSeedFirst(d clusterDay, groups [][]int) bool {
	items := rankGroups(d.articles, groups, RankOptions{Sections: []string{"world", "us", "military", "business", "tech"},
		Now: time.Date(2023, 9, 14, 0, 0, 0, 0, time.UTC)})
	return len(items) > 0 && strings.HasPrefix(items[0].Title, "Kim promises Putin full backing")
}

// looGrid is the settings TestEvalLeaveOneDayOut chooses from: the
// thresholds of defaultClusterParams, and the group thresholds (0: none).
func looGrid() []clusterParams {
	var grid []clusterParams
	for _, nameMin := range []float64{0.03, 0.05} {
		for _, wordExp := range []float64{0.15, 0.25} {
			for _, linkMin := range []float64{0.2, 0.25, 0.3, 0.35} {
				for _, mergeMin := range []float64{0.2, 0.25, 0.3} {
					for _, groupLink := range []float64{0, 0.1, 0.15, 0.2} {
						for _, groupMerge := range []float64{0, 0.1, 0.125, 0.15, 0.175, 0.2} {
							p := defaultClusterParams
							p.nameMin, p.wordExp, p.linkMin, p.mergeMin = nameMin, wordExp, linkMin, mergeMin
							p.groupLink, p.groupMerge = groupLink, groupMerge
							grid = append(grid, p)
						}
					}
				}
			}
		}
	}
	return grid
}

func describeParams(p clusterParams) string {
	return fmt.Sprintf("nameMin %.2f wordExp %.2f linkMin %.2f mergeMin %.2f groupLink %.3f groupMerge %.3f",
		p.nameMin, p.wordExp, p.linkMin, p.mergeMin, p.groupLink, p.groupMerge)
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}
