package graph

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/onnx"
)

// tFill makes a FLOAT tensor of the shape its INT64 input holds, every
// element 1 (ConstantOfShape in miniature).
type tFill struct{}

func (tFill) Infer(in []*Info) ([]*Info, error) {
	if in[0].Rank() != 1 || !in[0].Shape[0].Known() {
		return nil, fmt.Errorf("the shape must be 1-D")
	}
	shape := make([]Dim, in[0].Shape[0].Size)
	for i := range shape {
		shape[i] = Unknown()
	}
	if in[0].Const != nil {
		shape = Sizes(intsOf(in[0].Const)...)
	}
	return []*Info{{DType: onnx.Float, Shape: shape}}, nil
}

func intsOf(t *Tensor) []int {
	v, _ := t.Ints()
	return v
}

func (tFill) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	out, err := ctx.Alloc(onnx.Float, intsOf(in[0])...)
	if err != nil {
		return nil, err
	}
	for i := range out.F32 {
		out.F32[i] = 1
	}
	return []*Tensor{out}, nil
}

func int64s(t *testing.T, v ...int64) *Tensor {
	t.Helper()
	x, err := Int64s(v, len(v))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestRunMemoryLimit: a run holds at most Options.MaxMemory bytes of
// values at once, counted from allocation to the last reader, and fails
// with ErrMemoryLimit naming the node beyond it.
func TestRunMemoryLimit(t *testing.T) {
	const n, size = 4096, 4096 * 4
	// a = x+x; b = a+x; c = b+x; y = c+x: two values are live at once
	// (an input and an output of a node), never more.
	g := &Graph{
		Inputs:  []ValueSpec{{Name: "x", DType: onnx.Float, Shape: Sizes(n)}},
		Outputs: []ValueSpec{{Name: "y"}},
		Nodes: []*Node{
			{Name: "a", Inputs: []string{"x", "x"}, Outputs: []string{"a"}, Op: tAdd{}},
			{Name: "b", Inputs: []string{"a", "x"}, Outputs: []string{"b"}, Op: tAdd{}},
			{Name: "c", Inputs: []string{"b", "x"}, Outputs: []string{"c"}, Op: tAdd{}},
			{Name: "y", Inputs: []string{"c", "x"}, Outputs: []string{"y"}, Op: tAdd{}},
		},
	}
	in := map[string]*Tensor{"x": floats(t, make([]float32, n), n)}
	for _, tc := range []struct {
		limit int64
		want  string
	}{
		{2 * size, ""},
		{-1, ""},
		{0, ""},
		{2*size - 1, `node "b" (): graph: memory limit exceeded: FLOAT[4096] takes 16384 bytes, with 16384 in use the limit is 32767`},
		{size - 1, `node "a" (): graph: memory limit exceeded`},
	} {
		s, err := NewSession(g, Options{MaxMemory: tc.limit})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // the second run reuses buffers: the count starts again
			_, err = s.Run(in)
			if tc.want == "" && err != nil || tc.want != "" && (!errors.Is(err, ErrMemoryLimit) || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("limit %d: %v, want %q", tc.limit, err, tc.want)
			}
		}
	}
}

// TestDefaultMemoryLimit: by default a run may hold MemoryFactor times its
// constants and inputs, at least MinMemoryLimit: a model that asks for 2
// GiB from a 16-byte input is refused before anything is allocated, and
// so is an allocation too large to count.
func TestDefaultMemoryLimit(t *testing.T) {
	g := &Graph{
		Inputs:  []ValueSpec{{Name: "shape", DType: onnx.Int64, Shape: Sizes(2)}},
		Outputs: []ValueSpec{{Name: "y"}},
		Nodes:   []*Node{{Name: "fill", Inputs: []string{"shape"}, Outputs: []string{"y"}, Op: tFill{}}},
	}
	s, err := NewSession(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, tc := range []struct {
		shape []int64
		want  string
	}{
		{[]int64{1 << 14, 1 << 15}, "FLOAT[16384 32768] takes 2147483648 bytes, with 0 in use the limit is 1073741824"},
		{[]int64{1 << 31, 1 << 31}, "takes more than 1125899906842624 bytes"},
	} {
		if _, err := s.Run(map[string]*Tensor{"shape": int64s(t, tc.shape...)}); !errors.Is(err, ErrMemoryLimit) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.shape, err, tc.want)
		}
	}
	runtime.ReadMemStats(&after)
	if a := after.TotalAlloc - before.TotalAlloc; a > 1<<20 {
		t.Errorf("the refused runs allocated %d bytes", a)
	}
	out, err := s.Run(map[string]*Tensor{"shape": int64s(t, 2, 3)})
	if err != nil || len(out["y"].F32) != 6 || out["y"].F32[5] != 1 {
		t.Errorf("a small fill: %v %v", out["y"], err)
	}
	// Without a bound, only what cannot be counted is refused.
	s, err = NewSession(g, Options{MaxMemory: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(map[string]*Tensor{"shape": int64s(t, 1<<31, 1<<31)}); !errors.Is(err, ErrMemoryLimit) {
		t.Errorf("no bound: %v", err)
	}
}

// TestFoldLimit: constant folding computes at most max(MinFoldLimit,
// FoldFactor x the initializers' bytes); a node beyond that stays in the
// graph and runs (under the run's bound), with the same result.
func TestFoldLimit(t *testing.T) {
	for _, tc := range []struct {
		shape  []int64
		folded bool
	}{
		{[]int64{1024, 1024}, true},       // 4 MiB
		{[]int64{4 << 10, 1 << 10}, true}, // 16 MiB: at the limit
		{[]int64{4 << 10, 1<<10 + 1}, false},
		{[]int64{1 << 20, 1 << 20}, false}, // 4 TiB: never allocated
	} {
		g := &Graph{
			Inputs:       []ValueSpec{{Name: "x", DType: onnx.Float, Shape: Sizes(1)}},
			Outputs:      []ValueSpec{{Name: "y"}},
			Initializers: map[string]*Tensor{"shape": int64s(t, tc.shape...)},
			Nodes: []*Node{
				{Name: "fill", Inputs: []string{"shape"}, Outputs: []string{"y"}, Op: tFill{}},
			},
		}
		if err := g.Infer(); err != nil {
			t.Fatalf("%v: %v", tc.shape, err)
		}
		if folded := len(g.Nodes) == 0; folded != tc.folded {
			t.Errorf("%v: folded %v, want %v", tc.shape, folded, tc.folded)
		}
		if tc.shape[0] > 1<<16 {
			s, err := NewSession(g, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Run(map[string]*Tensor{"x": floats(t, []float32{0}, 1)}); !errors.Is(err, ErrMemoryLimit) {
				t.Errorf("%v: run: %v", tc.shape, err)
			}
		}
	}
	// FoldFactor x large initializers raises the limit.
	big := floats(t, make([]float32, 1<<20), 1<<20) // 4 MiB
	g := &Graph{
		Inputs:       []ValueSpec{{Name: "x", DType: onnx.Float, Shape: Sizes(1)}},
		Outputs:      []ValueSpec{{Name: "y"}, {Name: "big"}},
		Initializers: map[string]*Tensor{"shape": int64s(t, 8<<20), "big": big},
		Nodes:        []*Node{{Name: "fill", Inputs: []string{"shape"}, Outputs: []string{"y"}, Op: tFill{}}},
	}
	if err := g.Infer(); err != nil || len(g.Nodes) != 0 {
		t.Errorf("32 MiB folded beside 4 MiB of weights: %d nodes left, %v", len(g.Nodes), err)
	}
}
