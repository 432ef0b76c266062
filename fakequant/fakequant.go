package fakequant

import (
	"errors"
	"fmt"

	"github.com/tensorquant/tensorquant/tensor"
)

// Implementation returns the name of the kernel family this machine runs:
// "avx512", "avx2", "neon" or "generic". On a CPU that executes AVX-512 as
// two 256-bit halves (Zen 4), STE runs its AVX2 code on slices of 8 Mi
// elements and more, where it was the faster (BENCHMARKS.md).
func Implementation() string { return family(kFakeQuant, 0).String() }

// Errors that the checked functions wrap; test for them with errors.Is.
var (
	// ErrNegativeAmax: an amax element is negative.
	ErrNegativeAmax = errors.New("fakequant: negative value in amax")
	// ErrNegativeInput: an unsigned format met a negative input (-0.0 and
	// NaN are not negative).
	ErrNegativeInput = errors.New("fakequant: negative value in unsigned quantization")
)

// FakeQuant fake-quantizes src into dst with one amax for every element:
// dst[i] = clamp(roundHalfToEven(src[i]*scale), minBound, maxBound) / scale,
// scale = maxBound/amax (see the package doc for amax <= 2^-24 and NaN).
// It allocates nothing and does not check the sign of inputs for an
// unsigned f. dst may be src.
//
// Like every slice kernel, it panics on what only a program can get wrong:
// a dst shorter than src, an invalid f (Format.Validate) or a negative
// amax. FakeTensorQuant returns errors instead.
func FakeQuant(dst, src []float32, amax float32, f Format) {
	dst = fitDst(dst, len(src))
	mustKernelArgs(f, amax)
	lo, hi := f.Bounds()
	sq, so := scales(amax, hi, true)
	fakeQuant(dst, src, sq, so, lo, hi)
}

// QuantInt8 quantizes src to int8 codes in dst and returns the scale to
// divide them by (1 when amax <= 2^-24, as TensorQuant returns). f should be
// signed with NumBits <= 8; the bounds of a wider or unsigned format are
// saturated to [-128, 127]. NaN inputs give 0. It allocates nothing and,
// as FakeQuant, panics for a dst shorter than src, an invalid f or a
// negative amax. Dequant(QuantInt8(x)) equals FakeQuant(x) bit for bit,
// except that a -0.0 result comes back as +0.0.
func QuantInt8(dst []int8, src []float32, amax float32, f Format) (scale float32) {
	dst = fitDst(dst, len(src))
	mustKernelArgs(f, amax)
	lo, hi := f.Bounds()
	sq, so := scales(amax, hi, true)
	lo, hi = min(max(lo, -128), 127), min(max(hi, -128), 127)
	quantInt8(dst, src, sq, lo, hi)
	return so
}

// Dequant converts int8 codes back to float32: dst[i] = float32(src[i]) /
// scale, the division fake quantization does. It allocates nothing and
// panics if dst is shorter than src.
func Dequant(dst []float32, src []int8, scale float32) {
	dequantInt8(fitDst(dst, len(src)), src, scale)
}

// STE writes the straight-through gradient of fake quantization with one
// amax: dst[i] = dy[i] where |x[i]| <= amax (inclusive), else 0; a NaN x
// gives 0. dst may alias x or dy. It panics if dy or dst is shorter than x
// or amax is negative.
func STE(dst, x, dy []float32, amax float32) {
	if len(dy) < len(x) {
		panic(fmt.Sprintf("fakequant: STE with %d gradients for %d inputs", len(dy), len(x)))
	}
	if err := checkIntAmax([]float32{amax}); err != nil {
		panic(err)
	}
	ste(fitDst(dst, len(x)), x, dy[:len(x)], amax)
}

