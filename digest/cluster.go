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
// Method. Each article becomes a TF-IDF vector over the words of its title
// and lead, and articles are grouped by agglomerative clustering on the
// cosine similarity of those vectors, raised for pairs that share an event
// key, with two guards against false merges.
//
//   - Words: lower-cased; possessives ('s) dropped; thousands separators
//     joined (2,900 → 2900); dotted acronyms joined (U.S. → usa); English and
//     headline stop words removed ("says", "amid", "new"); light stemming
//     (plural, -ed, -ing, -ion, final e: "floods", "flooded", "flooding"
//     meet, and "erupts" meets "eruption"); a capitalized place name and its
//     adjective share a stem (Russia and Russian → russ, Iceland and
//     Icelandic, and through a table of irregular forms Peru and Peruvian,
//     Portugal and Portuguese); and a short lexicon joins the event words
//     outlets vary for style (quake, earthquake, tremor, temblor).
//   - Weights: a word weighs its field weight (a title word counts titleWeight
//     times a lead word: the headline is what outlets agree on; a number
//     counts numberWeight times a word: "7.1", "1.2 million" survive any
//     rewording) times its
//     inverse document frequency in the window. The window is the corpus, so
//     a name only two articles share ("UAW", "Derna") outweighs "president"
//     or "Wednesday", whatever dominates that day's news.
//   - Linkage: pairs at or above linkThreshold are visited from the most
//     similar down; the two groups they join merge only when the mean
//     similarity over all their cross pairs reaches mergeThreshold (average
//     linkage). A strong pair starts a story; a newcomer must resemble the
//     whole story, not one member, which stops the chaining of single-link
//     clustering (the North Korean missile launch reads much like one summit
//     report, far less like the summit cluster).
//   - Subject conflict: each headline's subjects are its names — words the
//     window writes with a capital mid-sentence (or in capitals, or only ever
//     at the start of a headline), minus generic titles and institutions
//     ("President", "Supreme Court") — plus a number right after a name
//     ("iPhone 15"). Two articles whose headlines are each mostly about
//     subjects the other never mentions are never linked: "Brazil’s Supreme
//     Court opens first trials…" and "Israel’s full Supreme Court hears
//     challenge…" share many words and no subject.
//   - Event key: two articles that share a word naming a kind of event
//     (eventWords: quake, storm, election, recall, crash, eruption, …) and a
//     name — from title or lead — that one of the headlines is about count
//     as eventSim similar, whatever their cosine, unless their subjects
//     conflict: "Powerful quake rocks Arequipa region" and "Deadly tremor
//     jolts Peruvian Andes …" (lead: Arequipa) share little else. The name
//     and the kind of event together say "same event"; either alone does
//     not (near misses share the company, the country or the storm season).
//
// Measured on testdata/feeds (50 articles, answer key in its README) and on
// two sets written independently of it, testdata/cluster_set2.json (52
// articles, 9 multi-outlet stories worded differently on purpose, 13 near
// misses: same company, court, storm, central bank or country, different
// event) and cluster_set3.json (29 articles, held out: never used to choose
// a parameter). The first defaults (title ×2, link 0.2, merge 0.15) had been
// fitted to the feeds alone: exact there, but pair F1 0.54 on set 2 and 0.14
// on set 3. The defaults now are the point of a grid (title weight, number
// weight, both thresholds) with the best set-2 pair F1 among those that keep
// the feeds exact and merge no near miss: feeds exact (38 clusters, and
// still exact for link 0.15–0.17 × merge 0.04–0.12,
// TestClusterFixtureMargins); set 2 precision 0.95, recall 0.53, F1 0.68;
// set 3 precision 1, recall 0.23, F1 0.38; no near-miss merge anywhere.
// Paraphrases that share one word ("Fed holds rates steady…" / "Central
// bank keeps key interest rate unchanged…") score below near misses that
// share a name and a topic (the North Korean missile launch and the summit
// reports, two UK economy reports, a carmaker's recall and its new model),
// so lowering the thresholds buys recall only with false merges. Weighting
// names more in the cosine did not help either (near misses share names by
// design). The event key did, on both sets, with the thresholds unchanged:
// set 2 precision 0.97, recall 0.82, F1 0.89; set 3 precision 1, recall
// 0.54, F1 0.70; the feeds still exact, no near-miss merge, and the same
// for any eventSim from 0.16 to 0.5. (The event-word list was written as a
// general list of news events, but after set 3's headlines had been read:
// its set-3 figure is less blind than set 2's was.) What stays apart shares
// no event word and no name ("Fed holds rates steady" / "Central bank keeps
// key interest rate unchanged", the port strike's three reports). The
// method prefers a story shown twice to two stories shown as one.
//
// Cost. Pairs are only scored when they share a term that is rare in the
// window (an inverted index over terms with document frequency ≤
// blockMaxDF), so n articles cost about Σ df² over rare terms instead of n²,
// and a pair's exact cosine is computed only when the rare terms plus a
// Cauchy–Schwarz bound on the common ones can reach the link threshold.
// Event-key pairs come from the postings of each event word. Each distinct
// word is normalized once per window. BenchmarkCluster: 3,000 articles in
// 24–27 ms on a shared 2-core machine (22 ms without the event key).
// MinHash or SimHash were not chosen: headlines are ten to forty words, too short for shingle
// sketches to tell a story from its near misses, and windows hold
// thousands of articles, not millions, so exact weighted cosine over a
// blocked candidate set is both precise and fast enough.
type clusterParams struct {
	titleWeight    float64 // title words relative to lead words
	numberWeight   float64 // numbers relative to other words
	linkThreshold  float64 // a pair this similar may start or join a story
	mergeThreshold float64 // mean cross-pair similarity needed to merge groups
	eventSim       float64 // similarity of two reports of one event (sameEvent)
}

