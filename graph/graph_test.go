package graph

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/onnx"
)

// Test-only ops, registered in the "test" domain so that they never clash
// with the real ones.

// tAdd adds two FLOAT tensors of the same shape.
type tAdd struct{}

func (tAdd) Infer(in []*Info) ([]*Info, error) {
	if len(in) != 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("want 2 inputs")
	}
	if in[0].Rank() != in[1].Rank() {
		return nil, fmt.Errorf("ranks %d and %d differ", in[0].Rank(), in[1].Rank())
	}
	return []*Info{{DType: onnx.Float, Shape: slices.Clone(in[0].Shape)}}, nil
}

func (tAdd) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if !slices.Equal(in[0].Shape, in[1].Shape) {
		return nil, fmt.Errorf("shapes %v and %v differ", in[0].Shape, in[1].Shape)
	}
	out, err := ctx.Alloc(onnx.Float, in[0].Shape...)
	if err != nil {
		return nil, err
	}
	for i := range out.F32 {
		out.F32[i] = in[0].F32[i] + in[1].F32[i]
	}
	return []*Tensor{out}, nil
}

// tRelu works in place when it may.
type tRelu struct{ inPlace *int }

func (tRelu) Infer(in []*Info) ([]*Info, error) {
	return []*Info{{DType: in[0].DType, Shape: slices.Clone(in[0].Shape)}}, nil
}

func (r tRelu) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	out := in[0]
	if ctx.Reusable(0) {
		*r.inPlace++
	} else {
		var err error
		if out, err = ctx.Alloc(onnx.Float, in[0].Shape...); err != nil {
			return nil, err
		}
	}
	for i, v := range in[0].F32 {
		out.F32[i] = max(v, 0)
	}
	return []*Tensor{out}, nil
}

// tView returns its input itself: a contract violation unless reusable.
type tView struct{}

func (tView) Infer(in []*Info) ([]*Info, error) {
	return []*Info{{DType: in[0].DType, Shape: slices.Clone(in[0].Shape)}}, nil
}

func (tView) Run(_ *Ctx, in []*Tensor) ([]*Tensor, error) { return []*Tensor{in[0]}, nil }

