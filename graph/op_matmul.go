package graph

import (
	"fmt"
	"slices"

	"github.com/tensorquant/tensorquant/internal/gemm"
	"github.com/tensorquant/tensorquant/onnx"
)

// MatMul and Gemm on FLOAT, through the project's float32 GEMM
// (internal/gemm).

func init() {
	Register("", "MatMul", func(d *NodeDef) (Op, error) {
		return matMulOp{}, checkNode(d, 2, 2, 1, 1)
	})
	Register("", "Gemm", newGemm)
}

// matMulOp is MatMul with NumPy's matmul semantics: the last two
// dimensions are matrices, the others batch dimensions that broadcast; a
// 1-D first operand is a row vector and a 1-D second one a column
// vector, whose dimension is removed from the result.
type matMulOp struct{}

// matmulDims returns the output shape of a [.., m, k] × [.., k, n] product
// for shapes a and b as far as known, and an error when the inner
// dimensions differ or the batch dimensions do not broadcast.
func matmulDims(a, b []Dim) ([]Dim, error) {
	if len(a) == 0 || len(b) == 0 {
		return nil, fmt.Errorf("MatMul needs operands of rank 1 or more, has shapes %s and %s", ShapeString(a), ShapeString(b))
	}
	a1, b1 := len(a) == 1, len(b) == 1
	if a1 {
		a = []Dim{{Size: 1}, a[0]}
	}
	if b1 {
		b = []Dim{b[0], {Size: 1}}
	}
	k1, k2 := a[len(a)-1], b[len(b)-2]
	if k1.Known() && k2.Known() && k1.Size != k2.Size {
		return nil, fmt.Errorf("shapes %s and %s cannot be multiplied (%d columns, %d rows)", ShapeString(a), ShapeString(b), k1.Size, k2.Size)
	}
	batch, err := broadcastDims(a[:len(a)-2], b[:len(b)-2])
	if err != nil {
		return nil, fmt.Errorf("batch dimensions: %w", err)
	}
	out := batch
	if !a1 {
		out = append(out, a[len(a)-2])
	}
	if !b1 {
		out = append(out, b[len(b)-1])
	}
	return out, nil
}

func (matMulOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	if in[0].DType != onnx.Float || in[1].DType != onnx.Float {
		return nil, fmt.Errorf("operands are %v and %v, only FLOAT is supported", in[0].DType, in[1].DType)
	}
	shape, err := matmulDims(in[0].Shape, in[1].Shape)
	if err != nil {
		return nil, err
	}
	return []*Info{info(onnx.Float, shape)}, nil
}

