package graph_test

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/onnx"
)

// qdqLayer describes one random quantized layer: DequantizeLinear(x) and
// DequantizeLinear(W) into a Conv (1-D or 2-D, grouped, depthwise,
// strided, dilated, padded) or a Gemm or MatMul, with an optional bias,
// Relu or Clip, then QuantizeLinear.
type qdqLayer struct {
	op                  string // Conv, Gemm, MatMul
	xType, wType, yType onnx.DataType
	perChannel          bool
	bias                bool
	act                 string // "", Relu, Clip
}

// randCodes returns n random code bytes.
func randCodes(rng *rand.Rand, n int) []uint8 {
	out := make([]uint8, n)
	for i := range out {
		out[i] = uint8(rng.IntN(256))
	}
	return out
}

// codeTensor returns a tensor of type t (INT8 or UINT8) of the given
// shape with random codes.
func codeTensor(rng *rand.Rand, name string, t onnx.DataType, dims ...int64) onnx.Tensor {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	b := randCodes(rng, int(n))
	if t == onnx.Int8 {
		v := make([]int8, n)
		for i, c := range b {
			v[i] = int8(c)
		}
		return must(onnx.NewTensor(name, dims, v))
	}
	return must(onnx.NewTensor(name, dims, b))
}

// zeroPoint returns a zero-point tensor of type t with values vals.
func zeroPoint(name string, t onnx.DataType, dims []int64, vals []int) onnx.Tensor {
	if t == onnx.Int8 {
		v := make([]int8, len(vals))
		for i, x := range vals {
			v[i] = int8(x)
		}
		return must(onnx.NewTensor(name, dims, v))
	}
	v := make([]uint8, len(vals))
	for i, x := range vals {
		v[i] = uint8(x)
	}
	return must(onnx.NewTensor(name, dims, v))
}

// TestInt8PassRandomLayers builds random quantized layers (every
// combination the pass handles: int8 and uint8 activations, weights and
// outputs with zero points, per-tensor and per-channel weight scales,
// biases, Relu and Clip, dense, grouped, depthwise, strided, dilated and
// padded 1-D and 2-D convolutions, Gemm with transB, 3-D MatMul) and
// runs each on the integer path and on the float path: every layer runs
// in int8, and its output codes differ from the float path's (Q/DQ as
// fake quantization, float sums) by at most one code — the float sums'
// rounding and the bias rounded to int32 move a value across at most one
// rounding boundary. Small convolutions that would stay in float run in
// int8 here too (graph.ForceInt8).
func TestInt8PassRandomLayers(t *testing.T) {
	defer graph.ForceInt8()()
	rng := rand.New(rand.NewPCG(41, 42))
	trials := 300
	if testing.Short() {
		trials = 60
	}
	types := []onnx.DataType{onnx.Int8, onnx.Uint8}
	exact, total := 0, 0
	for trial := range trials {
		l := qdqLayer{op: []string{"Conv", "Conv", "Gemm", "MatMul"}[rng.IntN(4)], xType: types[rng.IntN(2)], wType: types[rng.IntN(2)],
			yType: types[rng.IntN(2)], perChannel: rng.IntN(2) == 0, bias: rng.IntN(2) == 0, act: []string{"", "Relu", "Clip"}[rng.IntN(3)]}
		m, x := randomLayer(rng, l)
		name := fmt.Sprintf("trial %d %+v", trial, l)
		var outs [2]*graph.Tensor
		for k, float := range []bool{false, true} {
			g, err := graph.Import(m)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			s, err := graph.NewSession(g, graph.Options{Threads: 1 + rng.IntN(2), Float: float})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if nodes := s.Int8Nodes(); !float && (len(nodes) != 1 || !nodes[0].Int8) {
				t.Fatalf("%s: int8 nodes %+v", name, nodes)
			}
			out, err := s.Run(map[string]*graph.Tensor{"x": x})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			outs[k] = out["y"]
		}
		a, b := outs[0], outs[1]
		for i := range a.Shape {
			if a.Shape[i] != b.Shape[i] {
				t.Fatalf("%s: shapes %v and %v", name, a.Shape, b.Shape)
			}
		}
		for i := range b.Len() {
			ca, cb := codeAt(a, i), codeAt(b, i)
			if d := ca - cb; d < -1 || d > 1 {
				t.Fatalf("%s: output %d is %d on the integer path, %d on the float path", name, i, ca, cb)
			}
			if ca == cb {
				exact++
			}
			total++
		}
	}
	t.Logf("%d of %d output codes equal the float path's", exact, total)
	if exact < total*95/100 {
		t.Errorf("only %d of %d output codes equal the float path's", exact, total)
	}
}

