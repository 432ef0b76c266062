package vecmath

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

var exhaustive = flag.Bool("vecmath.exhaustive", false, "measure the error of every function over every float32 input (minutes)")

// The exact functions, in float64.

func sigmoid64(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// gelu64 uses erfc for negative x, which keeps its relative precision.
func gelu64(x float64) float64 {
	t := x / math.Sqrt2
	if t < 0 {
		return 0.5 * x * math.Erfc(-t)
	}
	return 0.5 * x * (1 + math.Erf(t))
}

// geluTanh64 is x/2·(1 + tanh(z)) written as x·sigmoid(2z), which does
// not cancel for negative x.
func geluTanh64(x float64) float64 {
	return x * sigmoid64(2*math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x))
}

// ulps is |got - want| in units of the last place of want rounded to
// float32 (2^-149 at least); 0 when both are the same infinity or NaN.
func ulps(got float32, want float64) float64 {
	w := float32(want)
	if math.IsNaN(want) || math.IsInf(float64(w), 0) {
		if got == w || (got != got && math.IsNaN(want)) {
			return 0
		}
		return math.Inf(1)
	}
	u := math.Max(float64(math.Nextafter32(abs(w), float32(math.Inf(1)))-abs(w)), 0x1p-149)
	return math.Abs(float64(got)-want) / u
}

// accuracy describes one function: its kernel, the exact function, the
// documented bound in ulps, and where that bound applies (all inputs when
// in is nil); outside it, within is the bound on |error| / |exact| (rel)
// or on |error| (abs, when rel is 0).
type accuracy struct {
	name   string
	kernel func(dst, x []float32)
	exact  func(float64) float64
	ulps   float64
	in     func(x float32) bool
	rel    float64
	abs    float64
}

var accuracies = []accuracy{
	{name: "Exp", kernel: Exp, exact: math.Exp, ulps: 1.01},
	{name: "Erf", kernel: Erf, exact: math.Erf, ulps: 1.4},
	{name: "Tanh", kernel: Tanh, exact: math.Tanh, ulps: 1.4},
	{name: "Sigmoid", kernel: Sigmoid, exact: sigmoid64, ulps: 2.4},
	{name: "SiLU", kernel: SiLU, exact: func(x float64) float64 { return x * sigmoid64(x) }, ulps: 3,
		in: func(x float32) bool { return x > -87 }, abs: 0x1p-126},
	{name: "Gelu", kernel: Gelu, exact: gelu64, ulps: 3.2, in: func(x float32) bool { return x >= -1.3 },
		rel: 4e-6, abs: 4.4e-8},
	{name: "GeluTanh", kernel: GeluTanh, exact: geluTanh64, ulps: 3,
		in: func(x float32) bool { return x >= -1 }, rel: 2e-5, abs: 0x1p-126},
	{name: "GeluFast", kernel: GeluFast, exact: gelu64, ulps: 0.6, in: func(x float32) bool { return x >= 2 }, abs: 1e-7},
}

// TestAccuracy measures each function's error against the exact one in
// float64, over every 97th float32 bit pattern (every one with
// -vecmath.exhaustive) and a dense sweep of [-6, 6], and fails when it
// exceeds the bound the function documents.
func TestAccuracy(t *testing.T) {
	step := uint64(97)
	if *exhaustive {
		step = 1
	}
	if testing.Short() {
		step = 9973
	}
	for _, a := range accuracies {
		t.Run(a.name, func(t *testing.T) {
			var worst float64
			var worstX float32
			check := func(xs []float32) {
				got := make([]float32, len(xs))
				a.kernel(got, xs)
				for i, x := range xs {
					want := a.exact(float64(x))
					if a.in != nil && !a.in(x) {
						if math.IsInf(float64(x), 0) || math.IsNaN(float64(x)) {
							continue
						}
						err := math.Abs(float64(got[i]) - want)
						if err > a.abs && err > a.rel*math.Abs(want) {
							t.Fatalf("%s(%v) = %v, exact %v: error %g beyond %g relative and %g absolute", a.name, x, got[i], want, err, a.rel, a.abs)
						}
						continue
					}
					if u := ulps(got[i], want); u > worst {
						worst, worstX = u, x
					}
				}
			}
			buf := make([]float32, 0, 1<<16)
			for b := uint64(0); b < 1<<32; b += step {
				buf = append(buf, math.Float32frombits(uint32(b)))
				if len(buf) == cap(buf) {
					check(buf)
					buf = buf[:0]
				}
			}
			for x := float32(-6); x <= 6; x += 1.0 / 4096 {
				buf = append(buf, x)
				if len(buf) == cap(buf) {
					check(buf)
					buf = buf[:0]
				}
			}
			check(buf)
			t.Logf("largest error %.3f ulp at %v", worst, worstX)
			if worst > a.ulps {
				t.Errorf("%s(%v): error %.3f ulp, documented %v", a.name, worstX, worst, a.ulps)
			}
		})
	}
}

