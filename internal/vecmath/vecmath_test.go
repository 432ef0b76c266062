package vecmath

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

// The kernels against their specification, on every kernel family: every
// length 0..300 at every offset 0..15 of each slice, the output between
// guard words, specials mixed into the inputs, and in place.

const (
	maxLen  = 300
	maxOff  = 16
	guards  = 8
	guardV  = float32(-12345.678)
	special = 0.125 // the share of special values in the inputs
)

// specials are inputs every kernel must get right: zeros, infinities, NaN,
// subnormals, the largest floats, and the boundaries of the kernels'
// ranges and clamps.
var specials = []float32{
	0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
	math.Float32frombits(1), -math.Float32frombits(1), 1e-40, -3e-39, math.MaxFloat32, -math.MaxFloat32,
	88.72, 89, -103.97, -104, -87.3, 0.921875, -0.921875, 4, -4, 0.625, -0.625, 1.3036, -1.3036,
	5.657, -5.657, 0.5, -0.5, 1, -1, 1e30, -1e30, 0x1p-126, -0x1p-126,
	2, -3, 7, -7, geluFastMax, -geluFastMax, 8, -8, // GeluFast's intervals and clamp
}

// inputs returns a buffer of maxLen+maxOff values: normal values of scale
// 4 with specials mixed in.
func inputs(r *rand.Rand, scale float64) []float32 {
	x := make([]float32, maxLen+maxOff)
	for i := range x {
		if r.Float64() < special {
			x[i] = specials[r.IntN(len(specials))]
		} else {
			x[i] = float32(r.NormFloat64() * scale)
		}
	}
	return x
}

// guarded returns an output slice of n elements at offset off inside a
// buffer of guard words, and a check that the guards are intact.
func guarded(t *testing.T, n, off int) ([]float32, func()) {
	buf := make([]float32, off+n+2*guards)
	for i := range buf {
		buf[i] = guardV
	}
	dst := buf[guards+off : guards+off+n]
	return dst, func() {
		t.Helper()
		for i, v := range buf {
			if (i < guards+off || i >= guards+off+n) && v != guardV {
				t.Fatalf("n=%d off=%d: guard word %d overwritten with %v", n, off, i, v)
			}
		}
	}
}

func checkSame(t *testing.T, what string, n, off int, x, got, want []float32) {
	t.Helper()
	for i := range want {
		if !same(got[i], want[i]) {
			t.Fatalf("%s n=%d off=%d: element %d (x=%v): got %v (%#x), want %v (%#x)",
				what, n, off, i, x[i], got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

var unaryKernelsTested = []struct {
	name   string
	kernel func(dst, x []float32)
	spec   func(float32) float32
}{
	{"Exp", Exp, expf},
	{"Erf", Erf, erff},
	{"Tanh", Tanh, tanhf},
	{"Sigmoid", Sigmoid, sigmoidf},
	{"SiLU", SiLU, siluf},
	{"Gelu", Gelu, geluf},
	{"GeluTanh", GeluTanh, geluTanhf},
	{"GeluFast", GeluFast, geluFastf},
}

func TestUnary(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 1))
		for _, k := range unaryKernelsTested {
			// Wide inputs, and inputs near 0 (whole vectors of them: the
			// paths a kernel may take for a vector of small values only).
			for _, scale := range []float64{4, 0.3} {
				testUnary(t, k.name, k.kernel, k.spec, inputs(r, scale))
			}
		}
	})
}

// testUnary checks kernel against spec on every length and offset of
// src, into a guarded output and in place.
func testUnary(t *testing.T, name string, kernel func(dst, x []float32), spec func(float32) float32, src []float32) {
	t.Helper()
	for n := 0; n <= maxLen; n++ {
		for off := range maxOff {
			x := src[off : off+n]
			want := make([]float32, n)
			for i, v := range x {
				want[i] = spec(v)
			}
			dst, intact := guarded(t, n, (off*7)%maxOff)
			kernel(dst, x)
			intact()
			checkSame(t, name, n, off, x, dst, want)
			in := append([]float32(nil), x...)
			kernel(in, in)
			checkSame(t, name+" in place", n, off, x, in, want)
		}
	}
}

var binaryKernelsTested = []struct {
	name   string
	kernel func(dst, a, b []float32)
	spec   func(a, b float32) float32
}{
	{"Add", Add, func(a, b float32) float32 { return a + b }},
	{"Sub", Sub, func(a, b float32) float32 { return a - b }},
	{"Mul", Mul, func(a, b float32) float32 { return a * b }},
	{"Div", Div, func(a, b float32) float32 { return a / b }},
}

var scalarKernelsTested = []struct {
	name   string
	kernel func(dst, a []float32, s float32)
	spec   func(a, s float32) float32
}{
	{"AddScalar", AddScalar, func(a, s float32) float32 { return a + s }},
	{"SubScalar", SubScalar, func(a, s float32) float32 { return a - s }},
	{"ScalarSub", ScalarSub, func(a, s float32) float32 { return s - a }},
	{"MulScalar", MulScalar, func(a, s float32) float32 { return a * s }},
	{"DivScalar", DivScalar, func(a, s float32) float32 { return a / s }},
	{"ScalarDiv", ScalarDiv, func(a, s float32) float32 { return s / a }},
}