// codeAt returns code i of an INT8 or UINT8 tensor.
func codeAt(t *graph.Tensor, i int) int {
	if t.DType == onnx.Int8 {
		return int(t.I8[i])
	}
	return int(t.U8[i])
}

// randomLayer returns the model of layer l with random shapes and
// parameters, and an input.
func randomLayer(rng *rand.Rand, l qdqLayer) (*onnx.Model, *graph.Tensor) {
	var xDims, wDims []int64
	var attrs []onnx.Attribute
	var axis int64
	outC := int64(1 + rng.IntN(12))
	switch l.op {
	case "Conv":
		groups := int64([]int{1, 2, 0}[rng.IntN(3)])
		inC := int64(1 + rng.IntN(8))
		if groups == 0 { // depthwise
			groups, outC = inC, inC*int64(1+rng.IntN(2))
		} else {
			inC, outC = inC*groups, outC*groups
		}
		dims := 1 + rng.IntN(2)
		xDims = []int64{int64(1 + rng.IntN(2)), inC}
		wDims = []int64{outC, inC / groups}
		var kernel, strides, dil, pads []int64
		for range dims {
			k, d := int64(1+rng.IntN(3)), int64(1+rng.IntN(2))
			kernel, strides, dil = append(kernel, k), append(strides, int64(1+rng.IntN(2))), append(dil, d)
			xDims = append(xDims, (k-1)*d+1+int64(rng.IntN(6)))
			wDims = append(wDims, k)
		}
		for range 2 * dims {
			pads = append(pads, int64(rng.IntN(2)))
		}
		for i := range dims {
			pads[i] = min(pads[i], (kernel[i]-1)*dil[i])
			pads[dims+i] = min(pads[dims+i], (kernel[i]-1)*dil[i])
		}
		attrs = []onnx.Attribute{onnx.IntAttr("group", groups), onnx.IntsAttr("strides", strides...), onnx.IntsAttr("dilations", dil...), onnx.IntsAttr("pads", pads...)}
	case "Gemm":
		k := int64(1 + rng.IntN(40))
		xDims, wDims = []int64{int64(1 + rng.IntN(5)), k}, []int64{k, outC}
		axis = 1
		if rng.IntN(2) == 0 {
			wDims, axis = []int64{outC, k}, 0
			attrs = append(attrs, onnx.IntAttr("transB", 1))
		}
	default:
		k := int64(1 + rng.IntN(40))
		xDims, wDims, axis = []int64{int64(1 + rng.IntN(3)), int64(1 + rng.IntN(5)), k}, []int64{k, outC}, 1
	}
	nch := int64(1)
	if l.perChannel {
		nch = outC
	}
	scales := make([]float32, nch)
	zw := make([]int, nch)
	for i := range scales {
		scales[i] = float32(0.002 + 0.01*rng.Float64())
		if l.wType == onnx.Uint8 {
			zw[i] = 100 + rng.IntN(56)
		}
	}
	chanDims := []int64{nch}
	if !l.perChannel {
		chanDims = nil
	}
	zx, zy := 0, 0
	if l.xType == onnx.Uint8 {
		zx = 90 + rng.IntN(70)
	} else {
		zx = rng.IntN(41) - 20
	}
	if l.yType == onnx.Uint8 {
		zy = 60 + rng.IntN(100)
	} else {
		zy = rng.IntN(41) - 20
	}
	inits := []onnx.Tensor{
		must(onnx.NewTensor("sx", nil, []float32{float32(0.01 + 0.05*rng.Float64())})),
		zeroPoint("zx", l.xType, nil, []int{zx}),
		codeTensor(rng, "wq", l.wType, wDims...),
		must(onnx.NewTensor("sw", chanDims, scales)),
		zeroPoint("zw", l.wType, chanDims, zw),
		must(onnx.NewTensor("sy", nil, []float32{float32(0.02 + 0.1*rng.Float64())})),
		zeroPoint("zy", l.yType, nil, []int{zy}),
	}
	nodes := []onnx.Node{
		onnx.NewNode("DequantizeLinear", "dqx", []string{"x", "sx", "zx"}, []string{"xf"}),
		onnx.NewNode("DequantizeLinear", "dqw", []string{"wq", "sw", "zw"}, []string{"wf"}, onnx.IntAttr("axis", axis)),
	}
	in := []string{"xf", "wf"}
	if l.bias && l.op != "MatMul" {
		b := make([]float32, outC)
		for i := range b {
			b[i] = float32(rng.NormFloat64())
		}
		inits = append(inits, must(onnx.NewTensor("b", []int64{outC}, b)))
		in = append(in, "b")
	}
	nodes = append(nodes, onnx.NewNode(l.op, "layer", in, []string{"p"}, attrs...))
	last := "p"
	if l.bias && l.op == "MatMul" {
		b := make([]float32, outC)
		for i := range b {
			b[i] = float32(rng.NormFloat64())
		}
		inits = append(inits, must(onnx.NewTensor("b", []int64{outC}, b)))
		nodes = append(nodes, onnx.NewNode("Add", "add", []string{last, "b"}, []string{"pb"}))
		last = "pb"
	}
	switch l.act {
	case "Relu":
		nodes = append(nodes, onnx.NewNode("Relu", "relu", []string{last}, []string{"a"}))
		last = "a"
	case "Clip":
		inits = append(inits, must(onnx.NewTensor("lo", nil, []float32{-0.5})), must(onnx.NewTensor("hi", nil, []float32{1.5})))
		nodes = append(nodes, onnx.NewNode("Clip", "clip", []string{last, "lo", "hi"}, []string{"a"}))
		last = "a"
	}
	nodes = append(nodes, onnx.NewNode("QuantizeLinear", "q", []string{last, "sy", "zy"}, []string{"y"}))
	dims := make([]onnx.Dimension, len(xDims))
	for i, d := range xDims {
		dims[i] = onnx.DimValue(d)
	}
	m := &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 17}}, Graph: &onnx.Graph{
		Input: []onnx.ValueInfo{onnx.TensorValueInfo("x", l.xType, dims...)}, Output: []onnx.ValueInfo{{Name: "y"}},
		Initializer: inits, Node: nodes,
	}}
	shape := make([]int, len(xDims))
	for i, d := range xDims {
		shape[i] = int(d)
	}
	x := must(graph.New(l.xType, shape...))
	for i := range x.Len() {
		c := randCodes(rng, 1)[0]
		if l.xType == onnx.Int8 {
			x.I8[i] = int8(c)
		} else {
			x.U8[i] = c
		}
	}
	return m, x
}