// FakeQuantPerChannel fake-quantizes src laid out as [outer][C][inner], with
// C = len(amax) and amax[c] the amax of channel c: the walk that Conv
// weights (axis 0: outer = 1), ConvTranspose weights (axis 1) and Linear rows
// need, without a broadcast amax in memory. As in the original, if no amax
// is NaN, channels with amax <= 2^-24 quantize to zero. dst may be src.
//
// It returns an error for an invalid f, if amax is empty, inner < 1,
// len(src) is not a multiple of len(amax)*inner, or dst is shorter than
// src, and for a negative amax element (ErrNegativeAmax, naming its index).
func FakeQuantPerChannel(dst, src, amax []float32, inner int, f Format) error {
	if err := f.Validate(); err != nil {
		return err
	}
	c := len(amax)
	if c == 0 || inner < 1 || len(src)%(c*inner) != 0 {
		return fmt.Errorf("fakequant: per-channel layout of %d elements does not split into [outer][%d][%d]", len(src), c, inner)
	}
	if len(dst) < len(src) {
		return fmt.Errorf("fakequant: per-channel dst of %d elements for %d inputs", len(dst), len(src))
	}
	if err := checkIntAmax(amax); err != nil {
		return err
	}
	lo, hi := f.Bounds()
	masking := maskingFor(amax)
	if inner >= runMin {
		for r, ch := 0, 0; r < len(src); r += inner {
			sq, so := scales(amax[ch], hi, masking)
			fakeQuant(dst[r:r+inner], src[r:r+inner], sq, so, lo, hi)
			if ch++; ch == c {
				ch = 0
			}
		}
		return nil
	}
	// Short runs: lay the scales of one [C][inner] slab out once and reuse
	// them for every outer index.
	slab := c * inner
	sq, so := make([]float32, slab), make([]float32, slab)
	for ch, a := range amax {
		s, t := scales(a, hi, masking)
		for i := ch * inner; i < (ch+1)*inner; i++ {
			sq[i], so[i] = s, t
		}
	}
	for r := 0; r < len(src); r += slab {
		fakeQuantVec(dst[r:r+slab], src[r:r+slab], sq, so, lo, hi)
	}
	return nil
}

// runMin is the shortest run of elements sharing one amax that is worth a
// kernel call of its own; shorter runs go through the per-element kernel.
const runMin = 8

func fitDst[T any](dst []T, n int) []T {
	if len(dst) < n {
		panic(fmt.Sprintf("fakequant: dst has %d elements for %d inputs", len(dst), n))
	}
	return dst[:n]
}

// mustKernelArgs panics for an invalid format or a negative amax: the
// slice kernels' programmer errors.
func mustKernelArgs(f Format, amax float32) {
	if err := f.Validate(); err != nil {
		panic(err)
	}
	if err := checkIntAmax([]float32{amax}); err != nil {
		panic(err)
	}
}

// checkIntAmax is the amax check of integer quantization (as the
// original's "Negative values in amax"): it returns ErrNegativeAmax naming
// the first negative element. NaN and +Inf pass: the original quantizes
// with them (NaN everywhere, or 0/0).
func checkIntAmax(amax []float32) error {
	for i, a := range amax {
		if a < 0 {
			return fmt.Errorf("%w: amax %v at flat index %d", ErrNegativeAmax, a, i)
		}
	}
	return nil
}

// TensorQuant quantizes x with amax broadcast against it (NumPy rules)
// and returns the integer-valued float32 codes q and scale =
// maxBound/amax, shaped like amax (1 where amax <= 2^-24). q has the shape
// of x and amax broadcast together: x's own, unless amax has more
// dimensions or a dimension where x has 1, which grows it as in the
// original (x*scale). The original's function default is narrow range;
// set f.NarrowRange to get it.
//
// It returns an error for an invalid tensor or format, shapes that do not
// broadcast, a negative amax element (ErrNegativeAmax) or, with an unsigned
// format, a negative input (ErrNegativeInput); each names the offending
// value. A NaN amax is not an error here: it yields NaN, as in the original.
func TensorQuant(x, amax *tensor.Tensor, f Format) (q, scale *tensor.Tensor, err error) {
	p, x, err := newPlan(x, amax, f)
	if err != nil {
		return nil, nil, err
	}
	q = tensor.New(x.Shape...)
	ones := make([]float32, len(p.sq))
	for i := range ones {
		ones[i] = 1
	}
	p.apply(q.Data, x.Data, p.sq, ones)
	scale = tensor.New(amax.Shape...)
	copy(scale.Data, p.so)
	return q, scale, nil
}

