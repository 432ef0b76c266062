//go:build gc && !purego

package vecmath

import (
	"math"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
)

// The NEON kernels (vecmath_arm64.s, written by hand): each is the generic
// kernel of the same name, operation for operation (FMLA where Go calls
// fma32, FMUL then FADD where it rounds the product), bit for bit. The element-wise ones
// take a multiple of 4 elements (Go does the rest); the reductions a
// multiple of 16, with lane i%16 in V20..V23. The constants come from
// neonConsts, built from the Go constants, so that the assembly cannot use
// other values than the specification.

// neonTable holds each constant of the kernels replicated in 4 lanes, at
// the offsets (index·16) the assembly's C_ names give, then GeluFast's
// coefficients as geluFastTab lays them out (C_GFTAB: power j's 8
// intervals at 32·j).
type neonTable [43 + 16][4]float32

var neonConsts = func() *neonTable {
	t := new(neonTable)
	for i, v := range []float32{
		expLo, expHi, log2e, ln2Hi, ln2Lo, expP0, expP1, expP2, expP3, expP4, expP5,
		1, math.Float32frombits(127), 2, 0.5, math.Float32frombits(signBit),
		erfSplit, erfMax, erfS0, erfS1, erfS2, erfS3, erfS4, erfS5,
		erfR0, erfR1, erfR2, erfR3, erfR4, erfR5, erfR6, erfR7, erfR8,
		tanhSplit, tanhQ0, tanhQ1, tanhQ2, tanhQ3, tanhQ4,
		invSqrt2, geluTanhC1, geluTanhC2, geluFastMax,
	} {
		t[i] = [4]float32{v, v, v, v}
	}
	for j, power := range geluFastTab {
		copy(t[43+2*j][:], power[:4])
		copy(t[44+2*j][:], power[4:])
	}
	return t
}()

//go:noescape
func expNEON(dst, x []float32, c *neonTable)

//go:noescape
func erfNEON(dst, x []float32, c *neonTable)

//go:noescape
func tanhNEON(dst, x []float32, c *neonTable)

//go:noescape
func sigmoidNEON(dst, x []float32, c *neonTable)

//go:noescape
func siluNEON(dst, x []float32, c *neonTable)

//go:noescape
func geluNEON(dst, x []float32, c *neonTable)

//go:noescape
func geluTanhNEON(dst, x []float32, c *neonTable)

//go:noescape
func geluFastNEON(dst, x []float32, c *neonTable)

//go:noescape
func addNEON(dst, a, b []float32)

//go:noescape
func subNEON(dst, a, b []float32)

//go:noescape
func mulNEON(dst, a, b []float32)

//go:noescape
func divNEON(dst, a, b []float32)

//go:noescape
func addScalarNEON(dst, a []float32, s float32)

//go:noescape
func subScalarNEON(dst, a []float32, s float32)

//go:noescape
func scalarSubNEON(dst, a []float32, s float32)

//go:noescape
func mulScalarNEON(dst, a []float32, s float32)

//go:noescape
func divScalarNEON(dst, a []float32, s float32)

//go:noescape
func scalarDivNEON(dst, a []float32, s float32)

//go:noescape
func maxNEON(acc *[lanes]float32, x []float32)

//go:noescape
func sumNEON(acc *[lanes]float32, x []float32)

//go:noescape
func sqDevNEON(acc *[lanes]float32, x []float32, m float32)

//go:noescape
func expSumNEON(acc *[lanes]float32, dst, x []float32, scale, shift float32, c *neonTable)

//go:noescape
func normNEON(dst, x, w, b []float32, m, s float32)

// coverLen: the element-wise kernels take multiples of 4 elements.
func coverLen(n int) int { return n &^ 3 }

func init() {
	const neon = cpufeat.NEON
	withConsts := func(k func(dst, x []float32, c *neonTable)) func(dst, x []float32) {
		return func(dst, x []float32) { k(dst, x, neonConsts) }
	}
	expK[neon], erfK[neon], tanhK[neon] = withConsts(expNEON), withConsts(erfNEON), withConsts(tanhNEON)
	sigmoidK[neon], siluK[neon] = withConsts(sigmoidNEON), withConsts(siluNEON)
	geluK[neon], geluTanhK[neon], geluFastK[neon] = withConsts(geluNEON), withConsts(geluTanhNEON), withConsts(geluFastNEON)
	addK[neon], subK[neon], mulK[neon], divK[neon] = addNEON, subNEON, mulNEON, divNEON
	addScalarK[neon], subScalarK[neon], scalarSubK[neon] = addScalarNEON, subScalarNEON, scalarSubNEON
	mulScalarK[neon], divScalarK[neon], scalarDivK[neon] = mulScalarNEON, divScalarNEON, scalarDivNEON
	normK[neon] = normNEON
}

// The reductions, called directly: each runs NEON on the whole blocks of
// 16 of x (when selected) and returns how many elements it did.

func maxBlocks(acc *[lanes]float32, x []float32) int {
	if cpufeat.Selected != cpufeat.NEON {
		return 0
	}
	n := len(x) &^ (lanes - 1)
	maxNEON(acc, x[:n])
	return n
}

func sumBlocks(acc *[lanes]float32, x []float32) int {
	if cpufeat.Selected != cpufeat.NEON {
		return 0
	}
	n := len(x) &^ (lanes - 1)
	sumNEON(acc, x[:n])
	return n
}

func sqDevBlocks(acc *[lanes]float32, x []float32, m float32) int {
	if cpufeat.Selected != cpufeat.NEON {
		return 0
	}
	n := len(x) &^ (lanes - 1)
	sqDevNEON(acc, x[:n], m)
	return n
}

func expSumBlocks(acc *[lanes]float32, dst, x []float32, scale, shift float32) int {
	if cpufeat.Selected != cpufeat.NEON {
		return 0
	}
	n := len(x) &^ (lanes - 1)
	expSumNEON(acc, dst[:n], x[:n], scale, shift, neonConsts)
	return n
}

// softmaxRow reports false: NEON runs Softmax kernel by kernel.
func softmaxRow(_, _ []float32, _ float32) bool { return false }

// normRow reports false: NEON runs LayerNorm kernel by kernel.
func normRow(_, _, _, _ []float32, _ float32) (mean, invStd float32, ok bool) { return 0, 0, false }
