package digest

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/digestbot/digestbot/articles"
)

// Ranking weights. A story's score is
//
//	weight × (outlets − 1 + recency) + PriorityBoost × priority
//
// where weight is the feed weight of its representative (1 is neutral),
// outlets the number of distinct outlets that carry it, recency halves every
// RecencyHalfLife from 1 (just published) and priority is the editor's boost.
// Each extra outlet is worth a full unit, more than any recency difference,
// so at equal weight a story three outlets carry always outranks one two
// carry: that is the "what everyone is covering" signal. Recency only orders
// stories of the same reach.
const (
	PriorityBoost   = 2.0
	RecencyHalfLife = 12 * time.Hour
)

// RankOptions is what ranking needs beyond the articles.
type RankOptions struct {
	Sections []string          // newsletter.sections, in display order
	MaxItems int               // at most this many items in all; 0: no cap
	Weights  map[int64]float64 // feed id → weight; a missing feed weighs 1
	Now      time.Time         // the edition's time, for recency
	// Stems, when set, remembers word stems across calls (Builder keeps
	// one); nil stems every word afresh.
	Stems *Stems
}

// Rank groups the same story from several outlets (Cluster), shows each story
// once from its best source with the other outlets in AlsoIn, and orders the
// stories: pinned first, then by score. It keeps the top MaxItems overall and
// then groups them by section in Sections order, each section in rank order;
// an article whose section is unknown or empty goes to the first section.
// Hidden articles are dropped.
func Rank(as []articles.Article, o RankOptions) []Item {
	visible := make([]articles.Article, 0, len(as))
	for _, a := range as {
		if !a.Hidden {
			visible = append(visible, a)
		}
	}
	return rankGroups(visible, clusterWith(visible, defaultClusterParams, o.Stems), o)
}

// story is one cluster while it is ranked.
type story struct {
	item   Item
	pinned bool
	newest time.Time // the most recent member, by effective publication time
	rank   int       // position in the overall order
}

func rankGroups(as []articles.Article, groups [][]int, o RankOptions) []Item {
	weight := func(a articles.Article) float64 {
		if w, ok := o.Weights[a.FeedID]; ok {
			return max(w, 0)
		}
		return 1
	}
	stories := make([]story, 0, len(groups))
	for _, g := range groups {
		members := make([]articles.Article, len(g))
		for i, k := range g {
			members[i] = as[k]
		}
		// The representative: an editor's pin first, then the outlet that
		// weighs most, then the editor's priority, then the freshest report.
		slices.SortStableFunc(members, func(a, b articles.Article) int {
			if a.Pinned != b.Pinned {
				if a.Pinned {
					return -1
				}
				return 1
			}
			if c := cmp.Compare(weight(b), weight(a)); c != 0 {
				return c
			}
			if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
				return c
			}
			if c := effectivePublished(b).Compare(effectivePublished(a)); c != 0 {
				return c
			}
			return cmp.Compare(a.ID, b.ID)
		})
		rep := members[0]

		var (
			pinned   bool
			priority = rep.Priority
			newest   time.Time
			outlets  = map[string]bool{}
			also     []articles.Article // one member per other outlet
		)
		own := outletKey(rep)
		for _, m := range members {
			pinned = pinned || m.Pinned
			priority = max(priority, m.Priority)
			if p := effectivePublished(m); p.After(newest) {
				newest = p
			}
			k := outletKey(m)
			if outlets[k] {
				continue
			}
			outlets[k] = true
			if k != own && strings.TrimSpace(m.Source) != "" {
				also = append(also, m) // members are in representative order already
			}
		}
		var alsoIn []string
		for _, m := range also {
			alsoIn = append(alsoIn, strings.TrimSpace(m.Source))
		}

		age := max(o.Now.Sub(newest), 0)
		recency := math.Exp2(-float64(age) / float64(RecencyHalfLife))
		score := weight(rep)*(float64(len(outlets)-1)+recency) + PriorityBoost*float64(priority)

		stories = append(stories, story{
			item: Item{
				ArticleID:   rep.ID,
				Section:     sectionOf(rep.Section, o.Sections),
				Title:       rep.Title,
				URL:         rep.URL,
				Lead:        rep.Lead,
				Source:      strings.TrimSpace(rep.Source),
				ImageURL:    rep.ImageURL,
				PublishedAt: effectivePublished(rep),
				AlsoIn:      alsoIn,
				Pinned:      pinned,
				Score:       math.Round(score*1e4) / 1e4,
			},
			pinned: pinned,
			newest: newest,
		})
	}

	slices.SortStableFunc(stories, func(a, b story) int {
		if a.pinned != b.pinned {
			if a.pinned {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(b.item.Score, a.item.Score); c != 0 {
			return c
		}
		if c := b.newest.Compare(a.newest); c != 0 {
			return c
		}
		return cmp.Compare(a.item.ArticleID, b.item.ArticleID)
	})
	if o.MaxItems > 0 && len(stories) > o.MaxItems {
		stories = stories[:o.MaxItems]
	}
	for i := range stories {
		stories[i].rank = i
	}
	if len(o.Sections) > 0 {
		order := make(map[string]int, len(o.Sections))
		for i, s := range o.Sections {
			order[s] = i
		}
		slices.SortStableFunc(stories, func(a, b story) int {
			return cmp.Compare(order[a.item.Section], order[b.item.Section])
		})
	}
	items := make([]Item, len(stories))
	for i, s := range stories {
		items[i] = s.item
	}
	return items
}

// effectivePublished is when an article counts as published: its date,
// unless it has none or claims a time after it was stored (a feed's clock
// or a typo), when the time it was stored counts instead. This keeps a
// future-dated item from looking fresh for days.
func effectivePublished(a articles.Article) time.Time {
	switch {
	case a.PublishedAt.IsZero():
		return a.IngestedAt
	case !a.IngestedAt.IsZero() && a.PublishedAt.After(a.IngestedAt):
		return a.IngestedAt
	}
	return a.PublishedAt
}

// outletKey identifies the outlet an article comes from: its source name,
// else its feed, else the article itself.
func outletKey(a articles.Article) string {
	if s := strings.ToLower(strings.TrimSpace(a.Source)); s != "" {
		return s
	}
	if a.FeedID != 0 {
		return fmt.Sprintf("feed:%d", a.FeedID)
	}
	return fmt.Sprintf("article:%d", a.ID)
}

// sectionOf maps an article's section to one of the newsletter's sections,
// spelt as configured; an unknown or empty one goes to the first.
func sectionOf(s string, sections []string) string {
	if len(sections) == 0 {
		return s
	}
	s = strings.TrimSpace(s)
	for _, c := range sections {
		if strings.EqualFold(s, c) {
			return c
		}
	}
	return sections[0]
}
