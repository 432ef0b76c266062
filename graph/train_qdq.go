package graph

import (
	"fmt"
	"slices"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/onnx"
)

func init() {
	RegisterPass(Pass{Name: "fuse-qdq", Stage: StageFuse + 300, Exact: true, Apply: fuseQDQPass})
}

// The training graph, and the optimised inference graph (pass
// "fuse-qdq"), run a QuantizeLinear → DequantizeLinear pair as one op,
// fakeQuantOp: the same numbers (each element quantized and
// dequantized by the same scalar functions), in one pass without the
// codes in between, and the pair's straight-through gradient.

// fakeQuantOp is a QuantizeLinear (q) whose codes only a
// DequantizeLinear (dq) of the same scale, zero point and axis reads.
type fakeQuantOp struct{ q, dq *qdqOp }

func (o *fakeQuantOp) Infer(in []*Info) ([]*Info, error) {
	codes, err := o.q.Infer(in)
	if err != nil {
		return nil, err
	}
	return o.dq.Infer(append([]*Info{codes[0]}, in[1:]...))
}

func (o *fakeQuantOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	x, scale, zp := in[0], in[1], opt(in, 2)
	t, l, zps, err := o.q.prepare(x, scale, zp)
	if err != nil {
		return nil, err
	}
	if isFP8(t) {
		codes, err := o.q.Run(ctx, in)
		if err != nil {
			return nil, err
		}
		defer ctx.free(codes[0])
		return o.dq.Run(ctx, append([]*Tensor{codes[0]}, in[1:]...))
	}
	y, err := ctx.Alloc(onnx.Float, x.Shape...)
	if err != nil {
		return nil, err
	}
	r, sc := qRange(t), scale.F32
	l.runs(ctx, func(at, n, s, step int) {
		dst, src := y.F32[at:at+n], x.F32[at:at+n]
		if step == 0 {
			switch t {
			case onnx.Int8:
				if qdqRun[int8](dst, src, sc[s], zps[s], r[0], r[1]) {
					return
				}
			case onnx.Uint8:
				if qdqRun[uint8](dst, src, sc[s], zps[s], r[0], r[1]) {
					return
				}
			}
		}
		for i, v := range src {
			j := s + i*step
			dst[i] = fakequant.DequantizeLinear(fakequant.QuantizeLinear(v, sc[j], zps[j], r[0], r[1]), zps[j], sc[j])
		}
	})
	return []*Tensor{y}, nil
}

// qdqRun writes the Q → DQ pair of src (one scale and zero point) into
// dst through fakequant.QuantizeLinearCodes, the vector kernels of the
// scalar QuantizeLinear (the same codes), in chunks of codes on the
// stack, each code's value then looked up in a table of the 256 (as
// dequantRun does from dequantTableMin codes on), and reports whether it
// could (false, having written nothing, for a range the codes' type does
// not hold).
func qdqRun[T int8 | uint8](dst, src []float32, scale float32, zp, lo, hi int32) bool {
	var codes [512]T
	var table [256]float32
	if len(src) >= dequantTableMin {
		table = codeValues[T](zp, scale)
	}
	for i := 0; i < len(src); i += len(codes) {
		s := src[i:min(i+len(codes), len(src))]
		if fakequant.QuantizeLinearCodes(codes[:len(s)], s, scale, zp, lo, hi) != nil {
			return false
		}
		d := dst[i : i+len(s)]
		if len(src) >= dequantTableMin {
			for j, q := range codes[:len(s)] {
				d[j] = table[uint8(q)]
			}
			continue
		}
		for j, q := range codes[:len(s)] {
			d[j] = fakequant.DequantizeLinear(int32(q), zp, scale)
		}
	}
	return true
}

// Backward is the pair's straight-through gradient (QuantizeLinear's
// backward; DequantizeLinear passes its gradient on unchanged).
func (o *fakeQuantOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	return o.q.Backward(ctx, in, out, dOut, needs)
}