// TestInt8PassNHWC builds integer convolutions whose codes pass between
// them — one feeding two, a depthwise one feeding another and a float
// Relu, graph outputs — and checks where the codes stay NHWC
// (Int8Node.Layout) and that the outputs equal, code for code, those of
// the same session with every intermediate value kept (Options.Keep:
// NCHW throughout).
func TestInt8PassNHWC(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	inits := []onnx.Tensor{
		must(onnx.NewTensor("s", nil, []float32{0.05})),
		zeroPoint("z", onnx.Uint8, nil, []int{128}),
		must(onnx.NewTensor("sw", nil, []float32{0.01})),
		zeroPoint("zw", onnx.Int8, nil, []int{0}),
	}
	var nodes []onnx.Node
	// conv adds DequantizeLinear(in) → Conv → QuantizeLinear(out) with
	// random int8 weights of shape w.
	conv := func(name, in, out string, w []int64, attrs ...onnx.Attribute) {
		inits = append(inits, codeTensor(rng, name+".w", onnx.Int8, w...))
		nodes = append(nodes,
			onnx.NewNode("DequantizeLinear", name+".dqx", []string{in, "s", "z"}, []string{name + ".x"}),
			onnx.NewNode("DequantizeLinear", name+".dqw", []string{name + ".w", "sw", "zw"}, []string{name + ".wf"}),
			onnx.NewNode("Conv", name, []string{name + ".x", name + ".wf"}, []string{name + ".y"}, attrs...),
			onnx.NewNode("QuantizeLinear", name+".q", []string{name + ".y", "s", "z"}, []string{out}))
	}
	pad1 := onnx.IntsAttr("pads", 1, 1, 1, 1)
	conv("c1", "x", "y1", []int64{16, 8, 3, 3}, pad1)
	conv("c2", "y1", "y2", []int64{16, 1, 3, 3}, pad1, onnx.IntAttr("group", 16), onnx.IntsAttr("strides", 2, 2))
	conv("c3", "y2", "y", []int64{6, 16, 1, 1})
	conv("c4", "y1", "y4", []int64{5, 16, 1, 1})
	nodes = append(nodes,
		onnx.NewNode("DequantizeLinear", "dq2", []string{"y2", "s", "z"}, []string{"y2f"}),
		onnx.NewNode("Relu", "relu", []string{"y2f"}, []string{"r"}))
	m := &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 17}}, Graph: &onnx.Graph{
		Input:  []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Uint8, onnx.DimParam("N"), onnx.DimValue(8), onnx.DimValue(9), onnx.DimValue(10))},
		Output: []onnx.ValueInfo{{Name: "y"}, {Name: "y4"}, {Name: "r"}}, Initializer: inits, Node: nodes,
	}}
	x := must(graph.New(onnx.Uint8, 2, 8, 9, 10))
	copy(x.U8, randCodes(rng, x.Len()))
	got, layouts := runLayouts(t, m, x, nil)
	want, kept := runLayouts(t, m, x, []string{"y1", "y2"})
	if l, w := layouts, "c1:NCHW→NHWC c2:NHWC→NCHW c3:NCHW→NCHW c4:NHWC→NCHW "; l != w {
		t.Errorf("layouts %s, want %s", l, w)
	}
	if l, w := kept, "c1:NCHW→NCHW c2:NCHW→NCHW c3:NCHW→NCHW c4:NCHW→NCHW "; l != w {
		t.Errorf("layouts with y1 and y2 kept: %s, want %s", l, w)
	}
	for _, name := range []string{"y", "y4", "r"} {
		a, b := got[name], want[name]
		if fmt.Sprint(a.Shape) != fmt.Sprint(b.Shape) || fmt.Sprint(a.U8, a.F32) != fmt.Sprint(b.U8, b.F32) {
			t.Errorf("%s: %v, want %v", name, a, b)
		}
	}
}

