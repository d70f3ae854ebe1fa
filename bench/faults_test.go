package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestFaultSuite runs the fault suite at a small size (CI): the real
// binary against each fault, 0 readers lost and repeats within each
// fault's bound. `go run ./bench -faults N` runs it at any size.
func TestFaultSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault suite builds and runs the binary for about two minutes")
	}
	t.Parallel()
	b := &bench{conns: 4}
	var out strings.Builder
	ok, err := b.faults(context.Background(), faultOptions{N: 300, Down: 5 * time.Second}, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatal("a fault lost readers or repeated more than its bound (table above)")
	}
}