// fuseQDQ replaces, in nodes (ops not built), every QuantizeLinear whose
// codes only one DequantizeLinear of the same scale, zero point and
// attributes reads by one fakeQuantOp node named and writing as the
// DequantizeLinear. outputs are the graph's outputs (codes that are one
// stay). It returns an error for a pair whose op cannot be built.
func fuseQDQ(nodes []*Node, opsets map[string]int, outputs []ValueSpec) ([]*Node, error) {
	readers := map[string][]*Node{}
	for _, n := range nodes {
		for _, in := range n.Inputs {
			readers[in] = append(readers[in], n)
		}
	}
	isOutput := map[string]bool{}
	for _, o := range outputs {
		isOutput[o.Name] = true
	}
	fused := map[*Node]*Node{} // DequantizeLinear -> its QuantizeLinear
	dropped := map[*Node]bool{}
	for _, q := range nodes {
		if q.OpType != "QuantizeLinear" || normDomain(q.Domain) != "" || len(q.Outputs) != 1 || isOutput[q.Outputs[0]] {
			continue
		}
		r := readers[q.Outputs[0]]
		if len(r) != 1 || !qdqPair(q, r[0]) {
			continue
		}
		fused[r[0]], dropped[q] = q, true
	}
	var out []*Node
	for _, n := range nodes {
		if dropped[n] {
			continue
		}
		q, ok := fused[n]
		if !ok {
			out = append(out, n)
			continue
		}
		qop, err := buildOp(q, opsets, nil)
		if err != nil {
			return nil, nodeErr(q, err)
		}
		dqop, err := buildOp(n, opsets, nil)
		if err != nil {
			return nil, nodeErr(n, err)
		}
		qo, ok1 := qop.(*qdqOp)
		do, ok2 := dqop.(*qdqOp)
		if !ok1 || !ok2 {
			return nil, nodeErr(n, fmt.Errorf("not a QuantizeLinear/DequantizeLinear pair"))
		}
		out = append(out, &Node{Name: n.Name, OpType: "QuantizeLinear+DequantizeLinear", Domain: n.Domain,
			Inputs: slices.Clone(q.Inputs), Outputs: slices.Clone(n.Outputs), Attrs: slices.Clone(q.Attrs),
			Op: &fakeQuantOp{q: qo, dq: do}})
	}
	return out, nil
}

// qdqPair reports whether dq is a DequantizeLinear of the codes of the
// QuantizeLinear q (its only output) with the same scale, zero point,
// axis and block_size: the pair a fakeQuantOp computes.
func qdqPair(q, dq *Node) bool {
	return onnxOp(q, "QuantizeLinear") && onnxOp(dq, "DequantizeLinear") && len(q.Outputs) == 1 && len(dq.Inputs) > 0 &&
		dq.Inputs[0] == q.Outputs[0] && slices.Equal(dq.Inputs[1:], q.Inputs[1:]) && sameQDQAttrs(q, dq)
}

// fuseQDQPass replaces every QuantizeLinear whose codes only a
// DequantizeLinear of the same parameters reads (qdqPair; the codes
// neither a graph output nor kept) by one fakeQuantOp node named and
// writing as the DequantizeLinear: the same values in one pass, without
// the codes' tensor. In an int8 session the pairs left are those around
// the layers that run in float; with Options.Float, every activation's.
func fuseQDQPass(r *Rewriter) error {
	for _, q := range r.Nodes() {
		if !onnxOp(q, "QuantizeLinear") || len(q.Outputs) != 1 {
			continue
		}
		dq := r.SoleReader(q.Outputs[0])
		if !qdqPair(q, dq) {
			continue
		}
		qo, ok1 := q.Op.(*qdqOp)
		do, ok2 := dq.Op.(*qdqOp)
		if !ok1 || !ok2 {
			continue
		}
		r.Replace([]*Node{q, dq}, &Node{Name: dq.Name, OpType: "QuantizeLinear+DequantizeLinear", Domain: FusedDomain,
			Inputs: slices.Clone(q.Inputs), Outputs: slices.Clone(dq.Outputs), Attrs: slices.Clone(q.Attrs),
			Op: &fakeQuantOp{q: qo, dq: do}})
	}
	return nil
}

// sameQDQAttrs reports whether the pair's axis and block_size agree (the
// other attributes are QuantizeLinear's own).
func sameQDQAttrs(q, dq *Node) bool {
	get := func(n *Node, name string, def int) int {
		v, err := NewAttrs(n.Attrs).Int(name, def)
		if err != nil {
			return -1 << 31
		}
		return v
	}
	return get(q, "axis", 1) == get(dq, "axis", 1) && get(q, "block_size", 0) == get(dq, "block_size", 0)
}
