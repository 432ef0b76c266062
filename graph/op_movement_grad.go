package graph

import (
	"fmt"
	"slices"

	"github.com/tensorquant/tensorquant/onnx"
)

// The backward of the ops that move elements: Transpose (the inverse
// permutation), Concat (the slices of the output gradient), Split (the
// part gradients joined, zero for a part no gradient reaches), Slice
// (the gradient placed in the sliced region of zeros), Gather (the
// gradient rows added to the rows they were gathered from), Expand (the
// gradient summed to the input's shape), a constant Pad (the part of the
// gradient the input went to). All on FLOAT and DOUBLE, the strided
// copies of the forward run backwards.

// Backward returns the output gradient transposed back.
func (o *transposeOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := gradArgs(in, out, dOut, 1); err != nil {
		return nil, err
	}
	x, dy := in[0], dOut[0]
	if !wants(needs, 0) || dy == nil {
		return []*Tensor{nil}, nil
	}
	p, err := o.permFor(len(x.Shape))
	if err != nil {
		return nil, err
	}
	// dx[..., i_p[k], ...] = dy[..., i_k, ...]: read dy with the strides
	// that map x's index order onto it.
	st := contiguous(dy.Shape).strides
	strides := make([]int, len(p))
	for k, a := range p {
		strides[a] = st[k]
	}
	dx, err := gradFor(ctx, x)
	if err != nil {
		return nil, err
	}
	stridedCopy(ctx, dx, contiguous(x.Shape), dy, region{strides: strides}, x.Shape)
	return []*Tensor{dx}, nil
}

// Backward returns each input's slice of the output gradient.
func (o *concatOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := need(in, max(len(in), 1)); err != nil {
		return nil, err
	}
	if err := floatGrads(out, dOut); err != nil {
		return nil, err
	}
	dy := dOut[0]
	dIn := make([]*Tensor, len(in))
	if dy == nil {
		return dIn, nil
	}
	a, err := normAxis(o.axis, len(dy.Shape))
	if err != nil {
		return nil, err
	}
	src := contiguous(dy.Shape)
	for i, x := range in {
		if wants(needs, i) {
			if dIn[i], err = gradFor(ctx, x); err != nil {
				return nil, err
			}
			stridedCopy(ctx, dIn[i], contiguous(x.Shape), dy, src, x.Shape)
		}
		src.off += x.Shape[a] * src.strides[a]
	}
	return dIn, nil
}

// Backward returns the part gradients joined along the axis (zeros for a
// part no gradient reaches); the split sizes have none.
func (o *splitOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := gradArgs(in, out, dOut, 1); err != nil {
		return nil, err
	}
	x := in[0]
	dIn := make([]*Tensor, len(in))
	if !wants(needs, 0) {
		return dIn, nil
	}
	a, err := normAxis(o.axis, len(x.Shape))
	if err != nil {
		return nil, err
	}
	dx, err := zerosFor(ctx, x)
	if err != nil {
		return nil, err
	}
	dst := contiguous(x.Shape)
	for i, y := range out {
		if g := dOut[i]; g != nil {
			stridedCopy(ctx, dx, dst, g, contiguous(y.Shape), y.Shape)
		}
		dst.off += y.Shape[a] * dst.strides[a]
	}
	dIn[0] = dx
	return dIn, nil
}

// Backward returns zeros with the output gradient in the sliced region;
// starts, ends, axes and steps have none.
func (o *sliceOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := gradArgs(in, out, dOut, 1); err != nil {
		return nil, err
	}
	x, dy := in[0], dOut[0]
	dIn := make([]*Tensor, len(in))
	if !wants(needs, 0) || dy == nil {
		return dIn, nil
	}
	p, err := o.planAt(in)
	if err != nil {
		return nil, err
	}
	dst := contiguous(x.Shape)
	for _, s := range p {
		dst.off += s.start * dst.strides[s.axis]
		dst.strides[s.axis] *= s.step
	}
	dx, err := zerosFor(ctx, x)
	if err != nil {
		return nil, err
	}
	stridedCopy(ctx, dx, dst, dy, contiguous(dy.Shape), dy.Shape)
	dIn[0] = dx
	return dIn, nil
}

