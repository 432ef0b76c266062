package reduce

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
	"github.com/tensorquant/tensorquant/tensor"
)

var (
	nan     = float32(math.NaN())
	inf     = float32(math.Inf(1))
	negZero = float32(math.Copysign(0, -1))
)

// naiveAbsMax is the obvious loop, written independently of absMaxGeneric.
func naiveAbsMax(x []float32) float32 {
	m := 0.0
	for _, v := range x {
		if v != v {
			return quietNaN
		}
		m = math.Max(m, math.Abs(float64(v)))
	}
	return float32(m)
}

func specials() []float32 {
	return []float32{0, negZero, 1, -1, inf, -inf, math.MaxFloat32, -math.MaxFloat32,
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1e-40, -3e-39, 0.5, -2.5}
}

func TestAbsMaxLengthsAndOffsets(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		buf := make([]float32, 300+16)
		for i := range buf {
			buf[i] = float32(r.NormFloat64())
		}
		for n := 0; n <= 300; n++ {
			for off := 0; off < 16; off++ {
				x := buf[off : off+n]
				if got, want := AbsMax(x), naiveAbsMax(x); math.Float32bits(got) != math.Float32bits(want) {
					t.Fatalf("n=%d off=%d: got %v want %v", n, off, got, want)
				}
			}
		}
	})
}

// TestAbsMaxEveryPosition puts the maximum, and then a NaN, at every index so
// that no lane or tail element can be skipped.
func TestAbsMaxEveryPosition(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for _, n := range []int{1, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 200} {
			for pos := range n {
				for _, special := range []float32{-1000, 1000, nan, -nan, inf, -inf} {
					x := make([]float32, n)
					for i := range x {
						x[i] = float32(i%13) - 6
					}
					x[pos] = special
					got, want := AbsMax(x), naiveAbsMax(x)
					if math.Float32bits(got) != math.Float32bits(want) {
						t.Fatalf("n=%d pos=%d special=%v: got %v (%#x) want %v", n, pos, special, got, math.Float32bits(got), want)
					}
				}
			}
		}
	})
}

func TestAbsMaxSpecials(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		s := specials()
		for i := range s {
			for j := range s {
				x := []float32{s[i], s[j], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, s[j], s[i]}
				if got, want := AbsMax(x), naiveAbsMax(x); math.Float32bits(got) != math.Float32bits(want) {
					t.Fatalf("%v: got %v want %v", x, got, want)
				}
			}
		}
		if got := AbsMax([]float32{negZero, negZero}); math.Float32bits(got) != 0 {
			t.Fatalf("AbsMax(-0, -0) = %v (%#x), want +0", got, math.Float32bits(got))
		}
		if got := AbsMax(nil); got != 0 {
			t.Fatalf("AbsMax(nil) = %v", got)
		}
	})
}

func TestMinMax(t *testing.T) {
	for _, tc := range []struct {
		x      []float32
		lo, hi float32
	}{
		{[]float32{3, -1, 2}, -1, 3},
		{[]float32{negZero, 0}, negZero, negZero},
		{[]float32{1, nan, 2}, nan, nan},
		{nil, inf, -inf},
		{[]float32{-inf, 5}, -inf, 5},
	} {
		lo, hi := MinMax(tc.x)
		if !conformance.SameFloat32(lo, tc.lo) || !conformance.SameFloat32(hi, tc.hi) {
			t.Errorf("MinMax(%v) = %v, %v; want %v, %v", tc.x, lo, hi, tc.lo, tc.hi)
		}
	}
}

// bruteAmax reduces by visiting every element with full index arithmetic.
func bruteAmax(x *tensor.Tensor, keep []bool) []float32 {
	outShape := make([]int, len(x.Shape))
	for i, d := range x.Shape {
		outShape[i] = 1
		if keep[i] {
			outShape[i] = d
		}
	}
	n, _ := tensor.NumelOf(outShape)
	out := make([]float32, n)
	xs, os := tensor.Strides(x.Shape), tensor.Strides(outShape)
	for flat, v := range x.Data {
		o := 0
		for d := range x.Shape {
			if keep[d] {
				o += (flat / xs[d] % x.Shape[d]) * os[d]
			}
		}
		if v != v || out[o] != out[o] {
			out[o] = quietNaN
		} else {
			out[o] = max(out[o], float32(math.Abs(float64(v))))
		}
	}
	return out
}

func TestAmaxAgainstBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for trial := range 400 {
			rank := r.IntN(5)
			shape := make([]int, rank)
			for i := range shape {
				shape[i] = r.IntN(5) + 1
				if r.IntN(8) == 0 {
					shape[i] = 20 + r.IntN(20)
				}
			}
			x := tensor.New(shape...)
			for i := range x.Data {
				x.Data[i] = float32(r.NormFloat64())
				if r.IntN(500) == 0 {
					x.Data[i] = nan
				}
			}
			keep := make([]bool, rank)
			var axes []int
			for i := range keep {
				if r.IntN(2) == 0 {
					keep[i] = true
					a := i
					if r.IntN(2) == 0 {
						a -= rank
					}
					axes = append(axes, a)
				}
			}
			got, err := Amax(x, axes)
			if err != nil {
				t.Fatalf("trial %d shape %v axes %v: %v", trial, shape, axes, err)
			}
			for i, d := range shape {
				if want := map[bool]int{true: d, false: 1}[keep[i]]; got.Shape[i] != want {
					t.Fatalf("trial %d shape %v axes %v: result shape %v", trial, shape, axes, got.Shape)
				}
			}
			if d := conformance.DiffFloat32(got.Data, bruteAmax(x, keep)); d != "" {
				t.Fatalf("trial %d shape %v axes %v: %s", trial, shape, axes, d)
			}
		}
	})
}

func TestAmaxSeedConvention(t *testing.T) {
	x := tensor.New(10, 9, 8, 7)
	for i := range x.Data {
		x.Data[i] = float32(i % 97)
	}
	got, err := Amax(x, []int{0})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{10, 1, 1, 1}, got.Shape); diff != "" {
		t.Fatal(diff)
	}
	pt, err := Amax(x, nil)
	if err != nil || !cmp.Equal([]int{1, 1, 1, 1}, pt.Shape) || pt.Data[0] != 96 {
		t.Fatalf("per-tensor: %v %v %v", pt.Shape, pt.Data, err)
	}
	s, err := Amax(tensor.Scalar(-3), nil)
	if err != nil || len(s.Shape) != 0 || s.Data[0] != 3 {
		t.Fatalf("scalar: %v %v", s, err)
	}
	e, err := Amax(tensor.New(0, 3), []int{1})
	if err != nil || !cmp.Equal([]int{1, 3}, e.Shape) || e.Data[0] != 0 {
		t.Fatalf("empty: %v %v", e, err)
	}
}

func TestAmaxErrors(t *testing.T) {
	x := tensor.New(2, 3)
	for _, axes := range [][]int{{2}, {-3}, {0, -2}} {
		if _, err := Amax(x, axes); err == nil {
			t.Errorf("Amax(%v, %v) accepted", x.Shape, axes)
		}
	}
	if _, err := Amax(nil, nil); err == nil {
		t.Error("Amax(nil) accepted")
	}
	if _, err := Amax(&tensor.Tensor{Shape: []int{4}, Data: make([]float32, 3)}, nil); err == nil {
		t.Error("inconsistent tensor accepted")
	}
}
