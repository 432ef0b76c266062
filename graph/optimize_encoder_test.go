package graph

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/models"
	"github.com/tensorquant/tensorquant/onnx"
)

// closeTo fails unless got is within tol of want relative to want's
// largest element.
func closeTo(t *testing.T, what string, got, want *Tensor, tol float64) {
	t.Helper()
	if got.DType != onnx.Float || !slices.Equal(got.Shape, want.Shape) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
	var big, diff float64
	for i, w := range want.F32 {
		big = max(big, math.Abs(float64(w)))
		diff = max(diff, math.Abs(float64(got.F32[i]-w)))
	}
	if diff > tol*big {
		t.Errorf("%s: largest difference %g, %g of the largest output (tolerance %g)", what, diff, diff/big, tol)
	}
}

// geluModel is x·(erf(x/√2) + 1)·0.5 in one of the forms the pass
// recognises (the division as a Mul by 1/√2 when mul).
func geluModel(x *Tensor, form int, mul bool) *optModel {
	m := &optModel{opset: 17, inputs: map[string]*Tensor{"x": x}, outputs: []string{"y"},
		consts: map[string]*Tensor{"sqrt2": f32(scalar, math.Sqrt2), "one": f32(scalar, 1), "half": f32(scalar, 0.5), "isqrt2": f32(s(1), 1/math.Sqrt2)}}
	div := onnx.NewNode("Div", "div", []string{"x", "sqrt2"}, []string{"d"})
	if mul {
		div = onnx.NewNode("Mul", "div", []string{"isqrt2", "x"}, []string{"d"})
	}
	m.nodes = []onnx.Node{div,
		onnx.NewNode("Erf", "erf", []string{"d"}, []string{"e"}),
		onnx.NewNode("Add", "add", []string{"one", "e"}, []string{"a"})}
	switch form {
	case 0: // PyTorch: x·a·0.5
		m.nodes = append(m.nodes, onnx.NewNode("Mul", "m1", []string{"x", "a"}, []string{"p"}), onnx.NewNode("Mul", "m2", []string{"p", "half"}, []string{"y"}))
	case 1: // (x·0.5)·a
		m.nodes = append(m.nodes, onnx.NewNode("Mul", "m1", []string{"half", "x"}, []string{"h"}), onnx.NewNode("Mul", "m2", []string{"h", "a"}, []string{"y"}))
	default: // x·(a·0.5)
		m.nodes = append(m.nodes, onnx.NewNode("Mul", "m1", []string{"a", "half"}, []string{"h"}), onnx.NewNode("Mul", "m2", []string{"x", "h"}, []string{"y"}))
	}
	return m
}

// TestFuseGelu checks that the Erf-based Gelu subgraph becomes one Gelu
// (in each form, not under OptimizeExact, and not when an intermediate
// value is read elsewhere) within Gelu's rounding of the chain.
func TestFuseGelu(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 1))
	x := randF32(rng, 3, 64)
	for form := range 3 {
		for _, mul := range []bool{false, true} {
			t.Run(fmt.Sprintf("form%d_mul%v", form, mul), func(t *testing.T) {
				m := geluModel(x, form, mul)
				want, _ := m.run(t, OptimizeNone)
				got, types := m.run(t, OptimizeAll)
				if !slices.Equal(types, []string{"Gelu"}) {
					t.Fatalf("optimised nodes %v, want [Gelu]", types)
				}
				closeTo(t, "Gelu", got[0], want[0], 1e-6)
				direct := runNode(t, 20, node("Gelu", in(1), y), x)[0]
				check(t, "Gelu node", got[0], direct)
				if _, types := m.run(t, OptimizeExact); len(types) != 5 {
					t.Errorf("OptimizeExact fused the chain: %v", types)
				}
			})
		}
	}
	m := geluModel(x, 0, false)
	m.outputs = append(m.outputs, "e")
	if _, types := m.run(t, OptimizeAll); slices.Contains(types, "Gelu") {
		t.Errorf("the erf read by the graph output was fused away: %v", types)
	}
}

