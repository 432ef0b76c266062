package graph

import (
	"math"
	"testing"

	"github.com/tensorquant/tensorquant/internal/vecmath"
)

// TestSiLUKernel checks the fused SiLU kernel (vecmath.SiLU) against the
// Sigmoid and Mul ops run as nodes, bit for bit, in place and into
// another slice, on every length to 300 (the vector widths' tails) with
// specials, and that it allocates nothing (the former kernel's buffer
// escaped to the heap on every call, 120,000 times a run of
// EfficientNet-B0).
func TestSiLUKernel(t *testing.T) {
	k := siluOf()
	specials := []float32{float32(math.Inf(-1)), float32(math.Inf(1)), float32(math.Copysign(0, -1)), 0, float32(math.NaN()),
		-87.5, -104, 88.8, 1e-40, -1e-40, math.MaxFloat32, -math.MaxFloat32}
	for n := 1; n <= 300; n++ {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(i-n/2) / 7
		}
		for i, v := range specials {
			x[(i*37)%n] = v
		}
		sig := runNode(t, 13, node("Sigmoid", in(1), y), f32(s(n), x...))[0]
		want := runNode(t, 13, node("Mul", in(2), y), f32(s(n), x...), sig)[0].F32
		other := make([]float32, n)
		k(other, x)
		inPlace := append([]float32(nil), x...)
		k(inPlace, inPlace)
		for i := range want {
			for _, got := range []float32{other[i], inPlace[i]} {
				if math.Float32bits(got) != math.Float32bits(want[i]) && !(got != got && want[i] != want[i]) {
					t.Fatalf("n=%d: element %d (x = %v) is %v, want %v", n, i, x[i], got, want[i])
				}
			}
		}
	}
	d := make([]float32, 300)
	if a := testing.AllocsPerRun(10, func() { k(d, d) }); a != 0 {
		t.Errorf("%v allocations a call", a)
	}
}

// siluOf is the fused SiLU's kernel as the optimizer's vec.Act calls it,
// through a function value the compiler cannot see through.
//
//go:noinline
func siluOf() func(d, x []float32) { return vecmath.SiLU }
