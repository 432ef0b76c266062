package graph

import (
	"fmt"

	"github.com/tensorquant/tensorquant/internal/nn"
	"github.com/tensorquant/tensorquant/onnx"
)

// Backward returns the gradients of Conv and ConvTranspose: the input's,
// the weight's and the bias's (summed in float64 per plane). The weight's
// and the bias's come from internal/nn's backward, the one layers.Conv
// uses, with the samples split into one part per goroutine, each with its
// own sums, added in part order at the end: with one thread they are
// layers.Conv's, bit for bit; with more, the weight gradient is summed in
// another order (within float32 rounding of it). The input's is nn's
// too, except for a convolution of stride 1 (nn.Conv.DataGrad), whose
// input gradient is the forward pass of a convolution with the weights
// flipped, on the forward's packed kernels and every thread: as
// layers.Conv computes it, bit for bit.
func (o *convOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := gradArgs(in, out, dOut, 2); err != nil {
		return nil, err
	}
	x, w, b, dy := in[0], in[1], opt(in, 2), dOut[0]
	var bs []Dim
	for i, t := range []*Tensor{x, w, b} {
		if t != nil && t.DType != onnx.Float {
			return nil, fmt.Errorf("input %d is %v, only FLOAT is supported", i, t.DType)
		}
	}
	if b != nil {
		bs = Sizes(b.Shape...)
	}
	_, k, ok, err := o.shapes(Sizes(x.Shape...), Sizes(w.Shape...), bs)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("input %v and weight %v: no kernel size", x, w)
	}
	dIn := make([]*Tensor, len(in))
	if dy == nil {
		return dIn, nil
	}
	N := x.Shape[0]
	parts := max(1, min(ctx.Threads(), N))
	cols, tmp := k.Scratch((N + parts - 1) / parts)
	if satMul(parts, cols+tmp) > maxValueElems/2 {
		return nil, fmt.Errorf("input %v and weight %v: the im2col matrix of one sample has %d elements, too many", x, w, cols)
	}
	var dx *Tensor
	if wants(needs, 0) {
		if dx, err = ctx.Alloc(onnx.Float, x.Shape...); err != nil {
			return nil, err
		}
	}
	dk, byConv := k.DataGrad()
	if dx != nil && byConv {
		if err := dataGrad(ctx, &k, &dk, dx.F32, dy.F32, w.F32, N); err != nil {
			return nil, fmt.Errorf("input %v and weight %v: the input's gradient: %w", x, w, err)
		}
	}
	wn, cn := w.Len(), 0
	if b != nil {
		cn = b.Len()
	}
	// Per part: im2col scratch, then the part's weight and bias sums.
	per := cols + tmp + wn + cn
	scratch, err := ctx.Alloc(onnx.Float, parts*per)
	if err != nil {
		return nil, err
	}
	defer ctx.free(scratch)
	xn, yn := x.Len()/max(N, 1), dy.Len()/max(N, 1)
	ctx.Parallel(parts, 1, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			s := scratch.F32[p*per : (p+1)*per]
			dw, db := s[cols+tmp:cols+tmp+wn], s[cols+tmp+wn:]
			clear(dw)
			clear(db)
			if b == nil {
				db = nil
			}
			n0, n1 := N*p/parts, N*(p+1)/parts
			var d []float32
			if dx != nil && !byConv {
				d = dx.F32[n0*xn : n1*xn]
			}
			k.Backward(d, dw, db, dy.F32[n0*yn:n1*yn], x.F32[n0*xn:n1*xn], w.F32, s[:cols], s[cols:cols+tmp], n1-n0)
		}
	})
	sums := func(off, n int, shape []int) (*Tensor, error) {
		g, err := ctx.Alloc(onnx.Float, shape...)
		if err != nil {
			return nil, err
		}
		copy(g.F32, scratch.F32[off:off+n])
		for p := 1; p < parts; p++ {
			addK(g.F32, g.F32, scratch.F32[p*per+off:p*per+off+n])
		}
		return g, nil
	}
	if wants(needs, 1) {
		if dIn[1], err = sums(cols+tmp, wn, w.Shape); err != nil {
			return nil, err
		}
	}
	if b != nil && wants(needs, 2) {
		if dIn[2], err = sums(cols+tmp+wn, cn, b.Shape); err != nil {
			return nil, err
		}
	}
	dIn[0] = dx
	return dIn, nil
}

// dataGrad writes dx, the input gradient of the N samples of the
// convolution k from its output gradient dy, as the forward pass of d (k's
// DataGrad) with k's weights w flipped: the forward's kernels on every
// thread instead of the backward's GEMM and col2im, and layers.Conv's
// bits (not Winograd's, which would gain only on channels and planes
// larger than training runs). It returns forwardPacked's errors.
func dataGrad(ctx *Ctx, k, d *nn.Conv, dx, dy, w []float32, N int) error {
	wf, err := ctx.scratch(len(w))
	if err != nil {
		return err
	}
	defer ctx.release(wf)
	k.FlipWeights(wf, w)
	cw := nn.PackConvWeights(d.InC, d.OutC, d.Groups, d.KernelN(), false, wf)
	return forwardPacked(ctx, d, cw, dx, dy, N, nil)
}