// FakeTensorQuant fake-quantizes x with amax broadcast against it: the
// dequantized float32 values q/scale, shaped as TensorQuant's q, as the
// original's fake_tensor_quant computes them on CPU (on a GPU its CUDA
// extension ignores narrow_range, applies a last-dimension amax along axis
// 0 and treats amax 2^-24 and NaN differently: see the package doc).
// Errors are those of TensorQuant.
func FakeTensorQuant(x, amax *tensor.Tensor, f Format) (*tensor.Tensor, error) {
	p, x, err := newPlan(x, amax, f)
	if err != nil {
		return nil, err
	}
	out := tensor.New(x.Shape...)
	p.apply(out.Data, x.Data, p.sq, p.so)
	return out, nil
}

// STEGrad returns the gradient of FakeTensorQuant (and TensorQuant) with
// respect to x: dy where |x| <= amax (inclusive, amax broadcast), else 0.
// dy has the shape of FakeTensorQuant's result; where amax grew x's shape,
// the gradient is summed back to x's shape (float32, in row-major order),
// as autograd does for the original.
//
// It returns an error for invalid tensors, amax not broadcasting with x, a
// negative amax element (ErrNegativeAmax), or dy of another shape than the
// result.
func STEGrad(x, amax, dy *tensor.Tensor) (*tensor.Tensor, error) {
	xb, b, err := checkPair(x, amax)
	if err != nil {
		return nil, err
	}
	if err := checkIntAmax(amax.Data); err != nil {
		return nil, err
	}
	if err := dy.Validate(); err != nil {
		return nil, fmt.Errorf("fakequant: gradient: %w", err)
	}
	if !tensor.SameShape(xb.Shape, dy.Shape) {
		return nil, fmt.Errorf("fakequant: gradient shape %v does not match the output shape %v", dy.Shape, xb.Shape)
	}
	out := tensor.New(xb.Shape...)
	b.runs(len(xb.Data), func(start, end, a int) {
		ste(out.Data[start:end], xb.Data[start:end], dy.Data[start:end], amax.Data[a])
	}, func(i, a int) {
		steGeneric(out.Data[i:i+1], xb.Data[i:i+1], dy.Data[i:i+1], amax.Data[a])
	})
	if xb != x {
		return sumTo(out, x.Shape), nil
	}
	return out, nil
}

// plan is a validated quantization: bounds and one scale pair per amax
// element, and how amax broadcasts over x.
type plan struct {
	lo, hi float32
	sq, so []float32
	b      broadcast
}

// checkPair validates an input and its amax and returns the input
// broadcast to their common shape (x itself unless amax grows it) and how
// amax broadcasts over that.
func checkPair(x, amax *tensor.Tensor) (*tensor.Tensor, broadcast, error) {
	if err := x.Validate(); err != nil {
		return nil, broadcast{}, fmt.Errorf("fakequant: input: %w", err)
	}
	if err := amax.Validate(); err != nil {
		return nil, broadcast{}, fmt.Errorf("fakequant: amax: %w", err)
	}
	out, err := tensor.BroadcastShapes(x.Shape, amax.Shape)
	if err != nil {
		return nil, broadcast{}, fmt.Errorf("fakequant: amax does not broadcast to the input: %w", err)
	}
	if !tensor.SameShape(out, x.Shape) {
		x = expandTo(x, out)
	}
	return x, newBroadcast(x.Shape, amax.Shape), nil
}

// newPlan validates a quantization and returns its plan and the input
// broadcast to the result's shape.
func newPlan(x, amax *tensor.Tensor, f Format) (*plan, *tensor.Tensor, error) {
	if err := f.Validate(); err != nil {
		return nil, nil, err
	}
	x, b, err := checkPair(x, amax)
	if err != nil {
		return nil, nil, err
	}
	if f.Unsigned {
		for i, v := range x.Data {
			if v < 0 {
				return nil, nil, fmt.Errorf("%w: input %v at flat index %d (%s)", ErrNegativeInput, v, i, f)
			}
		}
	}
	if err := checkIntAmax(amax.Data); err != nil {
		return nil, nil, err
	}
	p := &plan{b: b, sq: make([]float32, len(amax.Data)), so: make([]float32, len(amax.Data))}
	p.lo, p.hi = f.Bounds()
	masking := maskingFor(amax.Data)
	for i, a := range amax.Data {
		p.sq[i], p.so[i] = scales(a, p.hi, masking)
	}
	return p, x, nil
}