// TestSpecials pins the results of the special inputs.
func TestSpecials(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	negZero := float32(math.Copysign(0, -1))
	den := math.Float32frombits(1) // the smallest subnormal
	for _, c := range []struct {
		name   string
		kernel func(dst, x []float32)
		x      []float32
		want   []float32
	}{
		{"Exp", Exp, []float32{0, negZero, inf, -inf, nan, 89, 88.8, -104, -103.97, den, 1},
			[]float32{1, 1, inf, 0, nan, inf, inf, 0, 1e-45, 1, 2.7182817}},
		{"Erf", Erf, []float32{0, negZero, inf, -inf, nan, 4, -3.92, den, -den, 1e30},
			[]float32{0, negZero, 1, -1, nan, 1, -1, den, -den, 1}},
		{"Tanh", Tanh, []float32{0, negZero, inf, -inf, nan, 9.1, -20, den, 1e-20},
			[]float32{0, negZero, 1, -1, nan, 1, -1, den, 1e-20}},
		{"Sigmoid", Sigmoid, []float32{0, negZero, inf, -inf, nan, 17, -104, -100, 200},
			[]float32{0.5, 0.5, 1, 0, nan, 1, 0, 3.720076e-44, 1}},
		{"SiLU", SiLU, []float32{0, negZero, inf, -inf, nan, 200},
			[]float32{0, negZero, inf, nan, nan, 200}},
		{"Gelu", Gelu, []float32{0, negZero, inf, -inf, nan, 10, -5.7, -1e30, 1e30},
			[]float32{0, negZero, inf, nan, nan, 10, negZero, negZero, 1e30}},
		{"GeluTanh", GeluTanh, []float32{0, negZero, inf, -inf, nan, 1e30},
			[]float32{0, negZero, inf, nan, nan, 1e30}},
		{"GeluFast", GeluFast, []float32{0, negZero, inf, -inf, nan, 8, -1e30, 1e30},
			[]float32{0, 0, inf, -4.0366338e-15, nan, 8, -4.0366338e-15, 1e30}},
	} {
		got := make([]float32, len(c.x))
		c.kernel(got, c.x)
		for i, x := range c.x {
			if !same(got[i], c.want[i]) {
				t.Errorf("%s(%v) = %v (%#x), want %v (%#x)", c.name, x, got[i], math.Float32bits(got[i]), c.want[i], math.Float32bits(c.want[i]))
			}
		}
	}
}

// same is bit equality, with every NaN equal to every NaN.
func same(a, b float32) bool {
	return (a != a && b != b) || math.Float32bits(a) == math.Float32bits(b)
}

func ExampleGelu() {
	x := []float32{-3, -1, 0, 1, 3}
	Gelu(x, x)
	fmt.Println(x)
	// Output: [-0.0040496965 -0.15865526 0 0.8413448 2.9959502]
}

// TestRowAccuracy measures Softmax and LayerNorm against the exact row
// functions in float64 on random rows of 1 to 512 elements (standard
// deviations 0.1 to 30, means up to three of them, the scales of
// attention) and fails beyond the bounds they document: Softmax's relative
// error in units of 2^-23·(1 + max|scale·x|), LayerNorm's error in units of
// 2^-23·((|x[i]| + Σ|x|/n)·invStd·|w[i]| + |b[i]|).
func TestRowAccuracy(t *testing.T) {
	const softmaxBound, layerNormBound = 2.5, 2.5
	trials := 20000
	if testing.Short() {
		trials = 3000
	}
	r := rand.New(rand.NewPCG(5, 5))
	var worstSoftmax, worstLayerNorm float64
	for range trials {
		n := 1 + r.IntN(512)
		sd := []float64{0.1, 1, 3, 10, 30}[r.IntN(5)]
		mu := []float64{0, 0.5, 3}[r.IntN(3)] * sd
		scale := []float32{1, 0.125, 0.17677669}[r.IntN(3)]
		x, w, b, y := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64()*sd + mu)
			w[i], b[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
		}

		Softmax(y, x, scale)
		m, big, sum := math.Inf(-1), 0.0, 0.0
		for _, v := range x {
			sx := float64(scale) * float64(v)
			m, big = math.Max(m, sx), math.Max(big, math.Abs(sx))
		}
		e := make([]float64, n)
		for i, v := range x {
			e[i] = math.Exp(float64(scale)*float64(v) - m)
			sum += e[i]
		}
		for i := range x {
			if want := e[i] / sum; want > 0x1p-126 {
				worstSoftmax = math.Max(worstSoftmax, math.Abs(float64(y[i])-want)/want/0x1p-23/(1+big))
			}
		}

		LayerNorm(y, x, w, b, 1e-5)
		var mean, absMean, sq float64
		for _, v := range x {
			mean += float64(v)
			absMean += math.Abs(float64(v))
		}
		mean, absMean = mean/float64(n), absMean/float64(n)
		for _, v := range x {
			sq += (float64(v) - mean) * (float64(v) - mean)
		}
		invStd := 1 / math.Sqrt(sq/float64(n)+1e-5)
		for i, v := range x {
			want := (float64(v)-mean)*invStd*float64(w[i]) + float64(b[i])
			unit := ((math.Abs(float64(v))+absMean)*invStd*math.Abs(float64(w[i])) + math.Abs(float64(b[i]))) * 0x1p-23
			worstLayerNorm = math.Max(worstLayerNorm, math.Abs(float64(y[i])-want)/unit)
		}
	}
	t.Logf("Softmax %.2f, LayerNorm %.2f", worstSoftmax, worstLayerNorm)
	if worstSoftmax > softmaxBound {
		t.Errorf("Softmax: relative error %.2f·2^-23·(1 + max|scale·x|), documented %v", worstSoftmax, softmaxBound)
	}
	if worstLayerNorm > layerNormBound {
		t.Errorf("LayerNorm: error %.2f·2^-23·((|x[i]| + Σ|x|/n)·invStd·|w[i]| + |b[i]|), documented %v", worstLayerNorm, layerNormBound)
	}
}