var defaultClusterParams = clusterParams{
	titleWeight:    1.5,
	numberWeight:   1.5,
	linkThreshold:  0.16,
	mergeThreshold: 0.08,
	eventSim:       0.16,
}

// Cluster groups articles that report the same story, from their titles and
// leads. It returns groups of indexes into as: every index is in exactly one
// group, members ascending, groups ordered by their first member.
func Cluster(as []articles.Article) [][]int {
	return clusterWith(as, defaultClusterParams)
}

func clusterWith(as []articles.Article, p clusterParams) [][]int {
	n := len(as)
	if n == 0 {
		return nil
	}
	ds := analyze(as, p)

	edges := candidatePairs(ds, p.linkThreshold)
	sim := func(i, j int) float64 {
		s := dot(ds[i].vec, ds[j].vec)
		if p.eventSim > s && sameEvent(&ds[i], &ds[j]) && !conflict(&ds[i], &ds[j]) {
			return p.eventSim
		}
		return s
	}
	if p.eventSim >= p.linkThreshold {
		at := map[[2]int]int{}
		for k, e := range edges {
			at[[2]int{e.i, e.j}] = k
		}
		byEvent := map[int32][]int{}
		for k, d := range ds {
			for _, t := range d.events {
				byEvent[t] = append(byEvent[t], k)
			}
		}
		for _, list := range byEvent {
			for x, i := range list {
				for _, j := range list[x+1:] {
					if _, seen := at[[2]int{i, j}]; seen {
						continue
					}
					if s := sim(i, j); s >= p.linkThreshold {
						at[[2]int{i, j}] = len(edges)
						edges = append(edges, edge{i, j, s})
					}
				}
			}
		}
	}
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

	// Groups are union-find trees; each root also heads a linked list of its
	// members (next, -1 ends it), which merging splices in O(1).
	parent, next, tail, size := make([]int, n), make([]int, n), make([]int, n), make([]int, n)
	for i := range n {
		parent[i], next[i], tail[i], size[i] = i, -1, i, 1
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	mean := func(a, b int) float64 {
		var s float64
		for i := a; i >= 0; i = next[i] {
			for j := b; j >= 0; j = next[j] {
				s += sim(i, j)
			}
		}
		return s / float64(size[a]*size[b])
	}
	// A refused merge stays refused until one of the groups grows.
	type refusal struct{ a, na, b, nb int }
	refused := map[refusal]bool{}
	for _, e := range edges {
		a, b := find(e.i), find(e.j)
		if a == b {
			continue
		}
		if a > b {
			a, b = b, a
		}
		key := refusal{a, size[a], b, size[b]}
		if refused[key] {
			continue
		}
		if mean(a, b) < p.mergeThreshold {
			refused[key] = true
			continue
		}
		parent[b] = a
		next[tail[a]], tail[a] = b, tail[b]
		size[a] += size[b]
	}

	var groups [][]int
	all := make([]int, 0, n) // one backing array for every group
	for i := range n {
		if find(i) != i {
			continue
		}
		from := len(all)
		for j := i; j >= 0; j = next[j] {
			all = append(all, j)
		}
		g := all[from:len(all):len(all)]
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

// doc is what clustering knows of one article.
type doc struct {
	vec      vector  // TF-IDF over the words of title and lead, unit length
	subjects []int32 // the names its headline is about, ascending term ids
	names    []int32 // the names of title and lead, ascending term ids
	events   []int32 // the event words (eventWords) of title and lead, ascending

	subjectsFrom, subjectsTo int // while analyze fills one shared array
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

// mention reports whether d uses the word t anywhere.
func (d *doc) mention(t int32) bool {
	_, ok := slices.BinarySearch(d.vec.terms, t)
	return ok
}

// aboutOther reports whether a's headline is mostly about subjects that b
// never mentions: more of its subjects are missing from b than found in it.
func aboutOther(a, b *doc) bool {
	missing := 0
	for _, t := range a.subjects {
		if !b.mention(t) {
			missing++
		}
	}
	return 2*missing > len(a.subjects)
}

// sameEvent reports whether a and b share an event word and a name that
// one of the headlines is about: "Powerful quake rocks Arequipa region" and
// "Deadly tremor jolts Peruvian Andes … Arequipa".
func sameEvent(a, b *doc) bool {
	if !sharesAny(a.events, b.events) {
		return false
	}
	for _, t := range a.names {
		if _, ok := slices.BinarySearch(b.names, t); ok {
			if _, s := slices.BinarySearch(a.subjects, t); s {
				return true
			}
			if _, s := slices.BinarySearch(b.subjects, t); s {
				return true
			}
		}
	}
	return false
}

func sharesAny(a, b []int32) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			return true
		}
	}
	return false
}

func isEventWord(t string) bool {
	_, ok := eventWords[t]
	return ok
}

// eventWords are the kinds of event that news reports name (canonical stems).
var eventWords = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, w := range strings.Fields(`earthquake flood storm hurricane typhoon cyclone tornado wildfire eruption volcano lava
tsunami landslide avalanche crash collapse explosion shooting hack breach walkout protest riot election referendum
runoff recall indictment verdict ipo merger bankruptcy outbreak ceasefire truce coup`) {
		m[canonical(stem(w))] = struct{}{}
	}
	return m
}()

