package graph

import (
	"fmt"
	"slices"

	"github.com/tensorquant/tensorquant/onnx"
)

// The backward of the ops that change a value's shape, or nothing:
// Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout (at inference,
// the identity) and Cast between float types. The input gradient is the
// output gradient under the input's shape (its data shared, not copied),
// converted for a Cast.

// reshapeGrad returns dOut[0] under x's shape, or nil when not wanted.
func reshapeGrad(in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := gradArgs(in, out[:1], dOut[:1], 1); err != nil {
		return nil, err
	}
	dIn := make([]*Tensor, len(in))
	if wants(needs, 0) && dOut[0] != nil {
		dIn[0] = view(dOut[0], slices.Clone(in[0].Shape))
	}
	return dIn, nil
}

// Backward returns the output gradient under the input's shape.
func (o *reshapeOp) Backward(_ *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	return reshapeGrad(in, out, dOut, needs)
}

// Backward returns the output gradient under the input's shape.
func (o *flattenOp) Backward(_ *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	return reshapeGrad(in, out, dOut, needs)
}

// Backward returns the output gradient under the input's shape.
func (o *squeezeOp) Backward(_ *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	return reshapeGrad(in, out, dOut, needs)
}

// Backward returns the output gradient.
func (identityOp) Backward(_ *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	return reshapeGrad(in, out, dOut, needs)
}

// Backward returns the output gradient (Dropout at inference is the
// identity; the mask has no gradient).
func (o *dropoutOp) Backward(_ *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	return reshapeGrad(in, out, dOut, needs)
}

// Backward returns the gradient of a Cast from FLOAT or DOUBLE to FLOAT or
// DOUBLE: the output gradient converted to the input's type. Other casts
// have no gradient.
func (o *castOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	isF := func(t onnx.DataType) bool { return t == onnx.Float || t == onnx.Double }
	if !isF(x.DType) || !isF(o.to) {
		return nil, fmt.Errorf("a cast from %v to %v has no gradient", x.DType, o.to)
	}
	if err := floatGrads(out, dOut); err != nil {
		return nil, err
	}
	dy := dOut[0]
	if !wants(needs, 0) || dy == nil {
		return []*Tensor{nil}, nil
	}
	if x.DType == dy.DType {
		return []*Tensor{view(dy, slices.Clone(x.Shape))}, nil
	}
	dx, err := gradFor(ctx, x)
	if err != nil {
		return nil, err
	}
	if dx.DType == onnx.Double {
		convert(dx.F64, dy.F32)
	} else {
		convert(dx.F32, dy.F64)
	}
	return []*Tensor{dx}, nil
}
