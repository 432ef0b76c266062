package qgemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/fakequant"
)

// cases counts the comparisons with the specification that passed: a
// product or convolution through its outputs, a kernel call.
var cases int

// forEachFamily runs f as a subtest under every family this machine runs,
// and logs how many cases it compared.
func forEachFamily(t *testing.T, f func(t *testing.T, fam family)) {
	t.Helper()
	for _, fam := range families() {
		restore := useFamily(fam)
		t.Run(fam.String(), func(t *testing.T) {
			before := cases
			f(t, fam)
			t.Logf("%d cases bit-exact", cases-before)
		})
		restore()
	}
}

// problem is a matrix product in plain integers: activations a (m×k, row
// stride lda, zero point za), weights b (k×n, zero points zb: 1 or n),
// bias (nil or n).
type problem struct {
	m, n, k, lda int
	a            []int32
	za           int32
	b            []int32
	zb           []int32
	bias         []int32
}

// ref returns C in int64, the formula of the package doc.
func (p *problem) ref() []int64 {
	c := make([]int64, p.m*p.n)
	for i := range p.m {
		for j := range p.n {
			zb := p.zb[0]
			if len(p.zb) > 1 {
				zb = p.zb[j]
			}
			var s int64
			for k := range p.k {
				s += int64(p.a[i*p.lda+k]-p.za) * int64(p.b[k*p.n+j]-zb)
			}
			if p.bias != nil {
				s += int64(p.bias[j])
			}
			c[i*p.n+j] = s
		}
	}
	return c
}

// refQuant is the requantization of the package doc, written out.
func refQuant(c int64, scale float32, zp, lo, hi int32) int32 {
	f := float64(float32(int32(c)) * scale)
	r := math.RoundToEven(f) + float64(zp)
	return int32(min(max(r, float64(lo)), float64(hi)))
}

// valueRange returns the range of T as int32.
func valueRange[T Int8]() (int32, int32) { return rangeOf[T]() }

// randomIn returns a value of [lo, hi], the bounds more often than chance.
func randomIn(rng *rand.Rand, lo, hi int32) int32 {
	switch rng.IntN(8) {
	case 0:
		return lo
	case 1:
		return hi
	}
	return lo + rng.Int32N(hi-lo+1)
}

// randomZeroPoints returns one zero point of W (0, or 128 for uint8, a
// third of the time) or, when perColumn, n of them.
func randomZeroPoints[W Int8](rng *rand.Rand, n int, perColumn bool) []int32 {
	lo, hi := valueRange[W]()
	if perColumn {
		zp := make([]int32, n)
		for j := range zp {
			zp[j] = randomIn(rng, lo, hi)
		}
		return zp
	}
	if rng.IntN(3) == 0 {
		return []int32{int32(flipOf[W]())}
	}
	return []int32{randomIn(rng, lo, hi)}
}

// newProblem returns a random product for activations of type A and
// weights of type W.
func newProblem[A, W Int8](rng *rand.Rand, m, n, k int, perColumn, bias bool) *problem {
	alo, ahi := valueRange[A]()
	wlo, whi := valueRange[W]()
	p := &problem{m: m, n: n, k: k, lda: k + rng.IntN(3)}
	p.a = make([]int32, max(0, (m-1)*p.lda+k))
	for i := range p.a {
		p.a[i] = randomIn(rng, alo, ahi)
	}
	p.za = randomIn(rng, alo, ahi)
	p.b = make([]int32, k*n)
	for i := range p.b {
		p.b[i] = randomIn(rng, wlo, whi)
	}
	p.zb = randomZeroPoints[W](rng, n, perColumn)
	if bias {
		p.bias = make([]int32, n)
		for j := range p.bias {
			p.bias[j] = rng.Int32N(1<<20) - 1<<19
		}
	}
	return p
}

func convert[T Int8](v []int32) []T {
	out := make([]T, len(v))
	for i, x := range v {
		out[i] = T(x)
	}
	return out
}

// offset returns v copied to a buffer at element offset off, so that the
// kernels see every alignment.
func offset[T any](v []T, off int) []T {
	buf := make([]T, off+len(v))
	copy(buf[off:], v)
	return buf[off : off+len(v) : off+len(v)]
}

const guard = -0x5A5A5A5B