// conflict reports whether two headlines are about different subjects, each
// mostly naming people, places or things the other article never mentions
// ("Brazil’s Supreme Court …" and "Israel’s Supreme Court …"). One-sided
// absence is normal (one outlet names the venue, the other does not); a
// subject missing on both sides while nothing else is shared means two
// stories.
func conflict(a, b *doc) bool {
	return aboutOther(a, b) && aboutOther(b, a)
}

// analyze turns each article into a doc. The window itself is the corpus:
// document frequencies and which words are names are learnt from it.
func analyze(as []articles.Article, p clusterParams) []doc {
	guess := 4 * len(as) // distinct terms, to size the arrays below
	var (
		names  = make([]string, 0, guess) // term id → term
		number = make([]bool, 0, guess)   // the term is a number
		df     = make([]int, 0, guess)    // articles using the term
		capMid = make([]int, 0, guess)    // mid-sentence uses written with a capital
		mid    = make([]int, 0, guess)    // mid-sentence uses
		acro   = make([]bool, 0, guess)   // ever written as an acronym
	)
	termIdx := newWordIndex(4 * len(as))
	termOf := func(t string) int32 {
		if isStopWord(t) || utf8.RuneCountInString(t) < 2 && !isDigits(t) {
			return -1
		}
		id, found := lookupWord(termIdx, t, int32(len(names)))
		if !found {
			names = append(names, t)
			number = append(number, isDigits(t))
			df = append(df, 0)
			capMid = append(capMid, 0)
			mid = append(mid, 0)
			acro = append(acro, false)
		}
		return id
	}
	// Each distinct lower-cased word is normalized once: a window repeats
	// its vocabulary many times over. The capitalized reading (demonym) is
	// only worked out for words that are ever capitalized.
	const unknown = -2
	type lexeme struct {
		word           string
		plain, capital int32 // term ids; -1: not a content word
	}
	var (
		lexemes []lexeme
		lexIdx  = newWordIndex(8 * len(as))
	)
	termOfWord := func(w []byte, capital bool) int32 {
		id, found := lookupWord(lexIdx, w, int32(len(lexemes)))
		if !found {
			lx := lexeme{word: string(w), plain: -1, capital: -1}
			if !isStopWord(lx.word) {
				lx.plain, lx.capital = termOf(canonical(stem(lx.word))), unknown
			}
			lexemes = append(lexemes, lx)
		}
		lx := &lexemes[id]
		if !capital {
			return lx.plain
		}
		if lx.capital == unknown {
			lx.capital = termOf(demonym(lx.word))
		}
		return lx.capital
	}

	type titleWord struct {
		id      int32
		written bool // capitalized or in capitals in this headline
	}
	// One backing array each for all articles: a window is thousands of
	// articles and this runs for every edition.
	var (
		terms   = make([]int32, 0, 30*len(as)) // each article's distinct terms, ascending
		inTitle = make([]bool, 0, 30*len(as))  // …and whether its title has them
		tStart  = make([]int, len(as)+1)       // article k's are [tStart[k], tStart[k+1])
		tls     = make([]titleWord, 0, 10*len(as))
		tlStart = make([]int, len(as)+1)
		keys    []uint64 // term id << 1 | in title, for one article
		tk      tokenizer
	)
	for k, a := range as {
		tStart[k], tlStart[k] = len(terms), len(tls)
		keys = keys[:0]
		for _, f := range []struct {
			text  string
			title bool
		}{{a.Title, true}, {a.Lead, false}} {
			tk.split(f.text)
			titleCase := f.title && tk.titleCase()
			for _, w := range tk.words {
				id := termOfWord(tk.text(w), w.capital)
				if id < 0 {
					continue
				}
				key := uint64(id) << 1
				if f.title {
					key |= 1
				}
				keys = append(keys, key)
				if f.title {
					tls = append(tls, titleWord{id, w.acronym || w.capital && !titleCase})
				}
				if w.acronym {
					acro[id] = true
				}
				if !w.first && !titleCase {
					mid[id]++
					if w.capital {
						capMid[id]++
					}
				}
			}
		}
		// Sorted, a term's uses are adjacent and a title use comes last.
		slices.Sort(keys)
		for i, key := range keys {
			if i+1 < len(keys) && keys[i+1]>>1 == key>>1 {
				continue
			}
			id := int32(key >> 1)
			terms = append(terms, id)
			inTitle = append(inTitle, key&1 == 1)
			df[id]++
		}
	}
	tStart[len(as)], tlStart[len(as)] = len(terms), len(tls)

	// A word is a name when the window writes it with a capital wherever it
	// is not starting a sentence, or only ever has it starting a headline
	// ("Brazil’s Supreme Court …").
	isName := func(id int32) bool {
		if _, ok := calendarWords[names[id]]; ok {
			return false
		}
		return acro[id] || 2*capMid[id] > mid[id] || mid[id] == 0
	}
	n := float64(len(as))
	idf := make([]float64, len(names))
	for id, f := range df {
		idf[id] = math.Log((n + 1) / (float64(f) + 0.5))
	}
	weights := make([]float64, len(terms))
	var subjects []int32
	ds := make([]doc, len(as))
	for k := range as {
		lo, hi := tStart[k], tStart[k+1]
		v := vector{terms: terms[lo:hi:hi], weights: weights[lo:hi:hi]}
		var norm float64
		for i, t := range v.terms {
			w := idf[t]
			if inTitle[lo+i] {
				w *= p.titleWeight
			}
			if number[t] {
				w *= p.numberWeight
			}
			v.weights[i] = w
			norm += w * w
		}
		if norm > 0 {
			norm = math.Sqrt(norm)
			for i := range v.weights {
				v.weights[i] /= norm
			}
		}
		var nm, ev []int32
		for _, t := range v.terms {
			if isEventWord(names[t]) {
				ev = append(ev, t)
			} else if !number[t] && isName(t) && !isGenericName(names[t]) {
				nm = append(nm, t)
			}
		}
		start := len(subjects)
		title := tls[tlStart[k]:tlStart[k+1]]
		for i, t := range title {
			switch {
			case number[t.id]:
				// A number right after a name is part of it: iPhone 15, Windows 11.
				if i > 0 && !number[title[i-1].id] && title[i-1].written && isName(title[i-1].id) {
					subjects = append(subjects, t.id)
				}
			case t.written && isName(t.id) && !isGenericName(names[t.id]):
				subjects = append(subjects, t.id)
			}
		}
		subj := subjects[start:]
		slices.Sort(subj)
		subjects = append(subjects[:start], slices.Compact(subj)...)
		ds[k] = doc{vec: v, names: nm, events: ev, subjectsFrom: start, subjectsTo: len(subjects)}
	}
	for k := range ds {
		ds[k].subjects = subjects[ds[k].subjectsFrom:ds[k].subjectsTo:ds[k].subjectsTo]
	}
	return ds
}

