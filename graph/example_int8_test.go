package graph_test

import (
	"fmt"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/onnx"
)

// A QDQ layer — the activations' codes and the weight's dequantized, a
// MatMul, a Relu, the result quantized — runs in int8 arithmetic by
// default (Session.Int8Nodes says so) and as fake quantization with
// Options.Float; here both give the same codes: x·W = (2, 4)·W = (45,
// 40, −45), over the output scale 2 and through the Relu: 22 (22.5
// rounded half to even), 20 and 0.
func ExampleSession_Int8Nodes() {
	scalar := func(name string, v float32) onnx.Tensor { t, _ := onnx.NewTensor(name, nil, []float32{v}); return t }
	zero, _ := onnx.NewTensor("zero", nil, []int8{0})
	w, _ := onnx.NewTensor("w", []int64{2, 3}, []int8{10, -20, 30, 40, 50, -60})
	m := &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 17}}, Graph: &onnx.Graph{
		Input:       []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Int8, onnx.DimParam("N"), onnx.DimValue(2))},
		Output:      []onnx.ValueInfo{{Name: "y"}},
		Initializer: []onnx.Tensor{scalar("sx", 0.5), scalar("sw", 0.25), scalar("sy", 2), zero, w},
		Node: []onnx.Node{
			onnx.NewNode("DequantizeLinear", "dqx", []string{"x", "sx", "zero"}, []string{"xf"}),
			onnx.NewNode("DequantizeLinear", "dqw", []string{"w", "sw", "zero"}, []string{"wf"}),
			onnx.NewNode("MatMul", "matmul", []string{"xf", "wf"}, []string{"p"}),
			onnx.NewNode("Relu", "relu", []string{"p"}, []string{"r"}),
			onnx.NewNode("QuantizeLinear", "q", []string{"r", "sy", "zero"}, []string{"y"}),
		},
	}}
	x := &graph.Tensor{DType: onnx.Int8, Shape: []int{1, 2}, I8: []int8{4, 8}}
	for _, float := range []bool{false, true} {
		g, err := graph.Import(m)
		if err != nil {
			fmt.Println(err)
			return
		}
		s, _ := graph.NewSession(g, graph.Options{Float: float})
		out, _ := s.Run(map[string]*graph.Tensor{"x": x})
		fmt.Println("float", float, "->", out["y"].I8, s.Int8Nodes())
	}
	// Output:
	// float false -> [22 20 0] [{matmul MatMul true int8 [Relu QuantizeLinear]  }]
	// float true -> [22 20 0] []
}
