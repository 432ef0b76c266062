package graph

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/onnx"
)

// TestRunObserved watches a graph whose buffers are recycled and
// overwritten in place: every watched value is shown once, in node order,
// with the value it had when it was computed (a and r are overwritten by
// the in-place relus after), the input and the constant before the first
// node; the outputs equal Run's.
func TestRunObserved(t *testing.T) {
	var inPlace int
	// a = x + w; r = relu(a) (in place over a); r2 = relu(r) (in place
	// over r); y = r2 + w.
	g := &Graph{
		Inputs:       []ValueSpec{{Name: "x", DType: onnx.Float, Shape: Sizes(3)}},
		Outputs:      []ValueSpec{{Name: "y"}},
		Initializers: map[string]*Tensor{"w": floats(t, []float32{1, -2, 3}, 3)},
		Nodes: []*Node{
			{Name: "add", Inputs: []string{"x", "w"}, Outputs: []string{"a"}, Op: tAdd{}},
			{Name: "relu", Inputs: []string{"a"}, Outputs: []string{"r"}, Op: tRelu{&inPlace}},
			{Name: "relu2", Inputs: []string{"r"}, Outputs: []string{"r2"}, Op: tRelu{&inPlace}},
			{Name: "out", Inputs: []string{"r2", "w"}, Outputs: []string{"y"}, Op: tAdd{}},
		},
	}
	s, err := NewSession(g, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	x := floats(t, []float32{-2, 1, -5}, 3)
	type seen struct {
		name string
		v    []float32
	}
	var got []seen
	out, err := s.RunObserved(map[string]*Tensor{"x": x}, []string{"r", "a", "x", "w", "y", "a"}, func(name string, v *Tensor) error {
		got = append(got, seen{name, slices.Clone(v.F32)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if inPlace != 2 {
		t.Fatalf("%d in-place relus, want 2 (the test needs overwritten buffers)", inPlace)
	}
	want := []seen{
		{"x", []float32{-2, 1, -5}}, {"w", []float32{1, -2, 3}}, // before the first node (input, then constant)
		{"a", []float32{-1, -1, -2}}, {"r", []float32{0, 0, 0}}, {"y", []float32{1, -2, 3}},
	}
	if len(got) != len(want) {
		t.Fatalf("observed %v, want %v", got, want)
	}
	for i := range want {
		if got[i].name != want[i].name || !slices.Equal(got[i].v, want[i].v) {
			t.Errorf("observation %d: %s = %v, want %s = %v", i, got[i].name, got[i].v, want[i].name, want[i].v)
		}
	}
	if !slices.Equal(out["y"].F32, []float32{1, -2, 3}) {
		t.Errorf("y = %v, want [1 -2 3]", out["y"].F32)
	}

	stop := errors.New("enough")
	calls := 0
	_, err = s.RunObserved(map[string]*Tensor{"x": x}, []string{"a", "r"}, func(string, *Tensor) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || !strings.Contains(err.Error(), `observing "a"`) || calls != 1 {
		t.Errorf("observer error: %v after %d calls, want it wrapped, naming a, after 1 call", err, calls)
	}
	if _, err := s.RunObserved(map[string]*Tensor{"x": x}, []string{"nope"}, nil); err == nil || !strings.Contains(err.Error(), `"nope" is not a value`) {
		t.Errorf("unknown watched name: %v", err)
	}
}

// TestKeepSurvivesFusion: Conv+Relu fuse into one node, so the Conv's
// output is no value of the optimised graph and RunObserved refuses to
// watch it; named in Options.Keep, it stays (the Conv is fused without the
// Relu) and shows the value the node-by-node run computes, bit for bit.
func TestKeepSurvivesFusion(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := randF32(rng, 1, 4, 6, 5)
	m := &optModel{opset: 17, inputs: map[string]*Tensor{"x": x},
		consts: map[string]*Tensor{"w": randF32(rng, 8, 4, 3, 3), "b": randF32(rng, 8)},
		nodes: []onnx.Node{
			onnx.NewNode("Conv", "conv", []string{"x", "w", "b"}, []string{"c"}, convAttrs()...),
			onnx.NewNode("Relu", "relu", []string{"c"}, []string{"y"}),
		},
		outputs: []string{"y"}}
	watch := func(o Options) ([]float32, []string, error) {
		g := importModel(t, m.model(t))
		s, err := NewSession(g, o)
		if err != nil {
			t.Fatal(err)
		}
		var c []float32
		_, err = s.RunObserved(map[string]*Tensor{"x": x.Clone()}, []string{"c"}, func(_ string, v *Tensor) error {
			c = slices.Clone(v.F32)
			return nil
		})
		return c, nodeTypes(s.Graph()), err
	}
	if _, types, err := watch(Options{}); err == nil || !strings.Contains(err.Error(), `"c" is not a value`) {
		t.Fatalf("without Keep (nodes %v): %v, want c refused", types, err)
	}
	want, _, err := watch(Options{Optimization: OptimizeNone})
	if err != nil {
		t.Fatal(err)
	}
	got, types, err := watch(Options{Keep: []string{"c"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(types, []string{"FusedConv()", "Relu"}) {
		t.Errorf("nodes with Keep: %v, want the Conv fused alone and the Relu", types)
	}
	if !slices.EqualFunc(got, want, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
		t.Errorf("kept c = %v, want %v", got, want)
	}
}