// wordIndex maps words to dense ids: a map[string]int32's job, done with
// open addressing on a 64-bit FNV-1a hash, with neither a string to build
// for a lookup nor one to compare, because a window looks up some 150,000
// words. Two words that collide on 64 bits (odds about 1 in 10¹⁰ for a
// window's vocabulary) would count as one word: harmless here.
type wordIndex struct {
	slots []wordSlot
	n     int
}

type wordSlot struct {
	hash uint64 // 0: empty (a zero hash is stored as 1)
	id   int32
}

func newWordIndex(capacity int) *wordIndex {
	size := 1024
	for size < 2*capacity {
		size *= 2
	}
	return &wordIndex{slots: make([]wordSlot, size)}
}

// lookupWord returns w's id in x, or stores w with id next and returns
// found=false.
func lookupWord[W string | []byte](x *wordIndex, w W, next int32) (id int32, found bool) {
	h := uint64(14695981039346656037)
	for i := 0; i < len(w); i++ {
		h ^= uint64(w[i])
		h *= 1099511628211
	}
	if h == 0 {
		h = 1
	}
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch x.slots[i].hash {
		case h:
			return x.slots[i].id, true
		case 0:
			x.slots[i] = wordSlot{h, next}
			x.n++
			if 2*x.n > len(x.slots) {
				x.grow()
			}
			return next, false
		}
	}
}

