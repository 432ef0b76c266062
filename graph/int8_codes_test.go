package graph_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/onnx"
)

// TestInt8CodesPass: codes of the type the kernels do not read (int8 on
// amd64, uint8 on arm64) between integer convolutions, read also by a
// DequantizeLinear (a residual Add) and written by a QuantizeLinear and
// by an integer convolution, are retyped with their zero points shifted
// by 128; the outputs are the bits of the same session with those
// values kept (not retyped). Both code types, so that one of them is
// retyped on either architecture.
func TestInt8CodesPass(t *testing.T) {
	for _, ct := range []onnx.DataType{onnx.Int8, onnx.Uint8} {
		t.Run(fmt.Sprint(ct), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(21, 22))
			zc := []int{3}
			if ct == onnx.Uint8 {
				zc = []int{125}
			}
			inits := []onnx.Tensor{
				must(onnx.NewTensor("s", nil, []float32{0.05})),
				zeroPoint("z", onnx.Uint8, nil, []int{128}),
				must(onnx.NewTensor("sc", nil, []float32{0.04})),
				zeroPoint("zc", ct, nil, zc),
				must(onnx.NewTensor("sw", nil, []float32{0.01})),
				zeroPoint("zw", onnx.Int8, nil, []int{0}),
			}
			var nodes []onnx.Node
			node := func(op, name string, in []string, attrs ...onnx.Attribute) string {
				nodes = append(nodes, onnx.NewNode(op, name, in, []string{name}, attrs...))
				return name
			}
			// conv dequantizes codes in (scale s, zero point z) and
			// convolves them with random int8 weights of shape w.
			conv := func(name, in, s, z string, w []int64, attrs ...onnx.Attribute) string {
				inits = append(inits, codeTensor(rng, name+".w", onnx.Int8, w...))
				x := node("DequantizeLinear", name+".dqx", []string{in, s, z})
				return node("Conv", name, []string{x, node("DequantizeLinear", name+".dqw", []string{name + ".w", "sw", "zw"})}, attrs...)
			}
			a := node("QuantizeLinear", "a", []string{conv("c1", "x", "s", "z", []int64{16, 8, 3, 3}, onnx.IntsAttr("pads", 1, 1, 1, 1)), "sc", "zc"})
			b := node("QuantizeLinear", "b", []string{conv("c2", a, "sc", "zc", []int64{16, 16, 1, 1}), "sc", "zc"})
			sum := node("Add", "sum", []string{node("DequantizeLinear", "a.dq", []string{a, "sc", "zc"}), node("DequantizeLinear", "b.dq", []string{b, "sc", "zc"})})
			q := node("QuantizeLinear", "q", []string{sum, "sc", "zc"})
			conv("y", q, "sc", "zc", []int64{6, 16, 1, 1})
			conv("y2", b, "sc", "zc", []int64{5, 16, 3, 3})
			m := &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 17}}, Graph: &onnx.Graph{
				Input:  []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Uint8, onnx.DimParam("N"), onnx.DimValue(8), onnx.DimValue(9), onnx.DimValue(10))},
				Output: []onnx.ValueInfo{{Name: "y"}, {Name: "y2"}}, Initializer: inits, Node: nodes,
			}}
			x := must(graph.New(onnx.Uint8, 2, 8, 9, 10))
			copy(x.U8, randCodes(rng, x.Len()))
			got, _ := runLayouts(t, m, x, nil)
			want, _ := runLayouts(t, m, x, []string{a, b, q})
			sameOutputs(t, got, want, "y", "y2")
		})
	}
}