// TestNHWCPassBlocks builds the blocks of mobilenet and efficientnet in
// QDQ form — integer convolutions with float outputs, a SiLU between, a
// squeeze-and-excitation block (GlobalAveragePool, a 1×1 convolution,
// Sigmoid, the channel scaling), a per-channel constant scale and a
// residual Add — once with a depthwise convolution in int8 and once in
// float (a layer the int8 pass leaves in float, which pins its values to
// NCHW while the squeeze-and-excitation convolution beside it runs in
// int8), and checks that the nhwc pass keeps them NHWC where it may and
// that every output equals, bit for bit, the session's with every
// intermediate value kept (NCHW throughout).
func TestNHWCPassBlocks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		floatDW bool
		want    string
	}{
		{"int8", false, "c1:NCHW→NHWC c2:NHWC→NHWC c3:NCHW→NCHW c4:NHWC→NHWC "},
		{"float depthwise", true, "c1:NCHW→NCHW c3:NCHW→NCHW c4:NCHW→NHWC "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, x, keep := seBlocks(tc.floatDW)
			outs, layouts := runLayouts(t, m, x, nil)
			wants, kept := runLayouts(t, m, x, keep)
			if layouts != tc.want {
				t.Errorf("layouts %s, want %s", layouts, tc.want)
			}
			if strings.Contains(kept, "NHWC") {
				t.Errorf("layouts with every value kept: %s, want NCHW throughout", kept)
			}
			sameOutputs(t, outs, wants, "y")
		})
	}
}

