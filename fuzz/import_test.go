package fuzz

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// backendSuite is where Debian's libonnx-testdata installs the ONNX
// backend test models (make installs it).
const backendSuite = "/usr/share/libonnx-testdata/data"

// Bounds of FuzzImport: an input of n bytes may make decoding, import and
// three runs allocate at most importRatio*n + importSlack bytes in all
// (runtime.MemStats.TotalAlloc, garbage included), with a run's values
// bounded by runMemory(n) (graph.Options.MaxMemory) and constant folding
// by graph.MinFoldLimit (plus graph.FoldFactor times the weights, which
// importRatio covers).
const (
	importRatio     = onnx.MaxDecodeRatio + 3*graph.MemoryFactor
	importSlack     = graph.MinFoldLimit + 32<<20
	maxFuzzElements = 1 << 14 // elements of one generated graph input
)

func runMemory(n int) int64 { return int64(graph.MemoryFactor)*int64(n) + 1<<20 }

// FuzzImport feeds arbitrary bytes through the whole import path: decode
// (onnx.Unmarshal), graph.Import (op builders, shape inference, constant
// folding) and, for a graph that imports, two runs of a Session on small
// generated inputs (symbolic dimensions 2, at most maxFuzzElements
// elements per input) and one of a two-thread Session. It must never
// panic, nor allocate more than importRatio bytes per input byte plus
// importSlack; a run that succeeds must return outputs of the element
// type and known dimensions that inference found (not those the model
// declares, which hold for its own test inputs only), the second run,
// which recycles the first run's buffers (an op that leaves an allocated
// element unwritten reads old data there), must give bit for bit the same
// outputs, and so must the two-thread run (which splits a batch of 2 into
// two chunks when the graph computes each item alone).
//
// Seeds: the conformance models, small models built here that ask for
// huge values at load and at run time (ConstantOfShape, Expand, Range,
// Tile, Pad, Resize, an outer-product MatMul), and, when Debian's
// libonnx-testdata is installed, the models of the ONNX backend suite
// (every 16th under -short).
func FuzzImport(f *testing.F) {
	for _, name := range []string{"tiny_qdq_model.onnx", "tiny_qdq_model_v2_1_2_fb.onnx"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "conformance", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, m := range amplifierModels(f) {
		b, err := onnx.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	models, _ := filepath.Glob(filepath.Join(backendSuite, "*", "*", "model.onnx"))
	for i, p := range models {
		if testing.Short() && i%16 != 0 {
			continue
		}
		if st, err := os.Stat(p); err != nil || st.Size() > 256<<10 {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		checkImport(t, data)
		runtime.ReadMemStats(&after)
		if got, bound := after.TotalAlloc-before.TotalAlloc, uint64(importRatio*len(data)+importSlack); got > bound {
			t.Fatalf("decode, import and two runs allocated %d bytes for %d bytes of input (bound %d)", got, len(data), bound)
		}
	})
}

// checkImport decodes, imports and runs data, and checks what FuzzImport
// promises of the runs.
func checkImport(t *testing.T, data []byte) {
	m, err := onnx.Unmarshal(data)
	if err != nil {
		return
	}
	g, err := graph.Import(m)
	if err != nil {
		return
	}
	s, err := graph.NewSession(g, graph.Options{Threads: 1, MaxMemory: runMemory(len(data))})
	if err != nil {
		t.Fatalf("NewSession of an imported graph: %v", err)
	}
	in, ok := fuzzInputs(g)
	if !ok {
		return
	}
	first, err := s.Run(in)
	if err != nil {
		return
	}
	for _, spec := range g.Outputs {
		o, info := first[spec.Name], g.Info(spec.Name)
		if err := o.Validate(); err != nil {
			t.Fatalf("output %q: %v", spec.Name, err)
		}
		if o.DType != info.DType || len(o.Shape) != info.Rank() {
			t.Fatalf("output %q is %v, inferred %v", spec.Name, o, info)
		}
		for i, d := range info.Shape {
			if d.Known() && d.Size != o.Shape[i] {
				t.Fatalf("output %q is %v, inferred %v", spec.Name, o, info)
			}
		}
		first[spec.Name] = o.Clone()
	}
	second, err := s.Run(in)
	if err != nil {
		t.Fatalf("the second run fails where the first succeeded: %v", err)
	}
	for _, spec := range g.Outputs {
		if !sameBits(first[spec.Name], second[spec.Name]) {
			t.Fatalf("output %q differs between two runs on the same inputs", spec.Name)
		}
	}
	s2, err := graph.NewSession(g, graph.Options{Threads: 2, MaxMemory: runMemory(len(data))})
	if err != nil {
		t.Fatalf("NewSession with two threads: %v", err)
	}
	split, err := s2.Run(in)
	if err != nil {
		t.Fatalf("the two-thread run fails where the one-thread run succeeded (splits the batch: %v): %v", s2.SplitsBatch(), err)
	}
	for _, spec := range g.Outputs {
		if !sameBits(first[spec.Name], split[spec.Name]) {
			t.Fatalf("output %q differs between one and two threads (splits the batch: %v)", spec.Name, s2.SplitsBatch())
		}
	}
}

// fuzzInputs makes a small input for each graph input: symbolic and
// unknown dimensions are 2, values cycle through a few small numbers
// (0, 1, 2 for integers, which are valid indices and axes most often).
// ok is false when an input would have more than maxFuzzElements.
func fuzzInputs(g *graph.Graph) (map[string]*graph.Tensor, bool) {
	in := map[string]*graph.Tensor{}
	for _, spec := range g.Inputs {
		shape := make([]int, len(spec.Shape))
		for i, d := range spec.Shape {
			shape[i] = 2
			if d.Known() {
				shape[i] = d.Size
			}
		}
		if n, err := tensor.NumelOf(shape); err != nil || n > maxFuzzElements {
			return nil, false
		}
		x, err := graph.New(spec.DType, shape...)
		if err != nil {
			return nil, false
		}
		for i := range x.F32 {
			x.F32[i] = float32(i%7-3) * 0.75
		}
		for i := range x.F64 {
			x.F64[i] = float64(i%7-3) * 0.75
		}
		for i := range x.I64 {
			x.I64[i] = int64(i % 3)
		}
		for i := range x.I32 {
			x.I32[i] = int32(i % 3)
		}
		for i := range x.I8 {
			x.I8[i] = int8(i%5 - 2)
		}
		for i := range x.U8 {
			x.U8[i] = uint8(i % 2)
		}
		in[spec.Name] = x
	}
	return in, true
}

// sameBits reports whether a and b are the same tensor, floats compared
// by bit pattern.
func sameBits(a, b *graph.Tensor) bool {
	if a.DType != b.DType || !slices.Equal(a.Shape, b.Shape) {
		return false
	}
	f32 := func(x []float32) []uint32 {
		out := make([]uint32, len(x))
		for i, v := range x {
			out[i] = math.Float32bits(v)
		}
		return out
	}
	f64 := func(x []float64) []uint64 {
		out := make([]uint64, len(x))
		for i, v := range x {
			out[i] = math.Float64bits(v)
		}
		return out
	}
	return slices.Equal(f32(a.F32), f32(b.F32)) && slices.Equal(f64(a.F64), f64(b.F64)) &&
		slices.Equal(a.I64, b.I64) && slices.Equal(a.I32, b.I32) && slices.Equal(a.I8, b.I8) && slices.Equal(a.U8, b.U8)
}

// amplifierModels returns small models whose values, computed at load or
// at run time from a small input, would be huge: each must be refused or
// bounded, never exhaust memory.
func amplifierModels(f testing.TB) []*onnx.Model {
	ints := func(name string, v ...int64) onnx.Tensor {
		x, err := onnx.NewTensor(name, []int64{int64(len(v))}, v)
		if err != nil {
			f.Fatal(err)
		}
		return x
	}
	scalar := func(name string, v int64) onnx.Tensor {
		x, err := onnx.NewTensor(name, nil, []int64{v})
		if err != nil {
			f.Fatal(err)
		}
		return x
	}
	floats := func(name string, v ...float32) onnx.Tensor {
		x, err := onnx.NewTensor(name, []int64{int64(len(v))}, v)
		if err != nil {
			f.Fatal(err)
		}
		return x
	}
	model := func(nodes []onnx.Node, init []onnx.Tensor, in ...onnx.ValueInfo) *onnx.Model {
		return &onnx.Model{IRVersion: 8, OpsetImport: []onnx.OperatorSetID{{Version: 17}}, Graph: &onnx.Graph{
			Name: "amplifier", Node: nodes, Initializer: init, Input: in,
			Output: []onnx.ValueInfo{{Name: "y"}},
		}}
	}
	x := func(dims ...int64) onnx.ValueInfo {
		return onnx.TensorValueInfo("x", onnx.Float, onnx.Dims(dims...)...)
	}
	node := func(op string, in []string, attrs ...onnx.Attribute) []onnx.Node {
		return []onnx.Node{onnx.NewNode(op, "n", in, []string{"y"}, attrs...)}
	}
	huge := int64(1) << 40
	var out []*onnx.Model
	// At load: every input is constant, so the node folds.
	out = append(out,
		model(node("ConstantOfShape", []string{"s"}), []onnx.Tensor{ints("s", huge)}),
		model(node("ConstantOfShape", []string{"s"}), []onnx.Tensor{ints("s", 1<<13, 1<<13)}),
		model(node("Range", []string{"a", "b", "c"}), []onnx.Tensor{scalar("a", 0), scalar("b", huge), scalar("c", 1)}),
		model(node("Expand", []string{"v", "s"}), []onnx.Tensor{floats("v", 1), ints("s", 1<<20, 1<<20)}),
		model(node("Tile", []string{"v", "r"}), []onnx.Tensor{floats("v", 1, 2), ints("r", huge)}),
		model(node("Pad", []string{"v", "p"}), []onnx.Tensor{floats("v", 1), ints("p", 0, huge)}),
		model(node("Resize", []string{"v", "", "sc"}), []onnx.Tensor{floats("v", 1, 2), floats("sc", 1e9)}),
	)
	// At run time: the node reads the graph input.
	out = append(out,
		model(node("Expand", []string{"x", "s"}), []onnx.Tensor{ints("s", 1<<20, 1<<20)}, x(1)),
		model(node("Tile", []string{"x", "r"}), []onnx.Tensor{ints("r", huge)}, x(2)),
		model(node("MatMul", []string{"x", "xt"}), nil, x(1<<14, 1)),
		model(node("Resize", []string{"x", "", "sc"}), []onnx.Tensor{floats("sc", 1e9)}, x(2)),
	)
	mm := out[len(out)-2]
	mm.Graph.Node = append([]onnx.Node{onnx.NewNode("Transpose", "t", []string{"x"}, []string{"xt"})}, mm.Graph.Node...)
	return out
}