func TestBinary(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(2, 2))
		for _, k := range binaryKernelsTested {
			srcA, srcB := inputs(r, 4), inputs(r, 4)
			for n := 0; n <= maxLen; n++ {
				for off := range maxOff {
					a, b := srcA[off:off+n], srcB[(off*5)%maxOff:][:n]
					want := make([]float32, n)
					for i := range a {
						want[i] = k.spec(a[i], b[i])
					}
					dst, intact := guarded(t, n, (off*3)%maxOff)
					k.kernel(dst, a, b)
					intact()
					checkSame(t, k.name, n, off, a, dst, want)
					in := append([]float32(nil), b...)
					k.kernel(in, a, in)
					checkSame(t, k.name+" in place", n, off, a, in, want)
				}
			}
		}
		for _, k := range scalarKernelsTested {
			src := inputs(r, 4)
			for n := 0; n <= maxLen; n++ {
				for off := range maxOff {
					a, s := src[off:off+n], specials[(n+off)%len(specials)]
					if off%2 == 0 {
						s = float32(r.NormFloat64())
					}
					want := make([]float32, n)
					for i := range a {
						want[i] = k.spec(a[i], s)
					}
					dst, intact := guarded(t, n, (off*3)%maxOff)
					k.kernel(dst, a, s)
					intact()
					checkSame(t, k.name, n, off, a, dst, want)
				}
			}
		}
	})
}

// The reductions' specification, written out: lane i%16, folded pairwise.

func laneSum(x []float32, f func(float32) float32) float32 {
	var acc [16]float32
	for i, v := range x {
		acc[i%16] += f(v)
	}
	for w := 8; w >= 1; w /= 2 {
		for j := range w {
			acc[j] += acc[j+w]
		}
	}
	return acc[0]
}

func laneMax(x []float32) float32 {
	var acc [16]float32
	for i := range acc {
		acc[i] = float32(math.Inf(-1))
	}
	for i, v := range x {
		if v > acc[i%16] {
			acc[i%16] = v
		}
	}
	for w := 8; w >= 1; w /= 2 {
		for j := range w {
			acc[j] = max(acc[j], acc[j+w])
		}
	}
	return acc[0]
}

func TestReductions(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 3))
		src := inputs(r, 4)
		clean := make([]float32, len(src)) // no specials: sums stay finite
		for i := range clean {
			clean[i] = float32(r.NormFloat64()*3 + 1)
		}
		w, b := inputs(r, 1), inputs(r, 1)
		for n := 0; n <= maxLen; n++ {
			for off := range maxOff {
				for _, x := range [][]float32{src[off : off+n], clean[off : off+n]} {
					if got, want := Max(x), laneMax(x); !same(got, want) {
						t.Fatalf("Max n=%d off=%d: got %v want %v", n, off, got, want)
					}
					if got, want := Sum(x), laneSum(x, func(v float32) float32 { return v }); !same(got, want) {
						t.Fatalf("Sum n=%d off=%d: got %v want %v", n, off, got, want)
					}
					for _, scale := range []float32{1, 0.125, 0.3} {
						shift := float32(scale * laneMax(x))
						e := make([]float32, n)
						for i, v := range x {
							e[i] = expf(float32(scale*v) - shift)
						}
						inv := 1 / laneSum(e, func(v float32) float32 { return v })
						want := make([]float32, n)
						for i := range e {
							want[i] = float32(e[i] * inv)
						}
						dst, intact := guarded(t, n, (off*5)%maxOff)
						Softmax(dst, x, scale)
						intact()
						checkSame(t, "Softmax", n, off, x, dst, want)
					}
					if n == 0 {
						continue
					}
					const eps = 1e-5
					m := laneSum(x, func(v float32) float32 { return v }) / float32(n)
					q := laneSum(x, func(v float32) float32 { d := v - m; return float32(d * d) })
					is := 1 / float32(math.Sqrt(float64(q/float32(n)+eps)))
					for _, bias := range [][]float32{b[:n], nil} {
						want := make([]float32, n)
						for i, v := range x {
							want[i] = float32(float32((v-m)*is) * w[i])
							if bias != nil {
								want[i] += bias[i]
							}
						}
						dst, intact := guarded(t, n, (off*5)%maxOff)
						gm, gis := LayerNorm(dst, x, w[:n], bias, eps)
						intact()
						if !same(gm, m) || !same(gis, is) {
							t.Fatalf("LayerNorm n=%d off=%d: mean, invStd %v, %v; want %v, %v", n, off, gm, gis, m, is)
						}
						checkSame(t, "LayerNorm", n, off, x, dst, want)
						in := slices.Clone(x)
						LayerNorm(in, in, w[:n], bias, eps)
						checkSame(t, "LayerNorm in place", n, off, x, in, want)
					}
				}
			}
		}
	})
}

// TestSoftmaxRows checks what a softmax row is: positive, summing to 1,
// and NaN throughout when the row holds NaN or +Inf.
func TestSoftmaxRows(t *testing.T) {
	x := []float32{1, 2, 3, 4, -100, 0.5}
	y := make([]float32, len(x))
	Softmax(y, x, 1)
	var s float64
	for i, v := range y {
		want := math.Exp(float64(x[i])-4) / (math.Exp(-3) + math.Exp(-2) + math.Exp(-1) + 1 + math.Exp(-104) + math.Exp(-3.5))
		if math.Abs(float64(v)-want) > 2e-7 {
			t.Errorf("softmax[%d] = %v, want %v", i, v, want)
		}
		s += float64(v)
	}
	if math.Abs(s-1) > 1e-6 {
		t.Errorf("softmax sums to %v", s)
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
		x[2] = bad
		Softmax(y, x, 1)
		for i, v := range y {
			if v == v {
				t.Errorf("softmax with %v: element %d is %v, want NaN", bad, i, v)
			}
		}
	}
}
