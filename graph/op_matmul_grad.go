package graph

import (
	"fmt"
	"slices"

	"github.com/tensorquant/tensorquant/internal/gemm"
	"github.com/tensorquant/tensorquant/onnx"
)

// The backward of MatMul and Gemm, through the same float32 GEMM: for
// Y = A·B, dA = dY·Bᵀ and dB = Aᵀ·dY, each summed over the batch
// dimensions its operand was broadcast along. A Gemm computes its
// gradients as layers.Linear computes its own (the same GEMM calls, the
// bias gradient summed in float64), so that a Linear layer trains the
// same numbers in both.

// Backward returns MatMul's gradients.
func (matMulOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := gradArgs(in, out, dOut, 2); err != nil {
		return nil, err
	}
	a, b, dy := in[0], in[1], dOut[0]
	if a.DType != onnx.Float || b.DType != onnx.Float {
		return nil, fmt.Errorf("operands are %v and %v, only FLOAT is supported", a.DType, b.DType)
	}
	dIn := make([]*Tensor, 2)
	if dy == nil {
		return dIn, nil
	}
	if _, err := matmulDims(Sizes(a.Shape...), Sizes(b.Shape...)); err != nil {
		return nil, err
	}
	m, k, n, ab, bb := matmulOperands(a.Shape, b.Shape)
	if prod(bb) == 1 {
		// One right operand for every batch (a Linear layer on [batch,
		// seq, d]): the batches of a are rows of one product.
		rows := prod(ab) * m
		if wants(needs, 0) {
			da, err := ctx.Alloc(onnx.Float, a.Shape...)
			if err != nil {
				return nil, err
			}
			gemm.Sgemm(false, true, rows, k, n, dy.F32, max(n, 1), b.F32, max(n, 1), da.F32, max(k, 1), false)
			dIn[0] = da
		}
		if wants(needs, 1) {
			db, err := ctx.Alloc(onnx.Float, b.Shape...)
			if err != nil {
				return nil, err
			}
			gemm.Sgemm(true, false, k, n, rows, a.F32, max(k, 1), dy.F32, max(n, 1), db.F32, max(n, 1), false)
			dIn[1] = db
		}
		return dIn, nil
	}
	p, err := planBroadcast(ab, bb)
	if err != nil {
		return nil, err
	}
	batches := matmulBatches(p)
	grain := max(1, (1<<20)/max(m*n*k, 1))
	// Each operand's gradient is computed per output batch into a tensor
	// of the broadcast batch shape, then summed to the operand's.
	for i, x := range []*Tensor{a, b} {
		if !wants(needs, i) {
			continue
		}
		rows, cols := m, k
		if i == 1 {
			rows, cols = k, n
		}
		full, err := ctx.Alloc(onnx.Float, append(slices.Clone(p.shape), rows, cols)...)
		if err != nil {
			return nil, err
		}
		ctx.Parallel(len(batches), grain, func(lo, hi int) {
			for _, t := range batches[lo:hi] {
				o, ia, ib := t[0], t[1], t[2]
				g := full.F32[o*rows*cols:]
				if i == 0 {
					gemm.Sgemm(false, true, m, k, n, dy.F32[o*m*n:], max(n, 1), b.F32[ib*k*n:], max(n, 1), g, max(k, 1), false)
				} else {
					gemm.Sgemm(true, false, k, n, m, a.F32[ia*m*k:], max(k, 1), dy.F32[o*m*n:], max(n, 1), g, max(n, 1), false)
				}
			}
		})
		shape := append(slices.Clone(ab), m, k)
		if i == 1 {
			shape = append(slices.Clone(bb), k, n)
		}
		r, err := sumTo(ctx, full, shape)
		if err != nil {
			return nil, err
		}
		if r.Len() != full.Len() {
			ctx.free(full)
		}
		dIn[i] = view(r, slices.Clone(x.Shape))
	}
	return dIn, nil
}

