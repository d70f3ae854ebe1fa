package digest

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The clustering evaluation: answer-keyed news days in testdata/eval, each
// file marked "split": "tuning" or "held-out". Run it with
//
//	go test ./digest -run TestEval -v
//
// It prints one row per day and a pooled line per split. Tuning days also
// list their errors (which pairs were merged or split); held-out days print
// their row only, so that nobody picks a threshold, a weight or a word while
// looking at why a held-out day went wrong. Every tuning day must have no
// near-miss merge, no single story lost and pair precision ≥ 0.98 (a story
// lost inside another is the failure a digest must not have), except the
// days of knownTuningMisses, which came in failing and may not get worse.
// Recall (an "Also in" found) is measured against the 0.80 target and logged when it
// falls short, not failed: the clusterer is built to keep stories apart
// when unsure, and the README reports the figure. Held-out days are held
// to the same targets but only logged: failing the build on them would
// invite tuning to them.
const (
	evalDir          = "testdata/eval"
	evalMinDays      = 8 // under CI, fewer day files than this is a failure (issue 9 asks for 8)
	evalMinPrecision = 0.98
	evalMinRecall    = 0.80
)

// evalScore is pair agreement with an answer key, summed over one day or
// pooled over many.
type evalScore struct {
	articles    int
	pairs       pairScore
	singlesLost int // articles alone in the key that ended up in a group
	// What the reader sees of the stories told by two reports or more
	// (told[0]) and four or more (told[1]): repeated headlines.
	told [2]shown
}

// shown counts stories, how many of them are one item, and the items they
// take.
type shown struct{ stories, once, items int }

func (s shown) String() string {
	return fmt.Sprintf("%d stories, %d shown once, %d items", s.stories, s.once, s.items)
}

func (s *evalScore) add(o evalScore) {
	s.articles += o.articles
	s.pairs.truePairs += o.pairs.truePairs
	s.pairs.foundPairs += o.pairs.foundPairs
	s.pairs.correct += o.pairs.correct
	s.pairs.nearMissMerges += o.pairs.nearMissMerges
	s.singlesLost += o.singlesLost
	for k := range s.told {
		s.told[k].stories += o.told[k].stories
		s.told[k].once += o.told[k].once
		s.told[k].items += o.told[k].items
	}
}

func (s evalScore) row(split, day string) string {
	return fmt.Sprintf("%-8s  %-26s %4d  %6.3f %6.3f %6.3f  %5d  %6d",
		split, day, s.articles, s.pairs.precision(), s.pairs.recall(), s.pairs.f1(), s.pairs.nearMissMerges, s.singlesLost)
}

const evalHeader = "split     day                        arts       P      R     F1  nm-mg  single-lost"

// misses reports which targets s misses ("" when none).
func (s evalScore) misses() string {
	var m []string
	if s.pairs.nearMissMerges > 0 {
		m = append(m, fmt.Sprintf("%d near-miss merges", s.pairs.nearMissMerges))
	}
	if s.singlesLost > 0 {
		m = append(m, fmt.Sprintf("%d singles lost", s.singlesLost))
	}
	if s.pairs.precision() < evalMinPrecision {
		m = append(m, fmt.Sprintf("precision %.3f < %.2f", s.pairs.precision(), evalMinPrecision))
	}
	return strings.Join(m, ", ")
}

// knownTuningMisses gives the tuning days that still miss the targets, at
// what they scored when they came (digest/testdata/eval/README.md): they
// are there to be worked on, and may not get worse meanwhile. A day not
// listed must meet the targets.
func knownTuningMisses(day string) (evalScore, bool) {
	switch day {
	case "2026-11-19":
		// Cleveland: one near miss still merged and one single story
		// lost (6 and 3 before the cautious thresholds of 2026-12-08:
		// an arrest and the next day's charges in one hit-skip, a
		// rail-car delay put with its agency's fare rise, a jail contract
		// with the budget that pays for the jail).
		return evalScore{pairs: pairScore{truePairs: 55, foundPairs: 24, correct: 23, nearMissMerges: 1}, singlesLost: 1}, true
	}
	return evalScore{}, false
}

// worseThan reports whether s misses by more than known: more near-miss
// merges, more singles lost or a lower pair precision.
func (s evalScore) worseThan(known evalScore) bool {
	return s.pairs.nearMissMerges > known.pairs.nearMissMerges || s.singlesLost > known.singlesLost ||
		s.pairs.precision() < known.pairs.precision()-1e-9
}

// evaluate scores groups against a day's answer key.
func evaluate(d clusterDay, groups [][]int) evalScore {
	s := evalScore{articles: len(d.articles), pairs: scorePairs(d.articles, d.key, d.nearMiss, groups)}
	keySize := map[string]int{}
	for _, c := range d.key {
		keySize[c]++
	}
	itemsOf := map[string]map[int]bool{} // story → the groups it is in
	for gi, g := range groups {
		for _, i := range g {
			c := d.key[d.articles[i].GUID]
			if itemsOf[c] == nil {
				itemsOf[c] = map[int]bool{}
			}
			itemsOf[c][gi] = true
			if len(g) >= 2 && keySize[c] == 1 {
				s.singlesLost++
			}
		}
	}
	for c, items := range itemsOf {
		for k, least := range []int{2, 4} {
			if keySize[c] >= least {
				s.told[k].stories++
				s.told[k].items += len(items)
				if len(items) == 1 {
					s.told[k].once++
				}
			}
		}
	}
	return s
}

