package fakequant_test

import (
	"fmt"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/tensor"
)

// The original toolkit's first example: torch.manual_seed(12345);
// x = torch.rand(10); quantized with amax = x.abs().max() (the function
// default is 8-bit narrow range).
func ExampleTensorQuant() {
	x, _ := tensor.FromSlice([]float32{0.9817182, 0.8796065, 0.9921435, 0.4610673, 0.0832160,
		0.1784311, 0.3674315, 0.5676497, 0.3376067, 0.2119466}, 10)
	amax := tensor.Scalar(0.9921435)
	q, scale, _ := fakequant.TensorQuant(x, amax, fakequant.Format{NumBits: 8, NarrowRange: true})
	fmt.Println(q.Data)
	fmt.Printf("scale=%.4f\n", scale.Data[0])
	// Output:
	// [126 113 127 59 11 23 47 73 43 27]
	// scale=128.0057
}

func ExampleFakeTensorQuant() {
	x, _ := tensor.FromSlice([]float32{-1.5, -0.2, 0, 0.3, 0.74, 2}, 6)
	out, _ := fakequant.FakeTensorQuant(x, tensor.Scalar(1), fakequant.Format{NumBits: 4, NarrowRange: true})
	fmt.Println(out.Data)
	// Output: [-1 -0.14285715 0 0.2857143 0.71428573 1]
}

// A per-channel amax broadcasts against the input: here one amax per row.
func ExampleFakeTensorQuant_perChannel() {
	x, _ := tensor.FromSlice([]float32{0.5, -1, 10, 20}, 2, 2)
	amax, _ := tensor.FromSlice([]float32{1, 20}, 2, 1)
	out, _ := fakequant.FakeTensorQuant(x, amax, fakequant.Int8)
	fmt.Println(out.Data)
	// Output: [0.503937 -1 10.07874 20]
}

// QuantInt8 gives the deployable codes and the scale to divide them by;
// Dequant divides, so it reproduces FakeQuant.
func ExampleQuantInt8() {
	x := []float32{-0.5, 0.1, 0.25, 1.2}
	q := make([]int8, len(x))
	scale := fakequant.QuantInt8(q, x, 1, fakequant.Int8)
	back := make([]float32, len(x))
	fakequant.Dequant(back, q, scale)
	fmt.Println(q, scale)
	fmt.Println(back)
	// Output:
	// [-64 13 32 127] 127
	// [-0.503937 0.10236221 0.2519685 1]
}

// STEGrad passes the gradient where |x| <= amax (inclusive) and stops it
// where the input was clipped.
func ExampleSTEGrad() {
	x, _ := tensor.FromSlice([]float32{-2, -1, 0.5, 1, 3}, 5)
	dy, _ := tensor.FromSlice([]float32{1, 1, 1, 1, 1}, 5)
	dx, _ := fakequant.STEGrad(x, tensor.Scalar(1), dy)
	fmt.Println(dx.Data)
	// Output: [0 1 1 1 0]
}
