package delivery

import "testing"

// TestEvenBatchSize: a short send is cut into whole rounds of the workers;
// a send already in whole rounds, a long one, or one round or less is left
// as it is.
func TestEvenBatchSize(t *testing.T) {
	for _, c := range []struct {
		readers, size, workers, want int
	}{
		{10_000, 1000, 4, 834},  // 12 batches: three rounds of four
		{9_500, 1000, 4, 792},   // 10 batches of 1,000 → 12 of 792
		{5_000, 1000, 4, 625},   // 8 batches: two rounds
		{13_000, 1000, 4, 813},  // 16 batches: four rounds
		{8_000, 1000, 4, 1000},  // whole rounds already
		{3_000, 1000, 4, 1000},  // one round: every batch runs at once
		{4_000, 1000, 4, 1000},  // one round
		{17_000, 1000, 4, 1000}, // five rounds: the last is a small share
		{10_000, 1000, 1, 1000}, // one worker: every round is whole
	} {
		got := evenBatchSize(c.readers, c.size, c.workers)
		if got != c.want {
			t.Errorf("evenBatchSize(%d, %d, %d) = %d, want %d", c.readers, c.size, c.workers, got, c.want)
			continue
		}
		// The send cut again: as many readers, in a multiple of workers.
		if batches := (c.readers + got - 1) / got; got != c.size && batches%c.workers != 0 {
			t.Errorf("evenBatchSize(%d, %d, %d) = %d: %d batches, not whole rounds of %d", c.readers, c.size, c.workers, got, batches, c.workers)
		}
	}
}