func (x *wordIndex) grow() {
	old := x.slots
	x.slots = make([]wordSlot, 2*len(old))
	mask := uint64(len(x.slots) - 1)
	for _, sl := range old {
		if sl.hash == 0 {
			continue
		}
		i := sl.hash & mask
		for x.slots[i].hash != 0 {
			i = (i + 1) & mask
		}
		x.slots[i] = sl
	}
}

// blockMaxDF is the document frequency above which a term no longer makes
// two articles a candidate pair: such terms ("president", "Wednesday") are in
// too many articles to say anything alone, and skipping them is what keeps
// pair generation far below n².
func blockMaxDF(n int) int {
	return max(8, int(2*math.Sqrt(float64(n))))
}

// candidatePairs returns the pairs that share at least one rare term and
// whose cosine reaches threshold, without a subject conflict.
//
// For each article, the products over rare terms are accumulated through the
// inverted index; the terms too common to index can add at most the product
// of the two articles' norms over such terms (Cauchy–Schwarz), so a pair
// whose partial sum plus that bound stays under threshold is dropped without
// computing its exact cosine.
func candidatePairs(ds []doc, threshold float64) []edge {
	maxDF := blockMaxDF(len(ds))
	type posting struct {
		doc int
		w   float64
	}
	// The inverted index in one array: term t's postings are
	// slab[start[t]:start[t+1]], in article order.
	nterms := 0
	for _, d := range ds {
		if n := len(d.vec.terms); n > 0 {
			nterms = max(nterms, int(d.vec.terms[n-1])+1)
		}
	}
	start := make([]int, nterms+1)
	for _, d := range ds {
		for _, t := range d.vec.terms {
			start[t+1]++
		}
	}
	for t := range nterms {
		start[t+1] += start[t]
	}
	slab := make([]posting, start[nterms])
	fill := slices.Clone(start[:nterms])
	for k, d := range ds {
		for i, t := range d.vec.terms {
			slab[fill[t]] = posting{k, d.vec.weights[i]}
			fill[t]++
		}
	}
	postings := func(t int32) []posting { return slab[start[t]:start[t+1]] }
	common := make([]float64, len(ds)) // norm over terms too common to index
	for k, d := range ds {
		var s float64
		for i, t := range d.vec.terms {
			if start[t+1]-start[t] > maxDF {
				s += d.vec.weights[i] * d.vec.weights[i]
			}
		}
		common[k] = math.Sqrt(s)
	}

	var edges []edge
	acc := make([]float64, len(ds))
	hit := make([]bool, len(ds))
	cursor := fill[:nterms] // reused: postings(t)[cursor[t]] is the article at hand
	clear(cursor)
	var touched []int
	for i, d := range ds {
		for k, t := range d.vec.terms {
			ps := postings(t)
			if len(ps) > maxDF {
				continue
			}
			// Articles are visited in order, so the ones after i are the
			// rest of the list.
			cursor[t]++
			w := d.vec.weights[k]
			for _, p := range ps[cursor[t]:] {
				if !hit[p.doc] {
					hit[p.doc] = true
					touched = append(touched, p.doc)
				}
				acc[p.doc] += w * p.w
			}
		}
		for _, j := range touched {
			if acc[j]+common[i]*common[j] >= threshold {
				if s := dot(d.vec, ds[j].vec); s >= threshold && !conflict(&ds[i], &ds[j]) {
					edges = append(edges, edge{i, j, s})
				}
			}
			acc[j], hit[j] = 0, false
		}
		touched = touched[:0]
	}
	return edges
}

