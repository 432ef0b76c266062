package graph

import (
	"slices"

	"github.com/tensorquant/tensorquant/onnx"
)

// The int8-codes pass gives the codes between integer nodes the type the
// integer kernels read: uint8 on amd64 (VPDPBUSD multiplies unsigned by
// signed bytes) and in the generic code, int8 on arm64 (SDOT). A product
// or convolution copies activations of the other type with their top bit
// flipped on every run (and a 1×1 convolution that could read its NHWC
// input in place copies it for that alone); codes of the other type with
// a zero point shifted by 128 (code + 128 and zero point + 128 for int8
// to uint8) are the same values: every DequantizeLinear, requantization
// and sum gives the same results. The original's exports use int8
// activations, ONNX Runtime's quantizer uint8.
//
// A value is retyped when no graph output or kept value is among it,
// its producer writes its codes itself (an integer node with a
// QuantizeLinear, QGlobalAveragePool, the NHWC scaling, or a per-tensor
// QuantizeLinear) and every reader is an integer node or a per-tensor
// DequantizeLinear, with at least one integer convolution or product to
// gain from it.

func init() {
	RegisterPass(Pass{Name: "int8-codes", Stage: StageFuse + 200, Integer: true, Apply: codesTypePass})
}

// codesTypePass retypes the code values whose readers' kernels want the
// other type of byte.
func codesTypePass(r *Rewriter) error {
	for _, n := range r.Nodes() {
		if !r.Alive(n) || len(n.Outputs) != 1 {
			continue
		}
		v := n.Outputs[0]
		vi := r.Info(v)
		if vi == nil || !isCode(vi.DType) || r.IsOutput(v) {
			continue
		}
		want, ok := kernelCodes(r, v)
		if !ok || want == vi.DType {
			continue
		}
		d := int32(128) // the shift of codes and zero points
		if want == onnx.Int8 {
			d = -128
		}
		if !retypeProducer(r, n, want, d) {
			continue
		}
		for _, m := range r.Readers(v) {
			retypeReader(r, m, v, want, d)
		}
		c := *vi
		c.DType = want
		r.g.infos[v] = &c
	}
	return nil
}

// kernelCodes returns the code type the integer readers of value v want,
// and whether every reader can take v retyped.
func kernelCodes(r *Rewriter, v string) (onnx.DataType, bool) {
	want := onnx.Undefined
	for _, m := range r.Readers(v) {
		if len(m.Inputs) == 0 || m.Inputs[0] != v || slices.Contains(m.Inputs[1:], v) {
			return 0, false
		}
		var signed bool
		switch o := m.Op.(type) {
		case *fusedQConvOp:
			signed = o.q.w.SignedActivations()
		case *fusedQMatMulOp:
			signed = o.q.w.SignedActivations()
		case *qGlobalPoolOp:
			continue
		case *qdqOp:
			si := r.Info(m.Inputs[1])
			if !o.dequant || o.block != 0 || !oneElement(si) || len(m.Inputs) > 2 && m.Inputs[2] != "" && r.Const(m.Inputs[2]) == nil {
				return 0, false
			}
			if _, static := si.Static(); !static {
				return 0, false
			}
			continue
		default:
			return 0, false
		}
		t := map[bool]onnx.DataType{true: onnx.Int8, false: onnx.Uint8}[signed]
		if want != onnx.Undefined && want != t {
			return 0, false
		}
		want = t
	}
	return want, want != onnx.Undefined
}

// retypeProducer makes n write codes of type want, its zero point and
// bounds shifted by d, and reports whether it could.
func retypeProducer(r *Rewriter, n *Node, want onnx.DataType, d int32) bool {
	switch o := n.Op.(type) {
	case *fusedQConvOp:
		return retypeOut(&o.q.out, want, d)
	case *fusedQMatMulOp:
		return retypeOut(&o.q.out, want, d)
	case *scaleQuantOp:
		o.yType, o.zy = want, o.zy+d
		return true
	case *qGlobalPoolOp:
		o.yType, o.zy = want, o.zy+d
		return true
	case *qdqOp:
		if o.dequant || o.block != 0 || len(n.Inputs) < 2 || !oneElement(r.Info(n.Inputs[1])) {
			return false
		}
		zp, ok := shiftedZeroPoint(r, n, want, d)
		if !ok {
			return false
		}
		op := *o
		op.outType = want
		c := *n
		c.Inputs = []string{n.Inputs[0], n.Inputs[1], zp}
		c.Op = &op
		r.Replace([]*Node{n}, &c)
		return true
	}
	return false
}

// retypeOut shifts the codes an integer node writes, requantized or
// through floats, to type want.
func retypeOut(o *qOut, want onnx.DataType, d int32) bool {
	switch o.kind {
	case qQuant:
		o.req.ZeroPoint, o.req.Min, o.req.Max = o.req.ZeroPoint+d, o.req.Min+d, o.req.Max+d
	case qFloatQuant:
		o.quant.ZeroPoint += d
	default:
		return false
	}
	o.dtype = want
	return true
}

// retypeReader makes reader m take value v as codes of type want, their
// zero point shifted by d (kernelCodes has checked it can).
func retypeReader(r *Rewriter, m *Node, v string, want onnx.DataType, d int32) {
	switch o := m.Op.(type) {
	case *fusedQConvOp:
		o.xType, o.zx = want, o.zx+d
	case *fusedQMatMulOp:
		o.xType, o.zx = want, o.zx+d
	case *qGlobalPoolOp:
		o.xType, o.zx = want, o.zx+d
	case *qdqOp:
		zp, _ := shiftedZeroPoint(r, m, want, d)
		c := *m
		c.Inputs = []string{m.Inputs[0], m.Inputs[1], zp}
		r.Replace([]*Node{m}, &c)
	}
}

// shiftedZeroPoint returns a constant holding the per-tensor zero point
// of Q/DQ node n (0 when it has none) plus d, as type want, of the shape
// of its scale.
func shiftedZeroPoint(r *Rewriter, n *Node, want onnx.DataType, d int32) (string, bool) {
	si := r.Info(n.Inputs[1])
	shape, ok := si.Static()
	if !ok {
		return "", false
	}
	z := int32(0)
	if len(n.Inputs) > 2 && n.Inputs[2] != "" {
		t := r.Const(n.Inputs[2])
		if t == nil || t.Len() != 1 || !isCode(t.DType) {
			return "", false
		}
		z = codes(t)[0]
	}
	z += d
	t := &Tensor{DType: want, Shape: shape}
	if want == onnx.Int8 {
		t.I8 = []int8{int8(z)}
	} else {
		t.U8 = []uint8{uint8(z)}
	}
	return r.AddConst(n.Name+"_zero_point", t), true
}