// TestFuseLayerNorm checks LayerNorm exported as its primitive ops
// (PyTorch before opset 17) as one LayerNormalization, within float32
// rounding, with and without the bias, and with the axes as an input
// (ReduceMean-18).
func TestFuseLayerNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 1))
	x, w, b := randF32(rng, 2, 7, 48), randF32(rng, 48), randF32(rng, 48)
	for _, tc := range []struct {
		name  string
		opset int64
		bias  bool
	}{{"opset 13", 13, true}, {"no bias", 13, false}, {"opset 18", 18, true}} {
		t.Run(tc.name, func(t *testing.T) {
			mean := func(name, in, out string) onnx.Node {
				if tc.opset >= 18 {
					return onnx.NewNode("ReduceMean", name, []string{in, "axes"}, []string{out})
				}
				return onnx.NewNode("ReduceMean", name, []string{in}, []string{out}, onnx.IntsAttr("axes", -1))
			}
			nodes := []onnx.Node{mean("m", "x", "m"), onnx.NewNode("Sub", "sub", []string{"x", "m"}, []string{"d"}),
				onnx.NewNode("Pow", "pow", []string{"d", "two"}, []string{"p"}), mean("v", "p", "v"),
				onnx.NewNode("Add", "eps", []string{"v", "eps"}, []string{"ve"}), onnx.NewNode("Sqrt", "sqrt", []string{"ve"}, []string{"s"}),
				onnx.NewNode("Div", "div", []string{"d", "s"}, []string{"n"}), onnx.NewNode("Mul", "scale", []string{"n", "w"}, []string{"y"})}
			if tc.bias {
				nodes[len(nodes)-1].Output = []string{"yw"}
				nodes = append(nodes, onnx.NewNode("Add", "bias", []string{"yw", "b"}, []string{"y"}))
			}
			m := &optModel{opset: tc.opset, nodes: nodes, inputs: map[string]*Tensor{"x": x}, outputs: []string{"y"},
				consts: map[string]*Tensor{"w": w, "b": b, "two": f32(scalar, 2), "eps": f32(scalar, 1e-5), "axes": i64(s(1), -1)}}
			want, _ := m.run(t, OptimizeNone)
			got, types := m.run(t, OptimizeAll)
			if !slices.Equal(types, []string{"LayerNormalization"}) {
				t.Fatalf("optimised nodes %v, want [LayerNormalization]", types)
			}
			closeTo(t, tc.name, got[0], want[0], 1e-6)
		})
	}
}

// TestFuseMatMul checks MatMul with a constant weight, bias row, residual
// and activation as one FusedMatMul, bit for bit the separate ops.
func TestFuseMatMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 1))
	x, z := randF32(rng, 2, 5, 32), randF32(rng, 2, 5, 48)
	w, b := randF32(rng, 32, 48), randF32(rng, 48)
	for _, tc := range []struct {
		name  string
		nodes []onnx.Node
		want  []string
	}{
		{"plain", []onnx.Node{onnx.NewNode("MatMul", "mm", []string{"x", "w"}, []string{"y"})}, []string{"FusedMatMul()"}},
		{"bias", []onnx.Node{onnx.NewNode("MatMul", "mm", []string{"x", "w"}, []string{"p"}),
			onnx.NewNode("Add", "bias", []string{"b", "p"}, []string{"y"})}, []string{"FusedMatMul(bias)"}},
		{"bias residual", []onnx.Node{onnx.NewNode("MatMul", "mm", []string{"x", "w"}, []string{"p"}),
			onnx.NewNode("Add", "bias", []string{"p", "b"}, []string{"q"}),
			onnx.NewNode("Add", "res", []string{"z", "q"}, []string{"y"})}, []string{"FusedMatMul(bias,Add)"}},
		{"bias gelu", []onnx.Node{onnx.NewNode("MatMul", "mm", []string{"x", "w"}, []string{"p"}),
			onnx.NewNode("Add", "bias", []string{"b", "p"}, []string{"q"}),
			onnx.NewNode("Gelu", "gelu", []string{"q"}, []string{"y"})}, []string{"FusedMatMul(bias,Gelu)"}},
		{"bias relu", []onnx.Node{onnx.NewNode("MatMul", "mm", []string{"x", "w"}, []string{"p"}),
			onnx.NewNode("Add", "bias", []string{"b", "p"}, []string{"q"}),
			onnx.NewNode("Relu", "relu", []string{"q"}, []string{"y"})}, []string{"FusedMatMul(bias,Relu)"}},
		{"residual tanh", []onnx.Node{onnx.NewNode("MatMul", "mm", []string{"x", "w"}, []string{"p"}),
			onnx.NewNode("Add", "res", []string{"p", "z"}, []string{"q"}),
			onnx.NewNode("Tanh", "tanh", []string{"q"}, []string{"y"})}, []string{"FusedMatMul(Add)", "Tanh"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &optModel{opset: 20, nodes: tc.nodes, inputs: map[string]*Tensor{"x": x, "z": z},
				consts: map[string]*Tensor{"w": w, "b": b}, outputs: []string{"y"}}
			want, _ := m.run(t, OptimizeNone)
			got, types := m.run(t, OptimizeExact)
			if !slices.Equal(types, tc.want) {
				t.Errorf("optimised nodes %v, want %v", types, tc.want)
			}
			check(t, tc.name, got[0], want[0])
		})
	}
	// A bias that broadcasts to more rows is not a bias row.
	m := &optModel{opset: 17, nodes: []onnx.Node{onnx.NewNode("MatMul", "mm", []string{"x", "w"}, []string{"p"}),
		onnx.NewNode("Add", "bias", []string{"p", "b"}, []string{"y"})},
		inputs: map[string]*Tensor{"x": x}, consts: map[string]*Tensor{"w": w, "b": randF32(rng, 5, 48)}, outputs: []string{"y"}}
	want, _ := m.run(t, OptimizeNone)
	got, types := m.run(t, OptimizeAll)
	if !slices.Equal(types, []string{"FusedMatMul()", "Add"}) {
		t.Errorf("optimised nodes %v, want [FusedMatMul() Add]", types)
	}
	check(t, "matrix bias", got[0], want[0])
}

