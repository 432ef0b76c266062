package npy_test

import (
	"bytes"
	"fmt"

	"github.com/tensorquant/tensorquant/npy"
	"github.com/tensorquant/tensorquant/tensor"
)

// Labels are int64 in NumPy: New and Values move them between Go slices
// and .npy bytes.
func ExampleReadArray() {
	labels, _ := npy.New([]int64{3, 1, 4, 1, 5}, 5)
	var file bytes.Buffer
	if err := npy.WriteArray(&file, labels); err != nil {
		panic(err)
	}

	a, err := npy.ReadArray(&file)
	if err != nil {
		panic(err)
	}
	v, _ := npy.Values[int64](a)
	asFloat, _ := npy.Values[float32](a)
	_, err = npy.Values[uint8](&npy.Array{}) // an Array not made by New or a reader
	fmt.Println(a.DType, a.Shape, v, asFloat)
	fmt.Println(err)
	// Output:
	// int64 [5] [3 1 4 1 5] [3 1 4 1 5]
	// npy: invalid dtype DType(0)
}

// A .npz archive holds named arrays, as np.savez writes them; a PyTorch
// state_dict saved this way keys them by parameter name.
func ExampleReadNPZ() {
	w, _ := npy.New([]float32{0.5, -1, 2, 0}, 2, 2)
	n, _ := npy.New([]int64{7}) // a 0-d scalar
	var archive bytes.Buffer
	if err := npy.WriteNPZ(&archive, map[string]*npy.Array{"fc.weight": w, "steps": n}, true); err != nil {
		panic(err)
	}

	arrays, err := npy.ReadNPZ(bytes.NewReader(archive.Bytes()), int64(archive.Len()))
	if err != nil {
		panic(err)
	}
	weight, _ := arrays["fc.weight"].Tensor()
	steps, _ := npy.Values[int64](arrays["steps"])
	fmt.Println(len(arrays), weight.Shape, weight.Data, steps)
	// Output: 2 [2 2] [0.5 -1 2 0] [7]
}

// Read and Write move float32 tensors, the form calibration data takes.
func ExampleRead() {
	x, _ := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	var file bytes.Buffer
	if err := npy.Write(&file, x); err != nil {
		panic(err)
	}
	y, err := npy.Read(&file)
	fmt.Println(y.Shape, y.Data, err)
	// Output: [2 3] [1 2 3 4 5 6] <nil>
}
