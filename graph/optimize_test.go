package graph

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/onnx"
)

// optModel is a small model for the passes: nodes, graph inputs (fed at
// run time) and initializers, and its outputs.
type optModel struct {
	opset   int64
	nodes   []onnx.Node
	inputs  map[string]*Tensor
	consts  map[string]*Tensor
	outputs []string
}

func (m *optModel) model(t *testing.T) *onnx.Model {
	t.Helper()
	g := &onnx.Graph{Name: "g", Node: m.nodes}
	for _, name := range slices.Sorted(mapsKeys(m.inputs)) {
		x := m.inputs[name]
		dims := make([]int64, len(x.Shape))
		for j, d := range x.Shape {
			dims[j] = int64(d)
		}
		g.Input = append(g.Input, onnx.TensorValueInfo(name, x.DType, onnx.Dims(dims...)...))
	}
	for _, name := range slices.Sorted(mapsKeys(m.consts)) {
		ot, err := TensorToONNX(name, m.consts[name])
		if err != nil {
			t.Fatal(err)
		}
		g.Initializer = append(g.Initializer, ot)
	}
	for _, o := range m.outputs {
		g.Output = append(g.Output, onnx.ValueInfo{Name: o})
	}
	return &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: m.opset}}, Graph: g}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// run imports the model, runs it at the optimization level and returns
// the outputs and the session's node types (with the fused epilogues).
func (m *optModel) run(t *testing.T, level Optimization) ([]*Tensor, []string) {
	t.Helper()
	g := importModel(t, m.model(t))
	s, err := NewSession(g, Options{Threads: 2, Optimization: level})
	if err != nil {
		t.Fatal(err)
	}
	feed := map[string]*Tensor{}
	for k, v := range m.inputs {
		feed[k] = v.Clone()
	}
	res, err := s.Run(feed)
	if err != nil {
		t.Fatal(err)
	}
	var out []*Tensor
	for _, o := range m.outputs {
		out = append(out, res[o])
	}
	return out, nodeTypes(s.Graph())
}

// checkOptimized runs the model node by node and optimised, and fails t
// unless the optimised graph's node types (nodeTypes) are want and its
// outputs the node-by-node ones bit for bit.
func (m *optModel) checkOptimized(t *testing.T, want []string) {
	t.Helper()
	none, _ := m.run(t, OptimizeNone)
	got, types := m.run(t, OptimizeAll)
	if !slices.Equal(types, want) {
		t.Errorf("optimised nodes %v, want %v", types, want)
	}
	for i := range none {
		check(t, m.outputs[i], got[i], none[i])
	}
}

// nodeTypes lists a graph's op types, a fused op with its epilogue
// ("FusedConv(Add,Relu)").
func nodeTypes(g *Graph) []string {
	var types []string
	for _, n := range g.Nodes {
		s := n.OpType
		if n.Domain == FusedDomain {
			for _, a := range n.Attrs {
				if a.Name == "epilogue" {
					s += "(" + string(a.S) + ")"
				}
			}
		}
		types = append(types, s)
	}
	return types
}

// convAttrs are the attributes of a 3×3 convolution with padding 1.
func convAttrs(extra ...onnx.Attribute) []onnx.Attribute {
	return append([]onnx.Attribute{onnx.IntsAttr("kernel_shape", 3, 3), onnx.IntsAttr("pads", 1, 1, 1, 1)}, extra...)
}