// TestFuseAttention checks the attention core of the export as one
// attentionOp: bit for bit when the scale is a power of two (and then
// under OptimizeExact too), within rounding otherwise.
func TestFuseAttention(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 1))
	for _, d := range []int{16, 32} {
		g, err := Import(attentionChain(t, 10, 6, d, float32(math.Sqrt(float64(d)))))
		if err != nil {
			t.Fatal(err)
		}
		feed := map[string]*Tensor{"q": randF32(rng, 10, 6, d), "k": randF32(rng, 10, 6, d), "v": randF32(rng, 10, 6, d)}
		run := func(level Optimization) (*Tensor, []string) {
			res, types := runOptimized(t, g, level, feed)
			return res["y"], types
		}
		want, _ := run(OptimizeNone)
		got, types := run(OptimizeAll)
		if !slices.Equal(types, []string{"Attention"}) {
			t.Errorf("d %d: optimised nodes %v, want [Attention]", d, types)
		}
		exact, exactTypes := run(OptimizeExact)
		if d == 16 {
			check(t, "attention, scale 1/4", got, want)
			check(t, "attention, exact", exact, want)
			continue
		}
		closeTo(t, "attention, scale 1/√32", got, want, 1e-5)
		if len(exactTypes) == 1 {
			t.Errorf("OptimizeExact fused the attention with scale 1/√32: %v", exactTypes)
		}
	}
}

// runOptimized runs g on feed in a session (two threads) with the
// optimisation level, and returns the outputs and the optimised graph's
// op types.
func runOptimized(t *testing.T, g *Graph, level Optimization, feed map[string]*Tensor) (map[string]*Tensor, []string) {
	t.Helper()
	s, err := NewSession(g, Options{Threads: 2, Optimization: level})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(feed)
	if err != nil {
		t.Fatal(err)
	}
	return res, nodeTypes(s.Graph())
}

// slicedAttention returns attentionChain (head size d, scale 1/√d) with
// Q, K and V cut from one input x [sq, B, 3·h·d] as the export cuts them:
// a Slice of the last axis each, then a Reshape to [sq, B·h, d]. With
// readK, K's Slice is also read by a Relu (whose output is a graph
// output: the Slice must stay); with sliceOut, V's Slice output is a
// graph output too.
func slicedAttention(t *testing.T, sq, b, h, d int, readK, sliceOut bool) *onnx.Model {
	t.Helper()
	m := attentionChain(t, sq, b*h, d, float32(math.Sqrt(float64(d))))
	g := m.Graph
	e := int64(h * d)
	g.Input = []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Float, onnx.Dims(int64(sq), int64(b), 3*e)...)}
	consts := map[string]*Tensor{"c0": i64(s(1), 0), "c1": i64(s(1), e), "c2": i64(s(1), 2*e), "c3": i64(s(1), 3*e),
		"last": i64(s(1), -1), "heads": i64(s(3), int64(sq), int64(b*h), int64(d))}
	for _, name := range []string{"c0", "c1", "c2", "c3", "last", "heads"} {
		c, err := TensorToONNX(name, consts[name])
		if err != nil {
			t.Fatal(err)
		}
		g.Initializer = append(g.Initializer, c)
	}
	var nodes []onnx.Node
	for i, name := range []string{"q", "k", "v"} {
		from, to := []string{"c0", "c1", "c2"}[i], []string{"c1", "c2", "c3"}[i]
		nodes = append(nodes,
			onnx.NewNode("Slice", "slice_"+name, []string{"x", from, to, "last"}, []string{name + "_cols"}),
			onnx.NewNode("Reshape", "reshape_"+name, []string{name + "_cols", "heads"}, []string{name}))
	}
	if readK {
		nodes = append(nodes, onnx.NewNode("Relu", "relu_k", []string{"k_cols"}, []string{"k_relu"}))
		g.Output = append(g.Output, onnx.ValueInfo{Name: "k_relu"})
	}
	if sliceOut {
		g.Output = append(g.Output, onnx.ValueInfo{Name: "v_cols"})
	}
	g.Node = append(nodes, g.Node...)
	return m
}

