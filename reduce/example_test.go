package reduce_test

import (
	"fmt"

	"github.com/tensorquant/tensorquant/reduce"
	"github.com/tensorquant/tensorquant/tensor"
)

func ExampleAbsMax() {
	fmt.Println(reduce.AbsMax([]float32{0.5, -3, 2}))
	// Output: 3
}

// Amax keeps the listed axes: one amax per output channel of a conv
// weight [out, in, kh, kw] is Amax(w, []int{0}).
func ExampleAmax() {
	w, _ := tensor.FromSlice([]float32{1, -2, 3, -4, 0.5, 0.25, -0.125, 0}, 2, 1, 2, 2)
	perChannel, _ := reduce.Amax(w, []int{0})
	perTensor, _ := reduce.Amax(w, nil)
	fmt.Println(perChannel.Shape, perChannel.Data)
	fmt.Println(perTensor.Shape, perTensor.Data)
	// Output:
	// [2 1 1 1] [4 0.5]
	// [1 1 1 1] [4]
}
