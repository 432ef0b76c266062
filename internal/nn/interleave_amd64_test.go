//go:build gc && !purego

package nn

import (
	"math"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
)

// TestInterleave8 compares interleave8 and scatter8 (the AVX2 kernels on
// the whole blocks of 8 values, Go on the rest) with their definitions on
// every count 0..40, at row strides above the count, bit for bit (NaN
// payloads and -0 included), with guard values around what they write.
// dwBlock calls them under the AVX2 family only: the test needs a CPU
// that has it.
func TestInterleave8(t *testing.T) {
	if !slices.Contains(cpufeat.Available(), cpufeat.AVX2) {
		t.Skip("no AVX2 on this CPU")
	}
	const guard = 4
	bits := func(i int) float32 {
		switch i % 7 {
		case 0:
			return math.Float32frombits(0x7fc00000 | uint32(i)) // NaN with a payload
		case 1:
			return float32(math.Copysign(0, -1))
		case 2:
			return float32(math.Inf(-1))
		}
		return float32(i) * 0.25
	}
	for n := range 41 {
		ld := n + 3
		src := make([]float32, 8*ld)
		for i := range src {
			src[i] = bits(i)
		}
		dst := make([]float32, 8*n+guard)
		for i := range dst {
			dst[i] = 42
		}
		interleave8(dst[:8*n], src, ld, n)
		for q := range n {
			for j := range 8 {
				if got, want := math.Float32bits(dst[8*q+j]), math.Float32bits(src[j*ld+q]); got != want {
					t.Fatalf("interleave8 n %d: dst[%d] = %#x, want %#x", n, 8*q+j, got, want)
				}
			}
		}
		back := make([]float32, 8*ld)
		for i := range back {
			back[i] = 42
		}
		scatter8(back, ld, dst[:8*n], n)
		for j := range 8 {
			for q := range ld {
				want := uint32(math.Float32bits(42))
				if q < n {
					want = math.Float32bits(src[j*ld+q])
				}
				if got := math.Float32bits(back[j*ld+q]); got != want {
					t.Fatalf("scatter8 n %d: row %d column %d = %#x, want %#x", n, j, q, got, want)
				}
			}
		}
		for i := 8 * n; i < len(dst); i++ {
			if dst[i] != 42 {
				t.Fatalf("interleave8 n %d: guard %d overwritten", n, i-8*n)
			}
		}
	}
}
