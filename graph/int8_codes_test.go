package graph_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/onnx"
)

// TestInt8CodesPass: codes of the type the kernels do not read (int8 on
// amd64, uint8 on arm64) between integer convolutions, read also by a
// DequantizeLinear (a residual Add) and written by a QuantizeLinear and
// by an integer convolution, are retyped with their zero points shifted
// by 128; the outputs are the bits of the same session with those
// values kept (not retyped). Both code types, so that one of them is
// retyped on either architecture.
func TestInt8CodesPass(t *testing.T) {
	for _, ct := range []onnx.DataType{onnx.Int8, onnx.Uint8} {
		t.Run(fmt.Sprint(ct), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(21, 22))
			zc := []int{3}
			if ct == onnx.Uint8 {
				zc = []int{125}
			}
			b := newQDQBuilder(rng, must(onnx.NewTensor("sc", nil, []float32{0.04})), zeroPoint("zc", ct, nil, zc))
			c1 := b.layer("Conv", "c1", "x", "s", "z", []int64{16, 8, 3, 3}, onnx.IntsAttr("pads", 1, 1, 1, 1))
			a := b.node("QuantizeLinear", "a", []string{c1, "sc", "zc"})
			bq := b.node("QuantizeLinear", "b", []string{b.layer("Conv", "c2", a, "sc", "zc", []int64{16, 16, 1, 1}), "sc", "zc"})
			sum := b.node("Add", "sum", []string{b.node("DequantizeLinear", "a.dq", []string{a, "sc", "zc"}), b.node("DequantizeLinear", "b.dq", []string{bq, "sc", "zc"})})
			q := b.node("QuantizeLinear", "q", []string{sum, "sc", "zc"})
			b.layer("Conv", "y", q, "sc", "zc", []int64{6, 16, 1, 1})
			b.layer("Conv", "y2", bq, "sc", "zc", []int64{5, 16, 3, 3})
			m := b.model(map[string][]int64{"x": {8, 9, 10}}, "y", "y2")
			x := must(graph.New(onnx.Uint8, 2, 8, 9, 10))
			copy(x.U8, randCodes(rng, x.Len()))
			got, _ := runLayouts(t, m, x, nil)
			want, _ := runLayouts(t, m, x, []string{a, bq, q})
			sameOutputs(t, got, want, "y", "y2")
		})
	}
}
