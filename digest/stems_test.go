package digest

import (
	"sync"
	"testing"

	"github.com/kljensen/snowball/english"
)

// TestStems: the cache answers what the stemmer does, from many goroutines,
// and keeps no more than maxStems words.
func TestStems(t *testing.T) {
	words := []string{"rates", "rate", "rated", "running", "runs", "generously", "ukrainian", "élection", "a", "2,900"}
	var c Stems
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				for _, w := range words {
					if got, want := c.stem(w), english.Stem(w, false); got != want {
						t.Errorf("stem(%q) = %q, want %q", w, got, want)
					}
				}
			}
		}()
	}
	wg.Wait()
	var nilCache *Stems
	if got := nilCache.stem("rates"); got != "rate" {
		t.Errorf("nil cache: %q", got)
	}
	for i := range maxStems + 10 {
		c.stem(string(rune('a'+i%26)) + string(rune(0x4e00+i)))
	}
	if n := len(c.m); n > maxStems {
		t.Errorf("%d words cached, bound %d", n, maxStems)
	}
}