// demonym maps a capitalized place name and its adjective to one word:
// Russia and Russian → russ, Korea and Korean → kor, Japan and Japanese →
// japan, Israel and Israeli → israel. Names are always capitalized, so the
// mapping is applied consistently; other capitalized words go to stem.
func demonym(w string) string {
	if c, ok := irregularDemonyms[w]; ok {
		return c
	}
	return regularDemonym(w)
}

func regularDemonym(w string) string {
	if !isASCII(w) || len(w) < 5 || isDigits(w) {
		return stem(w)
	}
	n := len(w)
	switch {
	case strings.HasSuffix(w, "ian"):
		w = w[:n-3]
	case strings.HasSuffix(w, "ese"):
		w = w[:n-3]
	case strings.HasSuffix(w, "ia"):
		w = w[:n-2]
	case n >= 6 && strings.HasSuffix(w, "an"):
		w = w[:n-2]
	case strings.HasSuffix(w, "a"):
		w = w[:n-1]
	case n >= 6 && strings.HasSuffix(w, "i"):
		w = w[:n-1]
	case n >= 7 && strings.HasSuffix(w, "ic"):
		w = w[:n-2] // Icelandic → iceland, Islamic → islam
	default:
		return stem(w)
	}
	if len(w) > 3 && strings.HasSuffix(w, "e") {
		w = w[:len(w)-1]
	}
	return w
}

