package kerneltest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
)

// Sizes are the element counts every kernel is measured at: in L1, in L2,
// in the last-level cache and out of it.
var Sizes = []int{4 << 10, 64 << 10, 1 << 20, 16 << 20}

// MaxN is the largest of Sizes, the length benchmark inputs must have.
const MaxN = 16 << 20

// Float32s returns n deterministic values spread over [-1.1*amax, 1.1*amax),
// every page written so that no benchmark times page faults or reads the
// kernel's shared zero page.
func Float32s(n int, amax float32) []float32 {
	x := make([]float32, n)
	s := uint32(12345)
	for i := range x {
		s = s*1664525 + 1013904223
		x[i] = (float32(s>>8)/(1<<23) - 1) * amax * 1.1
	}
	return x
}

// copyBufs are the source and destination of impl=copy, kept between
// benchmarks and grown to the largest size asked for.
var copyBufs [2][]float32

// Run benchmarks one kernel at every size in Sizes. kernel(n) must run the
// package's dispatching entry point on the first n elements of its inputs,
// naive(n) the naive loop on the same. family is the package's dispatch
// choice for the kernel: the family it returns for n under the start-up
// choice (cpufeat.Default) gets the "selected" metric at that size.
func Run(b *testing.B, family func(n int) cpufeat.Impl, kernel, naive func(n int)) {
	RunSizes(b, family, Sizes, kernel, naive)
}

// RunSizes is Run at the given sizes: one sub-benchmark per family this
// CPU supports (switched with cpufeat.Use), then impl=naive and impl=copy
// (Go's copy() of n float32), each with b.SetBytes(4*n).
func RunSizes(b *testing.B, family func(n int) cpufeat.Impl, sizes []int, kernel, naive func(n int)) {
	restore := cpufeat.Default()
	selected := map[int]cpufeat.Impl{}
	for _, n := range sizes {
		selected[n] = family(n)
	}
	restore()
	for _, impl := range cpufeat.Available() {
		b.Run("impl="+impl.String(), func(b *testing.B) {
			restore := cpufeat.Use(impl)
			defer restore()
			run(b, sizes, func(n int) bool { return selected[n] == impl }, kernel)
		})
	}
	never := func(int) bool { return false }
	b.Run("impl=naive", func(b *testing.B) { run(b, sizes, never, naive) })
	if n := slices.Max(sizes); len(copyBufs[0]) < n {
		copyBufs = [2][]float32{Float32s(n, 1), Float32s(n, 1)}
	}
	b.Run("impl=copy", func(b *testing.B) {
		run(b, sizes, never, func(n int) { copy(copyBufs[1][:n], copyBufs[0][:n]) })
	})
}

func run(b *testing.B, sizes []int, selected func(n int) bool, f func(n int)) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.SetBytes(int64(4 * n))
			for b.Loop() {
				f(n)
			}
			if selected(n) {
				b.ReportMetric(1, "selected")
			}
		})
	}
}
