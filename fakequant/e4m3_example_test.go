package fakequant_test

import (
	"fmt"
	"math"

	"github.com/tensorquant/tensorquant/fakequant"
)

func ExampleScaledE4M3() {
	x := []float32{0.1, -1.3, 2.5, 0.7, float32(math.Copysign(0, -1)), -1e-8}
	orig, onnx := make([]float32, len(x)), make([]float32, len(x))
	// The original's num_bits=(4, 3) with amax 2: x * (448/2), rounded to
	// E4M3, then / (448/2); 2.5 clips to 2, and |x| < 2^-24 becomes +0.
	if err := fakequant.ScaledE4M3(orig, x, 2); err != nil {
		panic(err)
	}
	// The ONNX convention (what an exported model computes): x / (2/448),
	// rounded, then * (2/448). The last bits and the signs of zero differ.
	if err := fakequant.FakeQuantFP8(onnx, x, 2, fakequant.E4M3FN); err != nil {
		panic(err)
	}
	fmt.Println("scaled_e4m3:", orig)
	fmt.Println("ONNX:       ", onnx)
	// Output:
	// scaled_e4m3: [0.09821428 -1.2857143 2 0.71428573 0 0]
	// ONNX:        [0.09821429 -1.2857144 2 0.71428573 -0 -0]
}
