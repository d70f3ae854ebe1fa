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
// story lost or a wrong pair costs penalty correct pairs, and a setting is
// judged by the mean over itself and its grid neighbours (smooth: the rows
// marked "s"; the choice then sits on a plateau, not at a cliff's edge where
// one step of a threshold merges a day's near misses). A setting must
// keep the fixture day's top story (the seed article's, told by the most
// outlets) first when the day is ranked: the product test's "top story
// first". Held-out days are never read here.
//
// The defaults of cluster.go must be the setting the smoothed selection
// picks on the whole pool at penalty choicePenalty (the same at 7): the test fails
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
	// scores[s][d]: setting s on pool day d. The grid varies no parameter
	// analyze reads, so each day is read once; the pairs' scores depend on
	// nameMin and wordExp only, so they are computed once per pair of those.
	docs := make([][]doc, len(pool))
	for d, day := range pool {
		docs[d] = analyze(day.articles, defaultClusterParams, nil)
	}
	scores := make([][]evalScore, len(grid))
	topOK, nTop := make([]bool, len(grid)), 0
	type pre struct{ nameMin, wordExp float64 }
	edgesOf := map[pre][][]edge{}
	for s, p := range grid {
		k := pre{p.nameMin, p.wordExp}
		edges, ok := edgesOf[k]
		if !ok {
			for d := range pool {
				edges = append(edges, scorePairsOf(docs[d], p))
			}
			edgesOf[k] = edges
		}
		scores[s] = make([]evalScore, len(pool))
		for d, day := range pool {
			groups := linkGroups(docs[d], edges[d], p)
			scores[s][d] = evaluate(day, groups)
			if day.day == fixtureDay {
				if topOK[s] = fixtureSeedFirst(day, groups); topOK[s] {
					nTop++
				}
			}
		}
	}
	out := t.Output()
	fmt.Fprintf(out, "%d settings, %d pool days (%d open the fixture day with its top story)\n", len(grid), len(pool), nTop)
	fmt.Fprintln(out, "penalty  left-out tuning days: P      R   nm  lost   | chosen on the whole pool, tuning days: P      R   nm  lost  setting")
	for _, row := range []struct {
		penalty int
		smooth  bool
	}{{3, false}, {5, false}, {7, false}, {10, false}, {3, true}, {5, true}, {7, true}, {10, true}} {
		penalty, smooth := row.penalty, row.smooth
		utility := func(s evalScore) float64 {
			wrong := s.pairs.foundPairs - s.pairs.correct
			return float64(s.pairs.correct - penalty*(s.pairs.nearMissMerges+s.singlesLost+wrong))
		}
		total := make([]float64, len(grid)) // each setting's utility over the whole pool
		for s := range grid {
			for d := range pool {
				total[s] += utility(scores[s][d])
			}
		}
		raw := make([]float64, len(grid))
		best := func(skip int) int {
			for s := range grid {
				raw[s] = total[s]
				if skip >= 0 {
					raw[s] -= utility(scores[s][skip])
				}
			}
			b, bu := -1, 0.0
			for s := range grid {
				if !topOK[s] {
					continue
				}
				u := raw[s]
				if smooth {
					// The mean over the setting and its neighbours on the
					// grid, one step along each axis: a setting on a cliff's
					// edge loses to one in the middle of a plateau.
					n := 1.0
					for _, nb := range gridNeighbours(s) {
						u += raw[nb]
						n++
					}
					u /= n
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
		fmt.Fprintf(out, "%7d%s %26.3f %6.3f %4d %5d   | %38.3f %6.3f %4d %5d  %s\n", penalty, map[bool]string{true: "s", false: " "}[smooth],
			left.pairs.precision(), left.pairs.recall(), left.pairs.nearMissMerges, left.singlesLost,
			whole.pairs.precision(), whole.pairs.recall(), whole.pairs.nearMissMerges, whole.singlesLost, describeParams(grid[all]))
		if penalty == choicePenalty && smooth && grid[all] != defaultClusterParams {
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
	var pool []clusterDay
	for _, d := range evalDays(t) {
		if d.split == splitTuning {
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

// looAxes are the grid's values, axis by axis, in looGrid's order (the
// last axis varies fastest). For the group thresholds 0 means "as for a
// single report" (≥ 0.2), so it comes last.
var looAxes = [][]float64{
	{0.03, 0.05},                      // nameMin
	{0.15, 0.25},                      // wordExp
	{0.2, 0.25, 0.3, 0.35},            // linkMin
	{0.2, 0.25, 0.3},                  // mergeMin
	{0.1, 0.15, 0.2, 0},               // groupLink
	{0.1, 0.125, 0.15, 0.175, 0.2, 0}, // groupMerge
}

// gridNeighbours returns the settings one step from s along each axis.
func gridNeighbours(s int) []int {
	var out []int
	stride := 1
	for a := len(looAxes) - 1; a >= 0; a-- {
		n := len(looAxes[a])
		if k := s / stride % n; k > 0 {
			out = append(out, s-stride)
		}
		if k := s / stride % n; k < n-1 {
			out = append(out, s+stride)
		}
		stride *= n
	}
	return out
}

// looGrid is the settings TestEvalLeaveOneDayOut chooses from: the
// thresholds of defaultClusterParams, and the group thresholds (0: none).
func looGrid() []clusterParams {
	var grid []clusterParams
	idx := make([]int, len(looAxes))
	for {
		p := defaultClusterParams
		v := func(a int) float64 { return looAxes[a][idx[a]] }
		p.nameMin, p.wordExp, p.linkMin, p.mergeMin, p.groupLink, p.groupMerge = v(0), v(1), v(2), v(3), v(4), v(5)
		grid = append(grid, p)
		a := len(idx) - 1
		for ; a >= 0; a-- {
			if idx[a]++; idx[a] < len(looAxes[a]) {
				break
			}
			idx[a] = 0
		}
		if a < 0 {
			return grid
		}
	}
}

func describeParams(p clusterParams) string {
	return fmt.Sprintf("nameMin %.2f wordExp %.2f linkMin %.2f mergeMin %.2f groupLink %.3f groupMerge %.3f",
		p.nameMin, p.wordExp, p.linkMin, p.mergeMin, p.groupLink, p.groupMerge)
}