// TestAttentionViews checks that the attention reads Q, K and V in place
// from the projection they are sliced from, bit for bit, with the Slices
// and Reshapes gone where nothing else reads them.
func TestAttentionViews(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 2))
	for _, c := range []struct {
		b               int
		readK, sliceOut bool
		want            []string
	}{
		{1, false, false, []string{"Attention"}},
		{3, false, false, []string{"Attention"}},
		{2, true, true, []string{"Slice", "Slice", "Relu", "Attention"}},
	} {
		const sq, h, d = 9, 2, 16
		g, err := Import(slicedAttention(t, sq, c.b, h, d, c.readK, c.sliceOut))
		if err != nil {
			t.Fatal(err)
		}
		feed := map[string]*Tensor{"x": randF32(rng, sq, c.b, 3*h*d)}
		want, _ := runOptimized(t, g, OptimizeNone, feed)
		got, types := runOptimized(t, g, OptimizeExact, feed)
		if !slices.Equal(types, c.want) {
			t.Errorf("batch %d: optimised nodes %v, want %v", c.b, types, c.want)
		}
		for name, w := range want {
			check(t, fmt.Sprintf("batch %d: %s", c.b, name), got[name], w)
		}
	}
}

// TestAttentionViewsShared: Q, K and V one value, sliced and reshaped
// once: the attention reads it as it is, the same bits.
func TestAttentionViewsShared(t *testing.T) {
	const sq, b, h, d = 7, 2, 2, 16
	m := slicedAttention(t, sq, b, h, d, false, false)
	g := m.Graph
	var nodes []onnx.Node
	for _, n := range g.Node {
		switch n.Name {
		case "slice_k", "reshape_k", "slice_v", "reshape_v":
			continue
		}
		for i, in := range n.Input {
			if in == "k" || in == "v" {
				n.Input[i] = "q"
			}
		}
		nodes = append(nodes, n)
	}
	g.Node = nodes
	gr, err := Import(m)
	if err != nil {
		t.Fatal(err)
	}
	feed := map[string]*Tensor{"x": randF32(rand.New(rand.NewPCG(5, 3)), sq, b, 3*h*d)}
	want, _ := runOptimized(t, gr, OptimizeNone, feed)
	got, types := runOptimized(t, gr, OptimizeExact, feed)
	if !slices.Equal(types, []string{"Slice", "Reshape", "Attention"}) {
		t.Errorf("optimised nodes %v, want [Slice Reshape Attention]", types)
	}
	check(t, "y", got["y"], want["y"])
}

// TestEncoderFused checks what the passes make of the reference
// encoders (`make models`): per layer one Attention, the projections and
// the feed-forward as FusedMatMul with the bias, the Gelu and the
// residual in their epilogues, and no Erf, Softmax or MatMul left.
func TestEncoderFused(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the reference models")
	}
	man := models.Open(t)
	for _, name := range []string{"encoder", "encoder_prenorm"} {
		for _, opset := range []int{13, 17} {
			mo, err := man.Model(name)
			if err != nil {
				t.Fatal(err)
			}
			path, err := mo.Path(opset)
			if err != nil {
				t.Fatal(err)
			}
			m, err := onnx.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			g, err := Import(m)
			if err != nil {
				t.Fatal(err)
			}
			s, err := NewSession(g, Options{})
			if err != nil {
				t.Fatal(err)
			}
			count := map[string]int{}
			for _, ty := range nodeTypes(s.Graph()) {
				count[ty]++
			}
			for ty, want := range map[string]int{"Attention": 2, "FusedMatMul(bias)": 2, "FusedMatMul(bias,Gelu)": 2,
				"FusedMatMul(bias,Add)": 2, "LayerNormalization": 4, "Erf": 0, "Softmax": 0, "MatMul": 0, "ReduceMean": 0} {
				if count[ty] != want {
					t.Errorf("%s op%d: %d %s nodes, want %d (%v)", name, opset, count[ty], ty, want, count)
				}
			}
		}
	}
}
