//go:build gc && !purego

package reduce

import (
	"math"
	"testing"
)

// TestAbsMaxLarge runs the unrolled loops over a megabyte-sized input at
// every misalignment, with the maximum and then a NaN in the first, a
// middle and the last element.
func TestAbsMaxLarge(t *testing.T) {
	const n = 1<<20 + 13
	buf := make([]float32, n+16)
	for i := range buf {
		buf[i] = float32(i%1000)/100 - 5
	}
	forEachImpl(t, func(t *testing.T) {
		for off := 0; off < 16; off++ {
			x := buf[off : off+n]
			for _, pos := range []int{0, n / 2, n - 1} {
				for _, special := range []float32{-1e6, nan} {
					old := x[pos]
					x[pos] = special
					got, want := AbsMax(x), float32(1e6)
					x[pos] = old
					if special != special {
						want = quietNaN
					}
					if math.Float32bits(got) != math.Float32bits(want) {
						t.Fatalf("off=%d pos=%d special=%v: got %v (%#x) want %v", off, pos, special, got, math.Float32bits(got), want)
					}
				}
			}
		}
	})
}
