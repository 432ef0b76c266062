package graph_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/onnx"
)

// TestInt8ScalePass: a squeeze-and-excitation block as the original
// quantizes it (the pooling's input quantizer, the gate's convolution,
// Sigmoid, the channel scaling, the next convolution's input quantizer)
// runs its scaling and that quantizer as one node once the nhwc pass has
// made it NHWC, and computes the bits of the same session with every
// value kept (each op on its own, NCHW). One gate per image, and one for
// the batch.
func TestInt8ScalePass(t *testing.T) {
	for _, perImage := range []bool{true, false} {
		t.Run(fmt.Sprintf("per image %v", perImage), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(19, 20))
			inits := []onnx.Tensor{
				must(onnx.NewTensor("s", nil, []float32{0.05})),
				zeroPoint("z", onnx.Uint8, nil, []int{128}),
				must(onnx.NewTensor("sw", nil, []float32{0.01})),
				zeroPoint("zw", onnx.Int8, nil, []int{0}),
			}
			var nodes []onnx.Node
			node := func(op, name string, in []string, attrs ...onnx.Attribute) string {
				nodes = append(nodes, onnx.NewNode(op, name, in, []string{name}, attrs...))
				return name
			}
			conv := func(name, in string, w []int64, attrs ...onnx.Attribute) string {
				inits = append(inits, codeTensor(rng, name+".w", onnx.Int8, w...))
				x := node("DequantizeLinear", name+".dqx", []string{node("QuantizeLinear", name+".q", []string{in, "s", "z"}), "s", "z"})
				return node("Conv", name, []string{x, node("DequantizeLinear", name+".dqw", []string{name + ".w", "sw", "zw"})}, attrs...)
			}
			xf := node("DequantizeLinear", "dq", []string{"x", "s", "z"})
			c1 := conv("c1", xf, []int64{20, 8, 3, 3}, onnx.IntsAttr("pads", 1, 1, 1, 1))
			pool := node("GlobalAveragePool", "gap", []string{node("DequantizeLinear", "gap.dq", []string{node("QuantizeLinear", "gap.q", []string{c1, "s", "z"}), "s", "z"})})
			if !perImage {
				pool = node("ReduceMean", "batch", []string{pool}, onnx.IntsAttr("axes", 0))
			}
			gate := node("Sigmoid", "gate", []string{conv("c2", pool, []int64{20, 20, 1, 1})})
			scaled := node("Mul", "excite", []string{gate, c1})
			conv("y", scaled, []int64{6, 20, 1, 1})
			m := &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 17}}, Graph: &onnx.Graph{
				Input:  []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Uint8, onnx.DimParam("N"), onnx.DimValue(8), onnx.DimValue(23), onnx.DimValue(29))},
				Output: []onnx.ValueInfo{{Name: "y"}}, Initializer: inits, Node: nodes,
			}}
			x := must(graph.New(onnx.Uint8, 3, 8, 23, 29))
			copy(x.U8, randCodes(rng, x.Len()))
			var keep []string
			for _, n := range nodes {
				if n.Name != "y" {
					keep = append(keep, n.Output...)
				}
			}
			got, layouts := runLayouts(t, m, x, nil)
			want, _ := runLayouts(t, m, x, keep)
			if w := "c1:NCHW→NHWC c2:NCHW→NCHW y:NHWC→NCHW "; layouts != w {
				t.Errorf("layouts %s, want %s", layouts, w)
			}
			sameOutputs(t, got, want, "y")
		})
	}
}