// checkProblem runs p through the three outputs under the current family
// and compares them with the formula, and checks that nothing outside the
// output was written.
func checkProblem[A, W, Y Int8](t *testing.T, rng *rand.Rand, p *problem, threads int) {
	t.Helper()
	w, err := PackMatrix(convert[W](p.b), p.k, p.n, p.n, false, convert[W](p.zb))
	if err != nil {
		t.Fatal(err)
	}
	a := Matrix[A]{Data: offset(convert[A](p.a), rng.IntN(16)), Rows: p.m, Stride: p.lda, ZeroPoint: A(p.za)}
	want := p.ref()
	ld := max(p.n+rng.IntN(3), 1)
	name := func() string {
		return fmt.Sprintf("%s m=%d n=%d k=%d lda=%d za=%d zb=%v bias=%v", w.fam, p.m, p.n, p.k, p.lda, p.za, p.zb, p.bias != nil)
	}

	scaleOf := func(scale []float32, j int) float32 {
		if len(scale) > 1 {
			return scale[j]
		}
		return scale[0]
	}

	c := filled(p.m*ld+3, int32(guard))
	if err := MatMulInt32(threads, a, w, p.bias, c, ld); err != nil {
		t.Fatalf("%s: %v", name(), err)
	}
	checkMatrixOut(t, name(), c, p.m, p.n, ld, guard, func(r, j int, v int32) string {
		if w := int32(want[r*p.n+j]); v != w {
			return fmt.Sprintf("int32 C = %d, want %d", v, w)
		}
		return ""
	})

	lo, hi := valueRange[Y]()
	scale := make([]float32, max(p.n, 1))
	for j := range scale {
		scale[j] = float32(math.Ldexp(1+rng.Float64(), -rng.IntN(14)))
	}
	if rng.IntN(4) == 0 || p.n == 0 {
		scale = scale[:1]
	}
	q := Requant{Scale: scale, ZeroPoint: randomIn(rng, lo, hi), Min: lo, Max: hi}
	if rng.IntN(3) == 0 { // a fused Relu
		q.Min = q.ZeroPoint
	}
	y := filled(p.m*ld+3, Y(0x5B))
	if err := MatMulQuant(threads, a, w, p.bias, q, y, ld); err != nil {
		t.Fatalf("%s: %v", name(), err)
	}
	checkMatrixOut(t, name(), y, p.m, p.n, ld, 0x5B, func(r, j int, v Y) string {
		c, s := want[r*p.n+j], scaleOf(scale, j)
		if wq := refQuant(c, s, q.ZeroPoint, q.Min, q.Max); int32(v) != wq {
			return fmt.Sprintf("quantized Y = %d, want %d (C = %d, scale %g, zp %d)", v, wq, c, s, q.ZeroPoint)
		}
		return ""
	})

	cases++
	if p.bias != nil { // the float output has a float bias instead
		return
	}
	fb := make([]float32, p.n)
	for j := range fb {
		fb[j] = float32(rng.NormFloat64())
	}
	if rng.IntN(2) == 0 {
		fb = nil
	}
	f := filled(p.m*ld+3, float32(guard))
	if err := MatMulFloat(threads, a, w, Dequant{Scale: scale, Bias: fb}, f, ld); err != nil {
		t.Fatalf("%s: %v", name(), err)
	}
	checkMatrixOut(t, name(), f, p.m, p.n, ld, guard, func(r, j int, v float32) string {
		var b float32
		if fb != nil {
			b = fb[j]
		}
		if wf := float32(float32(int32(want[r*p.n+j]))*scaleOf(scale, j)) + b; math.Float32bits(v) != math.Float32bits(wf) {
			return fmt.Sprintf("float Y = %v, want %v", v, wf)
		}
		return ""
	})

	// The same with an activation, then the codes of a QuantizeLinear.
	ref := slices.Clone(f)
	d := Dequant{Scale: scale, Bias: fb, Act: testAct}
	if err := MatMulFloat(threads, a, w, d, f, ld); err != nil {
		t.Fatalf("%s: %v", name(), err)
	}
	checkMatrixOut(t, name(), f, p.m, p.n, ld, guard, func(r, j int, v float32) string {
		if wf := testActOf(ref[r*ld+j]); math.Float32bits(v) != math.Float32bits(wf) {
			return fmt.Sprintf("float Y with the activation = %v, want %v", v, wf)
		}
		return ""
	})
	fq := Quantize{Scale: float32(math.Ldexp(1+rng.Float64(), -rng.IntN(8))), ZeroPoint: randomIn(rng, lo, hi)}
	y = filled(p.m*ld+3, Y(0x5B))
	if err := MatMulFloatQuant(threads, a, w, d, fq, y, ld); err != nil {
		t.Fatalf("%s: %v", name(), err)
	}
	checkMatrixOut(t, name(), y, p.m, p.n, ld, 0x5B, func(r, j int, v Y) string {
		if wq := fakequant.QuantizeLinear(f[r*ld+j], fq.Scale, fq.ZeroPoint, lo, hi); int32(v) != wq {
			return fmt.Sprintf("codes of the float Y %v = %d, want %d (scale %g, zp %d)", f[r*ld+j], v, wq, fq.Scale, fq.ZeroPoint)
		}
		return ""
	})
}

// testActOf is the elementwise activation of the tests (nonlinear, of
// either sign): x² − x/4.
func testActOf(x float32) float32 { return x*x - x/4 }

