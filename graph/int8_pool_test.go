package graph_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/onnx"
)

// TestInt8PoolPass: DequantizeLinear → GlobalAveragePool →
// QuantizeLinear runs as one QGlobalAveragePool on the codes, ONNX
// Runtime's QLinearGlobalAveragePool: checked against that definition on
// the codes of the convolution before it (a graph output, so NCHW), bit
// for bit the same with those codes NHWC (not an output: the nhwc pass),
// and within one step of the float graph. INT8 and UINT8 codes, channel counts with and
// without a tail of fewer than 8, and more pixels than one run of the
// 16-bit lane sums; a Flatten between the pooling and the QuantizeLinear
// (axis 1 or -3: the node writes [N, C], no Flatten left).
func TestInt8PoolPass(t *testing.T) {
	for _, tc := range []struct {
		codes    onnx.DataType
		channels int64
		h, w     int64
		flatten  int64 // the axis of a Flatten after the pooling; 0: none
	}{
		{onnx.Uint8, 16, 20, 17, 0},
		{onnx.Int8, 13, 9, 30, 0},
		{onnx.Int8, 24, 3, 5, 0},
		{onnx.Int8, 24, 3, 5, 1},
		{onnx.Uint8, 13, 9, 30, -3},
	} {
		t.Run(fmt.Sprintf("%v/%dch/%dx%d/flatten%d", tc.codes, tc.channels, tc.h, tc.w, tc.flatten), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(15, uint64(tc.channels)))
			zc := []int{-3}
			if tc.codes == onnx.Uint8 {
				zc = []int{131}
			}
			b := newQDQBuilder(rng,
				must(onnx.NewTensor("sc", nil, []float32{0.043})),
				zeroPoint("zc", tc.codes, nil, zc),
				must(onnx.NewTensor("sp", nil, []float32{0.011})),
				zeroPoint("zp", onnx.Int8, nil, []int{5}),
			)
			codes := b.node("QuantizeLinear", "cq", []string{b.layer("Conv", "c", "x", "s", "z", []int64{tc.channels, 8, 3, 3}, onnx.IntsAttr("pads", 1, 1, 1, 1)), "sc", "zc"})
			g := b.node("GlobalAveragePool", "g", []string{b.node("DequantizeLinear", "cf", []string{codes, "sc", "zc"})})
			if tc.flatten != 0 {
				g = b.node("Flatten", "f", []string{g}, onnx.IntAttr("axis", tc.flatten))
			}
			b.node("QuantizeLinear", "y", []string{g, "sp", "zp"})
			model := func(outputs ...string) *onnx.Model {
				return b.model(map[string][]int64{"x": {8, tc.h, tc.w}}, outputs...)
			}
			x := must(graph.New(onnx.Uint8, 3, 8, int(tc.h), int(tc.w)))
			copy(x.U8, randCodes(rng, x.Len()))
			run := func(m *onnx.Model, o graph.Options) (map[string]*graph.Tensor, *graph.Session) {
				s := must(graph.NewSession(must(graph.Import(m)), o))
				out, err := s.Run(map[string]*graph.Tensor{"x": x})
				if err != nil {
					t.Fatal(err)
				}
				return out, s
			}
			kept, k := run(model("y", "cq"), graph.Options{Threads: 2})
			nhwc, s := run(model("y"), graph.Options{Threads: 2})
			float, _ := run(model("y"), graph.Options{Threads: 2, Float: true})
			if l := k.Int8Nodes()[0].Layout; l != "NCHW→NCHW" {
				t.Errorf("the convolution's layout with its codes an output is %s, want NCHW→NCHW", l)
			}
			if l := s.Int8Nodes()[0].Layout; l != "NCHW→NHWC" {
				t.Errorf("the convolution's layout is %s, want NCHW→NHWC", l)
			}
			if last := s.Graph().Nodes[len(s.Graph().Nodes)-1].OpType; last != "QGlobalAveragePoolNHWC" {
				t.Errorf("the pooling runs as %s, want QGlobalAveragePoolNHWC", last)
			}
			want := []int{3, int(tc.channels), 1, 1}
			if tc.flatten != 0 {
				want = want[:2]
			}
			if !slices.Equal(kept["y"].Shape, want) || !slices.Equal(nhwc["y"].Shape, want) {
				t.Errorf("y has shape %v (and %v with the codes NHWC), want %v", kept["y"].Shape, nhwc["y"].Shape, want)
			}

			// QLinearGlobalAveragePool on the codes.
			cq, y := kept["cq"], kept["y"]
			pix := int(tc.h * tc.w)
			scale := float32(0.043) / (float32(0.011) * float32(pix))
			for i := range y.Len() {
				var sum int32
				for p := range pix {
					sum += code(cq, i*pix+p) - int32(zc[0])
				}
				want := fakequant.QuantizeLinear(float32(sum)*scale, 1, 5, -128, 127)
				if got := code(y, i); got != want {
					t.Fatalf("y[%d] = %d, want %d (sum %d)", i, got, want, sum)
				}
				if got := code(nhwc["y"], i); got != want {
					t.Fatalf("y[%d] with the codes NHWC = %d, want %d", i, got, want)
				}
				if d := code(float["y"], i) - want; d < -1 || d > 1 {
					t.Errorf("y[%d] of the float graph = %d, want %d ± 1", i, want+d, want)
				}
			}
		})
	}
}

// code returns element i of a tensor of INT8 or UINT8 codes.
func code(t *graph.Tensor, i int) int32 {
	if t.DType == onnx.Int8 {
		return int32(t.I8[i])
	}
	return int32(t.U8[i])
}
