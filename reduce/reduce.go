package reduce

import (
	"fmt"
	"math"

	"github.com/tensorquant/tensorquant/tensor"
)

// Implementation returns the name of the kernel family AbsMax runs on this
// machine: "avx512", "avx2", "neon" or "generic". On a CPU that executes
// AVX-512 as two 256-bit halves (Zen 4), slices of 8 Mi elements and more
// run the AVX2 kernel (BENCHMARKS.md).
func Implementation() string { return family(0).String() }

// quietNaN is the one NaN every reduction returns, whatever NaN it met, so
// that all implementations agree bit for bit.
var quietNaN = math.Float32frombits(0x7fc00000)

// AbsMax returns max(|x[i]|) over x, or 0 for an empty slice. If any element
// is NaN the result is NaN (always the quiet NaN 0x7fc00000).
func AbsMax(x []float32) float32 { return absMax(x) }

// MinMax returns the smallest and largest element of x. If any element is NaN
// both are NaN; for an empty slice they are +Inf and -Inf, the identities of
// min and max. Between -0 and +0 the first one met wins.
func MinMax(x []float32) (lo, hi float32) {
	lo, hi = float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range x {
		if v != v {
			return quietNaN, quietNaN
		}
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return lo, hi
}

// Amax returns the abs-max of x over every axis not in keepAxes, keeping the
// reduced dimensions as size 1 (keepdims), so the result broadcasts against
// x: keepAxes []int{0} on a (10, 9, 8, 7) tensor gives shape (10, 1, 1, 1),
// and an empty keepAxes gives the per-tensor amax with every dimension 1.
// Negative axes count from the end. A group that contains a NaN reduces to
// NaN; an empty group reduces to 0.
//
// It returns an error for an invalid tensor and for an axis that is out of
// range or given twice.
func Amax(x *tensor.Tensor, keepAxes []int) (*tensor.Tensor, error) {
	if err := x.Validate(); err != nil {
		return nil, err
	}
	rank := len(x.Shape)
	keep := make([]bool, rank)
	for _, a := range keepAxes {
		n, err := tensor.NormalizeAxis(a, rank)
		if err != nil {
			return nil, fmt.Errorf("reduce: amax of shape %v: %w", x.Shape, err)
		}
		if keep[n] {
			return nil, fmt.Errorf("reduce: amax of shape %v: axis %d given twice", x.Shape, a)
		}
		keep[n] = true
	}
	outShape := make([]int, rank)
	for i, d := range x.Shape {
		outShape[i] = 1
		if keep[i] {
			outShape[i] = d
		}
	}
	out := tensor.New(outShape...)
	if len(x.Data) == 0 {
		return out, nil
	}
	// Trailing axes that are all reduced form contiguous runs of inner
	// elements that share one output element.
	inner, lead := 1, rank
	for lead > 0 && !keep[lead-1] {
		lead--
		inner *= x.Shape[lead]
	}
	if lead == 0 {
		out.Data[0] = absMax(x.Data)
		return out, nil
	}
	outStrides := tensor.BroadcastStrides(outShape[:lead], x.Shape[:lead])
	if inner < 16 {
		amaxElementwise(out.Data, x.Data, x.Shape[:lead], outStrides, inner)
		return out, nil
	}
	idx := make([]int, lead)
	o := 0
	for r := 0; r < len(x.Data); r += inner {
		out.Data[o] = maxNaN(out.Data[o], absMax(x.Data[r:r+inner]))
		o = step(idx, x.Shape[:lead], outStrides, o)
	}
	return out, nil
}

// amaxElementwise is Amax for short runs: it folds each element straight into
// its output element instead of calling the kernel per run.
func amaxElementwise(out, x []float32, shape, outStrides []int, inner int) {
	idx := make([]int, len(shape))
	o := 0
	for r := 0; r < len(x); r += inner {
		for _, v := range x[r : r+inner] {
			out[o] = maxNaN(out[o], float32(math.Abs(float64(v))))
		}
		o = step(idx, shape, outStrides, o)
	}
}

// step advances the odometer idx over shape and returns the output offset
// moved by strides accordingly.
func step(idx, shape, strides []int, off int) int {
	for d := len(idx) - 1; d >= 0; d-- {
		idx[d]++
		off += strides[d]
		if idx[d] < shape[d] {
			return off
		}
		off -= idx[d] * strides[d]
		idx[d] = 0
	}
	return off
}

// maxNaN is max that propagates NaN as the quiet NaN.
func maxNaN(a, b float32) float32 {
	if a != a || b != b {
		return quietNaN
	}
	return max(a, b)
}