// testAct applies testActOf in place.
func testAct(x []float32) {
	for i, v := range x {
		x[i] = testActOf(v)
	}
}

// filled returns n copies of v.
func filled[T any](n int, v T) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// checkMatrixOut checks out, a rows×cols matrix with row stride ld in a
// buffer filled with fill: check(r, j, v) describes what is wrong with
// element (r, j), or returns ""; every other element must still be fill.
func checkMatrixOut[T comparable](t *testing.T, name string, out []T, rows, cols, ld int, fill T, check func(r, j int, v T) string) {
	t.Helper()
	for i, v := range out {
		r, j := i/ld, i%ld
		if r < rows && j < cols {
			if msg := check(r, j, v); msg != "" {
				t.Fatalf("%s: [%d][%d]: %s", name, r, j, msg)
			}
		} else if v != fill {
			t.Fatalf("%s: output written outside the matrix at %d", name, i)
		}
	}
}

// eachType runs f for every combination of activation, weight and output
// types.
func eachType(f func(name string, run func(t *testing.T, rng *rand.Rand, m, n, k int, perColumn, bias bool, threads int))) {
	f("u8u8u8", checkTyped[uint8, uint8, uint8])
	f("u8s8u8", checkTyped[uint8, int8, uint8])
	f("s8s8s8", checkTyped[int8, int8, int8])
	f("s8u8s8", checkTyped[int8, uint8, int8])
	f("u8s8s8", checkTyped[uint8, int8, int8])
}

func checkTyped[A, W, Y Int8](t *testing.T, rng *rand.Rand, m, n, k int, perColumn, bias bool, threads int) {
	t.Helper()
	checkProblem[A, W, Y](t, rng, newProblem[A, W](rng, m, n, k, perColumn, bias), threads)
}

// TestMatMulRagged runs every M up to two tiles and a row, every N up to
// two panels and a column and every K up to 70, the other two dimensions
// random, with each type combination, per-tensor and per-column zero
// points, with and without a bias, against the formula.
func TestMatMulRagged(t *testing.T) {
	forEachFamily(t, func(t *testing.T, fam family) {
		g := geometries[fam]
		eachType(func(name string, check func(t *testing.T, rng *rand.Rand, m, n, k int, perColumn, bias bool, threads int)) {
			rng := rand.New(rand.NewPCG(1, uint64(fam)))
			for i := 0; i <= 2*g.mr+1; i++ {
				check(t, rng, i, 1+rng.IntN(2*g.nr+1), rng.IntN(40), i%2 == 0, i%3 == 0, 1)
			}
			for i := 0; i <= 2*g.nr+1; i++ {
				if testing.Short() && i%5 != 0 {
					continue
				}
				check(t, rng, 1+rng.IntN(2*g.mr+1), i, rng.IntN(40), i%2 == 1, i%3 == 1, 1)
			}
			for i := 0; i <= 70; i++ {
				check(t, rng, 1+rng.IntN(2*g.mr+1), 1+rng.IntN(2*g.nr+1), i, i%2 == 0, i%3 == 2, 1)
			}
			// Around the groups of rows that go through the epilogue at
			// once (maxRun): whole groups, a row short of or past them.
			for i, m := range []int{maxRun - 1, maxRun, maxRun + 1, 2*maxRun + g.mr + 1, 3 * maxRun} {
				check(t, rng, m, 1+rng.IntN(2*g.nr+1), 1+rng.IntN(40), i%2 == 0, i%3 == 0, 1)
			}
		})
	})
}

// TestColumnTermsReused: the per-column terms a product keeps for its
// next call follow a bias changed in place and another activation zero
// point (the results are those of freshly packed weights).
func TestColumnTermsReused(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 4))
	const m, n, k = 5, 7, 9
	p := newProblem[uint8, int8](rng, m, n, k, true, true)
	w, err := PackMatrix(convert[int8](p.b), k, n, n, false, convert[int8](p.zb))
	if err != nil {
		t.Fatal(err)
	}
	bias := slices.Clone(p.bias)
	for _, step := range []string{"first", "again", "bias changed in place", "zero point changed"} {
		switch step {
		case "bias changed in place":
			bias[3] += 1000
		case "zero point changed":
			p.za = (p.za + 77) % 256
		}
		p.bias = bias
		want := p.ref()
		a := Matrix[uint8]{Data: convert[uint8](p.a), Rows: m, Stride: p.lda, ZeroPoint: uint8(p.za)}
		c := make([]int32, m*n)
		if err := MatMulInt32(1, a, w, bias, c, n); err != nil {
			t.Fatal(err)
		}
		for i, v := range c {
			if int64(v) != want[i] {
				t.Fatalf("%s: C[%d] = %d, want %d", step, i, v, want[i])
			}
		}
	}
}