// seBlocks returns TestNHWCPassBlocks's model (its depthwise convolution
// c2 with float weights when floatDW), an input, and the values to keep
// for an NCHW run.
func seBlocks(floatDW bool) (*onnx.Model, *graph.Tensor, []string) {
	rng := rand.New(rand.NewPCG(9, 10))
	chScale := make([]float32, 12)
	for i := range chScale {
		chScale[i] = float32(rng.NormFloat64())
	}
	b := newQDQBuilder(rng, must(onnx.NewTensor("k", []int64{12, 1, 1}, chScale)))
	pad1 := onnx.IntsAttr("pads", 1, 1, 1, 1)
	xf := b.node("DequantizeLinear", "dq", []string{"x", "s", "z"})
	c1 := b.quantized("Conv", "c1", xf, []int64{12, 8, 3, 3}, pad1)
	silu := b.node("Mul", "silu", []string{c1, b.node("Sigmoid", "sig", []string{c1})})
	var c2 string
	if floatDW {
		w := make([]float32, 12*9)
		for i := range w {
			w[i] = float32(rng.NormFloat64() * 0.1)
		}
		b.inits = append(b.inits, must(onnx.NewTensor("c2.wf", []int64{12, 1, 3, 3}, w)))
		c2 = b.node("Conv", "c2", []string{silu, "c2.wf"}, pad1, onnx.IntAttr("group", 12))
	} else {
		c2 = b.quantized("Conv", "c2", silu, []int64{12, 1, 3, 3}, pad1, onnx.IntAttr("group", 12))
	}
	se := b.quantized("Conv", "c3", b.node("GlobalAveragePool", "gap", []string{c2}), []int64{12, 12, 1, 1})
	scaled := b.node("Mul", "excite", []string{c2, b.node("Sigmoid", "gate", []string{se})})
	sum := b.node("Add", "residual", []string{scaled, b.node("Mul", "skip", []string{silu, "k"})})
	c4 := b.quantized("Conv", "c4", sum, []int64{6, 12, 1, 1})
	b.node("GlobalAveragePool", "y", []string{b.node("Relu", "relu", []string{c4})})
	x := must(graph.New(onnx.Uint8, 3, 8, 9, 10))
	copy(x.U8, randCodes(rng, x.Len()))
	return b.model(map[string][]int64{"x": {8, 9, 10}}, "y"), x, b.values("y")
}

// qdqBuilder builds the test models of quantized layers: activations of
// scale s and zero point z (UINT8 128), weights of scale sw and zero
// point zw (INT8 0), random INT8 weight codes, graph inputs of UINT8
// codes with a batch dimension N.
type qdqBuilder struct {
	rng   *rand.Rand
	inits []onnx.Tensor
	nodes []onnx.Node
}

func newQDQBuilder(rng *rand.Rand, inits ...onnx.Tensor) *qdqBuilder {
	return &qdqBuilder{rng: rng, inits: append([]onnx.Tensor{
		must(onnx.NewTensor("s", nil, []float32{0.05})),
		zeroPoint("z", onnx.Uint8, nil, []int{128}),
		must(onnx.NewTensor("sw", nil, []float32{0.01})),
		zeroPoint("zw", onnx.Int8, nil, []int{0}),
	}, inits...)}
}

// node adds op with inputs in and one output named name, and returns
// the name.
func (b *qdqBuilder) node(op, name string, in []string, attrs ...onnx.Attribute) string {
	b.nodes = append(b.nodes, onnx.NewNode(op, name, in, []string{name}, attrs...))
	return name
}

// layer adds DequantizeLinear(in, s, z) and op (Conv, MatMul) of it by
// random weights of shape w, and returns op's float output, name.
func (b *qdqBuilder) layer(op, name, in, s, z string, w []int64, attrs ...onnx.Attribute) string {
	b.inits = append(b.inits, codeTensor(b.rng, name+".w", onnx.Int8, w...))
	x := b.node("DequantizeLinear", name+".dqx", []string{in, s, z})
	return b.node(op, name, []string{x, b.node("DequantizeLinear", name+".dqw", []string{name + ".w", "sw", "zw"})}, attrs...)
}

// quantized adds the original's input quantizer, QuantizeLinear(in, s,
// z), and its layer.
func (b *qdqBuilder) quantized(op, name, in string, w []int64, attrs ...onnx.Attribute) string {
	return b.layer(op, name, b.node("QuantizeLinear", name+".q", []string{in, "s", "z"}), "s", "z", w, attrs...)
}

// model returns the model of the inputs ("name", then its dimensions
// after N) and outputs.
func (b *qdqBuilder) model(inputs map[string][]int64, outputs ...string) *onnx.Model {
	m := &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 17}}, Graph: &onnx.Graph{Initializer: b.inits, Node: b.nodes}}
	for _, name := range slices.Sorted(maps.Keys(inputs)) {
		dims := []onnx.Dimension{onnx.DimParam("N")}
		for _, d := range inputs[name] {
			dims = append(dims, onnx.DimValue(d))
		}
		m.Graph.Input = append(m.Graph.Input, onnx.TensorValueInfo(name, onnx.Uint8, dims...))
	}
	for _, o := range outputs {
		m.Graph.Output = append(m.Graph.Output, onnx.ValueInfo{Name: o})
	}
	return m
}

// values returns the outputs of every node but the graph outputs: what
// Options.Keep keeps for a run with each op on its own, NCHW.
func (b *qdqBuilder) values(outputs ...string) []string {
	var keep []string
	for _, n := range b.nodes {
		if !slices.Contains(outputs, n.Name) {
			keep = append(keep, n.Output...)
		}
	}
	return keep
}

