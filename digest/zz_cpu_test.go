package digest

import (
	"syscall"
	"testing"
	"time"
)

func TestZZCPU(t *testing.T) {
	as := syntheticWindow(3000, 1)
	Cluster(as)
	var r0, r1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	start := time.Now()
	const n = 60
	for range n {
		Cluster(as)
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	cpu := time.Duration(r1.Utime.Nano()-r0.Utime.Nano()+r1.Stime.Nano()-r0.Stime.Nano()) / n
	t.Logf("cpu/op %v wall/op %v groups %d", cpu, time.Since(start)/n, len(Cluster(as)))
}
