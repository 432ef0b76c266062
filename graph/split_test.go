package graph

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/onnx"
)

// splitCase is a small graph of a batched input x (first dimension "N")
// and whether a run may split its batch.
type splitCase struct {
	name  string
	x     []int // x's shape after the batch
	xType onnx.DataType
	nodes []onnx.Node
	init  map[string]*Tensor
	split bool
}

func (c splitCase) model(t *testing.T) *onnx.Model {
	t.Helper()
	xt := c.xType
	if xt == 0 {
		xt = onnx.Float
	}
	dims := []onnx.Dimension{onnx.DimParam("N")}
	for _, d := range c.x {
		dims = append(dims, onnx.DimValue(int64(d)))
	}
	g := &onnx.Graph{Name: c.name, Node: c.nodes,
		Input:  []onnx.ValueInfo{onnx.TensorValueInfo("x", xt, dims...)},
		Output: []onnx.ValueInfo{{Name: "y"}}}
	for name, v := range c.init {
		ot, err := TensorToONNX(name, v)
		if err != nil {
			t.Fatal(err)
		}
		g.Initializer = append(g.Initializer, ot)
	}
	return &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 17}}, Graph: g}
}

// splitCases are sample-wise graphs (split) and graphs that mix the items
// of a batch, or that the rules cannot follow (not split).
func splitCases(t *testing.T) []splitCase {
	node := onnx.NewNode
	ints := func(v ...int64) *Tensor { return must(Int64s(v, len(v))) }
	w := func(shape ...int) *Tensor {
		x := must(New(onnx.Float, shape...))
		for i := range x.F32 {
			x.F32[i] = float32(i%7)*0.25 - 0.5
		}
		return x
	}
	axis := func(a int64) onnx.Attribute { return onnx.IntAttr("axis", a) }
	return []splitCase{
		{name: "cnn", x: []int{2, 5, 5}, split: true, init: map[string]*Tensor{"w": w(3, 2, 3, 3), "b": w(3), "fw": w(4, 3), "fb": w(4)},
			nodes: []onnx.Node{
				node("Conv", "conv", []string{"x", "w", "b"}, []string{"c"}, onnx.IntsAttr("pads", 1, 1, 1, 1)),
				node("Relu", "relu", []string{"c"}, []string{"r"}),
				node("MaxPool", "pool", []string{"r"}, []string{"p"}, onnx.IntsAttr("kernel_shape", 2, 2)),
				node("GlobalAveragePool", "gap", []string{"p"}, []string{"g"}),
				node("Flatten", "flat", []string{"g"}, []string{"f"}),
				node("Gemm", "fc", []string{"f", "fw", "fb"}, []string{"y"}, onnx.IntAttr("transB", 1)),
			}},
		// [N, 4, 6] -> [4, N, 6] -> [4, 6N] -> [6N, 4]: y[6b+j, i] = x[b, i, j].
		{name: "transposed and merged", x: []int{4, 6}, split: true, init: map[string]*Tensor{"s": ints(4, -1)},
			nodes: []onnx.Node{
				node("Transpose", "t1", []string{"x"}, []string{"t"}, onnx.IntsAttr("perm", 1, 0, 2)),
				node("Reshape", "r", []string{"t", "s"}, []string{"m"}),
				node("Transpose", "t2", []string{"m"}, []string{"y"}, onnx.IntsAttr("perm", 1, 0)),
			}},
		// Transposes read by element-wise nodes (transposed-reads): the
		// batch moves with the permutation. y[b] = uint8 codes of
		// (x + relu(x))[b], as float.
		{name: "transposed reads", x: []int{4, 6}, split: true, init: map[string]*Tensor{"sc": f32(nil, 0.01), "zp": u8(nil, 100)},
			nodes: []onnx.Node{
				node("Transpose", "t1", []string{"x"}, []string{"t1"}, onnx.IntsAttr("perm", 1, 0, 2)),
				node("Relu", "r", []string{"x"}, []string{"r"}),
				node("Transpose", "t2", []string{"r"}, []string{"t2"}, onnx.IntsAttr("perm", 1, 0, 2)),
				node("Add", "a", []string{"t1", "t2"}, []string{"a"}),
				node("Transpose", "t3", []string{"a"}, []string{"t3"}, onnx.IntsAttr("perm", 1, 0, 2)),
				node("QuantizeLinear", "q", []string{"t3", "sc", "zp"}, []string{"q"}),
				node("Cast", "c", []string{"q"}, []string{"y"}, onnx.IntAttr("to", int64(onnx.Float))),
			}},
		// [N, 4] -> [4, N] -> [4N]: the batch is a digit of the output's
		// only dimension, but not its outermost (y[N*i+b] = x[b, i]).
		{name: "batch inner in the output", x: []int{4}, init: map[string]*Tensor{"s": ints(-1)},
			nodes: []onnx.Node{
				node("Transpose", "t", []string{"x"}, []string{"t"}, onnx.IntsAttr("perm", 1, 0)),
				node("Reshape", "r", []string{"t", "s"}, []string{"y"}),
			}},
		{name: "target from the shape", x: []int{3, 4}, split: true, init: map[string]*Tensor{"i0": ints(0), "m1": ints(-1)},
			nodes: []onnx.Node{
				node("Shape", "shape", []string{"x"}, []string{"sh"}),
				node("Gather", "n", []string{"sh", "i0"}, []string{"n"}),
				node("Concat", "target", []string{"n", "m1"}, []string{"tgt"}, axis(0)),
				node("Reshape", "r", []string{"x", "tgt"}, []string{"f"}),
				node("Softmax", "sm", []string{"f"}, []string{"y"}, axis(-1)),
			}},
		{name: "reduce, concat, matmul", x: []int{3, 4}, split: true, init: map[string]*Tensor{"w": w(4, 2), "c": w(1, 3, 2)},
			nodes: []onnx.Node{
				node("MatMul", "mm", []string{"x", "w"}, []string{"m"}),
				node("Add", "add", []string{"m", "c"}, []string{"s"}),
				node("Concat", "cat", []string{"s", "m"}, []string{"k"}, axis(1)),
				node("ReduceMean", "mean", []string{"k"}, []string{"y"}, onnx.IntsAttr("axes", 2), onnx.IntAttr("keepdims", 0)),
			}},
		{name: "embedding", x: []int{5}, xType: onnx.Int64, split: true, init: map[string]*Tensor{"e": w(10, 3)},
			nodes: []onnx.Node{node("Gather", "emb", []string{"e", "x"}, []string{"y"})}},
		{name: "softmax over the batch", x: []int{3}, nodes: []onnx.Node{node("Softmax", "sm", []string{"x"}, []string{"y"}, axis(0))}},
		{name: "layer norm from the batch on", x: []int{3}, init: map[string]*Tensor{"g": w(1, 3)},
			nodes: []onnx.Node{node("LayerNormalization", "ln", []string{"x", "g"}, []string{"y"}, axis(0))}},
		{name: "sum over the batch", x: []int{3}, init: map[string]*Tensor{"a": ints(0)},
			nodes: []onnx.Node{node("ReduceSum", "sum", []string{"x", "a"}, []string{"y"})}},
		{name: "transposed output", x: []int{4}, nodes: []onnx.Node{node("Transpose", "t", []string{"x"}, []string{"y"}, onnx.IntsAttr("perm", 1, 0))}},
		{name: "divided by the batch size", x: []int{3}, init: map[string]*Tensor{"i0": ints(0)},
			nodes: []onnx.Node{
				node("Shape", "shape", []string{"x"}, []string{"sh"}),
				node("Gather", "n", []string{"sh", "i0"}, []string{"n"}),
				node("Cast", "f", []string{"n"}, []string{"nf"}, onnx.IntAttr("to", int64(onnx.Float))),
				node("Div", "div", []string{"x", "nf"}, []string{"y"}),
			}},
		{name: "gram matrix", x: []int{4},
			nodes: []onnx.Node{
				node("Transpose", "t", []string{"x"}, []string{"xt"}),
				node("MatMul", "mm", []string{"x", "xt"}, []string{"m"}),
				node("Relu", "r", []string{"m"}, []string{"y"}),
			}},
		{name: "first items", x: []int{3}, init: map[string]*Tensor{"s": ints(0), "e": ints(1), "a": ints(0)},
			nodes: []onnx.Node{node("Slice", "sl", []string{"x", "s", "e", "a"}, []string{"y"})}},
		{name: "gather along the batch", x: []int{3}, init: map[string]*Tensor{"i": ints(0, 0)},
			nodes: []onnx.Node{
				node("Gather", "g", []string{"x", "i"}, []string{"g"}, axis(0)),
				node("Add", "a", []string{"g", "g"}, []string{"y"}),
			}},
		// Items of no elements (an empty slice, then a reshape): no
		// weight for the batch's digit, left whole.
		{name: "empty items", x: []int{3}, init: map[string]*Tensor{"z": ints(0), "one": ints(1)},
			nodes: []onnx.Node{
				node("Slice", "sl", []string{"x", "z", "z", "one"}, []string{"e"}),
				node("Unsqueeze", "u", []string{"e", "one"}, []string{"y"}),
			}},
		{name: "an op the rules do not list", x: []int{3}, init: map[string]*Tensor{"p": ints(0, 1, 0, 1)},
			nodes: []onnx.Node{node("Pad", "pad", []string{"x", "p"}, []string{"y"})}},
	}
}

