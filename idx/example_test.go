package idx_test

import (
	"bytes"
	"fmt"

	"github.com/tensorquant/tensorquant/idx"
)

// Reading labels and images as the MNIST family ships them (ReadFile also
// takes the .gz files directly).
func ExampleRead() {
	labels, _ := idx.New(idx.Uint8, []int{3}, []float64{9, 2, 1})
	var file bytes.Buffer
	if err := idx.Write(&file, labels); err != nil {
		fmt.Println(err)
		return
	}
	a, err := idx.Read(&file)
	if err != nil {
		fmt.Println(err)
		return
	}
	l, _ := a.Ints()
	fmt.Println(a.Type, a.Shape, l)
	// Output: uint8 [3] [9 2 1]
}
