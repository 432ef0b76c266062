package graph

import (
	"bytes"

	"github.com/tensorquant/tensorquant/internal/qgemm"
	"github.com/tensorquant/tensorquant/internal/vec"
	"github.com/tensorquant/tensorquant/onnx"
)

// The int8-act pass gives the integer convolutions and products that
// write floats (QConv and QMatMul whose output is not requantized by the
// int8 pass) the float ops that follow them:
//
//	QConv | QMatMul (float) → activation → QuantizeLinear (per tensor)
//
// The activation is any elementwise one that the float convolutions fuse
// (Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid, HardSwish, the SiLU of a
// Sigmoid and a Mul, and Gelu once fuse-gelu has found it: the pass runs
// after it), the QuantizeLinear is the next layer's input quantizer. The
// integer node then applies the activation to its float values while
// they are in cache and, with the QuantizeLinear, writes the codes
// instead of the floats (qgemm.ConvFloatQuant): the float values between
// the layers of an EfficientNet or MobileNetV3 (a SiLU or HardSwish, then
// the next convolution's quantization) and of an encoder's feed-forward
// block (Gelu) are never written. Either part alone is taken too. The
// values are the bits of the ops it replaces, the same kernels on the
// same floats, but for a Gelu followed by the QuantizeLinear: it runs
// vecmath.GeluFast (three times as fast, within 1e-7 of the Gelu where
// Gelu is within a few ulps), whose codes differ from the float graph's
// by one step where a value lies within 2e-7 of a rounding boundary.

func init() {
	RegisterPass(Pass{Name: "int8-act", Stage: StageFuse + 40, Integer: true, Apply: int8ActPass})
}

// int8ActPass absorbs the activation and the QuantizeLinear after each
// integer node with a float output.
func int8ActPass(r *Rewriter) error {
	for _, n := range r.Nodes() {
		var out *qOut
		note := -1
		switch o := n.Op.(type) {
		case *fusedQConvOp:
			out, note = &o.q.out, o.note
		case *fusedQMatMulOp:
			out, note = &o.q.out, o.note
		}
		if out == nil || out.kind != qFloat || !r.Alive(n) || len(n.Outputs) != 1 {
			continue
		}
		value := n.Outputs[0]
		var chain []*Node
		var fused []string
		a := activationAfter(r, value)
		if a == nil {
			a = geluAfter(r, value)
		}
		if a != nil {
			chain, value, fused = a.nodes, a.out, []string{a.name}
		}
		q, ys, zy, yType := quantizeAfter(r, value)
		if q != nil {
			chain, value, fused = append(chain, q), q.Outputs[0], append(fused, "QuantizeLinear")
		}
		if chain == nil {
			continue
		}
		if a != nil {
			out.deq.Act = a.act.Apply
			if f := a.act.Func; a.act.Kind == vec.Func {
				if q != nil && a.quantized != nil {
					f = a.quantized
				}
				out.deq.Act = func(x []float32) { f(x, x) } // the op's own kernel, nothing else
			}
		}
		if q != nil {
			out.kind, out.dtype, out.quant = qFloatQuant, yType, qgemm.Quantize{Scale: ys, ZeroPoint: zy}
		}
		c := *n
		c.Outputs = []string{value}
		c.Attrs = appendEpilogue(n.Attrs, fused)
		r.Replace(append([]*Node{n}, chain...), &c)
		if note >= 0 {
			in := &r.g.int8[note]
			in.Fused = append(in.Fused, fused...)
			if q != nil {
				in.Output = codeName(yType)
			}
		}
	}
	return nil
}

// appendEpilogue returns attrs (a fused node's, see fusedAttrs) with ops
// added to its epilogue attribute.
func appendEpilogue(attrs []onnx.Attribute, ops []string) []onnx.Attribute {
	out := make([]onnx.Attribute, 0, len(attrs))
	for _, a := range attrs {
		if a.Name == "epilogue" {
			s := bytes.Split(a.S, []byte(","))
			if len(a.S) == 0 {
				s = nil
			}
			for _, op := range ops {
				s = append(s, []byte(op))
			}
			a.S = bytes.Join(s, []byte(","))
		}
		out = append(out, a)
	}
	return out
}
