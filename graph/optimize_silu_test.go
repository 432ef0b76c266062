package graph

import (
	"math"
	"testing"
)

// TestSiLUKernel checks the fused SiLU kernel against the Sigmoid and Mul
// ops' arithmetic (float32(sigmoid(x)), then x times it), bit for bit, in
// place and into another slice, over lengths around its 64-element
// chunks, and that it allocates nothing (its buffer escaped to the heap
// on every call, 120,000 times a run of EfficientNet-B0).
func TestSiLUKernel(t *testing.T) {
	k := siluOf(mapK[float32](sigmoid))
	for _, n := range []int{0, 1, 63, 64, 65, 200} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(i-n/2) / 7
		}
		if n > 3 {
			x[0], x[1], x[2] = float32(math.Inf(-1)), float32(math.Copysign(0, -1)), float32(math.NaN())
		}
		want := make([]float32, n)
		for i, v := range x {
			want[i] = v * float32(sigmoid(float64(v)))
		}
		other := make([]float32, n)
		k(other, x)
		inPlace := append([]float32(nil), x...)
		k(inPlace, inPlace)
		for i := range want {
			for _, got := range []float32{other[i], inPlace[i]} {
				if math.Float32bits(got) != math.Float32bits(want[i]) && !(got != got && want[i] != want[i]) {
					t.Fatalf("n=%d: element %d is %v, want %v", n, i, got, want[i])
				}
			}
		}
	}
	d := make([]float32, 300)
	if a := testing.AllocsPerRun(10, func() { k(d, d) }); a != 0 {
		t.Errorf("%v allocations a call", a)
	}
}

// siluOf is siluK as the optimizer calls it, on a kernel the compiler
// cannot see through (inlined into the test, siluK's buffer would not
// escape whatever its code).
//
//go:noinline
func siluOf(sig func(d, x []float32)) func(d, x []float32) { return siluK(sig) }
