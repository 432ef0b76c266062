package graph

import (
	"fmt"
	"math"
	"slices"

	"github.com/tensorquant/tensorquant/onnx"
)

// The backward of ReduceMean, ReduceSum, Softmax and LayerNormalization
// on FLOAT and DOUBLE, their sums in float64.

// Backward returns the input gradient of ReduceMean (the output gradient
// spread over the reduced elements, divided by their number) and
// ReduceSum (spread); ReduceMax has none here. The axes have none.
func (o *reduceOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := gradArgs(in, out, dOut, 1); err != nil {
		return nil, err
	}
	x, dy := in[0], dOut[0]
	dIn := make([]*Tensor, len(in))
	if err := o.noGrad(); err != nil {
		return nil, err
	}
	if x.DType != onnx.Float && x.DType != onnx.Double {
		return nil, fmt.Errorf("%v has no gradient", x.DType)
	}
	if !wants(needs, 0) || dy == nil {
		return dIn, nil
	}
	red, err := o.reducedAt(x, opt(in, 1))
	if err != nil {
		return nil, err
	}
	if !slices.Contains(red, true) {
		dIn[0] = view(dy, slices.Clone(x.Shape))
		return dIn, nil
	}
	kept := slices.Clone(x.Shape)
	r := 1
	for i, rd := range red {
		if rd {
			r *= kept[i]
			kept[i] = 1
		}
	}
	dx, err := gradFor(ctx, x)
	if err != nil {
		return nil, err
	}
	stridedCopy(ctx, dx, contiguous(x.Shape), view(dy, kept), region{strides: broadcastStrides(kept, x.Shape)}, x.Shape)
	if o.kind == reduceMean {
		mapChunks(ctx, dx.F32, dx.F32, func(d, s []float32) { divScalar(d, s, float32(r)) })
		mapChunks(ctx, dx.F64, dx.F64, func(d, s []float64) { divScalar(d, s, float64(r)) })
	}
	dIn[0] = dx
	return dIn, nil
}

func (o *reduceOp) noGrad() error {
	if o.kind == reduceMax {
		return fmt.Errorf("ReduceMax has no gradient")
	}
	return nil
}

// divScalar sets d = s / v.
func divScalar[T float32 | float64](d, s []T, v T) {
	for i, x := range s[:len(d)] {
		d[i] = x / v
	}
}

// Backward returns Softmax's input gradient: dx = y·(dy - Σ dy·y), the
// sum along the softmax's axis in float64.
func (o *softmaxOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := gradArgs(in, out, dOut, 1); err != nil {
		return nil, err
	}
	x, y, dy := in[0], out[0], dOut[0]
	if x.DType != onnx.Float && x.DType != onnx.Double {
		return nil, fmt.Errorf("%v has no gradient", x.DType)
	}
	if !wants(needs, 0) || dy == nil {
		return []*Tensor{nil}, nil
	}
	outer, n, inner, err := o.split(Sizes(x.Shape...))
	if err != nil {
		return nil, err
	}
	dx, err := gradFor(ctx, x)
	if err != nil {
		return nil, err
	}
	if x.DType == onnx.Double {
		softmaxGrad(ctx, dx.F64, dy.F64, y.F64, outer, n, inner)
	} else {
		softmaxGrad(ctx, dx.F32, dy.F32, y.F32, outer, n, inner)
	}
	return []*Tensor{dx}, nil
}

// softmaxGrad computes dx = y·(dy - Σ_n dy·y) for tensors [outer, n,
// inner], in parallel over outer.
func softmaxGrad[T float32 | float64](ctx *Ctx, dx, dy, y []T, outer, n, inner int) {
	ctx.Parallel(outer, max(1, grainElems/max(n*inner, 1)), func(lo, hi int) {
		s := make([]float64, inner)
		for o := lo; o < hi; o++ {
			base := o * n * inner
			clear(s)
			for k := range n {
				row := base + k*inner
				for j := range inner {
					s[j] += float64(dy[row+j]) * float64(y[row+j])
				}
			}
			for k := range n {
				row := base + k*inner
				for j := range inner {
					dx[row+j] = T(float64(y[row+j]) * (float64(dy[row+j]) - s[j]))
				}
			}
		}
	})
}

