package calibrators

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/tensorquant/tensorquant/fakequant"
)

func cpuNow() time.Duration {
	var r syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

func TestDbgMSE(t *testing.T) {
	for _, grown := range []bool{false, true} {
		h := benchHistogram(&testing.B{}, grown)
		counts, edges := h.Counts(), h.Edges()
		nc := len(edges) - 1
		centers := make([]float32, nc)
		for k := range centers {
			centers[k] = (float32(edges[k+1]) + float32(edges[k])) / 2
		}
		f := fakequant.Format{NumBits: 8, NarrowRange: true}
		est := newMSEEstimator(centers, counts, f)
		c0 := cpuNow()
		for rep := 0; rep < 50; rep++ {
			for i := 128; i < nc; i++ {
				est.objective(centers[i])
			}
		}
		c1 := cpuNow()
		for rep := 0; rep < 50; rep++ {
			h.ComputeAmax("mse", AmaxOptions{})
		}
		c2 := cpuNow()
		for rep := 0; rep < 50; rep++ {
			h.ComputeAmax("entropy", AmaxOptions{})
		}
		c3 := cpuNow()
		fmt.Println(nc, "fast mse cpu/op", (c1-c0)/50, "mse", (c2-c1)/50, "entropy", (c3-c2)/50)
	}
}
