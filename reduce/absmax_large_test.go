package reduce

import (
	"math"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

// TestAbsMaxNaNPayloads: max instructions hand a NaN's payload on (NEON's
// FMAX quiets a signalling NaN, the amd64 kernels compare bits), so every
// kernel must canonicalise its result to 0x7fc00000. NaNs
// with payloads and sign bits go to every position of lengths whose
// elements fall in each stage (16 wide, 4 wide, single lanes).
func TestAbsMaxNaNPayloads(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for _, bits := range []uint32{0x7f800001, 0xff800001, 0x7fc00001, 0xffc00000, 0x7fffffff, 0xffffffff, 0x7fa5a5a5} {
			for _, n := range []int{1, 3, 4, 5, 16, 17, 20, 23, 35} {
				for pos := range n {
					x := make([]float32, n)
					for i := range x {
						x[i] = float32(i) - 7.5
					}
					x[pos] = math.Float32frombits(bits)
					if got := AbsMax(x); math.Float32bits(got) != 0x7fc00000 {
						t.Fatalf("NaN %#x at %d of %d: got %v (%#x), want 0x7fc00000", bits, pos, n, got, math.Float32bits(got))
					}
				}
			}
		}
	})
}

// TestAbsMaxLarge runs the unrolled loops over a megabyte-sized input at
// every misalignment, with the maximum and then a NaN in the first, a
// middle and the last element.
func TestAbsMaxLarge(t *testing.T) {
	n := 1<<20 + 13
	if testing.Short() {
		n = 1<<16 + 13
	}
	buf := make([]float32, n+16)
	for i := range buf {
		buf[i] = float32(i%1000)/100 - 5
	}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
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
