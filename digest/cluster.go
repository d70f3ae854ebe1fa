package digest

import (
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/digestbot/digestbot/articles"
)

// Story clustering: the same story from several outlets becomes one cluster.
//
// Method (measured on testdata/feeds, see cluster_test.go and the report in
// the package README): every article becomes a sparse TF-IDF vector of its
// title and lead, and articles are grouped by average-linkage agglomerative
// clustering over the cosine similarity of those vectors.
//
//   - Text: title and lead are lower-cased and split into words; possessives
//     ('s) are dropped, thousands separators joined (2,900 → 2900), dotted
//     acronyms joined (U.S. → us → usa), English and newsroom stop words
//     removed, and each word lightly stemmed (plural, -ed, -ing, final e), so
//     "floods", "flooded" and "flooding" meet.
//   - Terms: each word, plus each pair of adjacent words ("north korea",
//     "iphone 15"), which separates stories that share vocabulary but not
//     phrases (the iPhone 12 radiation story from the iPhone 15 launch).
//   - Weights: a term's weight is its field weight (title words count twice as
//     much as lead words: the headline is what both outlets agree on) times its
//     inverse document frequency in the window, so a name only two articles
//     share ("UAW", "Derna") says far more than "president" or "Wednesday".
//     The window itself is the corpus, which adapts the weights to whatever
//     dominates that day's news.
//   - Linkage: pairs above linkThreshold are visited from the most similar
//     down; two groups merge only when the mean similarity over all their
//     cross pairs reaches mergeThreshold. Average linkage stops the chaining
//     a single-link (union-find) clusterer suffers from: the North Korean
//     missile launch shares "North Korea", "Kim" and "Russia" with one summit
//     article but not with the summit cluster as a whole.
//   - Cost: pairs are only scored when they share a term that is rare in the
//     window (an inverted index over terms with document frequency ≤
//     blockMaxDF), so a window of n articles costs about Σ df² over rare terms
//     instead of n²; the exact cosine is then computed for candidate pairs
//     only.
//
// The method was chosen over MinHash/SimHash because windows are small
// (thousands, not millions) and headlines are short: with ten to forty words
// per article, shingle sketches are too coarse to tell a story from its near
// misses, while exact weighted cosine over a blocked candidate set is both
// precise and fast (≈ milliseconds for 3,000 articles, see BenchmarkCluster).
type clusterParams struct {
	titleWeight    float64 // title terms relative to lead terms
	bigramWeight   float64 // adjacent word pairs, relative to single words
	entityBoost    float64 // names and acronyms, relative to other words
	linkThreshold  float64 // a pair this similar is a merge candidate
	mergeThreshold float64 // mean cross-pair similarity needed to merge groups
}

var defaultClusterParams = clusterParams{
	titleWeight:    2,
	bigramWeight:   0.7,
	entityBoost:    1,
	linkThreshold:  0.2,
	mergeThreshold: 0.2,
}

// Cluster groups articles that report the same story. It returns groups of
// indexes into as: every index appears in exactly one group, members keep
// their input order and groups are ordered by their first member.
func Cluster(as []articles.Article) [][]int {
	return clusterWith(as, defaultClusterParams)
}

func clusterWith(as []articles.Article, p clusterParams) [][]int {
	n := len(as)
	if n == 0 {
		return nil
	}
	vs := vectorize(as, p)

	// Candidate pairs, each scored with its exact cosine.
	edges := candidatePairs(vs, p.linkThreshold)
	slices.SortFunc(edges, func(a, b edge) int {
		switch {
		case a.sim > b.sim:
			return -1
		case a.sim < b.sim:
			return 1
		case a.i != b.i:
			return a.i - b.i
		}
		return a.j - b.j
	})

	parent := make([]int, n)
	members := make([][]int, n)
	for i := range parent {
		parent[i] = i
		members[i] = []int{i}
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	type rejection struct{ a, na, b, nb int }
	rejected := map[rejection]bool{}
	for _, e := range edges {
		a, b := find(e.i), find(e.j)
		if a == b {
			continue
		}
		if a > b {
			a, b = b, a
		}
		key := rejection{a, len(members[a]), b, len(members[b])}
		if rejected[key] {
			continue
		}
		if meanSimilarity(vs, members[a], members[b]) < p.mergeThreshold {
			rejected[key] = true
			continue
		}
		parent[b] = a
		members[a] = append(members[a], members[b]...)
		members[b] = nil
	}

	var groups [][]int
	for i := range n {
		if find(i) != i {
			continue
		}
		g := members[i]
		slices.Sort(g)
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b []int) int { return a[0] - b[0] })
	return groups
}