// expandTo returns x broadcast to shape (a valid broadcast of x.Shape),
// its elements repeated.
func expandTo(x *tensor.Tensor, shape []int) *tensor.Tensor {
	out := tensor.New(shape...)
	st := tensor.BroadcastStrides(x.Shape, shape)
	walk(shape, st, func(i, src int) { out.Data[i] = x.Data[src] })
	return out
}

// sumTo returns g summed over the dimensions along which shape (a shape
// that broadcasts to g's) was expanded, in row-major order of g.
func sumTo(g *tensor.Tensor, shape []int) *tensor.Tensor {
	out := tensor.New(shape...)
	st := tensor.BroadcastStrides(shape, g.Shape)
	walk(g.Shape, st, func(i, dst int) { out.Data[dst] += g.Data[i] })
	return out
}

// walk calls f(i, j) for every flat index i of shape, in order, with j the
// index that strides map it to.
func walk(shape, strides []int, f func(i, j int)) {
	n, _ := tensor.NumelOf(shape)
	idx := make([]int, len(shape))
	j := 0
	for i := range n {
		f(i, j)
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			j += strides[d]
			if idx[d] < shape[d] {
				break
			}
			j -= idx[d] * strides[d]
			idx[d] = 0
		}
	}
}

// apply runs the kernels over x with the scale pairs sq (before rounding)
// and so (divided by after).
func (p *plan) apply(dst, src, sq, so []float32) {
	if len(sq) == 1 {
		fakeQuant(dst, src, sq[0], so[0], p.lo, p.hi)
		return
	}
	var vsq, vso []float32
	p.b.runs(len(src), func(start, end, a int) {
		fakeQuant(dst[start:end], src[start:end], sq[a], so[a], p.lo, p.hi)
	}, func(i, a int) {
		if vsq == nil {
			vsq, vso = make([]float32, len(src)), make([]float32, len(src))
		}
		vsq[i], vso[i] = sq[a], so[a]
	})
	if vsq != nil {
		fakeQuantVec(dst, src, vsq, vso, p.lo, p.hi)
	}
}

// broadcast maps an amax shape onto an input shape: the input splits into
// runs of inner contiguous elements that share one amax element, found by
// walking the leading dimensions with amax's broadcast strides.
type broadcast struct {
	lead    []int
	strides []int
	inner   int
	scalar  bool
}

// newBroadcast returns how amax (shape aShape) broadcasts over an input of
// shape xShape, which their broadcast does not grow.
func newBroadcast(xShape, aShape []int) broadcast {
	n, _ := tensor.NumelOf(aShape)
	aligned := make([]int, len(xShape))
	for i := range aligned {
		aligned[i] = 1
		if j := i - (len(xShape) - len(aShape)); j >= 0 {
			aligned[i] = aShape[j]
		}
	}
	lead, inner := len(xShape), 1
	for lead > 0 && aligned[lead-1] == 1 {
		lead--
		inner *= xShape[lead]
	}
	return broadcast{
		lead:    xShape[:lead],
		strides: tensor.BroadcastStrides(aligned[:lead], xShape[:lead]),
		inner:   inner,
		scalar:  n == 1,
	}
}

// runs calls run(start, end, amaxIndex) for each run when runs are long
// enough for a kernel call, else elem(i, amaxIndex) for every element.
func (b broadcast) runs(n int, run func(start, end, a int), elem func(i, a int)) {
	if b.scalar {
		run(0, n, 0)
		return
	}
	if b.inner == 0 {
		return
	}
	walk(b.lead, b.strides, func(row, a int) {
		start := row * b.inner
		if b.inner >= runMin {
			run(start, start+b.inner, a)
			return
		}
		for i := start; i < start+b.inner; i++ {
			elem(i, a)
		}
	})
}