// TestPassesFuse checks, for each pattern, which nodes the optimised graph
// has and that its outputs are the node-by-node outputs bit for bit.
func TestPassesFuse(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	x := randF32(rng, 2, 4, 6, 5)
	w, b := randF32(rng, 8, 4, 3, 3), randF32(rng, 8)
	z := randF32(rng, 2, 8, 6, 5)
	conv := onnx.NewNode("Conv", "conv", []string{"x", "w", "b"}, []string{"c"}, convAttrs()...)
	base := func() *optModel {
		return &optModel{opset: 17, inputs: map[string]*Tensor{"x": x}, consts: map[string]*Tensor{"w": w, "b": b}}
	}
	act := func(op string, attrs ...onnx.Attribute) onnx.Node {
		return onnx.NewNode(op, op, []string{"c"}, []string{"y"}, attrs...)
	}
	for _, tc := range []struct {
		name  string
		build func(m *optModel)
		want  []string
	}{
		{"Conv", func(m *optModel) { m.nodes, m.outputs = []onnx.Node{conv}, []string{"c"} }, []string{"FusedConv()"}},
		{"Conv+Relu", func(m *optModel) { m.nodes = []onnx.Node{conv, act("Relu")} }, []string{"FusedConv(Relu)"}},
		{"Conv+LeakyRelu", func(m *optModel) { m.nodes = []onnx.Node{conv, act("LeakyRelu", onnx.FloatAttr("alpha", 0.3))} }, []string{"FusedConv(LeakyRelu)"}},
		{"Conv+Sigmoid", func(m *optModel) { m.nodes = []onnx.Node{conv, act("Sigmoid")} }, []string{"FusedConv(Sigmoid)"}},
		{"Conv+HardSigmoid", func(m *optModel) { m.nodes = []onnx.Node{conv, act("HardSigmoid", onnx.FloatAttr("alpha", 0.3))} }, []string{"FusedConv(HardSigmoid)"}},
		{"Conv+HardSwish", func(m *optModel) { m.nodes = []onnx.Node{conv, act("HardSwish")} }, []string{"FusedConv(HardSwish)"}},
		{"Conv+Clip", func(m *optModel) {
			m.consts["lo"], m.consts["hi"] = f32(scalar, 0), f32(scalar, 6)
			m.nodes = []onnx.Node{conv, onnx.NewNode("Clip", "clip", []string{"c", "lo", "hi"}, y)}
		}, []string{"FusedConv(Clip)"}},
		{"Conv+Clip max only", func(m *optModel) {
			m.consts["hi"] = f32(scalar, 0.5)
			m.nodes = []onnx.Node{conv, onnx.NewNode("Clip", "clip", []string{"c", "", "hi"}, y)}
		}, []string{"FusedConv(Clip)"}},
		{"Conv+Clip-6", func(m *optModel) {
			m.opset = 6
			m.nodes = []onnx.Node{conv, act("Clip", onnx.FloatAttr("min", -1), onnx.FloatAttr("max", 1))}
		}, []string{"FusedConv(Clip)"}},
		{"Conv+SiLU", func(m *optModel) {
			m.nodes = []onnx.Node{conv, onnx.NewNode("Sigmoid", "sig", []string{"c"}, []string{"s"}), onnx.NewNode("Mul", "mul", []string{"s", "c"}, y)}
		}, []string{"FusedConv(SiLU)"}},
		{"Conv+Add+Relu", func(m *optModel) {
			m.inputs["z"] = z
			m.nodes = []onnx.Node{conv, onnx.NewNode("Add", "add", []string{"z", "c"}, []string{"a"}), onnx.NewNode("Relu", "relu", []string{"a"}, y)}
		}, []string{"FusedConv(Add,Relu)"}},
		{"Conv+Add broadcast", func(m *optModel) {
			m.consts["z"] = randF32(rng, 1, 8, 1, 1)
			m.nodes = []onnx.Node{conv, onnx.NewNode("Add", "add", []string{"c", "z"}, y)}
		}, []string{"FusedConv()", "Add"}},
		{"Conv output read twice", func(m *optModel) {
			m.nodes, m.outputs = []onnx.Node{conv, act("Relu")}, []string{"y", "c"}
		}, []string{"FusedConv()", "Relu"}},
		{"Conv+Relu and another reader", func(m *optModel) {
			m.nodes = []onnx.Node{conv, act("Relu"), onnx.NewNode("Neg", "neg", []string{"c"}, []string{"n"})}
			m.outputs = []string{"y", "n"}
		}, []string{"FusedConv()", "Relu", "Neg"}},
		{"Conv bias-free+Relu", func(m *optModel) {
			m.nodes = []onnx.Node{onnx.NewNode("Conv", "conv", []string{"x", "w"}, []string{"c"}, convAttrs()...), act("Relu")}
		}, []string{"FusedConv(Relu)"}},
		{"grouped Conv", func(m *optModel) {
			m.consts["w"] = randF32(rng, 8, 2, 3, 3)
			m.nodes = []onnx.Node{onnx.NewNode("Conv", "conv", []string{"x", "w", "b"}, []string{"c"}, convAttrs(onnx.IntAttr("group", 2))...), act("Relu")}
		}, []string{"FusedConv(Relu)"}},
		{"depthwise Conv+Clip", func(m *optModel) {
			m.consts["w"], m.consts["b"] = randF32(rng, 4, 1, 3, 3), randF32(rng, 4)
			m.consts["lo"], m.consts["hi"] = f32(scalar, 0), f32(scalar, 6)
			m.nodes = []onnx.Node{onnx.NewNode("Conv", "conv", []string{"x", "w", "b"}, []string{"c"}, convAttrs(onnx.IntAttr("group", 4), onnx.IntsAttr("strides", 2, 2))...),
				onnx.NewNode("Clip", "clip", []string{"c", "lo", "hi"}, y)}
		}, []string{"FusedConv(Clip)"}},
		{"ConvTranspose+Relu", func(m *optModel) {
			m.consts["w"] = randF32(rng, 4, 3, 3, 3)
			m.consts["b"] = randF32(rng, 3)
			m.nodes = []onnx.Node{onnx.NewNode("ConvTranspose", "convt", []string{"x", "w", "b"}, []string{"c"}, onnx.IntsAttr("strides", 2, 2)), act("Relu")}
		}, []string{"FusedConv(Relu)"}},
		{"Conv with computed weight", func(m *optModel) {
			m.inputs["w"] = w
			delete(m.consts, "w")
			m.nodes = []onnx.Node{conv, act("Relu")}
		}, []string{"Conv", "Relu"}},
		{"SiLU after a Conv with computed weight", func(m *optModel) {
			m.inputs["w"] = w
			delete(m.consts, "w")
			m.nodes = []onnx.Node{conv, onnx.NewNode("Sigmoid", "sig", []string{"c"}, []string{"s"}), onnx.NewNode("Mul", "mul", []string{"s", "c"}, y)}
		}, []string{"Conv", "SiLU"}},
		{"SiLU whose Sigmoid is an output", func(m *optModel) {
			m.inputs["w"] = w
			delete(m.consts, "w")
			m.nodes = []onnx.Node{conv, onnx.NewNode("Sigmoid", "sig", []string{"c"}, []string{"s"}), onnx.NewNode("Mul", "mul", []string{"c", "s"}, y)}
			m.outputs = []string{"y", "s"}
		}, []string{"Conv", "Sigmoid", "Mul"}},
		{"Identity and Dropout", func(m *optModel) {
			m.nodes = []onnx.Node{onnx.NewNode("Identity", "id", []string{"x"}, []string{"i"}),
				onnx.NewNode("Conv", "conv", []string{"i", "w", "b"}, []string{"c0"}, convAttrs()...),
				onnx.NewNode("Dropout", "drop", []string{"c0"}, []string{"c"}), act("Relu")}
		}, []string{"FusedConv(Relu)"}},
		{"Identity output and Dropout mask kept", func(m *optModel) {
			m.nodes = []onnx.Node{onnx.NewNode("Identity", "id", []string{"x"}, []string{"i"}),
				onnx.NewNode("Dropout", "drop", []string{"i"}, []string{"d", "mask"})}
			m.outputs = []string{"i", "d", "mask"}
		}, []string{"Identity", "Dropout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			m.outputs = []string{"y"}
			tc.build(m)
			m.checkOptimized(t, tc.want)
		})
	}
}

