package graph

import (
	"fmt"
	"slices"

	"github.com/tensorquant/tensorquant/onnx"
)

// A Transpose that keeps the last axis in place moves whole rows: its
// output's row r is one row of its input. An element-wise op that reads
// it row by row (an Add, Sub, Mul or Div of two inputs of one shape, or a
// QuantizeLinear per tensor to 8-bit codes) can as well read each row
// where it lies in the Transpose's input, which saves the Transpose's
// copy: in PyTorch's export of nn.MultiheadAttention with batch_first,
// the [B, S, E] ↔ [S, B, E] Transposes before the input projection's
// quantizer and before the residual Add (at batch 8, 1 MiB copies each,
// 0.05-0.19 ms of the encoder's 11.5). The op computes the same bits.

func init() {
	RegisterPass(Pass{Name: "transposed-reads", Stage: StageFuse + 400, Exact: true, Apply: transposedReads})
	for _, op := range []string{"Add", "Sub", "Mul", "Div", "QuantizeLinear"} {
		batchRules["Transposed"+op] = transposedRule
	}
}

// transposedOp is an element-wise op (inner: a binaryOp of arithmetic, or
// a qdqOp quantizing per tensor) whose input `input` is read through the
// Transpose perm, which keeps the last axis: the node reads the
// Transpose's input.
type transposedOp struct {
	inner Op
	input int
	perm  []int
}

func (o *transposedOp) Infer(in []*Info) ([]*Info, error) {
	if len(in) <= o.input || in[o.input] == nil || in[o.input].Rank() != len(o.perm) {
		return nil, fmt.Errorf("input %d: want rank %d", o.input, len(o.perm))
	}
	in = slices.Clone(in)
	in[o.input] = info(in[o.input].DType, permuted(o.perm, in[o.input].Shape))
	return o.inner.Infer(in)
}

// plan returns the row plan of an output of shape out (the Transpose's
// output shape) over n inputs of that shape, input o.input read through
// the permutation: every row whole (of the last axis), the outer
// dimensions unmerged.
func (o *transposedOp) plan(out, x []int, n int) *bcast {
	last := len(out) - 1
	p := &bcast{shape: out, n: 1, row: out[last], outer: out[:last], strides: make([][]int, n), inner: make([]bool, n)}
	for _, d := range out {
		p.n *= d
	}
	own, src := contiguous(out).strides, contiguous(x).strides
	for k := range n {
		p.inner[k] = true
		p.strides[k] = own[:last]
	}
	p.strides[o.input] = permuted(o.perm, src)[:last]
	return p
}

func (o *transposedOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if len(in) <= o.input || in[o.input] == nil || len(in[o.input].Shape) != len(o.perm) {
		return nil, fmt.Errorf("input %d: want rank %d", o.input, len(o.perm))
	}
	x := in[o.input]
	shape := permuted(o.perm, x.Shape)
	if keepsOrder(x.Shape, o.perm) {
		// Only axes of size 1 move (an encoder's batch of one): the
		// inner op reads the input as it is, under the Transpose's shape.
		in = slices.Clone(in)
		in[o.input] = view(x, shape)
		return o.inner.Run(ctx, in)
	}
	switch inner := o.inner.(type) {
	case *binaryOp:
		if err := need(in, 2); err != nil {
			return nil, err
		}
		k := 1 - o.input
		y := in[k]
		if x.DType != onnx.Float || y.DType != onnx.Float || !slices.Equal(y.Shape, shape) {
			return nil, fmt.Errorf("inputs %v %v and %v %v (transposed to %v): want FLOAT of one shape", x.DType, x.Shape, y.DType, y.Shape, shape)
		}
		var out *Tensor
		var err error
		if ctx.Reusable(k) {
			out = y // read at the offsets it is written
		} else if out, err = ctx.Alloc(onnx.Float, shape...); err != nil {
			return nil, err
		}
		rowsOf(ctx, o.plan(shape, x.Shape, 2), out.F32, in[0].F32, in[1].F32, inner.arith.f32)
		return []*Tensor{out}, nil
	case *qdqOp:
		if err := need(in, 2); err != nil {
			return nil, err
		}
		t, l, zps, err := inner.prepare(x, in[1], opt(in, 2))
		if err != nil {
			return nil, err
		}
		if !l.perTensor || t != onnx.Int8 && t != onnx.Uint8 || x.DType != onnx.Float {
			return nil, fmt.Errorf("a QuantizeLinear to %v of %v, not per tensor to 8-bit codes", t, x.DType)
		}
		y, err := ctx.Alloc(t, shape...)
		if err != nil {
			return nil, err
		}
		r, sc := qRange(t), in[1].F32
		o.plan(shape, x.Shape, 1).rows(ctx, func(at, n int, offs []int) {
			src := x.F32[offs[0] : offs[0]+n]
			if t == onnx.Int8 {
				quantRun(y.I8[at:at+n], src, sc, zps, 0, r[0], r[1])
			} else {
				quantRun(y.U8[at:at+n], src, sc, zps, 0, r[0], r[1])
			}
		})
		return []*Tensor{y}, nil
	}
	return nil, fmt.Errorf("transposed reads of %T are not supported", o.inner)
}

