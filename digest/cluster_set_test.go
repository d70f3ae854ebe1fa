package digest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/digestbot/digestbot/articles"
)

// clusterSet is the file format of an answer-keyed day for story
// clustering: testdata/eval/*.json, and the older development sets
// testdata/cluster_set2.json and cluster_set3.json (which predate the day and
// split fields). Articles sharing a cluster value are one story; near_miss
// names the cluster an article shares people, places or a kind of event with
// but must stay out of.
type clusterSet struct {
	Day      string `json:"day"`
	Split    string `json:"split"` // splitTuning or splitHeldOut
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

const (
	splitTuning  = "tuning"
	splitHeldOut = "held-out"
)

// clusterDay is a loaded set: articles (GUID = the set's id), the answer key
// (guid → cluster) and near misses (guid → the cluster it must stay out of).
type clusterDay struct {
	day, split string
	articles   []articles.Article
	key        map[string]string
	nearMiss   map[string]string
}

// loadClusterSet reads testdata/file.
func loadClusterSet(t testing.TB, file string) (as []articles.Article, key, nearMiss map[string]string) {
	t.Helper()
	d := loadClusterDay(t, filepath.Join("testdata", file))
	return d.articles, d.key, d.nearMiss
}

// loadClusterDay reads a set from path.
func loadClusterDay(t testing.TB, path string) clusterDay {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s clusterSet
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	d := clusterDay{day: s.Day, split: s.Split, key: map[string]string{}, nearMiss: map[string]string{}}
	if d.day == "" {
		d.day = strings.TrimSuffix(filepath.Base(path), ".json")
	}
	feeds := map[string]int64{}
	for i, r := range s.Articles {
		pub, err := parseSetTime(r.Published)
		if err != nil {
			t.Fatalf("%s %s: %v", path, r.ID, err)
		}
		if _, dup := d.key[r.ID]; dup {
			t.Fatalf("%s: id %s twice", path, r.ID)
		}
		if r.Cluster == "" {
			t.Fatalf("%s %s: no cluster", path, r.ID)
		}
		if _, ok := feeds[r.Outlet]; !ok {
			feeds[r.Outlet] = int64(len(feeds) + 1)
		}
		d.articles = append(d.articles, articles.Article{
			ID: int64(i + 1), GUID: r.ID, FeedID: feeds[r.Outlet], Source: r.Outlet,
			URL:   fmt.Sprintf("https://set.example/%s", r.ID),
			Title: r.Title, Lead: r.Lead, Section: r.Section, PublishedAt: pub, IngestedAt: pub,
		})
		d.key[r.ID] = r.Cluster
		if r.NearMiss != "" {
			d.nearMiss[r.ID] = r.NearMiss
		}
	}
	return d
}

// parseSetTime reads a set's publication time: "2025-09-17T09:40Z" or full
// RFC 3339.
func parseSetTime(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02T15:04Z07:00", s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	return t.UTC(), err
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

// TestClusterSets measures the clusterer on the two older development
// sets (tuning data, like testdata/eval/tune-*). Lexical similarity cannot
// join every paraphrase there ("Fed holds rates steady" / "Central bank
// keeps key interest rate unchanged" share one word), so they are held to
// what the clusterer must never do — merge a near miss, or fall below pair
// precision 0.98 — and to the F1 it reaches now, as a floor against
// regressions (set 2: 0.111, set 3: 0.143). The floors were 0.37 before
// the headline-figure rule (cluster.go): it keeps "Hackers stole data on 40
// million Marlowe shoppers" and "Marlowe stock drops 7%" apart, one
// reaction story fewer found in each set, for five near-miss merges and
// two lost stories fewer on the tuning days. Set 2 fell from 0.341 to
// 0.111 with the cautious thresholds (TestEvalLeaveOneDayOut): its
// paraphrased pairs score just under them, the price of five near-miss
// merges and two lost stories fewer on the tuning days.
func TestClusterSets(t *testing.T) {
	for _, c := range []struct {
		file  string
		minF1 float64
	}{
		{"cluster_set2.json", 0.11},
		{"cluster_set3.json", 0.14},
	} {
		t.Run(c.file, func(t *testing.T) {
			as, key, nearMiss := loadClusterSet(t, c.file)
			groups := Cluster(as)
			s := scorePairs(as, key, nearMiss, groups)
			t.Log(s)
			reportClusterErrors(t, t.Errorf, t.Logf, as, key, groups)
			if s.nearMissMerges > 0 || s.precision() < 0.98 || s.f1() < c.minF1 {
				t.Errorf("%v; want no near-miss merge, precision ≥ 0.98, F1 ≥ %.2f", s, c.minF1)
			}
		})
	}
}