// irregularDemonyms maps adjectives and demonyms that the suffix rules of
// regularDemonym cannot bring back to their place (Peruvian, Portuguese,
// French, Dutch) onto the place's own reading. Read-only.
var irregularDemonyms = func() map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(`afghanistan afghan
argentina argentine argentinian
bangladesh bangladeshi
belgium belgian
britain british briton
chile chilean
china chinese
congo congolese
czechia czech
denmark danish dane
egypt egyptian
england english
finland finnish finn
france french
germany german
ghana ghanaian
greece greek
hungary hungarian
iraq iraqi
ireland irish
kuwait kuwaiti
lebanon lebanese
malta maltese
mexico mexican
morocco moroccan
nepal nepali
netherlands dutch
norway norwegian
pakistan pakistani
peru peruvian
philippines filipino philippine
poland polish pole
portugal portuguese
scotland scottish scot
senegal senegalese
slovakia slovak
spain spanish spaniard
sudan sudanese
sweden swedish swede
switzerland swiss
taiwan taiwanese
thailand thai
turkey turkish turk
venezuela venezuelan
vietnam vietnamese
wales welsh
yemen yemeni`, "\n") {
		forms := strings.Fields(line)
		place := regularDemonym(forms[0])
		for _, f := range forms {
			m[f] = place
		}
	}
	return m
}()

// canonical maps a stem onto the stem that stands for its synonyms in news
// copy: outlets that report one event pick different words for its kind
// ("quake", "earthquake", "tremor") more often than different names.
func canonical(st string) string {
	if c, ok := synonyms[st]; ok {
		return c
	}
	return st
}

// synonyms is a small lexicon of the event words that headline writers
// vary for style; the first word of each group is the canonical stem. It
// holds only words that name a kind of event or thing and rarely mean
// anything else. Read-only.
var synonyms = func() map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(`quake earthquake tremor temblor
plane jet aircraft airplane airliner
hack hacker breach cyberattack
car vehicl automaker carmaker
stock shar`, "\n") {
		forms := strings.Fields(line)
		for _, f := range forms {
			m[stem(f)] = stem(forms[0])
		}
	}
	return m
}()

// isGenericName reports capitalized words that are titles and institutions
// every country has ("President", "Supreme Court", "North"): a headline
// naming them is not about anyone in particular yet.
func isGenericName(w string) bool {
	_, ok := genericNames[w]
	return ok
}

var genericNames = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, w := range strings.Fields(`president vice prime minister secretary senator sen rep governor gov mayor
king queen prince princess pope speaker chief director leader general gen judge justic chairman chair ceo
hous senat congress parliament court suprem department ministry stat government unit nation national federal republic
north south east west northern southern eastern western central city county party army navy forc polic
official committe union council agency bank new great`) {
		m[w] = struct{}{}
	}
	return m
}()

// word is one word of a text as a tokenizer split it.
type word struct {
	from, to int  // its lower-cased form is tokenizer.lower[from:to]
	runes    int  // its length in characters
	first    bool // starts a sentence (or the text)
	capital  bool // starts with a capital
	acronym  bool // two or more letters, all capitals (UAW, EU, USA)
}

// tokenizer splits texts into words, reusing its buffers from one text to
// the next.
type tokenizer struct {
	runes []rune
	lower []byte
	words []word
}

func (tk *tokenizer) text(w word) []byte { return tk.lower[w.from:w.to] }

