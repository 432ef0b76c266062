package layers_test

import (
	"fmt"

	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/tensor"
)

// A TensorQuantizer built from a descriptor with a fixed amax: 4-bit fake
// quantization in the full range [-8, 7] (note -0.5*7 = -3.5 rounding half
// to even, to -4).
func ExampleNewTensorQuantizer() {
	d := layers.QuantDesc8BitPerTensor()
	d.NumBits, d.Amax = 4, []float32{1}
	q, err := layers.NewTensorQuantizer(d)
	if err != nil {
		panic(err)
	}
	x, _ := tensor.FromSlice([]float32{-2, -0.5, 0.1, 0.6, 1}, 5)
	y, _ := q.Forward(x)
	fmt.Println(d)
	fmt.Println(q)
	fmt.Println(y.Data)
	// Output:
	// QuantDescriptor(4bit fake axis= per-tensor amax=1.0 full_range)
	// TensorQuantizer(4bit fake per-tensor amax=1.0000 calibrator=MaxCalibrator scale=1.0 quant)
	// [-1.1428572 -0.5714286 0.14285715 0.5714286 1]
}
