package vecmath

import (
	"math"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
)

// The kernel tables: one entry per kernel family (indexed by cpufeat.Impl),
// nil where the family has no assembly for the kernel; the per-architecture
// files fill them. An element-wise assembly kernel covers the first
// coverLen(n) elements of a slice of n (per architecture), the generic
// code the rest. The reductions are called directly (maxBlocks ..., per
// architecture), so that their accumulator stays on the stack: each covers
// whole blocks of 16 elements and returns how many, and the generic code
// adds the rest to the same lanes.
const numImpls = int(cpufeat.NEON) + 1

type (
	unaryKernels  [numImpls]func(dst, x []float32)
	binaryKernels [numImpls]func(dst, a, b []float32)
	scalarKernels [numImpls]func(dst, a []float32, s float32)
	normKernels   [numImpls]func(dst, x, w, b []float32, m, s float32)
)

// The tables; the assembly files of each architecture fill them in init.
var (
	expK, erfK, tanhK, sigmoidK, siluK, geluK, geluTanhK unaryKernels
	geluFastK                                            unaryKernels
	addK, subK, mulK, divK                               binaryKernels
	addScalarK, subScalarK, scalarSubK                   scalarKernels
	mulScalarK, divScalarK, scalarDivK                   scalarKernels
	normK                                                normKernels
)

// cover returns how many leading elements of an n-element slice an
// element-wise assembly kernel computes: coverLen(n), or none when there
// is no kernel (has false).
func cover(has bool, n int) int {
	if !has {
		return 0
	}
	return coverLen(n)
}

func unary(k *unaryKernels, generic func(dst, x []float32), dst, x []float32) {
	dst = dst[:len(x)]
	f := k[cpufeat.Selected]
	n := cover(f != nil, len(x))
	if n > 0 {
		f(dst[:n], x[:n])
	}
	generic(dst[n:], x[n:])
}

func binary(k *binaryKernels, generic func(dst, a, b []float32), dst, a, b []float32) {
	dst, b = dst[:len(a)], b[:len(a)]
	f := k[cpufeat.Selected]
	n := cover(f != nil, len(a))
	if n > 0 {
		f(dst[:n], a[:n], b[:n])
	}
	generic(dst[n:], a[n:], b[n:])
}

func scalar(k *scalarKernels, generic func(dst, a []float32, s float32), dst, a []float32, s float32) {
	dst = dst[:len(a)]
	f := k[cpufeat.Selected]
	n := cover(f != nil, len(a))
	if n > 0 {
		f(dst[:n], a[:n], s)
	}
	generic(dst[n:], a[n:], s)
}

// Exp sets dst[i] = e^x[i] for every element of x; dst must be at least as
// long as x, and may be x. Error: at most 1.01 ulp; +Inf above
// 88.72, 0 below -103.97 (subnormal results in between are rounded once),
// NaN for NaN.
func Exp(dst, x []float32) { unary(&expK, expGeneric, dst, x) }

// Erf sets dst[i] = erf(x[i]), like Exp. Error: at most 1.4 ulp; ±1 beyond
// ±3.92, where erf rounds to ±1; erf(-0) = -0.
func Erf(dst, x []float32) { unary(&erfK, erfGeneric, dst, x) }

// Tanh sets dst[i] = tanh(x[i]), like Exp. Error: at most 1.4 ulp;
// tanh(-0) = -0.
func Tanh(dst, x []float32) { unary(&tanhK, tanhGeneric, dst, x) }

// Sigmoid sets dst[i] = 1/(1 + e^-x[i]), like Exp. Error: at most 2.4 ulp,
// subnormal results of large negative x included.
func Sigmoid(dst, x []float32) { unary(&sigmoidK, sigmoidGeneric, dst, x) }

// SiLU sets dst[i] = x[i]·sigmoid(x[i]) (Swish), like Exp. Error: at most
// 3 ulp for x > -87, below 2^-126 beyond; NaN for -Inf, as x·sigmoid(x)
// computes it.
func SiLU(dst, x []float32) { unary(&siluK, siluGeneric, dst, x) }