// TestFuseGemm checks the Gemm fusion: a constant B (transposed or not),
// a row bias scaled by beta, an activation; and the Gemms it leaves alone.
func TestFuseGemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	a := randF32(rng, 5, 7)
	for _, tc := range []struct {
		name  string
		b, c  *Tensor
		attrs []onnx.Attribute
		relu  bool
		want  []string
	}{
		{"Linear+Relu", randF32(rng, 3, 7), randF32(rng, 3), []onnx.Attribute{onnx.IntAttr("transB", 1)}, true, []string{"FusedGemm(Relu)"}},
		{"B plain, beta", randF32(rng, 7, 3), randF32(rng, 1, 3), []onnx.Attribute{onnx.FloatAttr("beta", 0.5)}, false, []string{"FusedGemm()"}},
		{"no C", randF32(rng, 7, 3), nil, nil, true, []string{"FusedGemm(Relu)"}},
		{"K over several blocks", randF32(rng, 600, 3), randF32(rng, 3), nil, true, []string{"FusedGemm(Relu)"}},
		{"alpha", randF32(rng, 7, 3), randF32(rng, 3), []onnx.Attribute{onnx.FloatAttr("alpha", 2)}, false, []string{"Gemm"}},
		{"C per element", randF32(rng, 7, 3), randF32(rng, 5, 3), nil, false, []string{"Gemm"}},
		{"transA", randF32(rng, 5, 3), nil, []onnx.Attribute{onnx.IntAttr("transA", 1)}, false, []string{"Gemm"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := a
			if tc.name == "K over several blocks" {
				in = randF32(rng, 5, 600)
			}
			m := &optModel{opset: 13, inputs: map[string]*Tensor{"a": in}, consts: map[string]*Tensor{"b": tc.b}, outputs: []string{"y"}}
			inputs := []string{"a", "b"}
			if tc.c != nil {
				m.consts["c"] = tc.c
				inputs = append(inputs, "c")
			}
			out := "y"
			if tc.relu {
				out = "g"
			}
			m.nodes = []onnx.Node{onnx.NewNode("Gemm", "gemm", inputs, []string{out}, tc.attrs...)}
			if tc.relu {
				m.nodes = append(m.nodes, onnx.NewNode("Relu", "relu", []string{"g"}, y))
			}
			m.checkOptimized(t, tc.want)
		})
	}
}