// edge is a scored pair of articles, i < j.
type edge struct {
	i, j int
	sim  float64
}

// vector is a unit-length sparse vector: term ids ascending.
type vector struct {
	terms   []int32
	weights []float64
}

func dot(a, b vector) float64 {
	var s float64
	i, j := 0, 0
	for i < len(a.terms) && j < len(b.terms) {
		switch {
		case a.terms[i] < b.terms[j]:
			i++
		case a.terms[i] > b.terms[j]:
			j++
		default:
			s += a.weights[i] * b.weights[j]
			i++
			j++
		}
	}
	return s
}

func meanSimilarity(vs []vector, a, b []int) float64 {
	var s float64
	for _, i := range a {
		for _, j := range b {
			s += dot(vs[i], vs[j])
		}
	}
	return s / float64(len(a)*len(b))
}

// vectorize turns each article into a TF-IDF vector over its title and lead,
// with the window as the corpus.
func vectorize(as []articles.Article, p clusterParams) []vector {
	ids := map[string]int32{}
	var df []int
	type termWeight struct {
		id int32
		w  float64
	}
	raw := make([][]termWeight, len(as))
	var ws []term
	for k, a := range as {
		seen := map[int32]int{} // term id → index in raw[k]
		add := func(t string, w float64) {
			id, ok := ids[t]
			if !ok {
				id = int32(len(df))
				ids[t] = id
				df = append(df, 0)
			}
			if at, ok := seen[id]; ok {
				raw[k][at].w = max(raw[k][at].w, w)
				return
			}
			seen[id] = len(raw[k])
			raw[k] = append(raw[k], termWeight{id, w})
			df[id]++
		}
		for _, f := range []struct {
			text  string
			title bool
			w     float64
		}{{a.Title, true, p.titleWeight}, {a.Lead, false, 1}} {
			ws = contentWords(f.text, f.title, ws[:0])
			for i, t := range ws {
				w := f.w
				if t.entity {
					w *= p.entityBoost
				}
				add(t.text, w)
				if i > 0 && p.bigramWeight > 0 {
					add(ws[i-1].text+" "+t.text, f.w*p.bigramWeight)
				}
			}
		}
	}
	n := float64(len(as))
	vs := make([]vector, len(as))
	for k, tw := range raw {
		slices.SortFunc(tw, func(a, b termWeight) int { return int(a.id - b.id) })
		v := vector{terms: make([]int32, len(tw)), weights: make([]float64, len(tw))}
		var norm float64
		for i, t := range tw {
			w := t.w * math.Log((n+1)/(float64(df[t.id])+0.5))
			v.terms[i], v.weights[i] = t.id, w
			norm += w * w
		}
		if norm > 0 {
			norm = math.Sqrt(norm)
			for i := range v.weights {
				v.weights[i] /= norm
			}
		}
		vs[k] = v
	}
	return vs
}

// blockMaxDF is the document frequency above which a term no longer makes
// two articles a candidate pair: such terms ("president", "Wednesday") are in
// too many articles to say anything alone, and skipping them is what keeps
// pair generation far below n².
func blockMaxDF(n int) int {
	return max(8, int(2*math.Sqrt(float64(n))))
}