// Backward returns Gemm's gradients: for Y = alpha·op(A)·op(B) +
// beta·C, d op(A) = alpha·dY·op(B)ᵀ, d op(B) = alpha·op(A)ᵀ·dY (each
// transposed back when its operand is), dC = beta·dY summed to C's shape
// (in float64).
func (o *gemmOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := gradArgs(in, out, dOut, 2); err != nil {
		return nil, err
	}
	a, b, c, dy := in[0], in[1], opt(in, 2), dOut[0]
	for i, x := range []*Tensor{a, b, c} {
		if x != nil && x.DType != onnx.Float {
			return nil, fmt.Errorf("input %d is %v, only FLOAT is supported", i, x.DType)
		}
	}
	dIn := make([]*Tensor, len(in))
	if dy == nil {
		return dIn, nil
	}
	md, kd, _, nd, err := o.dims(Sizes(a.Shape...), Sizes(b.Shape...))
	if err != nil {
		return nil, err
	}
	m, k, n := md.Size, kd.Size, nd.Size
	if wants(needs, 0) {
		da, err := ctx.Alloc(onnx.Float, a.Shape...)
		if err != nil {
			return nil, err
		}
		switch {
		case !o.transA && !o.transB: // dA[m,k] = dy[m,n]·B[k,n]ᵀ
			gemm.Sgemm(false, true, m, k, n, dy.F32, max(n, 1), b.F32, max(n, 1), da.F32, max(k, 1), false)
		case !o.transA: // B is [n,k]: dA = dy·B
			gemm.Sgemm(false, false, m, k, n, dy.F32, max(n, 1), b.F32, max(k, 1), da.F32, max(k, 1), false)
		case !o.transB: // A is [k,m]: dA = B·dyᵀ
			gemm.Sgemm(false, true, k, m, n, b.F32, max(n, 1), dy.F32, max(n, 1), da.F32, max(m, 1), false)
		default: // A [k,m], B [n,k]: dA = Bᵀ·dyᵀ
			gemm.Sgemm(true, true, k, m, n, b.F32, max(k, 1), dy.F32, max(n, 1), da.F32, max(m, 1), false)
		}
		if o.alpha != 1 {
			scale(da.F32, o.alpha)
		}
		dIn[0] = da
	}
	if wants(needs, 1) {
		db, err := ctx.Alloc(onnx.Float, b.Shape...)
		if err != nil {
			return nil, err
		}
		switch {
		case !o.transB && !o.transA: // dB[k,n] = A[m,k]ᵀ·dy
			gemm.Sgemm(true, false, k, n, m, a.F32, max(k, 1), dy.F32, max(n, 1), db.F32, max(n, 1), false)
		case !o.transB: // A is [k,m]: dB = A·dy
			gemm.Sgemm(false, false, k, n, m, a.F32, max(m, 1), dy.F32, max(n, 1), db.F32, max(n, 1), false)
		case !o.transA: // dB[n,k] = dyᵀ·A
			gemm.Sgemm(true, false, n, k, m, dy.F32, max(n, 1), a.F32, max(k, 1), db.F32, max(k, 1), false)
		default: // A [k,m]: dB = dyᵀ·Aᵀ
			gemm.Sgemm(true, true, n, k, m, dy.F32, max(n, 1), a.F32, max(m, 1), db.F32, max(k, 1), false)
		}
		if o.alpha != 1 {
			scale(db.F32, o.alpha)
		}
		dIn[1] = db
	}
	if c != nil && wants(needs, 2) {
		dc, err := sumTo(ctx, dy, c.Shape)
		if err != nil {
			return nil, err
		}
		if o.beta != 1 {
			if dc.Len() == dy.Len() {
				// A view of dy: scale a copy.
				if dc, err = scaledCopy(ctx, dc, o.beta); err != nil {
					return nil, err
				}
			} else {
				scale(dc.F32, o.beta)
			}
		}
		dIn[2] = dc
	}
	return dIn, nil
}

// scaledCopy returns s·x in a new FLOAT tensor.
func scaledCopy(ctx *Ctx, x *Tensor, s float32) (*Tensor, error) {
	y, err := ctx.Alloc(onnx.Float, x.Shape...)
	if err != nil {
		return nil, err
	}
	for i, v := range x.F32 {
		y.F32[i] = v * s
	}
	return y, nil
}