// matmulOperands returns the sizes of a product of operands of shapes as
// and bs (checked by matmulDims): [..., m, k] × [..., k, n], a 1-D first
// operand a row and a 1-D second one a column, and their batch shapes.
func matmulOperands(as, bs []int) (m, k, n int, ab, bb []int) {
	if len(as) == 1 {
		as = []int{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int{bs[0], 1}
	}
	return as[len(as)-2], as[len(as)-1], bs[len(bs)-1], as[:len(as)-2], bs[:len(bs)-2]
}

// matmulBatches lists, for a broadcast plan of the batch shapes of a
// product's operands, every output batch with the batches of a and b it
// multiplies: {output, a, b}. Each row of the plan's output is a run of
// batches.
func matmulBatches(p *bcast) [][3]int {
	batches := make([][3]int, 0, p.n)
	p.rows(newCtx(nil, 1), func(o, n int, offs []int) {
		for j := range n {
			ia, ib := offs[0], offs[1]
			if p.inner[0] {
				ia += j
			}
			if p.inner[1] {
				ib += j
			}
			batches = append(batches, [3]int{o + j, ia, ib})
		}
	})
	return batches
}

func (matMulOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	a, b := in[0], in[1]
	if a.DType != onnx.Float || b.DType != onnx.Float {
		return nil, fmt.Errorf("operands are %v and %v, only FLOAT is supported", a.DType, b.DType)
	}
	shape, err := matmulDims(Sizes(a.Shape...), Sizes(b.Shape...))
	if err != nil {
		return nil, err
	}
	out, err := ctx.Alloc(onnx.Float, ints(shape)...)
	if err != nil {
		return nil, err
	}
	m, k, n, ab, bb := matmulOperands(a.Shape, b.Shape)
	if prod(bb) == 1 {
		// One right operand for every batch: the batches of a are rows
		// of one product (a Linear layer on [batch, seq, d]).
		gemm.Sgemm(false, false, prod(ab)*m, n, k, a.F32, max(k, 1), b.F32, max(n, 1), out.F32, max(n, 1), false)
		return []*Tensor{out}, nil
	}
	p, err := planBroadcast(ab, bb)
	if err != nil {
		return nil, err
	}
	// The products of one matrix each are spread over goroutines when
	// they are small (large ones use the GEMM's own).
	batches := matmulBatches(p)
	grain := max(1, (1<<20)/max(m*n*k, 1))
	ctx.Parallel(len(batches), grain, func(lo, hi int) {
		for _, t := range batches[lo:hi] {
			o, ia, ib := t[0], t[1], t[2]
			gemm.Sgemm(false, false, m, n, k, a.F32[ia*m*k:], max(k, 1), b.F32[ib*k*n:], max(n, 1), out.F32[o*m*n:], max(n, 1), false)
		}
	})
	return []*Tensor{out}, nil
}

// gemmOp is Gemm: alpha·op(A)·op(B) + beta·C, A and B 2-D (transposed
// first when transA, transB), C optional (since opset 11) and broadcast
// to the result.
type gemmOp struct {
	transA, transB bool
	alpha, beta    float32
}

func newGemm(d *NodeDef) (Op, error) {
	lo := 3
	if d.Opset >= 11 {
		lo = 2
	}
	if err := checkNode(d, lo, 3, 1, 1); err != nil {
		return nil, err
	}
	o := &gemmOp{}
	if d.Opset < 7 {
		// broadcast=1 lets C broadcast, which it always may since opset 7.
		if _, err := d.Attrs.Int("broadcast", 0); err != nil {
			return nil, err
		}
	}
	ta, err := d.Attrs.Int("transA", 0)
	if err != nil {
		return nil, err
	}
	tb, err := d.Attrs.Int("transB", 0)
	if err != nil {
		return nil, err
	}
	o.transA, o.transB = ta != 0, tb != 0
	if o.alpha, err = d.Attrs.Float("alpha", 1); err != nil {
		return nil, err
	}
	if o.beta, err = d.Attrs.Float("beta", 1); err != nil {
		return nil, err
	}
	return o, nil
}

// dims returns m, k (of op(A)), k, n (of op(B)).
func (o *gemmOp) dims(a, b []Dim) (m, ka, kb, n Dim, err error) {
	if len(a) != 2 || len(b) != 2 {
		return m, ka, kb, n, fmt.Errorf("inputs A and B must be matrices, have shapes %s and %s", ShapeString(a), ShapeString(b))
	}
	m, ka, kb, n = a[0], a[1], b[0], b[1]
	if o.transA {
		m, ka = ka, m
	}
	if o.transB {
		kb, n = n, kb
	}
	if ka.Known() && kb.Known() && ka.Size != kb.Size {
		return m, ka, kb, n, fmt.Errorf("op(A) is %s×%d and op(B) is %d×%s: they cannot be multiplied", m, ka.Size, kb.Size, n)
	}
	return m, ka, kb, n, nil
}

func (o *gemmOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	for i, x := range in {
		if x != nil && x.DType != onnx.Float {
			return nil, fmt.Errorf("input %d is %v, only FLOAT is supported", i, x.DType)
		}
	}
	m, _, _, n, err := o.dims(in[0].Shape, in[1].Shape)
	if err != nil {
		return nil, err
	}
	out := []Dim{m, n}
	if c := opt(in, 2); c != nil {
		if c.Rank() > 2 {
			return nil, fmt.Errorf("input C has shape %s, which does not broadcast to %s", ShapeString(c.Shape), ShapeString(out))
		}
		bc, err := broadcastDims(out, c.Shape)
		if err != nil {
			return nil, fmt.Errorf("input C: %w", err)
		}
		for i, d := range bc {
			if d.Known() && out[i].Known() && d.Size != out[i].Size {
				return nil, fmt.Errorf("input C has shape %s, which does not broadcast to %s", ShapeString(c.Shape), ShapeString(out))
			}
		}
	}
	return []*Info{info(onnx.Float, out)}, nil
}

func (o *gemmOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	a, b, c := in[0], in[1], opt(in, 2)
	for i, x := range []*Tensor{a, b, c} {
		if x != nil && x.DType != onnx.Float {
			return nil, fmt.Errorf("input %d is %v, only FLOAT is supported", i, x.DType)
		}
	}
	md, kd, _, nd, err := o.dims(Sizes(a.Shape...), Sizes(b.Shape...))
	if err != nil {
		return nil, err
	}
	m, k, n := md.Size, kd.Size, nd.Size
	out, err := ctx.Alloc(onnx.Float, m, n)
	if err != nil {
		return nil, err
	}
	acc := false
	if c != nil && o.beta != 0 {
		shape, err := broadcastShapes([]int{m, n}, c.Shape)
		if err != nil || !slices.Equal(shape, []int{m, n}) {
			return nil, fmt.Errorf("input C has shape %v, which does not broadcast to [%d %d]", c.Shape, m, n)
		}
		if o.alpha == 1 {
			// out = beta·C, then out += A·B.
			stridedCopy(ctx, out, contiguous(shape), c, region{strides: broadcastStrides(c.Shape, shape)}, shape)
			if o.beta != 1 {
				scale(out.F32, o.beta)
			}
			acc = true
		}
	}
	lda, ldb := max(k, 1), max(n, 1)
	if o.transA {
		lda = max(m, 1)
	}
	if o.transB {
		ldb = max(k, 1)
	}
	gemm.Sgemm(o.transA, o.transB, m, n, k, a.F32, lda, b.F32, ldb, out.F32, max(n, 1), acc)
	if o.alpha != 1 {
		scale(out.F32, o.alpha)
		if c != nil && o.beta != 0 {
			// out = alpha·A·B + beta·C.
			p, err := planBroadcast(out.Shape, c.Shape)
			if err != nil {
				return nil, err
			}
			beta := o.beta
			rowsOf(ctx, p, out.F32, out.F32, c.F32, func(d, x, y []float32) { axpyK(d, x, y, beta) })
		}
	}
	return []*Tensor{out}, nil
}

// scale multiplies x by s.
func scale(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}

// axpyK is d = x + s·y, y a run of len(d) or one repeated element.
func axpyK(d, x, y []float32, s float32) {
	x = x[:len(d)]
	if len(y) < len(d) {
		v := s * y[0]
		for i := range d {
			d[i] = x[i] + v
		}
		return
	}
	y = y[:len(d)]
	for i := range d {
		d[i] = x[i] + float32(s*y[i])
	}
}
