package qgemm_test

import (
	"fmt"

	"github.com/tensorquant/tensorquant/internal/qgemm"
)

// ExampleMatMulQuant is ONNX QLinearMatMul: uint8 activations (scale 0.5,
// zero point 10) times int8 weights (scale 0.25 per tensor), requantized
// to uint8 with scale 1 and zero point 128.
func ExampleMatMulQuant() {
	// B is 3×2, packed once.
	w, err := qgemm.PackMatrix([]int8{
		4, -8,
		8, 0,
		-4, 12,
	}, 3, 2, 2, false, []int8{0})
	if err != nil {
		panic(err)
	}
	a := qgemm.Matrix[uint8]{Data: []uint8{12, 14, 10, 30, 10, 6}, Rows: 2, Stride: 3, ZeroPoint: 10}
	y := make([]uint8, 4)
	q := qgemm.Requant{Scale: []float32{0.5 * 0.25 / 1}, ZeroPoint: 128, Min: 0, Max: 255}
	if err := qgemm.MatMulQuant(1, a, w, nil, q, y, 2); err != nil {
		panic(err)
	}
	// Row 0: (2, 4, 0)·B = (40, −16): 40/8 = 5, −16/8 = −2.
	// Row 1: (20, 0, −4)·B = (96, −208): 12, −26.
	fmt.Println(y)
	// Output: [133 126 140 102]
}

// ExampleConvQuant is ONNX QLinearConv: a 3×3 convolution with padding 1
// of one 4×4 uint8 channel (zero point 0) by a kernel of ones, requantized
// with scale 1: each output is the sum of its neighbourhood.
func ExampleConvQuant() {
	c := qgemm.Conv{Batch: 1, InC: 1, InH: 4, InW: 4, OutC: 2, KH: 3, KW: 3,
		PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}
	ones := make([]int8, 2*9)
	for i := range ones {
		ones[i] = 1
	}
	ones[9+4] = 2 // channel 1 counts the centre twice
	cw, err := qgemm.PackConv(c, ones, []int8{0})
	if err != nil {
		panic(err)
	}
	x := []uint8{
		1, 1, 1, 1,
		1, 1, 1, 1,
		1, 1, 1, 1,
		1, 1, 1, 1,
	}
	y := make([]uint8, 2*16)
	q := qgemm.Requant{Scale: []float32{1}, ZeroPoint: 0, Min: 0, Max: 255}
	if err := qgemm.ConvQuant(1, cw, qgemm.NCHW, qgemm.NCHW, x, 0, nil, q, y); err != nil {
		panic(err)
	}
	fmt.Println(y[:16])
	fmt.Println(y[16:])
	// Output:
	// [4 6 6 4 6 9 9 6 6 9 9 6 4 6 6 4]
	// [5 7 7 5 7 10 10 7 7 10 10 7 5 7 7 5]
}
