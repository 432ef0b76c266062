package graph_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/onnx"
)

// TestInt8ScalePass: a squeeze-and-excitation block as the original
// quantizes it (the pooling's input quantizer, the gate's convolution,
// Sigmoid, the channel scaling, the next convolution's input quantizer)
// runs its scaling and that quantizer as one node once the nhwc pass has
// made it NHWC, and computes the bits of the same session with every
// value kept (each op on its own, NCHW). One gate per image, and one for
// the batch.
func TestInt8ScalePass(t *testing.T) {
	for _, perImage := range []bool{true, false} {
		t.Run(fmt.Sprintf("per image %v", perImage), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(19, 20))
			b := newQDQBuilder(rng)
			xf := b.node("DequantizeLinear", "dq", []string{"x", "s", "z"})
			c1 := b.quantized("Conv", "c1", xf, []int64{20, 8, 3, 3}, onnx.IntsAttr("pads", 1, 1, 1, 1))
			pool := b.node("GlobalAveragePool", "gap", []string{b.node("DequantizeLinear", "gap.dq", []string{b.node("QuantizeLinear", "gap.q", []string{c1, "s", "z"}), "s", "z"})})
			if !perImage {
				pool = b.node("ReduceMean", "batch", []string{pool}, onnx.IntsAttr("axes", 0))
			}
			gate := b.node("Sigmoid", "gate", []string{b.quantized("Conv", "c2", pool, []int64{20, 20, 1, 1})})
			scaled := b.node("Mul", "excite", []string{gate, c1})
			b.quantized("Conv", "y", scaled, []int64{6, 20, 1, 1})
			m := b.model(map[string][]int64{"x": {8, 23, 29}}, "y")
			x := must(graph.New(onnx.Uint8, 3, 8, 23, 29))
			copy(x.U8, randCodes(rng, x.Len()))
			keep := b.values("y")
			got, layouts := runLayouts(t, m, x, nil)
			want, _ := runLayouts(t, m, x, keep)
			if w := "c1:NCHW→NHWC c2:NCHW→NCHW y:NHWC→NCHW "; layouts != w {
				t.Errorf("layouts %s, want %s", layouts, w)
			}
			sameOutputs(t, got, want, "y")
		})
	}
}