// TestFoldBatchNorm checks the folded weights against ONNX Runtime's
// formula (float32, its order) bit for bit: the optimised graph equals a
// Conv with those weights run node by node; OptimizeExact leaves the
// BatchNormalization alone and changes no bit.
func TestFoldBatchNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	x := randF32(rng, 2, 4, 6, 5)
	w, b := randF32(rng, 8, 4, 3, 3), randF32(rng, 8)
	scale, beta, mean := randF32(rng, 8), randF32(rng, 8), randF32(rng, 8)
	variance := randF32(rng, 8)
	for i, v := range variance.F32 {
		variance.F32[i] = float32(math.Abs(float64(v))) + 0.1
	}
	const eps = 1e-3
	for _, withBias := range []bool{true, false} {
		t.Run(fmt.Sprintf("bias=%v", withBias), func(t *testing.T) {
			convIn := []string{"x", "w"}
			if withBias {
				convIn = append(convIn, "b")
			}
			m := &optModel{opset: 17, inputs: map[string]*Tensor{"x": x},
				consts:  map[string]*Tensor{"w": w, "b": b, "scale": scale, "beta": beta, "mean": mean, "var": variance},
				outputs: []string{"y"},
				nodes: []onnx.Node{onnx.NewNode("Conv", "conv", convIn, []string{"c"}, convAttrs()...),
					onnx.NewNode("BatchNormalization", "bn", []string{"c", "scale", "beta", "mean", "var"}, []string{"n"}, onnx.FloatAttr("epsilon", eps)),
					onnx.NewNode("Relu", "relu", []string{"n"}, y)}}
			none, _ := m.run(t, OptimizeNone)
			exact, types := m.run(t, OptimizeExact)
			if want := []string{"FusedConv()", "BatchNormalization", "Relu"}; !slices.Equal(types, want) {
				t.Errorf("exact: nodes %v, want %v", types, want)
			}
			check(t, "exact", exact[0], none[0])
			all, types := m.run(t, OptimizeAll)
			if want := []string{"FusedConv(Relu)"}; !slices.Equal(types, want) {
				t.Errorf("all: nodes %v, want %v", types, want)
			}
			near(t, "folded vs node by node", all[0], float64s(none[0].F32), none[0].Shape, 1e-5)
			// ONNX Runtime's arithmetic, by hand.
			fw, fb := w.Clone(), f32(s(8), make([]float32, 8)...)
			per := len(w.F32) / 8
			for c := range 8 {
				sc := scale.F32[c] / float32(math.Sqrt(float64(variance.F32[c]+eps)))
				for i := range per {
					fw.F32[c*per+i] = w.F32[c*per+i] * sc
				}
				if withBias {
					fb.F32[c] = (b.F32[c]-mean.F32[c])*sc + beta.F32[c]
				} else {
					fb.F32[c] = beta.F32[c] - mean.F32[c]*sc
				}
			}
			ref := &optModel{opset: 17, inputs: map[string]*Tensor{"x": x}, consts: map[string]*Tensor{"w": fw, "b": fb}, outputs: []string{"y"},
				nodes: []onnx.Node{onnx.NewNode("Conv", "conv", []string{"x", "w", "b"}, []string{"c"}, convAttrs()...), onnx.NewNode("Relu", "relu", []string{"c"}, y)}}
			want, _ := ref.run(t, OptimizeNone)
			check(t, "folded weights", all[0], want[0])
		})
	}
}

