package digest

import (
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/digestbot/digestbot/articles"
)

// Tuning aids, skipped unless asked for. TestClusterDebug prints the pair
// similarities of a set (CLUSTER_DEBUG=cluster_set2.json).
func TestClusterDebug(t *testing.T) {
	file := os.Getenv("CLUSTER_DEBUG")
	if file == "" {
		t.Skip()
	}
	as, key, _ := loadClusterSet(t, file)
	ds, names := analyze(as, defaultClusterParams)
	type pr struct {
		i, j int
		s    float64
		c    bool
	}
	var same, diff []pr
	for i := range ds {
		for j := i + 1; j < len(ds); j++ {
			p := pr{i, j, dot(ds[i].vec, ds[j].vec), conflict(&ds[i], &ds[j])}
			if key[as[i].GUID] == key[as[j].GUID] {
				same = append(same, p)
			} else {
				diff = append(diff, p)
			}
		}
	}
	sort.Slice(same, func(a, b int) bool { return same[a].s < same[b].s })
	sort.Slice(diff, func(a, b int) bool { return diff[a].s > diff[b].s })
	subj := func(i int) []string {
		var r []string
		for _, t := range ds[i].subjects {
			r = append(r, names[t])
		}
		return r
	}
	for _, p := range same {
		t.Logf("SAME %.3f conflict=%v %q %v / %q %v", p.s, p.c, as[p.i].Title, subj(p.i), as[p.j].Title, subj(p.j))
	}
	for _, p := range diff[:15] {
		t.Logf("DIFF %.3f conflict=%v %q %v / %q %v", p.s, p.c, as[p.i].Title, subj(p.i), as[p.j].Title, subj(p.j))
	}
}

// TestClusterSweep prints the best parameter points (CLUSTER_SWEEP=1): the
// feeds exact and no near-miss merge in set 2, by set-2 pair F1; set 3 is
// shown, never optimized.
func TestClusterSweep(t *testing.T) {
	if os.Getenv("CLUSTER_SWEEP") == "" {
		t.Skip()
	}
	type set struct {
		name          string
		as            []articles.Article
		key, nearMiss map[string]string
	}
	fx, fkey := fixtureArticles(t, time.Date(2023, 9, 14, 0, 0, 0, 0, time.UTC))
	s2, k2, n2 := loadClusterSet(t, "cluster_set2.json")
	s3, k3, n3 := loadClusterSet(t, "cluster_set3.json")
	sets := []set{{"dev", fx, fkey, map[string]string{}}, {"set2", s2, k2, n2}, {"set3", s3, k3, n3}}
	type res struct {
		p    clusterParams
		line string
		obj  float64
	}
	var all []res
	for _, tw := range []float64{1, 1.5, 2, 3} {
		for _, numw := range []float64{0.5, 1, 1.5, 2} {
			for link := 0.06; link < 0.23; link += 0.02 {
				for merge := 0.04; merge <= link+1e-9; merge += 0.02 {
					p := clusterParams{titleWeight: tw, numberWeight: numw, linkThreshold: link, mergeThreshold: merge}
					line := ""
					obj := 0.0
					ok := true
					for k, s := range sets {
						sc := scorePairs(s.as, s.key, s.nearMiss, clusterWith(s.as, p))
						line += fmt.Sprintf(" | %s P%.2f R%.2f F%.2f nm%d", s.name, sc.precision(), sc.recall(), sc.f1(), sc.nearMissMerges)
						switch k {
						case 0:
							ok = ok && sc.exact
						case 1:
							ok = ok && sc.nearMissMerges == 0
							obj = sc.f1()
						}
					}
					if ok {
						all = append(all, res{p, line, obj})
					}
				}
			}
		}
	}
	sort.Slice(all, func(a, b int) bool { return all[a].obj > all[b].obj })
	for _, r := range all[:min(40, len(all))] {
		t.Logf("tw %.1f numw %.1f link %.2f merge %.2f%s", r.p.titleWeight, r.p.numberWeight, r.p.linkThreshold, r.p.mergeThreshold, r.line)
	}
}
