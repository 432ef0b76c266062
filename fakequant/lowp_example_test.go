package fakequant_test

import (
	"fmt"
	"math"

	"github.com/tensorquant/tensorquant/fakequant"
)

func ExampleEncodeFP8() {
	x := []float32{1, 0.3, 464, 500, float32(math.Inf(-1)), float32(math.NaN())}
	sat, noSat := make([]uint8, len(x)), make([]uint8, len(x))
	if err := fakequant.EncodeFP8(sat, x, fakequant.E4M3FN, true); err != nil {
		panic(err)
	}
	if err := fakequant.EncodeFP8(noSat, x, fakequant.E4M3FN, false); err != nil {
		panic(err)
	}
	back := make([]float32, len(x))
	if err := fakequant.DecodeFP8(back, sat, fakequant.E4M3FN); err != nil {
		panic(err)
	}
	fmt.Printf("saturate=1: % x\n", sat)
	fmt.Printf("saturate=0: % x\n", noSat)
	fmt.Println("decoded:", back)
	// Output:
	// saturate=1: 38 2a 7e 7e fe 7f
	// saturate=0: 38 2a 7e 7f ff 7f
	// decoded: [1 0.3125 448 448 -448 NaN]
}

func ExampleFakeQuantFP8() {
	x := []float32{0.1, -1.3, 2.5, 1.99, 0}
	out := make([]float32, len(x))
	// amax 2: scale 2/448, so ±2 maps onto ±448 and 2.5 clips to 2.
	if err := fakequant.FakeQuantFP8(out, x, 2, fakequant.E4M3FN); err != nil {
		panic(err)
	}
	fmt.Println(out)
	// Output:
	// [0.09821429 -1.2857144 2 2 0]
}

func ExampleQuantizeInt4Block() {
	// Two rows of 5 weights, blocks of 4: the second block of each row has
	// one element.
	w := []float32{
		0.7, -0.35, 0.1, 0.05, 2,
		-1.4, 0.2, 0.0, 0.7, -0.3,
	}
	amax, err := fakequant.BlockAmax(w, 5, 4)
	if err != nil {
		panic(err)
	}
	scale, err := fakequant.Int4Scales(amax, false)
	if err != nil {
		panic(err)
	}
	codes := make([]int8, len(w))
	if err := fakequant.QuantizeInt4Block(codes, w, scale, 5, 4, false); err != nil {
		panic(err)
	}
	packed := make([]byte, fakequant.PackedInt4Len(len(codes)))
	if err := fakequant.PackInt4(packed, codes, false); err != nil {
		panic(err)
	}
	back := make([]float32, len(w))
	if err := fakequant.DequantizeInt4Block(back, codes, scale, 5, 4); err != nil {
		panic(err)
	}
	fmt.Println("amax:", amax)
	fmt.Println("codes:", codes)
	fmt.Printf("packed: % x\n", packed)
	fmt.Println("dequantized:", back)
	// Output:
	// amax: [0.7 2 1.4 0.3]
	// codes: [7 -4 1 0 7 -7 1 0 4 -7]
	// packed: c7 01 97 01 94
	// dequantized: [0.7 -0.4 0.1 0 2 -1.4 0.2 0 0.8 -0.3]
}