// split lower-cases s and splits it into words: runs of letters and digits.
// An apostrophe inside a word is dropped, and with it a possessive "'s"; a
// comma or dot between digits is kept inside the number (2,900 → 2900, 7.8
// stays 7.8); dotted capitals form one acronym (U.N. → un), and "US" or
// "U.S." is the country, not the pronoun.
func (tk *tokenizer) split(s string) {
	tk.runes, tk.lower, tk.words = tk.runes[:0], tk.lower[:0], tk.words[:0]
	for _, r := range s {
		tk.runes = append(tk.runes, r)
	}
	rs := tk.runes
	from, runes, caps, letters := -1, 0, 0, 0
	sentenceStart := true // the next word starts a sentence
	first := false        // the current word started a sentence
	emit := func(r rune) {
		if from < 0 {
			from = len(tk.lower)
			first = sentenceStart
			sentenceStart = false
		}
		runes++
		if r < utf8.RuneSelf {
			switch {
			case 'a' <= r && r <= 'z':
				letters++
			case 'A' <= r && r <= 'Z':
				letters++
				caps++
				r += 'a' - 'A'
			}
			tk.lower = append(tk.lower, byte(r))
			return
		}
		if unicode.IsUpper(r) {
			caps++
		}
		if unicode.IsLetter(r) {
			letters++
		}
		tk.lower = utf8.AppendRune(tk.lower, unicode.ToLower(r))
	}
	flush := func() {
		if from < 0 {
			return
		}
		w := word{from: from, to: len(tk.lower), runes: runes, first: first,
			capital: caps > 0, acronym: letters >= 2 && caps == letters}
		if w.acronym && string(tk.text(w)) == "us" {
			tk.lower = append(tk.lower, 'a')
			w.to, w.runes = len(tk.lower), 3
		}
		tk.words = append(tk.words, w)
		from, runes, caps, letters = -1, 0, 0, 0
	}
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case from < 0 && isDottedAcronym(rs, i):
			for i+1 < len(rs) && unicode.IsUpper(rs[i]) && rs[i+1] == '.' {
				emit(rs[i])
				i += 2
			}
			i--
			flush()
		case isWordRune(r):
			emit(r)
		case isApostrophe(r) && from >= 0 && i+1 < len(rs) && unicode.IsLetter(rs[i+1]):
			// A possessive 's ends the word; other apostrophes join it (won't → wont).
			if (rs[i+1] == 's' || rs[i+1] == 'S') && (i+2 == len(rs) || !unicode.IsLetter(rs[i+2])) {
				i++
				flush()
			}
		case (r == ',' || r == '.') && from >= 0 && unicode.IsDigit(rs[i-1]) && i+1 < len(rs) && unicode.IsDigit(rs[i+1]):
			if r == '.' {
				tk.lower = append(tk.lower, '.')
				runes++
			}
		default:
			flush()
			if r == '.' || r == '!' || r == '?' || r == ':' || r == ';' || r == '—' {
				sentenceStart = true
			}
		}
	}
	flush()
}

// titleCase reports whether the words are a title-cased headline ("Kim
// Meets Putin in Russia"), whose capitals say nothing about names: every
// word of four letters or more after the first is capitalized.
func (tk *tokenizer) titleCase() bool {
	long, capped := 0, 0
	for i, w := range tk.words {
		if i > 0 && w.runes > 3 {
			long++
			if w.capital {
				capped++
			}
		}
	}
	return long >= 2 && capped == long
}

// isDottedAcronym reports whether rs[i:] starts an acronym like "U.S." at a
// word boundary: at least two capital-dot pairs.
func isDottedAcronym(rs []rune, i int) bool {
	if i > 0 && (unicode.IsLetter(rs[i-1]) || unicode.IsDigit(rs[i-1])) {
		return false
	}
	return i+3 < len(rs) && unicode.IsUpper(rs[i]) && rs[i+1] == '.' && unicode.IsUpper(rs[i+2]) && rs[i+3] == '.'
}

// isWordRune reports letters and digits; the ASCII test comes first and
// inline, since nearly every rune of an English window is ASCII.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiWord[r]
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

var asciiWord = func() (t [utf8.RuneSelf]bool) {
	for r := range t {
		t[r] = 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return t
}()

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
	case n > 6 && strings.HasSuffix(w, "ion") && !strings.HasSuffix(w, "llion"):
		// eruption → erupt, election → elect (as erupted, elected)
		return w[:n-3]
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