// TestSplitBatch checks which graphs split a run's batch, and that a
// split run computes the whole run's outputs bit for bit.
func TestSplitBatch(t *testing.T) {
	for _, c := range splitCases(t) {
		t.Run(c.name, func(t *testing.T) {
			g, err := Import(c.model(t))
			if err != nil {
				t.Fatal(err)
			}
			whole, err := NewSession(g, Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			s, err := NewSession(g, Options{Threads: 3})
			if err != nil {
				t.Fatal(err)
			}
			if got := s.batch != ""; got != c.split {
				t.Fatalf("split = %v, want %v (nodes %v)", got, c.split, nodeTypes(s.Graph()))
			}
			x := must(New(g.Inputs[0].DType, append([]int{5}, c.x...)...))
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range x.F32 {
				x.F32[i] = float32(rng.NormFloat64())
			}
			for i := range x.I64 {
				x.I64[i] = rng.Int64N(10)
			}
			if n, workers := s.splitParts(map[string]*Tensor{"x": x}); c.split && (n != 5 || workers != 3) {
				t.Fatalf("splitParts = %d items on %d workers, want 5 on 3", n, workers)
			}
			want, err := whole.Run(map[string]*Tensor{"x": x})
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Run(map[string]*Tensor{"x": x})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got["y"].Shape, want["y"].Shape) || !slices.Equal(got["y"].F32, want["y"].F32) {
				t.Errorf("split run %v %v, whole %v %v", got["y"].Shape, got["y"].F32, want["y"].Shape, want["y"].F32)
			}
		})
	}
}

