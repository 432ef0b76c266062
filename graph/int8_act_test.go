package graph_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/onnx"
)

// TestInt8ActPass: the int8-act pass gives integer convolutions and
// products the activation after their float output (SiLU, HardSwish,
// LeakyRelu, Gelu found by fuse-gelu) and the QuantizeLinear after it,
// and the outputs are the bits of the same session with those values
// kept (which leaves the activations and QuantizeLinears as nodes of
// their own). The fused Gelu runs vecmath.GeluFast, within 1e-7 of the
// Gelu node's values: its codes could differ by one step from a value
// within 2e-7 of a rounding boundary, and none of these is.
func TestInt8ActPass(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	b := newQDQBuilder(rng,
		must(onnx.NewTensor("s8", nil, []float32{0.03})),
		zeroPoint("z8", onnx.Int8, nil, []int{3}),
		must(onnx.NewTensor("sqrt2", nil, []float32{float32(math.Sqrt2)})),
		must(onnx.NewTensor("one", nil, []float32{1})),
		must(onnx.NewTensor("half", nil, []float32{0.5})),
	)
	pad1 := onnx.IntsAttr("pads", 1, 1, 1, 1)
	c1 := b.layer("Conv", "c1", "x", "s", "z", []int64{16, 8, 3, 3}, pad1)
	silu := b.node("Mul", "silu", []string{b.node("Sigmoid", "sig", []string{c1}), c1})
	q1 := b.node("QuantizeLinear", "q1", []string{silu, "s8", "z8"})
	c2 := b.layer("Conv", "c2", q1, "s8", "z8", []int64{16, 1, 3, 3}, pad1, onnx.IntAttr("group", 16))
	q2 := b.node("QuantizeLinear", "q2", []string{b.node("HardSwish", "hswish", []string{c2}), "s", "z"})
	c3 := b.layer("Conv", "c3", q2, "s", "z", []int64{6, 16, 1, 1})
	b.node("LeakyRelu", "y", []string{c3}, onnx.FloatAttr("alpha", 0.1))

	bias := make([]float32, 32)
	for i := range bias {
		bias[i] = float32(rng.NormFloat64())
	}
	b.inits = append(b.inits, must(onnx.NewTensor("b", []int64{32}, bias)))
	m1 := b.node("Add", "m1.bias", []string{b.layer("MatMul", "m1", "x2", "s", "z", []int64{24, 32}), "b"})
	erf := b.node("Add", "erf1", []string{b.node("Erf", "erf", []string{b.node("Div", "div", []string{m1, "sqrt2"})}), "one"})
	gelu := b.node("Mul", "gelu", []string{b.node("Mul", "xe", []string{m1, erf}), "half"})
	q3 := b.node("QuantizeLinear", "q3", []string{gelu, "s", "z"})
	b.layer("MatMul", "y2", q3, "s", "z", []int64{32, 8})
	m := b.model(map[string][]int64{"x": {8, 9, 10}, "x2": {5, 24}}, "y", "y2")
	in := map[string]*graph.Tensor{"x": must(graph.New(onnx.Uint8, 2, 8, 9, 10)), "x2": must(graph.New(onnx.Uint8, 3, 5, 24))}
	for _, x := range in {
		copy(x.U8, randCodes(rng, x.Len()))
	}
	run := func(keep []string) (map[string]*graph.Tensor, []string) {
		s := must(graph.NewSession(must(graph.Import(m)), graph.Options{Threads: 2, Keep: keep}))
		out, err := s.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		var d []string
		for _, n := range s.Int8Nodes() {
			d = append(d, fmt.Sprintf("%s %v→%s %v", n.Node, n.Int8, n.Output, n.Fused))
		}
		return out, d
	}
	got, fused := run(nil)
	want, unfused := run([]string{c1, c2, c3, m1})
	if w := []string{
		"c1 true→int8 [SiLU QuantizeLinear]",
		"c2 true→uint8 [HardSwish QuantizeLinear]",
		"c3 true→float [LeakyRelu]",
		"m1 true→uint8 [Add Gelu QuantizeLinear]",
		"y2 true→float []",
	}; !slices.Equal(fused, w) {
		t.Errorf("int8 nodes\n%q\nwant\n%q", fused, w)
	}
	if w := []string{"c1 true→float []", "c2 true→float []", "c3 true→float []", "m1 true→float [Add]", "y2 true→float []"}; !slices.Equal(unfused, w) {
		t.Errorf("int8 nodes with their outputs kept\n%q\nwant\n%q", unfused, w)
	}
	sameOutputs(t, got, want, "y", "y2")
}
