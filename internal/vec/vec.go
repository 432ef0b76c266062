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

// ReluTo writes max(x[i], 0) to d[i] (x at least as long as d; d may be
// x).
func ReluTo(d, x []float32) {
	x = x[:len(d)]
	finish(d, x, nil, negZero, 0, inf)
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
	lo, hi := float32(math.Inf(-1)), inf
	switch a.Kind {
	case Relu:
		lo = 0
	case Clip:
		lo, hi = a.Lo, a.Hi
	}
	finish(seg, seg, add, bias, lo, hi)
	if a.Kind == Func {
		a.Func(seg, seg)
	}
}

var (
	inf     = float32(math.Inf(1))
	negZero = float32(math.Copysign(0, -1))
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

// implName names the family finish runs for cpufeat.Selected.
func implName() string {
	if s := cpufeat.Selected; hasAsm(s) {
		return s.String()
	}
	return cpufeat.Generic.String()
}
