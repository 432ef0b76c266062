package onnx

import (
	"strings"
	"testing"
)

// TestTensorValuesSizeOverflow: dims whose byte length overflows are an
// error. Before the checked arithmetic, 2^62 doubles times 8 bytes wrapped
// to 0, matched an empty raw_data and panicked in makeslice.
func TestTensorValuesSizeOverflow(t *testing.T) {
	for _, dims := range [][]int64{{1 << 62}, {1 << 61}, {1 << 31, 1 << 30}, {1<<62 + 1}} {
		x := &Tensor{Name: "x", Dims: dims, DataType: Double, RawData: []byte{}}
		_, err := TensorValues[float64](x)
		if err == nil || !strings.Contains(err.Error(), "than an int can count") {
			t.Errorf("dims %v: %v", dims, err)
		}
	}
}
