//go:build gc && !purego

package reduce

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
)

// TestAbsMaxNaNPayloads: FMAX hands a NaN's payload on (quieting a
// signalling NaN), so the NEON kernel must canonicalise its result. NaNs
// with payloads and sign bits go to every position of lengths whose
// elements fall in each stage (16 wide, 4 wide, single lanes).
func TestAbsMaxNaNPayloads(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
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

// TestAbsMaxLarge compares every family with the generic kernel on sizes
// far beyond the table tests, with the maximum (or a NaN) near either end.
func TestAbsMaxLarge(t *testing.T) {
	n := 1<<20 + 13
	if testing.Short() {
		n = 1<<16 + 13
	}
	r := rand.New(rand.NewPCG(5, 6))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	for _, c := range []struct {
		pos int
		v   float32
	}{{n - 1, -1e6}, {n - 14, 1e6}, {0, -1e6}, {n / 2, nan}, {n - 1, nan}} {
		old := x[c.pos]
		x[c.pos] = c.v
		restore := cpufeat.Use(cpufeat.Generic)
		want := AbsMax(x)
		restore()
		for _, impl := range cpufeat.Available()[1:] {
			restore := cpufeat.Use(impl)
			got := AbsMax(x)
			restore()
			if math.Float32bits(got) != math.Float32bits(want) {
				t.Errorf("%v n=%d x[%d]=%v: got %v want %v", impl, n, c.pos, c.v, got, want)
			}
		}
		x[c.pos] = old
	}
}