func float64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// TestOptimizeKeepsGraph checks that NewSession leaves the graph it is
// given as it was: nodes, their inputs, initializers.
func TestOptimizeKeepsGraph(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	m := &optModel{opset: 17, inputs: map[string]*Tensor{"x": randF32(rng, 1, 4, 6, 5)},
		consts:  map[string]*Tensor{"w": randF32(rng, 8, 4, 3, 3), "b": randF32(rng, 8)},
		outputs: []string{"y"},
		nodes: []onnx.Node{onnx.NewNode("Identity", "id", []string{"x"}, []string{"i"}),
			onnx.NewNode("Conv", "conv", []string{"i", "w", "b"}, []string{"c"}, convAttrs()...), onnx.NewNode("Relu", "relu", []string{"c"}, y)}}
	g := importModel(t, m.model(t))
	before := fmt.Sprint(nodeTypes(g), g.Nodes[1].Inputs, len(g.Initializers))
	s, err := NewSession(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if after := fmt.Sprint(nodeTypes(g), g.Nodes[1].Inputs, len(g.Initializers)); after != before {
		t.Errorf("the graph changed: %s, was %s", after, before)
	}
	if got := nodeTypes(s.Graph()); !slices.Equal(got, []string{"FusedConv(Relu)"}) {
		t.Errorf("session graph %v", got)
	}
	if len(s.Graph().Initializers) != 0 {
		t.Errorf("the optimised graph keeps initializers %v: the packed op holds the weights", slices.Collect(mapsKeys(s.Graph().Initializers)))
	}
	if _, err := NewSession(g, Options{Optimization: 7}); err == nil || !strings.Contains(err.Error(), "optimization level") {
		t.Errorf("level 7: error %v", err)
	}
}

func TestRegisterPass(t *testing.T) {
	stages := []int{}
	for _, p := range Passes() {
		stages = append(stages, p.Stage)
	}
	if !slices.IsSorted(stages) || len(stages) < 4 {
		t.Errorf("pass stages %v", stages)
	}
	apply := func(r *Rewriter) error { return fuseConv(r, false) }
	for _, p := range []Pass{{Name: "fuse-conv", Apply: apply}, {Name: "", Apply: apply}, {Name: "x"}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RegisterPass(%q) did not panic", p.Name)
				}
			}()
			RegisterPass(p)
		}()
	}
}

// TestFuseQDQ checks that the optimised graph runs a QuantizeLinear →
// DequantizeLinear pair as one node with the pair's bits, and leaves the
// pairs it cannot fuse.
func TestFuseQDQ(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	// A small input, and one of more than dequantTableMin elements (whose
	// codes' values are looked up in a table).
	for _, x := range []*Tensor{randF32(rng, 2, 3, 5, 7), randF32(rng, 2, 3, 16, 17)} {
		testFuseQDQ(t, x)
	}
}

