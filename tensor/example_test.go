package tensor_test

import (
	"fmt"

	"github.com/tensorquant/tensorquant/tensor"
)

func ExampleFromSlice() {
	x, err := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	if err != nil {
		panic(err)
	}
	y, _ := x.Reshape(3, -1)
	fmt.Println(x.Shape, x.Numel(), y.Shape)
	_, err = tensor.FromSlice([]float32{1, 2, 3}, 2, 2)
	fmt.Println(err)
	// Output:
	// [2 3] 6 [3 2]
	// tensor: shape [2 2] holds 4 elements, data has 3
}

func ExampleBroadcastShapes() {
	s, _ := tensor.BroadcastShapes([]int{10, 9, 8, 7}, []int{10, 1, 1, 1})
	fmt.Println(s)
	_, err := tensor.BroadcastShapes([]int{4, 3}, []int{5, 1})
	fmt.Println(err)
	// Output:
	// [10 9 8 7]
	// tensor: shapes [4 3] and [5 1] do not broadcast: the size of tensor a (4) must match the size of tensor b (5) at non-singleton dimension 0
}