// Backward returns the data's gradient: zeros, with each gathered run of
// the output gradient added to the run it came from (in index order, so
// that repeated indices add up); the indices have none.
func (o *gatherOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := gradArgs(in, out, dOut, 2); err != nil {
		return nil, err
	}
	x, idx, dy := in[0], in[1], dOut[0]
	dIn := make([]*Tensor, 2)
	if !wants(needs, 0) || dy == nil {
		return dIn, nil
	}
	if x.DType != onnx.Float && x.DType != onnx.Double {
		return nil, fmt.Errorf("%v data has no gradient", x.DType)
	}
	a, err := normAxis(o.axis, len(x.Shape))
	if err != nil {
		return nil, err
	}
	iv, err := idx.Ints()
	if err != nil {
		return nil, err
	}
	d := x.Shape[a]
	for j, i := range iv {
		if iv[j], err = gatherIndex(i, j, d, a); err != nil {
			return nil, err
		}
	}
	outer, inner := prod(x.Shape[:a]), prod(x.Shape[a+1:])
	dx, err := zerosFor(ctx, x)
	if err != nil {
		return nil, err
	}
	if dx.DType == onnx.Double {
		scatterAdd(dx.F64, dy.F64, iv, outer, d, inner)
	} else {
		scatterAdd(dx.F32, dy.F32, iv, outer, d, inner)
	}
	dIn[0] = dx
	return dIn, nil
}

// scatterAdd is the adjoint of gatherK: for each of outer blocks and each
// index k, the run of inner elements of src is added to dst's run at
// index idx[k] of a dimension of size d.
func scatterAdd[T float32 | float64](dst, src []T, idx []int, outer, d, inner int) {
	j := len(idx)
	for r := range outer * j {
		o, k := r/j, r%j
		s := (o*d + idx[k]) * inner
		addK(dst[s:s+inner], dst[s:s+inner], src[r*inner:(r+1)*inner])
	}
}

// Backward returns the output gradient summed to the input's shape; the
// shape input has none.
func (expandOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := gradArgs(in, out, dOut, 2); err != nil {
		return nil, err
	}
	dIn := make([]*Tensor, 2)
	if !wants(needs, 0) || dOut[0] == nil {
		return dIn, nil
	}
	g, err := sumTo(ctx, dOut[0], in[0].Shape)
	if err != nil {
		return nil, err
	}
	dIn[0] = view(g, slices.Clone(in[0].Shape))
	return dIn, nil
}

// Backward returns the input gradient of a constant Pad: the output
// gradient where the input's elements went, zeros where negative pads
// cropped them; the pads, the constant value and the axes have none. It
// returns an error for modes reflect, edge and wrap.
func (o *padOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := gradArgs(in, out, dOut, 1); err != nil {
		return nil, err
	}
	if err := o.noGrad(); err != nil {
		return nil, err
	}
	x, dy := in[0], dOut[0]
	if x.DType != onnx.Float && x.DType != onnx.Double {
		return nil, fmt.Errorf("%v data has no gradient", x.DType)
	}
	dIn := make([]*Tensor, len(in))
	if !wants(needs, 0) || dy == nil {
		return dIn, nil
	}
	_, before, after, _, err := o.padsAt(in)
	if err != nil {
		return nil, err
	}
	dx, err := zerosFor(ctx, x)
	if err != nil {
		return nil, err
	}
	part, dst, src := padKept(x.Shape, dy.Shape, before, after)
	stridedCopy(ctx, dx, dst, dy, src, part)
	dIn[0] = dx
	return dIn, nil
}

func (o *padOp) noGrad() error {
	if o.mode != "constant" {
		return fmt.Errorf("a Pad in mode %s has no gradient", o.mode)
	}
	return nil
}