// evalDays loads every day file of evalDir, each marked tuning or
// held-out.
func evalDays(t testing.TB) []clusterDay {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(evalDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	days := make([]clusterDay, 0, len(files))
	for _, f := range files {
		d := loadClusterDay(t, f)
		switch d.split {
		case splitTuning, splitHeldOut:
		default:
			t.Fatalf("%s: split %q, want %q or %q", f, d.split, splitTuning, splitHeldOut)
		}
		days = append(days, d)
	}
	return days
}

func TestEval(t *testing.T) {
	days := evalDays(t)
	if os.Getenv("CI") == "true" && len(days) < evalMinDays {
		t.Fatalf("%s holds %d day files, want at least %d", evalDir, len(days), evalMinDays)
	}
	bySplit := map[string][]clusterDay{}
	for _, d := range days {
		bySplit[d.split] = append(bySplit[d.split], d)
	}
	out := t.Output()
	fmt.Fprintln(out, evalHeader)
	for _, split := range []string{splitTuning, splitHeldOut} {
		t.Run(split, func(t *testing.T) {
			days := bySplit[split]
			if len(days) == 0 {
				t.Skipf("no %s days in %s yet", split, evalDir)
			}
			var pooled evalScore
			for _, d := range days {
				groups := Cluster(d.articles)
				s := evaluate(d, groups)
				pooled.add(s)
				fmt.Fprintln(out, s.row(split, d.day))
				if split == splitTuning && testing.Verbose() {
					for _, line := range describeErrors(d, groups) {
						fmt.Fprintln(out, "          "+line)
					}
				}
				if m := s.misses(); m != "" {
					if split == splitHeldOut {
						// Measured, reported, never tuned on: a miss here is
						// an open issue (README, Story clustering), not a
						// reason to fit the parameters to this day.
						t.Logf("HELD-OUT TARGET MISSED %s: %s", d.day, m)
					} else if known, ok := knownTuningMisses(d.day); !ok || s.worseThan(known) {
						t.Errorf("%s %s: %s", split, d.day, m)
					} else {
						t.Logf("tuning %s: %s (known: %s; open in issue 9)", d.day, m, known.misses())
					}
				}
				if r := s.pairs.recall(); r < evalMinRecall {
					t.Logf("%s %s: recall %.3f, below the %.2f target", split, d.day, r, evalMinRecall)
				}
			}
			fmt.Fprintln(out, pooled.row(split, fmt.Sprintf("ALL (%d days)", len(days))))
			fmt.Fprintf(out, "          told by 2+ reports: %v; by 4+: %v\n", pooled.told[0], pooled.told[1])
		})
	}
}

// describeErrors lists, for a tuning day, the articles put with another
// story and the stories split apart, one line each.
func describeErrors(d clusterDay, groups [][]int) []string {
	group := make([]int, len(d.articles))
	for g, m := range groups {
		for _, i := range m {
			group[i] = g
		}
	}
	label := func(i int) string {
		a := d.articles[i]
		return fmt.Sprintf("%s [%s %s] %q", a.GUID, d.key[a.GUID], a.PublishedAt.Format("02T15:04"), a.Title)
	}
	var lines []string
	for g, m := range groups {
		clusters := map[string]bool{}
		for _, i := range m {
			clusters[d.key[d.articles[i].GUID]] = true
		}
		if len(clusters) < 2 {
			continue
		}
		lines = append(lines, fmt.Sprintf("MERGED group %d:", g))
		for _, i := range m {
			nm := ""
			if c := d.nearMiss[d.articles[i].GUID]; c != "" {
				nm = " (near miss of " + c + ")"
			}
			lines = append(lines, "  "+label(i)+nm)
		}
	}
	byCluster := map[string][]int{}
	for i, a := range d.articles {
		byCluster[d.key[a.GUID]] = append(byCluster[d.key[a.GUID]], i)
	}
	for _, c := range slices.Sorted(maps.Keys(byCluster)) {
		m := byCluster[c]
		parts := map[int][]int{}
		for _, i := range m {
			parts[group[i]] = append(parts[group[i]], i)
		}
		if len(parts) < 2 {
			continue
		}
		lines = append(lines, fmt.Sprintf("SPLIT %s into %d:", c, len(parts)))
		for _, i := range m {
			lines = append(lines, fmt.Sprintf("  g%-3d %s", group[i], label(i)))
		}
	}
	return lines
}

// TestEvalCorpus holds every day file to the shape the evaluation needs
// (testdata/eval/README.md): at least 40 articles from at least 4 outlets,
// several multi-outlet stories, at least 10 near misses each naming
// another story of the same day, and stories told once.
func TestEvalCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(evalDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		d := loadClusterDay(t, f)
		outlets := map[string]bool{}
		size := map[string]int{}
		for _, a := range d.articles {
			outlets[a.Source] = true
			size[d.key[a.GUID]]++
		}
		var multi, single int
		for _, n := range size {
			if n > 1 {
				multi++
			} else {
				single++
			}
		}
		var near int
		for guid, c := range d.nearMiss {
			if size[c] == 0 || c == d.key[guid] {
				t.Errorf("%s: %s is a near miss of %q, which is not another story of the day", f, guid, c)
			}
			near++
		}
		if len(d.articles) < 40 || len(outlets) < 4 || near < 10 || multi < 5 || single < 10 {
			t.Errorf("%s: %d articles, %d outlets, %d near misses, %d multi-outlet and %d single stories; want ≥ 40, ≥ 4, ≥ 10, ≥ 5, ≥ 10",
				f, len(d.articles), len(outlets), near, multi, single)
		}
	}
}