// candidatePairs returns the pairs that share at least one rare term, scored
// with their exact cosine, keeping those at or above linkThreshold.
func candidatePairs(vs []vector, threshold float64) []edge {
	maxDF := blockMaxDF(len(vs))
	postings := map[int32][]int{}
	for k, v := range vs {
		for _, t := range v.terms {
			postings[t] = append(postings[t], k)
		}
	}
	var edges []edge
	seen := make([]int, len(vs)) // seen[j] == i+1: pair (i, j) already scored
	for i, v := range vs {
		for _, t := range v.terms {
			p := postings[t]
			if len(p) > maxDF {
				continue
			}
			for _, j := range p {
				if j <= i || seen[j] == i+1 {
					continue
				}
				seen[j] = i + 1
				if s := dot(v, vs[j]); s >= threshold {
					edges = append(edges, edge{i, j, s})
				}
			}
		}
	}
	return edges
}

// term is a normalized content word.
type term struct {
	text   string
	entity bool // a name or acronym: capitalized mid-sentence, or all capitals
}

// contentWords appends the normalized content words of s to out. In a
// title-cased headline ("Kim Meets Putin in Russia") capitals say nothing, so
// only acronyms count as names there.
func contentWords(s string, title bool, out []term) []term {
	words := splitWords(s, nil)
	titleCase := false
	if title {
		long, capped := 0, 0
		for i, w := range words {
			if i > 0 && utf8.RuneCountInString(w.text) > 3 {
				long++
				if w.capital {
					capped++
				}
			}
		}
		titleCase = long > 0 && capped*10 >= long*6
	}
	for _, w := range words {
		if isStopWord(w.text) {
			continue
		}
		t := stem(w.text)
		if isStopWord(t) || (utf8.RuneCountInString(t) < 2 && !isDigits(t)) {
			continue
		}
		entity := w.acronym || (w.capital && !titleCase)
		if _, ok := calendarWords[w.text]; ok {
			entity = false
		}
		out = append(out, term{t, entity})
	}
	return out
}

// calendarWords are capitalized but name no one: a shared "Wednesday" says
// little about the story.
var calendarWords = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, w := range strings.Fields(`monday tuesday wednesday thursday friday saturday sunday
january february march april may june july august september october november december
jan feb mar apr jun jul aug sep sept oct nov dec`) {
		m[w] = struct{}{}
	}
	return m
}()

// word is one word of a text, lower-cased, with how it was written.
type word struct {
	text    string
	capital bool // capitalized, and not because it starts a sentence
	acronym bool // two or more letters, all capitals (UAW, EU, USA)
}

// splitWords lower-cases s and splits it into words: runs of letters and
// digits. An apostrophe inside a word is dropped, and with it a possessive
// "'s"; a comma or dot between digits is kept inside the number (2,900 →
// 2900, 7.8 stays 7.8); dotted capitals form one acronym (U.N. → un), and
// "US" or "U.S." is the country, not the pronoun.
func splitWords(s string, out []word) []word {
	var cur []rune
	caps, letters := 0, 0
	sentenceStart := true // the next word starts a sentence
	first := false        // cur started a sentence
	flush := func() {
		if len(cur) == 0 {
			return
		}
		w := word{text: string(cur)}
		w.acronym = letters >= 2 && caps == letters
		w.capital = caps > 0 && !first
		if w.text == "us" && w.acronym {
			w.text = "usa"
		}
		out = append(out, w)
		cur, caps, letters = cur[:0], 0, 0
	}
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case len(cur) == 0 && isDottedAcronym(rs, i):
			first = sentenceStart
			sentenceStart = false
			for i+1 < len(rs) && unicode.IsUpper(rs[i]) && rs[i+1] == '.' {
				cur = append(cur, unicode.ToLower(rs[i]))
				caps++
				letters++
				i += 2
			}
			i--
			flush()
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if len(cur) == 0 {
				first = sentenceStart
				sentenceStart = false
			}
			if unicode.IsUpper(r) {
				caps++
			}
			if unicode.IsLetter(r) {
				letters++
			}
			cur = append(cur, unicode.ToLower(r))
		case isApostrophe(r) && len(cur) > 0 && i+1 < len(rs) && unicode.IsLetter(rs[i+1]):
			// A possessive 's ends the word; other apostrophes join it (won't → wont).
			if (rs[i+1] == 's' || rs[i+1] == 'S') && (i+2 == len(rs) || !unicode.IsLetter(rs[i+2])) {
				i++
				flush()
			}
		case (r == ',' || r == '.') && len(cur) > 0 && unicode.IsDigit(rs[i-1]) && i+1 < len(rs) && unicode.IsDigit(rs[i+1]):
			if r == '.' {
				cur = append(cur, '.')
			}
		default:
			flush()
			if r == '.' || r == '!' || r == '?' || r == ':' || r == ';' || r == '—' {
				sentenceStart = true
			}
		}
	}
	flush()
	return out
}