// transposedReads replaces each Transpose that keeps the last axis in
// place (and moves more than axes of size 1, which its op already reads
// as a reshape) and whose output one element-wise node alone reads, once,
// by that node reading the Transpose's input (transposedOp): an Add, Sub,
// Mul or Div of FLOAT inputs of one shape, or a QuantizeLinear per tensor
// of FLOAT values to INT8 or UINT8 codes. Shape nodes that read the
// Transpose's output read its input with the permutation instead.
func transposedReads(r *Rewriter) error {
	for _, t := range r.Nodes() {
		to, ok := t.Op.(*transposeOp)
		if !onnxOp(t, "Transpose") || !ok || !r.Alive(t) || r.IsOutput(t.Outputs[0]) {
			continue
		}
		x := r.Info(t.Inputs[0])
		if x == nil || x.DType != onnx.Float || x.Rank() < 2 {
			continue
		}
		perm, err := to.permFor(x.Rank())
		if err != nil || perm[len(perm)-1] != len(perm)-1 || movesOnlyOnes(x.Shape, perm) {
			continue
		}
		var reader *Node
		var shapes []*Node
		for _, m := range r.Readers(t.Outputs[0]) {
			if so, ok := m.Op.(*shapeOp); ok && onnxOp(m, "Shape") && so.perm == nil {
				shapes = append(shapes, m)
				continue
			}
			if reader != nil {
				reader = nil
				break
			}
			reader = m
		}
		input := -1
		if reader != nil {
			input = transposedInput(r, reader, t.Outputs[0])
		}
		if input < 0 {
			continue
		}
		for _, m := range shapes {
			c := *m
			c.Inputs = []string{t.Inputs[0]}
			so := *m.Op.(*shapeOp)
			so.perm = perm
			c.Op = &so
			r.Replace([]*Node{m}, &c)
		}
		c := *reader
		c.OpType = "Transposed" + reader.OpType
		c.Inputs = slices.Clone(reader.Inputs)
		c.Inputs[input] = t.Inputs[0]
		c.Op = &transposedOp{inner: reader.Op, input: input, perm: perm}
		r.Replace([]*Node{t, reader}, &c)
	}
	return nil
}

// movesOnlyOnes reports whether perm moves only axes of size 1 of shape
// (all known), which the Transpose then reads as a reshape.
func movesOnlyOnes(shape []Dim, perm []int) bool {
	sizes := make([]int, len(shape))
	for i, d := range shape {
		if !d.Known() {
			return false
		}
		sizes[i] = d.Size
	}
	return keepsOrder(sizes, perm)
}

// transposedInput returns which input of n reads value, when n reads it
// once and can read it through a Transpose (transposedOp), or -1.
func transposedInput(r *Rewriter, n *Node, value string) int {
	input := slices.Index(n.Inputs, value)
	if len(n.Outputs) != 1 || input < 0 || slices.Index(n.Inputs[input+1:], value) >= 0 {
		return -1
	}
	switch o := n.Op.(type) {
	case *binaryOp:
		if o.arith == nil || o.aligned || o.swap || len(n.Inputs) != 2 || !slices.Contains([]string{"Add", "Sub", "Mul", "Div"}, n.OpType) {
			return -1
		}
		a, b := r.Info(n.Inputs[0]), r.Info(n.Inputs[1])
		if a == nil || b == nil || a.DType != onnx.Float || b.DType != onnx.Float || !sameShape(a, b) {
			return -1
		}
		return input
	case *qdqOp:
		if o.dequant || o.block != 0 || input != 0 || !onnxOp(n, "QuantizeLinear") {
			return -1
		}
		y := r.Info(n.Outputs[0])
		if !oneElement(r.Info(n.Inputs[1])) || y == nil || y.DType != onnx.Int8 && y.DType != onnx.Uint8 {
			return -1
		}
		return input
	}
	return -1
}

// transposedRule is the batch rule of a transposedOp node: the batch of
// the transposed input moves with the permutation (transposeRule), then
// the inner op's rule applies.
func transposedRule(sc *batchScan, n *Node, in []*Info, at []*batchAt, out []*Info) (batchAt, bool) {
	o, ok := n.Op.(*transposedOp)
	inner, known := batchRules[n.OpType[len("Transposed"):]]
	if !ok || !known || len(in) <= o.input || in[o.input] == nil || in[o.input].Rank() != len(o.perm) {
		return batchAt{}, false
	}
	in, at = slices.Clone(in), slices.Clone(at)
	in[o.input] = info(in[o.input].DType, permuted(o.perm, in[o.input].Shape))
	if a := at[o.input]; a != nil {
		j := slices.Index(o.perm, a.axis)
		if j < 0 {
			return batchAt{}, false
		}
		at[o.input] = &batchAt{j, a.n}
	}
	return inner(sc, n, in, at, out)
}
