package graph

import (
	"fmt"

	"github.com/tensorquant/tensorquant/onnx"
)

func ExampleImport_shapeArithmetic() {
	// torch's x.view(x.size(0), -1) on a batch of unknown size.
	zero, _ := TensorToONNX("zero", &Tensor{DType: onnx.Int64, Shape: []int{1}, I64: []int64{0}})
	minus1, _ := TensorToONNX("minus1", &Tensor{DType: onnx.Int64, Shape: []int{1}, I64: []int64{-1}})
	m := &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 13}}, Graph: &onnx.Graph{
		Input:       []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Float, onnx.DimParam("N"), onnx.DimValue(3), onnx.DimValue(8), onnx.DimValue(8))},
		Output:      []onnx.ValueInfo{{Name: "y"}},
		Initializer: []onnx.Tensor{zero, minus1},
		Node: []onnx.Node{
			onnx.NewNode("Shape", "shape", []string{"x"}, []string{"s"}),
			onnx.NewNode("Gather", "batch", []string{"s", "zero"}, []string{"n"}),
			onnx.NewNode("Concat", "target", []string{"n", "minus1"}, []string{"t"}, onnx.IntAttr("axis", 0)),
			onnx.NewNode("Reshape", "flatten", []string{"x", "t"}, []string{"y"}),
		},
	}}
	g, err := Import(m)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ShapeString(g.Info("y").Shape))
	// Output: [N 192]
}
