package delivery

import "testing"

// TestEvenBatchSize: a short send is cut into whole rounds of the workers;
// a send already in whole rounds, a long one, or one round or less is left
// as it is.
func TestEvenBatchSize(t *testing.T) {
	for _, c := range []struct {
		n, size, workers, want int
	}{
		{10, 1000, 4, 834},  // 12 batches: three rounds of four
		{5, 1000, 4, 625},   // 8 batches: two rounds
		{13, 1000, 4, 813},  // 16 batches: four rounds
		{8, 1000, 4, 1000},  // whole rounds already
		{3, 1000, 4, 1000},  // one round: every batch runs at once
		{4, 1000, 4, 1000},  // one round
		{17, 1000, 4, 1000}, // five rounds: the last is a small share
		{10, 1000, 1, 1000}, // one worker: every round is whole
	} {
		got := evenBatchSize(c.n, c.size, c.workers)
		if got != c.want {
			t.Errorf("evenBatchSize(%d, %d, %d) = %d, want %d", c.n, c.size, c.workers, got, c.want)
			continue
		}
		// The send cut again: as many readers, in a multiple of workers.
		if readers := c.n * c.size; got != c.size {
			if batches := (readers + got - 1) / got; batches%c.workers != 0 {
				t.Errorf("evenBatchSize(%d, %d, %d) = %d: %d batches, not whole rounds of %d", c.n, c.size, c.workers, got, batches, c.workers)
			}
		}
	}
}
