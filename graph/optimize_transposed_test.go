package graph

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/onnx"
)

// TestTransposedReads checks which Transposes the transposed-reads pass
// folds into the element-wise node after them, and that the optimised
// graph computes the node-by-node graph's bits: Add, Sub, Mul and Div with
// either input transposed, QuantizeLinear per tensor to INT8 and UINT8
// (values on both sides of every code's rounding), ranks 3 and 4, a Shape
// of the transposed value; and the cases it must leave alone.
func TestTransposedReads(t *testing.T) {
	node := onnx.NewNode
	perm := func(p ...int64) onnx.Attribute { return onnx.IntsAttr("perm", p...) }
	rng := rand.New(rand.NewPCG(20, 1))
	codes := func(shape ...int) *Tensor { // every value near a code step
		x := randF32(rng, shape...)
		for i := range x.F32 {
			x.F32[i] = float32(rng.IntN(600)-300)*0.05 + []float32{0, 0.025, -0.025, 0.0249}[i%4]
		}
		return x
	}
	for _, c := range []struct {
		name   string
		inputs map[string]*Tensor
		consts map[string]*Tensor
		nodes  []onnx.Node
		want   []string       // the optimised node types
		sym    map[string]int // inputs' dimensions named "n" (of unknown size at load)
	}{
		{"add, first input", map[string]*Tensor{"x": randF32(rng, 3, 5, 16), "y": randF32(rng, 5, 3, 16)}, nil,
			[]onnx.Node{node("Transpose", "t", []string{"x"}, []string{"t"}, perm(1, 0, 2)), node("Add", "a", []string{"t", "y"}, []string{"out"})},
			[]string{"TransposedAdd"}, nil},
		{"sub, second input, rank 4", map[string]*Tensor{"x": randF32(rng, 2, 3, 4, 9), "y": randF32(rng, 4, 2, 3, 9)}, nil,
			[]onnx.Node{node("Transpose", "t", []string{"x"}, []string{"t"}, perm(2, 0, 1, 3)), node("Sub", "s", []string{"y", "t"}, []string{"out"})},
			[]string{"TransposedSub"}, nil},
		{"mul and div", map[string]*Tensor{"x": randF32(rng, 4, 2, 8), "y": randF32(rng, 2, 4, 8)}, nil,
			[]onnx.Node{
				node("Transpose", "t", []string{"x"}, []string{"t"}, perm(1, 0, 2)), node("Mul", "m", []string{"t", "y"}, []string{"p"}),
				node("Transpose", "u", []string{"p"}, []string{"u"}, perm(1, 0, 2)), node("Div", "d", []string{"u", "x"}, []string{"out"}),
			},
			[]string{"TransposedMul", "TransposedDiv"}, nil},
		{"quantize to uint8, with a Shape", map[string]*Tensor{"x": codes(6, 2, 32)}, map[string]*Tensor{"sc": f32(nil, 0.1), "zp": u8(nil, 128)},
			[]onnx.Node{
				node("Transpose", "t", []string{"x"}, []string{"t"}, perm(1, 0, 2)), node("Shape", "sh", []string{"t"}, []string{"shape"}),
				node("QuantizeLinear", "q", []string{"t", "sc", "zp"}, []string{"out"}),
			},
			[]string{"Shape", "TransposedQuantizeLinear"}, map[string]int{"x": 0}},
		{"a batch of one at run time", map[string]*Tensor{"x": randF32(rng, 1, 5, 8), "y": randF32(rng, 5, 1, 8)}, map[string]*Tensor{"sc": f32(nil, 0.1)},
			[]onnx.Node{
				node("Transpose", "t", []string{"x"}, []string{"t"}, perm(1, 0, 2)), node("Add", "a", []string{"t", "y"}, []string{"a"}),
				node("Transpose", "u", []string{"a"}, []string{"u"}, perm(1, 0, 2)), node("QuantizeLinear", "q", []string{"u", "sc"}, []string{"out"}),
			},
			[]string{"TransposedAdd", "TransposedQuantizeLinear"}, map[string]int{"x": 0, "y": 1}},
		{"quantize to int8", map[string]*Tensor{"x": codes(3, 4, 2, 20)}, map[string]*Tensor{"sc": f32(nil, 0.05), "zp": i8(nil, -3)},
			[]onnx.Node{node("Transpose", "t", []string{"x"}, []string{"t"}, perm(1, 2, 0, 3)), node("QuantizeLinear", "q", []string{"t", "sc", "zp"}, []string{"out"})},
			[]string{"TransposedQuantizeLinear"}, nil},
		{"no elements", map[string]*Tensor{"x": randF32(rng, 3, 0, 8), "y": randF32(rng, 0, 3, 8)}, map[string]*Tensor{"sc": f32(nil, 0.1)},
			[]onnx.Node{
				node("Transpose", "t", []string{"x"}, []string{"t"}, perm(1, 0, 2)), node("Add", "a", []string{"t", "y"}, []string{"a"}),
				node("Transpose", "u", []string{"a"}, []string{"u"}, perm(1, 0, 2)), node("QuantizeLinear", "q", []string{"u", "sc"}, []string{"out"}),
			},
			[]string{"TransposedAdd", "TransposedQuantizeLinear"}, map[string]int{"x": 1, "y": 0}},
		{"the last axis moves", map[string]*Tensor{"x": randF32(rng, 3, 4), "y": randF32(rng, 4, 3)}, nil,
			[]onnx.Node{node("Transpose", "t", []string{"x"}, []string{"t"}, perm(1, 0)), node("Add", "a", []string{"t", "y"}, []string{"out"})},
			[]string{"Transpose", "Add"}, nil},
		{"only axes of size 1 move", map[string]*Tensor{"x": randF32(rng, 1, 5, 8), "y": randF32(rng, 5, 1, 8)}, nil,
			[]onnx.Node{node("Transpose", "t", []string{"x"}, []string{"t"}, perm(1, 0, 2)), node("Add", "a", []string{"t", "y"}, []string{"out"})},
			[]string{"Transpose", "Add"}, nil},
		{"broadcast", map[string]*Tensor{"x": randF32(rng, 3, 5, 8), "y": randF32(rng, 8)}, nil,
			[]onnx.Node{node("Transpose", "t", []string{"x"}, []string{"t"}, perm(1, 0, 2)), node("Add", "a", []string{"t", "y"}, []string{"out"})},
			[]string{"Transpose", "Add"}, nil},
		{"read twice", map[string]*Tensor{"x": randF32(rng, 3, 5, 8)}, nil,
			[]onnx.Node{node("Transpose", "t", []string{"x"}, []string{"t"}, perm(1, 0, 2)), node("Add", "a", []string{"t", "t"}, []string{"out"})},
			[]string{"Transpose", "Add"}, nil},
		{"per-axis quantizer", map[string]*Tensor{"x": codes(3, 2, 4)}, map[string]*Tensor{"sc": f32(s(4), 0.1, 0.2, 0.3, 0.4), "zp": i8(s(4), 0, 1, 2, 3)},
			[]onnx.Node{node("Transpose", "t", []string{"x"}, []string{"t"}, perm(1, 0, 2)), node("QuantizeLinear", "q", []string{"t", "sc", "zp"}, []string{"out"}, onnx.IntAttr("axis", 2))},
			[]string{"Transpose", "QuantizeLinear"}, nil},
	} {
		m := &optModel{opset: 17, nodes: c.nodes, inputs: c.inputs, consts: c.consts, outputs: []string{"out"}}
		model := m.model(t)
		for _, in := range model.Graph.Input {
			if d, ok := c.sym[in.Name]; ok {
				in.Type.Tensor.Shape.Dim[d] = onnx.DimParam("n")
			}
		}
		if slices.ContainsFunc(c.nodes, func(n onnx.Node) bool { return n.OpType == "Shape" }) {
			// A Shape of a value of known shape is a constant.
			model.Graph.Output = append(model.Graph.Output, onnx.ValueInfo{Name: "shape"})
		}
		g := importModel(t, model)
		want, _ := runOptimized(t, g, OptimizeNone, c.inputs)
		got, types := runOptimized(t, g, OptimizeExact, c.inputs)
		if !slices.Equal(types, c.want) {
			t.Errorf("%s: optimised nodes %v, want %v", c.name, types, c.want)
		}
		if len(got) != len(model.Graph.Output) {
			t.Errorf("%s: %d outputs, want %d", c.name, len(got), len(model.Graph.Output))
		}
		for name, w := range want {
			check(t, fmt.Sprintf("%s: %s", c.name, name), got[name], w)
		}
	}
}