// isDottedAcronym reports whether rs[i:] starts an acronym like "U.S." at a
// word boundary: at least two capital-dot pairs.
func isDottedAcronym(rs []rune, i int) bool {
	if i > 0 && (unicode.IsLetter(rs[i-1]) || unicode.IsDigit(rs[i-1])) {
		return false
	}
	return i+3 < len(rs) && unicode.IsUpper(rs[i]) && rs[i+1] == '.' && unicode.IsUpper(rs[i+2]) && rs[i+3] == '.'
}

func isApostrophe(r rune) bool { return r == '\'' || r == '’' || r == 'ʼ' || r == '‘' }

func isDigits(w string) bool {
	for _, r := range w {
		if !unicode.IsDigit(r) && r != '.' {
			return false
		}
	}
	return w != ""
}

// stem strips the commonest English inflections so that "floods", "flooded"
// and "flooding" meet. It is deliberately lighter than Porter's algorithm:
// headlines are short, and over-stemming (news → new) costs more precision
// than the rare missed match costs recall.
func stem(w string) string {
	if isDigits(w) || !isASCII(w) {
		return w
	}
	n := len(w)
	switch {
	case n > 4 && strings.HasSuffix(w, "ies"):
		return w[:n-3] + "y"
	case n > 5 && strings.HasSuffix(w, "ing"):
		w = undouble(w[:n-3])
	case n > 4 && strings.HasSuffix(w, "ied"):
		return w[:n-3] + "y"
	case n > 4 && strings.HasSuffix(w, "ed") && !strings.HasSuffix(w, "eed"):
		w = undouble(w[:n-2])
	case n > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") &&
		!strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is"):
		w = w[:n-1]
	}
	if len(w) > 3 && strings.HasSuffix(w, "e") && !strings.HasSuffix(w, "ee") {
		w = w[:len(w)-1]
	}
	return w
}

// undouble turns "stopp" (from stopped) back into "stop".
func undouble(w string) string {
	n := len(w)
	if n >= 3 && w[n-1] == w[n-2] && !strings.ContainsRune("aeioulsz", rune(w[n-1])) {
		return w[:n-1]
	}
	return w
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isStopWord(w string) bool {
	_, ok := stopWords[w]
	return ok
}

// stopWords are English function words plus the verbs and fillers of
// headline writing ("says", "amid", "new"), which every outlet uses for every
// story. It is read-only.
var stopWords = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, w := range strings.Fields(`
a about above across after again against ago ahead all almost along already also although always am amid among an and
another any anyone anything are around as at away back be became because become been before behind being below
between both but by can cannot could did do does doing done down during each either else even ever every few for
from further had has have having he her here hers herself him himself his how however i if in including into is it
its itself just last least less like many may me might more most much must my near nearly never new next no nor not
now of off often on once one only onto or other others our ours out over own per perhaps put rather same say said
says saying she should since so some still such than that the their theirs them themselves then there these they
this those though through thus to today too toward towards under until up upon us very via was we were what when
where whether which while who whom whose why will with within without would yet you your yours
mr mrs ms dr st vs get gets got make makes made take takes took told tells tell report reports reported
wont dont cant didnt doesnt isnt arent wasnt werent hasnt havent hadnt shouldnt wouldnt couldnt
week weeks day days year years time times month months`) {
		m[w] = struct{}{}
	}
	return m
}()