// Gelu sets dst[i] = x[i]/2·(1 + erf(x[i]/√2)) (ONNX Gelu, approximate
// "none"), like Exp. Error: at most 3.2 ulp for x >= -1.3; relative error
// below 4e-6 for -5.65 <= x < -1.3, where 1 + erf is computed as erfc
// without cancellation; below -5.65 (|result| < 4.4e-8) the result is -0.
// NaN for -Inf, as the formula computes it.
func Gelu(dst, x []float32) { unary(&geluK, geluGeneric, dst, x) }

// GeluTanh sets dst[i] = x[i]/2·(1 + tanh(√(2/π)·(x[i] + 0.044715·x[i]³)))
// (ONNX Gelu, approximate "tanh"), computed as x·sigmoid(2·√(2/π)·(x +
// 0.044715·x³)), like Exp. Error: at most 3 ulp for x >= -1; below,
// relative error under 2e-5 (the rounding of the argument, |x|³ large,
// carried into an exponential), and under 2^-126 where the result is
// subnormal.
func GeluTanh(dst, x []float32) { unary(&geluTanhK, geluTanhGeneric, dst, x) }

// GeluFast sets dst[i] to the Gelu of x[i] (approximate "none"), like Exp,
// within an absolute error of 1e-7 for x < 2 (5e-8 of its polynomials
// plus the rounding of the result) and 0.6 ulp from 2 on: a piecewise
// polynomial without exponential, about three times as fast as Gelu, for
// values whose precision is an absolute one (values about to be
// quantized, in steps far larger than 1e-7). Its relative error is large
// where the result is tiny (x < -3), unlike Gelu's. GeluFast(±0) = +0;
// -Inf gives a value within 5e-8 of 0; NaN gives NaN.
func GeluFast(dst, x []float32) { unary(&geluFastK, geluFastGeneric, dst, x) }

// Max returns the largest element of x that is not NaN, -Inf if there is
// none. Between ±0 the result depends on where they stand: element i goes
// to lane i%16, a lane keeps the first of its equal largest values, and
// the lanes are folded pairwise with Go's max (+0 above -0; lane j with
// lane j+w for w = 8, 4, 2, 1).
func Max(x []float32) float32 {
	acc := [lanes]float32{}
	for i := range acc {
		acc[i] = float32(math.Inf(-1))
	}
	n := maxBlocks(&acc, x)
	maxGeneric(&acc, x[n:])
	return maxFold16(&acc)
}

// Sum returns the sum of x, accumulated in 16 lanes (element i in lane
// i%16, each lane in order from +0) and folded pairwise (lane j += lane
// j+w for w = 8, 4, 2, 1): the same bits on every kernel family.
func Sum(x []float32) float32 {
	var acc [lanes]float32
	n := sumBlocks(&acc, x)
	sumGeneric(&acc, x[n:])
	return fold16(&acc)
}

// Softmax sets dst[i] = e^(scale·x[i] - m) / Σ_j e^(scale·x[j] - m) for m =
// scale·Max(x): the softmax of scale·x, for a positive scale (the 1/√d of
// attention). The exponentials are summed as Sum does, and multiplied by
// the reciprocal of the sum. dst must be at least as long as x, and may be
// x. A NaN or +Inf element, or a row of -Inf, makes every output NaN.
// Error: relative, at most 2.5·2^-23·(1 + max|scale·x|) (the rounding of
// scale·x carried into the exponentials), measured on rows of up to 512
// elements (TestRowAccuracy: 1.8).
func Softmax(dst, x []float32, scale float32) {
	dst = dst[:len(x)]
	if softmaxRow(dst, x, scale) {
		return
	}
	shift := float32(scale * Max(x))
	var acc [lanes]float32
	n := expSumBlocks(&acc, dst, x, scale, shift)
	expSumGeneric(&acc, dst[n:], x[n:], scale, shift)
	MulScalar(dst, dst, 1/fold16(&acc))
}

