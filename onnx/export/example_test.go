package export_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx/export"
	"github.com/tensorquant/tensorquant/tensor"
)

// Export a model to an ONNX file in five lines.
func Example() {
	rng := rand.New(rand.NewPCG(1, 0))
	conv, _ := layers.NewConv2d(1, 4, 3, layers.ConvOptions{Padding: 1}, rng)
	fc, _ := layers.NewLinear(4*8*8, 10, true, rng)
	model := layers.NewSequential(conv, layers.NewReLU(), layers.NewFlatten(1, -1), fc)

	path := filepath.Join(os.TempDir(), "tensorquant-example.onnx")
	if err := export.WriteFile(path, model, export.Options{InputShape: []int{1, 8, 8}}); err != nil {
		fmt.Println(err)
		return
	}
	defer os.Remove(path)
	fmt.Println("wrote", filepath.Base(path))
	// Output:
	// wrote tensorquant-example.onnx
}

// Quantize a Linear layer, calibrate it, and export it: its quantizers
// become QuantizeLinear → DequantizeLinear pairs, as the original toolkit
// exports them.
func ExampleModel() {
	rng := rand.New(rand.NewPCG(1, 0))
	fc, _ := layers.NewLinear(16, 4, true, rng)
	q, _ := layers.Quantize(fc, layers.QuantDescs{}) // 8-bit input per tensor, weight per row
	input, weight := q.Quantizers()
	for _, tq := range []*layers.TensorQuantizer{input, weight} {
		tq.EnableCalib()
		tq.DisableQuant()
	}
	x := tensor.New(32, 16)
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	if _, err := q.Forward(x); err != nil {
		fmt.Println(err)
		return
	}
	for _, tq := range []*layers.TensorQuantizer{input, weight} {
		if err := tq.LoadCalibAmax("max", calibrators.AmaxOptions{}); err != nil {
			fmt.Println(err)
			return
		}
		tq.DisableCalib()
		tq.EnableQuant()
	}

	m, err := export.Model(q, export.Options{InputShape: []int{16}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("opset", m.OpsetImport[0].Version)
	for _, n := range m.Graph.Node {
		fmt.Printf("%-16s %-38s %v -> %v\n", n.OpType, n.Name, n.Input, n.Output)
	}
	// Output:
	// opset 13
	// Constant         /_input_quantizer/Constant             [] -> [/_input_quantizer/Constant_output_0]
	// Constant         /_input_quantizer/Constant_1           [] -> [/_input_quantizer/Constant_1_output_0]
	// QuantizeLinear   /_input_quantizer/QuantizeLinear       [input /_input_quantizer/Constant_1_output_0 /_input_quantizer/Constant_output_0] -> [/_input_quantizer/QuantizeLinear_output_0]
	// DequantizeLinear /_input_quantizer/DequantizeLinear     [/_input_quantizer/QuantizeLinear_output_0 /_input_quantizer/Constant_1_output_0 /_input_quantizer/Constant_output_0] -> [/_input_quantizer/DequantizeLinear_output_0]
	// Constant         /_weight_quantizer/Constant            [] -> [/_weight_quantizer/Constant_output_0]
	// Constant         /_weight_quantizer/Constant_1          [] -> [/_weight_quantizer/Constant_1_output_0]
	// QuantizeLinear   /_weight_quantizer/QuantizeLinear      [weight /_weight_quantizer/Constant_1_output_0 /_weight_quantizer/Constant_output_0] -> [/_weight_quantizer/QuantizeLinear_output_0]
	// DequantizeLinear /_weight_quantizer/DequantizeLinear    [/_weight_quantizer/QuantizeLinear_output_0 /_weight_quantizer/Constant_1_output_0 /_weight_quantizer/Constant_output_0] -> [/_weight_quantizer/DequantizeLinear_output_0]
	// Gemm             /Gemm                                  [/_input_quantizer/DequantizeLinear_output_0 /_weight_quantizer/DequantizeLinear_output_0 bias] -> [output]
}
