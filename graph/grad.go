package graph

import (
	"fmt"
	"slices"

	"github.com/tensorquant/tensorquant/onnx"
)

// Differentiable is implemented by the ops a Trainer can train through:
// the reverse-mode derivative of Run, in the op_*_grad.go files beside
// the ops.
//
// Backward gets the inputs and outputs of a forward Run (unchanged: the
// training executor never lets an op overwrite an input), the gradients
// of a scalar loss with respect to the outputs (dOut[i] nil when no
// gradient reaches output i: it is zero) and needs, which says which
// inputs' gradients the caller wants. It returns one gradient per input
// of the input's shape, allocated through ctx, nil where needs is false
// and where the input has none (an integer input: a shape, indices). The
// gradient of a FLOAT input is FLOAT, of a DOUBLE input DOUBLE; the codes
// of a QuantizeLinear carry the gradient of the value they stand for,
// as a FLOAT tensor (see the QuantizeLinear and DequantizeLinear
// backward: a pair has the straight-through gradient of the original
// toolkit). A returned gradient may share memory with a dOut (a
// reshape's gradient is its output gradient reshaped), never with an
// input or output of the forward run.
//
// Backward must be safe for concurrent use, as Run is. It returns an
// error for inputs it cannot differentiate, naming the offending type,
// shape or value.
type Differentiable interface {
	Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error)
}

// gradless is implemented by the Differentiable ops that have no
// gradient for some attributes: noGrad returns the error their Backward
// would return, or nil. NewTrainer asks before it trains.
type gradless interface {
	noGrad() error
}

// gradFor returns a tensor for the gradient of x, FLOAT (DOUBLE for a
// DOUBLE x), of x's shape, whose contents are unspecified.
func gradFor(ctx *Ctx, x *Tensor) (*Tensor, error) {
	if x.DType == onnx.Double {
		return ctx.Alloc(onnx.Double, x.Shape...)
	}
	return ctx.Alloc(onnx.Float, x.Shape...)
}

// zerosFor is gradFor filled with zeros.
func zerosFor(ctx *Ctx, x *Tensor) (*Tensor, error) {
	if x.DType == onnx.Double {
		return ctx.Zeros(onnx.Double, x.Shape...)
	}
	return ctx.Zeros(onnx.Float, x.Shape...)
}

// checkGradType returns an error unless the gradient g is FLOAT or
// DOUBLE like x and holds as many elements.
func checkGradType(g, x *Tensor) error {
	want := onnx.Float
	if x.DType == onnx.Double {
		want = onnx.Double
	}
	if g.DType != want || g.Len() != x.Len() {
		return fmt.Errorf("output gradient %v for a value %v", g, x)
	}
	return nil
}

// floatGrads returns an error unless every non-nil dOut matches its
// output (checkGradType).
func floatGrads(out, dOut []*Tensor) error {
	if len(dOut) != len(out) {
		return fmt.Errorf("%d output gradients for %d outputs", len(dOut), len(out))
	}
	for i, g := range dOut {
		if g != nil && out[i] != nil {
			if err := checkGradType(g, out[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// gradArgs checks a Backward's arguments: at least n inputs, and an
// output gradient of its output's type and size for every output one
// reaches (floatGrads).
func gradArgs(in, out, dOut []*Tensor, n int) error {
	if err := need(in, n); err != nil {
		return err
	}
	return floatGrads(out, dOut)
}

// wants reports whether input i's gradient is wanted.
func wants(need []bool, i int) bool { return i < len(need) && need[i] }

// sumTo returns g (a FLOAT or DOUBLE gradient of a broadcast result)
// summed over the dimensions along which a value of shape shape was
// broadcast to g's shape, with shape: the gradient of that value. The
// sums accumulate in float64 in the order of g's elements. When shape
// has g's elements it returns g itself, reshaped.
func sumTo(ctx *Ctx, g *Tensor, shape []int) (*Tensor, error) {
	if prod(shape) == g.Len() {
		return view(g, slices.Clone(shape)), nil
	}
	if len(shape) > len(g.Shape) {
		return nil, fmt.Errorf("a gradient of shape %v does not reduce to shape %v", g.Shape, shape)
	}
	out, err := ctx.Alloc(g.DType, shape...)
	if err != nil {
		return nil, err
	}
	st := broadcastStrides(shape, g.Shape)
	for i, d := range shape {
		if o := g.Shape[len(g.Shape)-len(shape)+i]; d != 1 && d != o {
			return nil, fmt.Errorf("a gradient of shape %v does not reduce to shape %v", g.Shape, shape)
		}
	}
	if g.DType == onnx.Double {
		sumStrided(out.F64, g.F64, g.Shape, st)
	} else {
		sumStrided(out.F32, g.F32, g.Shape, st)
	}
	return out, nil
}

// sumStrided sets dst[j] to the float64 sum of the elements of src
// (shape shape, row major) whose index maps to j through strides (0
// along the summed dimensions).
func sumStrided[T float32 | float64](dst, src []T, shape, strides []int) {
	acc := make([]float64, len(dst))
	if len(src) > 0 {
		r := len(shape)
		last, lastStride := 1, 0
		if r > 0 {
			last, lastStride = shape[r-1], strides[r-1]
		}
		idx := make([]int, max(r-1, 0))
		off := 0
		for at := 0; at < len(src); at += last {
			row := src[at : at+last]
			if lastStride == 0 {
				var s float64
				for _, v := range row {
					s += float64(v)
				}
				acc[off] += s
			} else {
				a := acc[off : off+last]
				for j, v := range row {
					a[j] += float64(v)
				}
			}
			for k := len(idx) - 1; k >= 0; k-- {
				idx[k]++
				off += strides[k]
				if idx[k] < shape[k] {
					break
				}
				off -= strides[k] * shape[k]
				idx[k] = 0
			}
		}
	}
	for j, s := range acc {
		dst[j] = T(s)
	}
}

// addInto adds src to dst element by element (both FLOAT or both
// DOUBLE, of one length).
func addInto(dst, src *Tensor) {
	if dst.DType == onnx.Double {
		addK(dst.F64, dst.F64, src.F64)
		return
	}
	addK(dst.F32, dst.F32, src.F32)
}

// free gives a buffer an op allocated through c, and no longer uses,
// back to the run's pool.
func (c *Ctx) free(t *Tensor) {
	c.arena.put(t)
	c.live.Add(-t.bytes())
}
