package vec

import (
	"math"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
)

// Kind selects an activation.
type Kind uint8

// The activations.
const (
	None Kind = iota // the identity
	Relu             // max(x, 0): NaN stays NaN, -0 becomes +0
	Clip             // min(max(x, Lo), Hi): NaN stays NaN, Lo > Hi gives Hi
	Func             // Func(x, x): any element-wise float32 kernel
)

// Act is an activation applied in place to runs of elements.
type Act struct {
	Kind   Kind
	Lo, Hi float32                  // Clip's bounds
	Func   func(dst, src []float32) // Func's kernel: each element from itself alone
}

// Apply applies the activation to x in place.
func (a *Act) Apply(x []float32) { Finish(x, 0, false, nil, a) }

// Clamp returns a as the clamp that assembly kernels fusing it apply
// after the bias (min(max(x, lo), hi), then zfix added and sfix or-ed in:
// see zeroFixes), and whether a has that form (not Func, bounds not NaN).
func (a *Act) Clamp() (lo, hi, zfix float32, sfix uint32, ok bool) {
	lo, hi = bounds(a)
	if a.Kind == Func || lo != lo || hi != hi {
		return 0, 0, 0, 0, false
	}
	zfix, sfix = zeroFixes(lo, hi)
	return lo, hi, zfix, sfix, true
}

// NegZero is -0, the bias that adds nothing (x + -0 is x for every x).
var NegZero = negZero

// ReluTo writes max(x[i], 0) to d[i] (x at least as long as d; d may be
// x).
func ReluTo(d, x []float32) {
	x = x[:len(d)]
	finish(d, x, nil, negZero, 0, inf)
}

// ReluGrad writes ReLU's gradient: d[i] = dy[i] where x[i] > 0 (+Inf
// included), else +0 (for ±0 and a NaN x too). dy and x are at least as
// long as d; d may be either.
func ReluGrad(d, dy, x []float32) {
	dy, x = dy[:len(d)], x[:len(d)]
	if len(d) >= minLen && reluGradAsm(d, dy, x) {
		return
	}
	reluGradGeneric(d, dy, x)
}

// ClipTo writes min(max(x[i], lo), hi) to d[i] (x at least as long as d;
// d may be x).
func ClipTo(d, x []float32, lo, hi float32) {
	x = x[:len(d)]
	finish(d, x, nil, negZero, lo, hi)
}

// Finish computes seg[i] = act(seg[i] + bias + add[i]) in place, each
// operation rounded to float32 in that order: the bias is added only when
// hasBias (adding 0 would turn -0 into +0), add[i] only when add is not
// nil (it has at least len(seg) elements).
func Finish(seg []float32, bias float32, hasBias bool, add []float32, a *Act) {
	if add != nil {
		add = add[:len(seg)]
	}
	if !hasBias {
		bias = negZero // x + -0 is x, for every x
	}
	lo, hi := bounds(a)
	finish(seg, seg, add, bias, lo, hi)
	if a.Kind == Func {
		a.Func(seg, seg)
	}
}

// FinishTile is Finish on the rows of a matrix in place: for r < rows,
// the cols elements of c from r·ldc, with the bias rowBias[r] (rowBias
// nil: none) and the elements of add from r·ldAdd (add nil: none); the
// slices hold what the rows need. A GEMM applies it to each finished
// tile.
func FinishTile(c []float32, ldc, rows, cols int, rowBias, add []float32, ldAdd int, a *Act) {
	FinishRows(c, ldc, c, ldc, rows, cols, rowBias, 1, add, ldAdd, a)
}

// FinishRows is Finish from one matrix into another: for r < rows,
// dst[r·ldd + j] = act(src[r·lds + j] + bias[r·biasStride] + add[r·ldAdd
// + j]) for j < cols, the bias left out when bias is nil (biasStride 0
// repeats bias[0] on every row) and add when it is nil. dst may be src
// (with the same stride). A convolution whose GEMM computes rows longer
// than the output's (padding columns) finishes them into the output so.
func FinishRows(dst []float32, ldd int, src []float32, lds, rows, cols int, bias []float32, biasStride int, add []float32, ldAdd int, a *Act) {
	if rows <= 0 || cols <= 0 {
		return
	}
	hasBias := bias != nil
	if !hasBias {
		bias, biasStride = noBias[:], 0
	}
	lo, hi := bounds(a)
	if lo == lo && hi == hi && a.Kind != Func &&
		finishRowsAsm(dst[:(rows-1)*ldd+cols], ldd, src[:(rows-1)*lds+cols], lds, rows, cols, bias[:(rows-1)*biasStride+1], biasStride,
			tileOf(add, rows, cols, ldAdd), ldAdd, lo, hi) {
		return
	}
	for r := range rows {
		var ar []float32
		if add != nil {
			ar = add[r*ldAdd : r*ldAdd+cols]
		}
		d := dst[r*ldd : r*ldd+cols]
		if &d[0] != &src[r*lds] {
			copy(d, src[r*lds:r*lds+cols])
		}
		Finish(d, bias[r*biasStride], hasBias, ar, a)
	}
}

// tileOf returns add cut to a rows×cols tile of row stride ld, or nil.
func tileOf(add []float32, rows, cols, ld int) []float32 {
	if add == nil {
		return nil
	}
	return add[:(rows-1)*ld+cols]
}

// bounds returns the clamp of an activation: -Inf, +Inf for none.
func bounds(a *Act) (lo, hi float32) {
	switch a.Kind {
	case Relu:
		return 0, inf
	case Clip:
		return a.Lo, a.Hi
	}
	return float32(math.Inf(-1)), inf
}

var (
	inf     = float32(math.Inf(1))
	negZero = float32(math.Copysign(0, -1))
	noBias  = [1]float32{negZero} // x + -0 is x
)

// minLen is the shortest slice the assembly kernels take: one 8-lane
// vector (the dispatchers run the generic code on shorter ones).
const minLen = 8

// finish is min(max(x[i] + bias + add[i], lo), hi) into d[i], add[i]
// only when add is not nil (bias -0 adds nothing; lo -Inf and hi +Inf
// clamp nothing), on the kernel family of cpufeat.Selected (d may be x).
func finish(d, x, add []float32, bias, lo, hi float32) {
	if len(d) >= minLen && lo == lo && hi == hi && finishAsm(d, x, add, bias, lo, hi) {
		return
	}
	finishGeneric(d, x, add, bias, lo, hi)
}

// zeroFixes returns what the assembly kernels apply after each clamp to
// get Go's min and max on signed zeros (the vector max of -0 and +0
// returns its second operand, -0; Go's max returns +0): +0 added after
// the max when lo is +0 (the result is then never -0), and the sign bit
// set after the min when hi is -0 (the result is then never +0); -0 added
// and 0 set do nothing.
func zeroFixes(lo, hi float32) (zfix float32, sfix uint32) {
	zfix = negZero
	if math.Float32bits(lo) == 0 {
		zfix = 0
	}
	if math.Float32bits(hi) == 0x80000000 {
		sfix = 0x80000000
	}
	return zfix, sfix
}

// family is the family finish runs (at any length): cpufeat.Selected
// where it has kernels.
func family(int) cpufeat.Impl {
	if s := cpufeat.Selected; hasAsm(s) {
		return s
	}
	return cpufeat.Generic
}