// LayerNorm normalises x into dst: dst[i] = ((x[i] - mean)·invStd)·w[i] +
// b[i], with mean = Sum(x)/n, the variance Σ(x[i] - mean)²/n (summed as Sum
// does) and invStd = 1/sqrt(variance + eps), all in float32; it returns
// mean and invStd. w and b must be as long as x; b may be nil (no bias). dst
// must be at least as long as x, and may be x. Error: at most
// 2.5·2^-23·((|x[i]| + Σ|x|/n)·invStd·|w[i]| + |b[i]|) (the rounding of the
// sums, carried by x[i] - mean), measured on rows of up to 512 elements
// (TestRowAccuracy: 2.4).
func LayerNorm(dst, x, w, b []float32, eps float32) (mean, invStd float32) {
	dst, w = dst[:len(x)], w[:len(x)]
	if b != nil {
		if mean, invStd, ok := normRow(dst, x, w, b[:len(x)], eps); ok {
			return mean, invStd
		}
	}
	n := float32(len(x))
	mean = Sum(x) / n
	var acc [lanes]float32
	k := sqDevBlocks(&acc, x, mean)
	sqDevGeneric(&acc, x[k:], mean)
	invStd = 1 / float32(math.Sqrt(float64(fold16(&acc)/n+eps)))
	if b == nil {
		for i, v := range x {
			dst[i] = float32(float32((v-mean)*invStd) * w[i])
		}
		return mean, invStd
	}
	b = b[:len(x)]
	g := normK[cpufeat.Selected]
	k = cover(g != nil, len(x))
	if k > 0 {
		g(dst[:k], x[:k], w[:k], b[:k], mean, invStd)
	}
	normGeneric(dst[k:], x[k:], w[k:], b[k:], mean, invStd)
	return mean, invStd
}

// Add sets dst[i] = a[i] + b[i]; b and dst must be at least as long as a,
// and dst may be a or b. Sub, Mul and Div are the same with -, · and /.
func Add(dst, a, b []float32) { binary(&addK, addGeneric, dst, a, b) }

// Sub sets dst[i] = a[i] - b[i], like Add.
func Sub(dst, a, b []float32) { binary(&subK, subGeneric, dst, a, b) }

// Mul sets dst[i] = a[i]·b[i], like Add.
func Mul(dst, a, b []float32) { binary(&mulK, mulGeneric, dst, a, b) }

// Div sets dst[i] = a[i]/b[i], like Add.
func Div(dst, a, b []float32) { binary(&divK, divGeneric, dst, a, b) }

// AddScalar sets dst[i] = a[i] + s; dst must be at least as long as a, and
// may be a. SubScalar, ScalarSub, MulScalar, DivScalar and ScalarDiv are
// the same with a[i] - s, s - a[i], a[i]·s, a[i]/s and s/a[i].
func AddScalar(dst, a []float32, s float32) { scalar(&addScalarK, addScalarGeneric, dst, a, s) }

// SubScalar sets dst[i] = a[i] - s, like AddScalar.
func SubScalar(dst, a []float32, s float32) { scalar(&subScalarK, subScalarGeneric, dst, a, s) }

// ScalarSub sets dst[i] = s - a[i], like AddScalar.
func ScalarSub(dst, a []float32, s float32) { scalar(&scalarSubK, scalarSubGeneric, dst, a, s) }

// MulScalar sets dst[i] = a[i]·s, like AddScalar.
func MulScalar(dst, a []float32, s float32) { scalar(&mulScalarK, mulScalarGeneric, dst, a, s) }

// DivScalar sets dst[i] = a[i]/s, like AddScalar.
func DivScalar(dst, a []float32, s float32) { scalar(&divScalarK, divScalarGeneric, dst, a, s) }

// ScalarDiv sets dst[i] = s/a[i], like AddScalar.
func ScalarDiv(dst, a []float32, s float32) { scalar(&scalarDivK, scalarDivGeneric, dst, a, s) }

// family is the kernel family the exported functions run on n elements
// (every length alike): cpufeat.Selected where it has assembly, else
// Generic.
func family(int) cpufeat.Impl {
	if expK[cpufeat.Selected] != nil {
		return cpufeat.Selected
	}
	return cpufeat.Generic
}
