package digest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/digestbot/digestbot/articles"
)

// clusterSet is an answer-keyed development set for story clustering in
// testdata (cluster_set2.json, cluster_set3.json), written independently of
// testdata/feeds so that the clusterer is not only measured on the day it
// was tuned on.
type clusterSet struct {
	About    string `json:"about"`
	Articles []struct {
		ID        string `json:"id"`
		Outlet    string `json:"outlet"`
		Section   string `json:"section"`
		Published string `json:"published"`
		Cluster   string `json:"cluster"`
		Title     string `json:"title"`
		Lead      string `json:"lead"`
		NearMiss  string `json:"near_miss"`
	} `json:"articles"`
}

// loadClusterSet reads a set as articles (GUID = the set's id) with its
// answer key (guid → cluster) and near misses (guid → the cluster it must
// stay out of).
func loadClusterSet(t testing.TB, file string) (as []articles.Article, key, nearMiss map[string]string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var s clusterSet
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	key, nearMiss = map[string]string{}, map[string]string{}
	feeds := map[string]int64{}
	for i, r := range s.Articles {
		pub, err := time.Parse("2006-01-02T15:04Z", r.Published)
		if err != nil {
			t.Fatalf("%s %s: %v", file, r.ID, err)
		}
		if _, dup := key[r.ID]; dup {
			t.Fatalf("%s: id %s twice", file, r.ID)
		}
		if _, ok := feeds[r.Outlet]; !ok {
			feeds[r.Outlet] = int64(len(feeds) + 1)
		}
		as = append(as, articles.Article{
			ID: int64(i + 1), GUID: r.ID, FeedID: feeds[r.Outlet], Source: r.Outlet,
			URL:   fmt.Sprintf("https://set.example/%s", r.ID),
			Title: r.Title, Lead: r.Lead, Section: r.Section, PublishedAt: pub, IngestedAt: pub,
		})
		key[r.ID] = r.Cluster
		if r.NearMiss != "" {
			nearMiss[r.ID] = r.NearMiss
		}
	}
	return as, key, nearMiss
}

// pairScore is pairwise agreement with an answer key.
type pairScore struct {
	truePairs, foundPairs, correct int
	nearMissMerges                 int
	exact                          bool // the very same partition
}

func (s pairScore) precision() float64 { return ratio(s.correct, s.foundPairs) }
func (s pairScore) recall() float64    { return ratio(s.correct, s.truePairs) }
func (s pairScore) f1() float64 {
	p, r := s.precision(), s.recall()
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

func (s pairScore) String() string {
	return fmt.Sprintf("pairs P %.3f R %.3f F1 %.3f (%d/%d found correct, %d true), near-miss merges %d, exact %v",
		s.precision(), s.recall(), s.f1(), s.correct, s.foundPairs, s.truePairs, s.nearMissMerges, s.exact)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

func scorePairs(as []articles.Article, key, nearMiss map[string]string, groups [][]int) pairScore {
	group := make([]int, len(as))
	for g, m := range groups {
		for _, i := range m {
			group[i] = g
		}
	}
	var s pairScore
	for i := range as {
		for j := i + 1; j < len(as); j++ {
			same := key[as[i].GUID] == key[as[j].GUID]
			together := group[i] == group[j]
			if same {
				s.truePairs++
			}
			if together {
				s.foundPairs++
				if same {
					s.correct++
				}
				ci, cj := key[as[i].GUID], key[as[j].GUID]
				if nearMiss[as[i].GUID] == cj || nearMiss[as[j].GUID] == ci {
					s.nearMissMerges++
				}
			}
		}
	}
	s.exact = s.correct == s.truePairs && s.correct == s.foundPairs
	return s
}

// TestClusterSets measures the clusterer on the independent sets. Lexical
// similarity cannot join every paraphrase there ("Fed holds rates steady" /
// "Central bank keeps key interest rate unchanged" share one word), so the
// sets are held to a tolerance rather than exactly: no near-miss merge at
// all, pair precision at least 0.9, and pair F1 no lower than measured
// (set 2: 0.89, set 3: 0.70 with the event key; 0.68 and 0.38 with the
// cosine alone; 0.54 and 0.14 before the thresholds were re-fitted). Set 3
// was written before tuning and never used to pick parameters: it is the
// held-out check.
func TestClusterSets(t *testing.T) {
	for _, c := range []struct {
		file  string
		minF1 float64
	}{
		{"cluster_set2.json", 0.88},
		{"cluster_set3.json", 0.69},
	} {
		t.Run(c.file, func(t *testing.T) {
			as, key, nearMiss := loadClusterSet(t, c.file)
			groups := Cluster(as)
			s := scorePairs(as, key, nearMiss, groups)
			t.Log(s)
			if s.nearMissMerges > 0 || s.precision() < 0.9 || s.f1() < c.minF1 {
				reportClusterErrors(t, t.Logf, as, key, groups)
				t.Errorf("%v; want no near-miss merge, precision ≥ 0.9, F1 ≥ %.2f", s, c.minF1)
			}
		})
	}
}

// TestNormalizeForms covers the normalizations set 2 called for: irregular
// demonyms, -ic adjectives, -ion nouns and the event-word lexicon, without
// joining words that differ ("million" is not "mill", "bill" not "billion").
func TestNormalizeForms(t *testing.T) {
	for _, pair := range [][2]string{
		{"peru", "peruvian"}, {"portugal", "portuguese"}, {"iceland", "icelandic"}, {"france", "french"},
		{"netherlands", "dutch"}, {"mexico", "mexican"}, {"kenya", "kenyan"}, {"china", "chinese"},
	} {
		if a, b := demonym(pair[0]), demonym(pair[1]); a != b {
			t.Errorf("demonym(%q) = %q, demonym(%q) = %q", pair[0], a, pair[1], b)
		}
	}
	for _, pair := range [][2]string{{"eruption", "erupted"}, {"election", "elected"}, {"quake", "earthquake"}, {"tremor", "temblor"}} {
		if a, b := canonical(stem(pair[0])), canonical(stem(pair[1])); a != b {
			t.Errorf("%q → %q, %q → %q", pair[0], a, pair[1], b)
		}
	}
	for _, pair := range [][2]string{{"million", "mill"}, {"billion", "bill"}, {"austria", "australia"}} {
		if a, b := canonical(stem(pair[0])), canonical(stem(pair[1])); a == b {
			t.Errorf("%q and %q both → %q", pair[0], pair[1], a)
		}
		if a, b := demonym(pair[0]), demonym(pair[1]); a == b {
			t.Errorf("demonym: %q and %q both → %q", pair[0], pair[1], a)
		}
	}
}