// sameOutputs fails t unless the float outputs names of got and want
// have the same shapes and bits.
func sameOutputs(t *testing.T, got, want map[string]*graph.Tensor, names ...string) {
	t.Helper()
	for _, name := range names {
		g, w := got[name], want[name]
		if g == nil || w == nil || fmt.Sprint(g.Shape) != fmt.Sprint(w.Shape) || len(g.F32) != len(w.F32) {
			t.Fatalf("%s is %v, want %v", name, g, w)
		}
		for i, v := range w.F32 {
			if math.Float32bits(g.F32[i]) != math.Float32bits(v) {
				t.Fatalf("%s[%d] = %v, want %v", name, i, g.F32[i], v)
			}
		}
	}
}

// runLayouts runs m on x with two threads, keeping the values keep, and
// returns its outputs and the layouts of its integer convolutions
// ("name:layout ", in graph order).
func runLayouts(t *testing.T, m *onnx.Model, x *graph.Tensor, keep []string) (map[string]*graph.Tensor, string) {
	t.Helper()
	g, err := graph.Import(m)
	if err != nil {
		t.Fatal(err)
	}
	s, err := graph.NewSession(g, graph.Options{Threads: 2, Keep: keep})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Run(map[string]*graph.Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	var l string
	for _, n := range s.Int8Nodes() {
		l += fmt.Sprintf("%s:%s ", n.Node, n.Layout)
	}
	return out, l
}

// TestInt8PassSmallConv: a convolution of 1 input channel and 3×3 taps
// stays in float (Int8Node.Reason says why) and computes what the float
// path computes, bit for bit; a depthwise one (1 channel per group too)
// and one of 4 channels run in int8.
func TestInt8PassSmallConv(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, tc := range []struct {
		name        string
		inC, groups int64
		int8        bool
	}{{"1 channel", 1, 1, false}, {"depthwise", 4, 4, true}, {"4 channels", 4, 1, true}} {
		inits := []onnx.Tensor{
			must(onnx.NewTensor("s", nil, []float32{0.05})), zeroPoint("z", onnx.Uint8, nil, []int{128}),
			must(onnx.NewTensor("sw", nil, []float32{0.01})), zeroPoint("zw", onnx.Int8, nil, []int{0}),
			codeTensor(rng, "w", onnx.Int8, 4, tc.inC/tc.groups, 3, 3),
		}
		m := &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 17}}, Graph: &onnx.Graph{
			Input:  []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Uint8, onnx.DimValue(2), onnx.DimValue(tc.inC), onnx.DimValue(7), onnx.DimValue(6))},
			Output: []onnx.ValueInfo{{Name: "y"}}, Initializer: inits,
			Node: []onnx.Node{
				onnx.NewNode("DequantizeLinear", "dqx", []string{"x", "s", "z"}, []string{"xf"}),
				onnx.NewNode("DequantizeLinear", "dqw", []string{"w", "sw", "zw"}, []string{"wf"}),
				onnx.NewNode("Conv", "conv", []string{"xf", "wf"}, []string{"y"}, onnx.IntAttr("group", tc.groups), onnx.IntsAttr("pads", 1, 1, 1, 1)),
			},
		}}
		x := must(graph.New(onnx.Uint8, 2, int(tc.inC), 7, 6))
		copy(x.U8, randCodes(rng, x.Len()))
		var outs [2]*graph.Tensor
		for k, float := range []bool{false, true} {
			g, err := graph.Import(m)
			if err != nil {
				t.Fatal(err)
			}
			s, err := graph.NewSession(g, graph.Options{Float: float})
			if err != nil {
				t.Fatal(err)
			}
			if n := s.Int8Nodes(); !float && (len(n) != 1 || n[0].Int8 != tc.int8 || !tc.int8 && !strings.Contains(n[0].Reason, "1 input channel(s) per group and 9 taps are too few")) {
				t.Errorf("%s: int8 nodes %+v", tc.name, n)
			}
			out, err := s.Run(map[string]*graph.Tensor{"x": x})
			if err != nil {
				t.Fatal(err)
			}
			outs[k] = out["y"]
		}
		if equal := slices.EqualFunc(outs[0].F32, outs[1].F32, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }); equal == tc.int8 {
			t.Errorf("%s: the outputs of the int8 and float paths are equal: %v (want %v: only the float path's own arithmetic equals it bit for bit)", tc.name, equal, !tc.int8)
		}
	}
}