// TestSplitBatchErrors: a split run reports a bad input as a whole run
// does, and its parts share the run's memory bound.
func TestSplitBatchErrors(t *testing.T) {
	c := splitCases(t)[0]
	g, err := Import(c.model(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(g, Options{Threads: 2, MaxMemory: 64})
	if err != nil {
		t.Fatal(err)
	}
	if s.batch == "" {
		t.Fatal("the cnn does not split")
	}
	_, err = s.Run(map[string]*Tensor{"x": must(New(onnx.Float, 4, 2, 5, 4))})
	if err == nil || err.Error() != "graph: run: input \"x\" has shape [4 2 5 4], the graph wants [N 2 5 5]" {
		t.Errorf("bad shape: %v", err)
	}
	_, err = s.Run(map[string]*Tensor{"x": must(New(onnx.Float, 4, 2, 5, 5))})
	if !errors.Is(err, ErrMemoryLimit) {
		t.Errorf("over the memory bound: %v, want ErrMemoryLimit", err)
	}
	// With room for the whole run, a split run fits too.
	s.maxMemory = 1 << 20
	if _, err := s.Run(map[string]*Tensor{"x": must(New(onnx.Float, 4, 2, 5, 5))}); err != nil {
		t.Error(err)
	}
}

func TestRows(t *testing.T) {
	x := must(Floats([]float32{0, 1, 2, 3, 4, 5}, 3, 2))
	r, err := x.Rows(1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Shape, []int{2, 2}) || !slices.Equal(r.F32, []float32{2, 3, 4, 5}) {
		t.Errorf("rows [1, 3) = %v", r)
	}
	r.F32[0] = 9
	if x.F32[2] != 9 {
		t.Error("the rows do not share x's data")
	}
	if r, err := x.Rows(3, 3); err != nil || len(r.F32) != 0 || r.Shape[0] != 0 {
		t.Errorf("rows [3, 3) = %v, %v", r, err)
	}
	for _, c := range [][2]int{{-1, 1}, {2, 1}, {0, 4}} {
		if _, err := x.Rows(c[0], c[1]); err == nil {
			t.Errorf("rows %v of [3 2]: no error", c)
		}
	}
	if _, err := must(Floats([]float32{1})).Rows(0, 0); err == nil {
		t.Error("rows of a scalar: no error")
	}
}

// TestCacheChunks checks the chunks a one-thread run of a batch takes:
// none before the session knows the size of an item's largest output
// (from its first run: the "cnn" case's convolution, 3×5×5 float32), and
// as many as keep each chunk's largest output within chunkBytes once the
// items are large; the chunked run computes the whole run's outputs bit
// for bit.
func TestCacheChunks(t *testing.T) {
	c := splitCases(t)[0]
	g := must(Import(c.model(t)))
	s := must(NewSession(g, Options{Threads: 1}))
	x := must(New(onnx.Float, 5, 2, 5, 5))
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range x.F32 {
		x.F32[i] = float32(rng.NormFloat64())
	}
	if got := s.cacheChunks(5); got != 1 {
		t.Fatalf("before a run: %d chunks, want 1", got)
	}
	want := must(s.Run(map[string]*Tensor{"x": x}))
	if got := s.itemBytes.Load(); got != 3*5*5*4 {
		t.Fatalf("largest output per item %d bytes, want %d", got, 3*5*5*4)
	}
	if got := s.cacheChunks(5); got != 1 {
		t.Fatalf("items of 300 bytes: %d chunks, want 1", got)
	}
	s.itemBytes.Store(chunkBytes / 2)
	for n, chunks := range map[int]int{1: 1, 2: 1, 5: 3, 8: 4} {
		if got := s.cacheChunks(n); got != chunks {
			t.Errorf("%d items of chunkBytes/2: %d chunks, want %d", n, got, chunks)
		}
	}
	got := must(s.Run(map[string]*Tensor{"x": x}))
	if !slices.Equal(got["y"].Shape, want["y"].Shape) || !slices.Equal(got["y"].F32, want["y"].F32) {
		t.Errorf("chunked run %v %v, whole %v %v", got["y"].Shape, got["y"].F32, want["y"].Shape, want["y"].F32)
	}
}
