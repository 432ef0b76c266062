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
// Indices output of MaxPool has none; when the forward computed it,
// MaxPool's backward reads the maxima's positions from it, else it finds
// them again: the first element of the window equal to its output).
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
	_, g, _, err := o.shapes(Sizes(x.Shape...))
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
	if len(out) > 1 && out[1] != nil && o.storageOrder == 0 {
		// The Indices output of the forward (the training graph asks
		// for it): each output gradient goes to the input element its
		// index names (in the whole input: row major).
		idx := out[1].I64
		ctx.Parallel(planes, grain, func(lo, hi int) {
			d := dx.F32[lo*B : hi*B]
			clear(d)
			for i := lo * P; i < hi*P; i++ {
				if j := idx[i]; j >= 0 {
					d[int(j)-lo*B] += dy.F32[i]
				}
			}
		})
		return []*Tensor{dx}, nil
	}
	ctx.Parallel(planes, grain, func(lo, hi int) { maxPoolGrad(dx.F32, dy.F32, x.F32, out[0].F32, &g, lo, hi) })
	return []*Tensor{dx}, nil
}

// qKey returns v's bits with both zeros as one (+0) and every NaN as
// one, so that equal keys are the values max pooling cannot tell apart.
func qKey(v float32) uint32 {
	b := math.Float32bits(v)
	a := b & 0x7fffffff
	if a == 0 {
		b = 0
	}
	if a > 0x7f800000 {
		b = 0x7fc00000
	}
	return b
}

// maxPoolGrad writes planes [p0, p1) of dx: each output gradient goes to
// the first input element of its window, in scan order, that equals the
// window's maximum y (for a NaN maximum, the first NaN), where
// nn.MaxPool's argmax puts it; a window of padding only passes nothing.
func maxPoolGrad(dx, dy, x, y []float32, g *nn.Geom, p0, p1 int) {
	B, P := g.BigN(), g.SmallN()
	// The taps of every window position along each dimension that lie
	// inside the input: [lo, hi).
	var lo, hi [3][]int
	for d := range 3 {
		lo[d], hi[d] = make([]int, g.Small[d]), make([]int, g.Small[d])
		for o := range g.Small[d] {
			start := o*g.Stride[d] - g.Pad[d]
			l, h := 0, g.Kernel[d]
			for l < h && start+l*g.Dilation[d] < 0 {
				l++
			}
			for h > l && start+(h-1)*g.Dilation[d] >= g.Big[d] {
				h--
			}
			lo[d][o], hi[d][o] = l, h
		}
	}
	d2 := g.Dilation[2]
	for p := p0; p < p1; p++ {
		xp, dp := x[p*B:(p+1)*B], dx[p*B:(p+1)*B]
		clear(dp)
		i := p * P
		for od := range g.Small[0] {
			for oh := range g.Small[1] {
				for ow := range g.Small[2] {
					m, d := y[i], dy[i]
					i++
					if m != m {
						m = float32(math.NaN())
					}
					key, db := qKey(m), math.Float32bits(d)
					w0 := ow*g.Stride[2] - g.Pad[2]
					// Without branches on the data: every tap adds d
					// masked to zero but at the first match.
					var done uint32
					for kd := lo[0][od]; kd < hi[0][od]; kd++ {
						id := od*g.Stride[0] - g.Pad[0] + kd*g.Dilation[0]
						for kh := lo[1][oh]; kh < hi[1][oh]; kh++ {
							row := (id*g.Big[1] + oh*g.Stride[1] - g.Pad[1] + kh*g.Dilation[1]) * g.Big[2]
							for at, end := row+w0+lo[2][ow]*d2, row+w0+hi[2][ow]*d2; at < end; at += d2 {
								eq := uint32(0)
								if qKey(xp[at]) == key {
									eq = ^uint32(0)
								}
								dp[at] += math.Float32frombits(db & eq &^ done)
								done |= eq
							}
						}
					}
				}
			}
		}
	}
}

// Backward returns the input gradient of GlobalAveragePool (each plane
// gets its output gradient divided by its size) or GlobalMaxPool (the
// gradient goes to the plane's first maximum).
func (o *globalPoolOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := gradArgs(in, out, dOut, 1); err != nil {
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