func floats(t *testing.T, data []float32, shape ...int) *Tensor {
	t.Helper()
	x, err := Floats(data, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestSessionRunsInTopologicalOrder(t *testing.T) {
	var inPlace int
	// Nodes listed out of order: r = relu(x + w); y = r + r2 where r2 = relu(r).
	g := &Graph{
		Inputs:       []ValueSpec{{Name: "x", DType: onnx.Float, Shape: []Dim{{Size: -1, Param: "N"}, {Size: 3}}}},
		Outputs:      []ValueSpec{{Name: "y"}},
		Initializers: map[string]*Tensor{"w": floats(t, []float32{1, -2, 3}, 1, 3)},
		Nodes: []*Node{
			{Name: "sum", Inputs: []string{"r", "r2"}, Outputs: []string{"y"}, Op: tAdd{}},
			{Name: "relu2", Inputs: []string{"r"}, Outputs: []string{"r2"}, Op: tRelu{&inPlace}},
			{Name: "add", Inputs: []string{"x", "w"}, Outputs: []string{"a"}, Op: tAdd{}},
			{Name: "relu", Inputs: []string{"a"}, Outputs: []string{"r"}, Op: tRelu{&inPlace}},
		},
	}
	s, err := NewSession(g, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, n := range g.Nodes {
		order = append(order, n.Name)
	}
	if want := []string{"add", "relu", "relu2", "sum"}; !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	if got := ShapeString(g.Info("y").Shape); got != "[N 3]" {
		t.Errorf("inferred y shape %s, want [N 3]", got)
	}
	out, err := s.Run(map[string]*Tensor{"x": floats(t, []float32{-2, 1, 0}, 1, 3)})
	if err != nil {
		t.Fatal(err)
	}
	// a = [-1 -1 3], r = [0 0 3], r2 = r, y = [0 0 6]
	if got := out["y"].F32; !slices.Equal(got, []float32{0, 0, 6}) {
		t.Errorf("y = %v, want [0 0 6]", got)
	}
	// relu reads a last (reusable); relu2 reads r, which sum reads after it.
	if inPlace != 1 {
		t.Errorf("%d in-place runs, want 1", inPlace)
	}
}

func TestInferFoldsConstants(t *testing.T) {
	var inPlace int
	g := &Graph{
		Inputs:  []ValueSpec{{Name: "x", DType: onnx.Float, Shape: Sizes(2)}},
		Outputs: []ValueSpec{{Name: "y"}},
		Initializers: map[string]*Tensor{
			"a": floats(t, []float32{1, -5}, 2),
			"b": floats(t, []float32{2, 2}, 2),
		},
		Nodes: []*Node{
			{Name: "ab", Inputs: []string{"a", "b"}, Outputs: []string{"c"}, Op: tAdd{}},
			{Name: "relu", Inputs: []string{"c"}, Outputs: []string{"d"}, Op: tRelu{&inPlace}},
			{Name: "y", Inputs: []string{"x", "d"}, Outputs: []string{"y"}, Op: tAdd{}},
		},
	}
	if err := g.Infer(); err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 1 || g.Nodes[0].Name != "y" {
		t.Fatalf("nodes after folding: %d, want only y", len(g.Nodes))
	}
	if len(g.Initializers) != 1 || g.Initializers["d"] == nil || !slices.Equal(g.Initializers["d"].F32, []float32{3, 0}) {
		t.Fatalf("initializers after folding: %v, want d = [3 0] only", g.Initializers)
	}
	s, err := NewSession(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Run(map[string]*Tensor{"x": floats(t, []float32{1, 1}, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out["y"].F32, []float32{4, 1}) {
		t.Errorf("y = %v, want [4 1]", out["y"].F32)
	}
	// The constant must survive runs (it is never recycled).
	if _, err := s.Run(map[string]*Tensor{"x": floats(t, []float32{1, 1}, 2)}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.Initializers["d"].F32, []float32{3, 0}) {
		t.Errorf("constant changed to %v", g.Initializers["d"].F32)
	}
}

func TestGraphErrors(t *testing.T) {
	x := ValueSpec{Name: "x", DType: onnx.Float, Shape: Sizes(2)}
	cases := []struct {
		name string
		g    *Graph
		want string
	}{
		{"cycle", &Graph{Inputs: []ValueSpec{x}, Outputs: []ValueSpec{{Name: "b"}}, Nodes: []*Node{
			{Name: "n1", Inputs: []string{"x", "b"}, Outputs: []string{"a"}, Op: tAdd{}},
			{Name: "n2", Inputs: []string{"a", "x"}, Outputs: []string{"b"}, Op: tAdd{}},
		}}, "cycle"},
		{"missing value", &Graph{Inputs: []ValueSpec{x}, Outputs: []ValueSpec{{Name: "a"}}, Nodes: []*Node{
			{Name: "n1", Inputs: []string{"x", "nope"}, Outputs: []string{"a"}, Op: tAdd{}},
		}}, `reads "nope"`},
		{"two producers", &Graph{Inputs: []ValueSpec{x}, Outputs: []ValueSpec{{Name: "a"}}, Nodes: []*Node{
			{Name: "n1", Inputs: []string{"x", "x"}, Outputs: []string{"a"}, Op: tAdd{}},
			{Name: "n2", Inputs: []string{"x", "x"}, Outputs: []string{"a"}, Op: tAdd{}},
		}}, `both write "a"`},
		{"infer error names node", &Graph{Inputs: []ValueSpec{x, {Name: "z", DType: onnx.Float, Shape: Sizes(2, 2)}},
			Outputs: []ValueSpec{{Name: "a"}}, Nodes: []*Node{
				{Name: "bad", Inputs: []string{"x", "z"}, Outputs: []string{"a"}, Op: tAdd{}},
			}}, `node "bad" (): ranks 1 and 2 differ`},
		{"unknown output", &Graph{Inputs: []ValueSpec{x}, Outputs: []ValueSpec{{Name: "q"}}}, `output "q"`},
	}
	for _, c := range cases {
		err := c.g.Infer()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestRunChecksInputsAndAliasing(t *testing.T) {
	g := &Graph{
		Inputs:  []ValueSpec{{Name: "x", DType: onnx.Float, Shape: []Dim{Unknown(), {Size: 2}}}},
		Outputs: []ValueSpec{{Name: "y"}},
		Nodes:   []*Node{{Name: "view", Inputs: []string{"x"}, Outputs: []string{"y"}, Op: tView{}}},
	}
	s, err := NewSession(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in   map[string]*Tensor
		want string
	}{
		{map[string]*Tensor{}, `input "x" is missing`},
		{map[string]*Tensor{"x": floats(t, []float32{1, 2, 3}, 1, 3)}, `has shape [1 3], the graph wants [? 2]`},
		{map[string]*Tensor{"x": {DType: onnx.Int64, Shape: []int{1, 2}, I64: []int64{1, 2}}}, `is INT64, the graph wants FLOAT`},
		{map[string]*Tensor{"x": {DType: onnx.Float, Shape: []int{1, 2}, F32: []float32{1}}}, `holds 1 elements, want 2`},
		{map[string]*Tensor{"x": floats(t, []float32{1, 2}, 1, 2), "extra": floats(t, []float32{1}, 1)}, `"extra" is not an input`},
		// The op returns a view of a graph input: the executor refuses it.
		{map[string]*Tensor{"x": floats(t, []float32{1, 2}, 1, 2)}, `returned a view of input 0`},
	} {
		_, err := s.Run(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Run: error %v, want one containing %q", err, c.want)
		}
	}
}

func TestImportListsEveryUnsupportedOp(t *testing.T) {
	m := &onnx.Model{
		OpsetImport: []onnx.OperatorSetID{{Version: 17}},
		Graph: &onnx.Graph{
			Input:  []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Float, onnx.Dims(1, 2)...)},
			Output: []onnx.ValueInfo{onnx.TensorValueInfo("z", onnx.Float, onnx.Dims(1, 2)...)},
			Node: []onnx.Node{
				onnx.NewNode("NoSuchOp", "first", []string{"x"}, []string{"y"}),
				onnx.NewNode("NoSuchOp", "second", []string{"y"}, []string{"y2"}),
				onnx.NewNode("AlsoMissing", "third", []string{"y2"}, []string{"z"}),
			},
		},
	}
	_, err := Import(m)
	var ue *UnsupportedError
	if !errors.As(err, &ue) {
		t.Fatalf("error %v, want *UnsupportedError", err)
	}
	if want := map[string]string{"NoSuchOp": "first", "AlsoMissing": "third"}; fmt.Sprint(ue.Ops) != fmt.Sprint(want) {
		t.Errorf("unsupported %v, want %v", ue.Ops, want)
	}
	if want := `graph: 2 unsupported op type(s): AlsoMissing (first node "third"), NoSuchOp (first node "first")`; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

func TestImportRunsRegisteredOps(t *testing.T) {
	Register("test.graph", "Add2", func(d *NodeDef) (Op, error) {
		if _, err := d.Attrs.Int("known", 0); err != nil {
			return nil, err
		}
		return tAdd{}, nil
	})
	w, err := onnx.NewTensor("w", []int64{1, 2}, []float32{10, 20})
	if err != nil {
		t.Fatal(err)
	}
	add := onnx.NewNode("Add2", "add", []string{"x", "w"}, []string{"y"}, onnx.IntAttr("known", 1))
	add.Domain = "test.graph"
	m := &onnx.Model{
		OpsetImport: []onnx.OperatorSetID{{Version: 17}, {Domain: "test.graph", Version: 1}},
		Graph: &onnx.Graph{
			Initializer: []onnx.Tensor{w},
			// Old IR versions list initializers among the inputs too.
			Input:  []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Float, onnx.DimParam("N"), onnx.DimValue(2)), onnx.TensorValueInfo("w", onnx.Float, onnx.Dims(1, 2)...)},
			Output: []onnx.ValueInfo{onnx.TensorValueInfo("y", onnx.Float, onnx.DimParam("N"), onnx.DimValue(2))},
			Node:   []onnx.Node{add},
		},
	}
	g, err := Import(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Inputs) != 1 || g.Inputs[0].Name != "x" {
		t.Fatalf("inputs %v, want x only", g.Inputs)
	}
	s, err := NewSession(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Run(map[string]*Tensor{"x": floats(t, []float32{1, 2}, 1, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out["y"].F32, []float32{11, 22}) {
		t.Errorf("y = %v, want [11 22]", out["y"].F32)
	}

	// An attribute the builder never reads is refused.
	m.Graph.Node[0].Attribute = append(m.Graph.Node[0].Attribute, onnx.IntAttr("mystery", 3))
	if _, err := Import(m); err == nil || !strings.Contains(err.Error(), "unsupported attribute(s) mystery") {
		t.Errorf("error %v, want the unknown attribute named", err)
	}
}

func TestArenaReusesBuffers(t *testing.T) {
	g := &Graph{
		Inputs:  []ValueSpec{{Name: "x", DType: onnx.Float, Shape: Sizes(4096)}},
		Outputs: []ValueSpec{{Name: "y"}},
		Nodes: []*Node{
			{Name: "a", Inputs: []string{"x", "x"}, Outputs: []string{"a"}, Op: tAdd{}},
			{Name: "b", Inputs: []string{"a", "x"}, Outputs: []string{"b"}, Op: tAdd{}},
			{Name: "c", Inputs: []string{"b", "x"}, Outputs: []string{"c"}, Op: tAdd{}},
			{Name: "d", Inputs: []string{"c", "x"}, Outputs: []string{"d"}, Op: tAdd{}},
			{Name: "y", Inputs: []string{"d", "x"}, Outputs: []string{"y"}, Op: tAdd{}},
		},
	}
	s, err := NewSession(g, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]*Tensor{"x": floats(t, make([]float32, 4096), 4096)}
	if _, err := s.Run(in); err != nil {
		t.Fatal(err)
	}
	// Five nodes write 16 KiB each. With the pool warm, a run allocates
	// only what it cannot recycle: at most two buffers (the output y, which
	// leaves the session, and one of the two that alternate), not five.
	const runs = 50
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		if _, err := s.Run(in); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	perRun := (after.TotalAlloc - before.TotalAlloc) / runs
	if perRun > 2*16384+4096 {
		t.Errorf("%d bytes allocated per run, want at most two 16 KiB buffers and bookkeeping", perRun)
	}
}