// Backward returns LayerNormalization's gradients, with the row's mean m
// and 1/stddev is recomputed in float64 as the forward computes them,
// x̂ = (x - m)·is and g = dy·Scale:
//
//	dx = is·(g - mean(g) - x̂·mean(g·x̂))     dScale = Σ dy·x̂     dB = Σ dy
//
// per row in float64, Scale's and B's gradients summed over the rows
// (and to their shapes when they broadcast). The Mean and InvStdDev
// outputs pass no gradient back.
func (o *layerNormOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := gradArgs(in, out[:1], dOut[:1], 2); err != nil {
		return nil, err
	}
	for _, g := range dOut[1:] {
		if g != nil {
			return nil, fmt.Errorf("the Mean and InvStdDev outputs have no gradient")
		}
	}
	x, dy := in[0], dOut[0]
	if x.DType != onnx.Float && x.DType != onnx.Double {
		return nil, fmt.Errorf("%v has no gradient", x.DType)
	}
	dIn := make([]*Tensor, len(in))
	if dy == nil {
		return dIn, nil
	}
	a, err := normAxis(o.axis, len(x.Shape))
	if err != nil {
		return nil, err
	}
	norm := x.Shape[a:]
	rows, n := prod(x.Shape[:a]), prod(norm)
	var w []float64
	if s := in[1]; s != nil {
		if s.DType != x.DType {
			return nil, fmt.Errorf("the input is %v, its Scale %v", x.DType, s.DType)
		}
		if err := checkParam("Scale", Sizes(s.Shape...), Sizes(norm...)); err != nil {
			return nil, err
		}
		sf, err := floatsOf(s)
		if err != nil {
			return nil, err
		}
		// Scale broadcast to a full row.
		w = make([]float64, n)
		st := broadcastStrides(s.Shape, norm)
		forEachIndex(norm, st, func(i, j int) { w[i] = sf[j] })
	}
	var dx *Tensor
	if wants(needs, 0) {
		if dx, err = gradFor(ctx, x); err != nil {
			return nil, err
		}
	}
	xf, err := floatsOf(x)
	if err != nil {
		return nil, err
	}
	df, err := floatsOf(dy)
	if err != nil {
		return nil, err
	}
	dw, db := make([]float64, n), make([]float64, n)
	eps := float64(o.eps)
	xhat := make([]float64, n)
	for r := range rows {
		xr, gr := xf[r*n:(r+1)*n], df[r*n:(r+1)*n]
		var s float64
		for _, v := range xr {
			s += v
		}
		m := s / float64(n)
		var q float64
		for _, v := range xr {
			d := v - m
			q += d * d
		}
		is := 1 / math.Sqrt(q/float64(n)+eps)
		var mg, mgx float64
		for i, v := range xr {
			xhat[i] = (v - m) * is
			g := gr[i]
			if w != nil {
				g *= w[i]
			}
			mg += g
			mgx += g * xhat[i]
			dw[i] += gr[i] * xhat[i]
			db[i] += gr[i]
		}
		mg /= float64(n)
		mgx /= float64(n)
		if dx == nil {
			continue
		}
		for i := range xr {
			g := gr[i]
			if w != nil {
				g *= w[i]
			}
			v := is * (g - mg - xhat[i]*mgx)
			if dx.DType == onnx.Double {
				dx.F64[r*n+i] = v
			} else {
				dx.F32[r*n+i] = float32(v)
			}
		}
	}
	dIn[0] = dx
	for i, sums := range [][]float64{dw, db} {
		p := opt(in, i+1)
		if p == nil || !wants(needs, i+1) {
			continue
		}
		full, err := ctx.Alloc(x.DType, norm...)
		if err != nil {
			return nil, err
		}
		if full.DType == onnx.Double {
			copy(full.F64, sums)
		} else {
			convert(full.F32, sums)
		}
		r, err := sumTo(ctx, full, p.Shape)
		if err != nil {
			return nil, err
		}
		if r.Len() != full.Len() {
			ctx.free(full)
		}
		dIn[i+1] = r
	}
	return dIn, nil
}

// forEachIndex calls f(i, j) for every element i (row major) of a tensor
// of shape shape, with j its index through strides (0 along broadcast
// dimensions).
func forEachIndex(shape, strides []int, f func(i, j int)) {
	n := prod(shape)
	idx := make([]int, len(shape))
	j := 0
	for i := range n {
		f(i, j)
		for k := len(shape) - 1; k >= 0; k-- {
			idx[k]++
			j += strides[k]
			if idx[k] < shape[k] {
				break
			}
			j -= strides[k] * shape[k]
			idx[k] = 0
		}
	}
}
