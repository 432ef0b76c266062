//go:build gc && !purego

package nn

import (
	"math"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
)

// TestInterleave compares interleave and scatter of 8 lanes (the AVX2
// kernels on the whole blocks of 8 values, Go on the rest) and of 16
// (AVX-512's) with their definitions on every count 0..40, at row strides
// above the count, bit for bit (NaN payloads and -0 included), with guard
// values around what they write. dwBlock calls them under the AVX2 and
// AVX-512 families only: each width needs a CPU that has its family.
func TestInterleave(t *testing.T) {
	for _, lanes := range []int{8, 16} {
		f := cpufeat.AVX2
		if lanes == 16 {
			f = cpufeat.AVX512
		}
		if !slices.Contains(cpufeat.Available(), f) {
			t.Logf("no %v on this CPU: %d lanes not tested", f, lanes)
			continue
		}
		testInterleave(t, lanes)
	}
}

func testInterleave(t *testing.T, lanes int) {
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
		src := make([]float32, lanes*ld)
		for i := range src {
			src[i] = bits(i)
		}
		dst := make([]float32, lanes*n+guard)
		for i := range dst {
			dst[i] = 42
		}
		interleave(lanes, dst[:lanes*n], src, ld, n)
		for q := range n {
			for j := range lanes {
				if got, want := math.Float32bits(dst[lanes*q+j]), math.Float32bits(src[j*ld+q]); got != want {
					t.Fatalf("interleave %d n %d: dst[%d] = %#x, want %#x", lanes, n, lanes*q+j, got, want)
				}
			}
		}
		back := make([]float32, lanes*ld)
		for i := range back {
			back[i] = 42
		}
		scatter(lanes, back, ld, dst[:lanes*n], n)
		for j := range lanes {
			for q := range ld {
				want := uint32(math.Float32bits(42))
				if q < n {
					want = math.Float32bits(src[j*ld+q])
				}
				if got := math.Float32bits(back[j*ld+q]); got != want {
					t.Fatalf("scatter %d n %d: row %d column %d = %#x, want %#x", lanes, n, j, q, got, want)
				}
			}
		}
		for i := lanes * n; i < len(dst); i++ {
			if dst[i] != 42 {
				t.Fatalf("interleave %d n %d: guard %d overwritten", lanes, n, i-lanes*n)
			}
		}
	}
}
