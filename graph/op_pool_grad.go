package graph

import (
	"fmt"
	"math"

	"github.com/tensorquant/tensorquant/internal/nn"
	"github.com/tensorquant/tensorquant/onnx"
)

// The backward of the pooling ops on FLOAT, with internal/nn's kernels
// (those of layers.MaxPool, AvgPool and AdaptiveAvgPool): a window's
// output gradient goes to its maximum (the first in scan order, as the
// forward's argmax has it; recomputed here, the forward keeps no state),
// or is divided among the inputs it averaged.

// Backward returns the input gradient of MaxPool or AveragePool (the
// Indices output of MaxPool has none).
func (o *poolOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x, dy := in[0], dOut[0]
	if x.DType != onnx.Float {
		return nil, fmt.Errorf("input is %v, only FLOAT has a gradient", x.DType)
	}
	if err := floatGrads(out[:1], dOut[:1]); err != nil {
		return nil, err
	}
	if !wants(needs, 0) || dy == nil {
		return []*Tensor{nil}, nil
	}
	shape, g, _, err := o.shapes(Sizes(x.Shape...))
	if err != nil {
		return nil, err
	}
	B, P := g.BigN(), g.SmallN()
	if B > math.MaxInt32 {
		return nil, fmt.Errorf("input shape %v: planes of more than 2^31 elements", x.Shape)
	}
	dx, err := ctx.Alloc(onnx.Float, x.Shape...)
	if err != nil {
		return nil, err
	}
	planes := x.Shape[0] * x.Shape[1]
	grain := max(1, grainElems/max(P*g.KernelN(), 1))
	if !o.max {
		ctx.Parallel(planes, grain, func(lo, hi int) { nn.AvgPoolBackward(dx.F32, dy.F32, &g, o.countPad, lo, hi) })
		return []*Tensor{dx}, nil
	}
	n := prod(ints(shape))
	y, err := ctx.Alloc(onnx.Float, n)
	if err != nil {
		return nil, err
	}
	defer ctx.free(y)
	am, err := ctx.Alloc(onnx.Int32, n)
	if err != nil {
		return nil, err
	}
	defer ctx.free(am)
	ctx.Parallel(planes, grain, func(lo, hi int) {
		nn.MaxPool(y.F32, am.I32, x.F32, &g, lo, hi)
		nn.MaxPoolBackward(dx.F32[lo*B:hi*B], dy.F32[lo*P:hi*P], am.I32[lo*P:hi*P], P, B)
	})
	return []*Tensor{dx}, nil
}

// Backward returns the input gradient of GlobalAveragePool (each plane
// gets its output gradient divided by its size) or GlobalMaxPool (the
// gradient goes to the plane's first maximum).
func (o *globalPoolOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	if err := floatGrads(out, dOut); err != nil {
		return nil, err
	}
	x, dy := in[0], dOut[0]
	if x.DType != onnx.Float || len(x.Shape) < 3 {
		return nil, fmt.Errorf("input %v: only FLOAT [N, C, spatial...] has a gradient", x)
	}
	if !wants(needs, 0) || dy == nil {
		return []*Tensor{nil}, nil
	}
	dx, err := ctx.Alloc(onnx.Float, x.Shape...)
	if err != nil {
		return nil, err
	}
	n, planes := prod(x.Shape[2:]), x.Shape[0]*x.Shape[1]
	ctx.Parallel(planes, max(1, grainElems/max(n, 1)), func(lo, hi int) {
		if !o.max {
			nn.AdaptiveAvgPoolBackward(dx.F32, dy.F32, [3]int{1, 1, n}, [3]int{1, 1, 1}, lo, hi)
			return
		}
		for p := lo; p < hi; p++ {
			plane := dx.F32[p*n : (p+1)*n]
			clear(plane)
			best := 0
			for i, v := range x.F32[p*n : (p+1)*n] {
				if v > x.F32[p*n+best] || v != v && x.F32[p*n+best] == x.F32[p*n+best] {
					best = i
				}
			}
			if n > 0 {
				plane[best] = dy.F32[p]
			}
		}
	})
	return []*Tensor{dx}, nil
}