func testFuseQDQ(t *testing.T, x *Tensor) {
	for i := range 8 {
		x.F32[i*3] = float32(i) * 0.25 // ties of the rounding at scale 0.5
	}
	x.F32[1], x.F32[2] = float32(math.NaN()), float32(math.Copysign(0, -1))
	q := func(inputs ...string) onnx.Node {
		return onnx.NewNode("QuantizeLinear", "q", append([]string{"x"}, inputs...), []string{"c"})
	}
	dq := func(inputs ...string) onnx.Node {
		return onnx.NewNode("DequantizeLinear", "dq", append([]string{"c"}, inputs...), y)
	}
	const fused = "QuantizeLinear+DequantizeLinear"
	for _, tc := range []struct {
		name  string
		build func(m *optModel)
		want  []string
	}{
		{"int8 per tensor", func(m *optModel) {
			m.consts["s"], m.consts["z"] = f32(scalar, 0.5), i8(scalar, -3)
			m.nodes = []onnx.Node{q("s", "z"), dq("s", "z")}
		}, []string{fused}},
		{"uint8 without zero point", func(m *optModel) {
			m.consts["s"] = f32(scalar, 0.02)
			m.nodes = []onnx.Node{q("s"), dq("s")}
		}, []string{fused}},
		{"int8 per axis", func(m *optModel) {
			m.consts["s"], m.consts["z"] = f32(s(3), 0.01, 0.5, 0.03), i8(s(3), 0, 4, -128)
			m.nodes = []onnx.Node{q("s", "z"), dq("s", "z")}
		}, []string{fused}},
		{"FP8", func(m *optModel) {
			m.opset = 19
			m.consts["s"] = f32(scalar, 0.125)
			m.consts["z"] = &Tensor{DType: onnx.Float8E4M3FN, Shape: scalar, U8: []uint8{0}}
			m.nodes = []onnx.Node{q("s", "z"), dq("s", "z")}
		}, []string{fused}},
		{"codes an output", func(m *optModel) {
			m.consts["s"], m.consts["z"] = f32(scalar, 0.5), i8(scalar, 0)
			m.nodes, m.outputs = []onnx.Node{q("s", "z"), dq("s", "z")}, []string{"y", "c"}
		}, []string{"QuantizeLinear", "DequantizeLinear"}},
		{"another scale", func(m *optModel) {
			m.consts["s"], m.consts["s2"], m.consts["z"] = f32(scalar, 0.5), f32(scalar, 0.25), i8(scalar, 0)
			m.nodes = []onnx.Node{q("s", "z"), dq("s2", "z")}
		}, []string{"QuantizeLinear", "DequantizeLinear"}},
		{"another axis", func(m *optModel) {
			m.consts["s"], m.consts["z"] = f32(s(3), 0.01, 0.5, 0.03), i8(s(3), 0, 4, -128)
			d := dq("s", "z")
			d.Attribute = []onnx.Attribute{onnx.IntAttr("axis", -3)}
			m.nodes = []onnx.Node{q("s", "z"), d}
		}, []string{"QuantizeLinear", "DequantizeLinear"}},
		{"codes read twice", func(m *optModel) {
			m.consts["s"], m.consts["z"] = f32(scalar, 0.5), i8(scalar, 0)
			m.nodes = []onnx.Node{q("s", "z"), dq("s", "z"), onnx.NewNode("DequantizeLinear", "dq2", []string{"c", "s", "z"}, []string{"y2"})}
			m.outputs = []string{"y", "y2"}
		}, []string{"QuantizeLinear", "DequantizeLinear", "DequantizeLinear"}},
	} {
		t.Run(fmt.Sprintf("%s/%d", tc.name, x.Len()), func(t *testing.T) {
			m := &optModel{opset: 13, inputs: map[string]*Tensor{"x": x}, consts: map[string]*Tensor{}, outputs: []string{"y"}}
			tc.build(m)
			m.checkOptimized(t, tc.want)
		})
	}
}

// TestRemoveUnread: nodes whose outputs nothing reads (a Shape of a
// dynamic value, as exports leave them once constant folding has taken
// their readers) are not run, nor the producers only they read; the
// graph outputs and the values kept stay.
func TestRemoveUnread(t *testing.T) {
	m := &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 13}}, Graph: &onnx.Graph{
		Input:  []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Float, onnx.DimParam("N"), onnx.DimValue(4))},
		Output: []onnx.ValueInfo{{Name: "y"}},
		Node: []onnx.Node{
			onnx.NewNode("Neg", "neg", []string{"x"}, []string{"n"}),
			onnx.NewNode("Shape", "shape", []string{"n"}, []string{"sh"}),
			onnx.NewNode("Relu", "relu", []string{"x"}, []string{"y"}),
			onnx.NewNode("Abs", "abs", []string{"x"}, []string{"a"}),
		},
	}}
	g, err := Import(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		level Optimization
		keep  []string
		want  []string
	}{
		{OptimizeNone, nil, []string{"Neg", "Shape", "Relu", "Abs"}},
		{OptimizeExact, nil, []string{"Relu"}},
		{OptimizeAll, []string{"n"}, []string{"Neg", "Relu"}},
	} {
		s, err := NewSession(g, Options{Optimization: c.level, Keep: c.keep})
		if err != nil {
			t.Fatal(err)
		}
		if got := nodeTypes(s.Graph()); !slices.Equal(got, c.want) {
			t.Errorf("%v, keeping %v: nodes %v, want %v", c.level, c.keep, got, c.want)
		}
	}
}
