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

// Helpers of the op tests: one node run through Import and a Session, and
// tensors built in one line.

// nodeModel returns a model of one node at the given opset whose present
// inputs are graph inputs of the given tensors' types and shapes, or
// initializers holding them (asConst).
func nodeModel(t *testing.T, opset int64, n onnx.Node, inputs []*Tensor, asConst bool) *onnx.Model {
	t.Helper()
	g := &onnx.Graph{Name: "g", Node: []onnx.Node{n}}
	for i, name := range n.Input {
		if name == "" || i >= len(inputs) || inputs[i] == nil {
			continue
		}
		x := inputs[i]
		if asConst {
			ot, err := TensorToONNX(name, x)
			if err != nil {
				t.Fatal(err)
			}
			g.Initializer = append(g.Initializer, ot)
			continue
		}
		dims := make([]int64, len(x.Shape))
		for j, d := range x.Shape {
			dims[j] = int64(d)
		}
		g.Input = append(g.Input, onnx.TensorValueInfo(name, x.DType, onnx.Dims(dims...)...))
	}
	for _, o := range n.Output {
		if o != "" {
			g.Output = append(g.Output, onnx.ValueInfo{Name: o})
		}
	}
	return &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: opset}}, Graph: g}
}

// runNodeErr runs node n on inputs (nil: absent) twice, once with the
// inputs as graph inputs through a Session (4 threads), once with them as
// initializers (the node is folded at load), checks that both agree bit
// for bit, and returns the outputs in node order, or the first error.
func runNodeErr(t *testing.T, opset int64, n onnx.Node, inputs ...*Tensor) ([]*Tensor, error) {
	t.Helper()
	g, err := Import(nodeModel(t, opset, n, inputs, false))
	if err != nil {
		return nil, err
	}
	s, err := NewSession(g, Options{Threads: 4})
	if err != nil {
		return nil, err
	}
	feed := map[string]*Tensor{}
	for i, name := range n.Input {
		if name != "" && i < len(inputs) && inputs[i] != nil {
			feed[name] = inputs[i].Clone()
		}
	}
	res, err := s.Run(feed)
	if err != nil {
		return nil, err
	}
	var out []*Tensor
	for _, o := range n.Output {
		out = append(out, res[o])
	}
	// Folded at load: the same values.
	fg, err := Import(nodeModel(t, opset, n, inputs, true))
	if err != nil {
		return nil, fmt.Errorf("folded: %w", err)
	}
	for i, o := range n.Output {
		if o == "" {
			continue
		}
		c := fg.Initializers[o]
		if c == nil {
			t.Fatalf("output %q was not folded", o)
		}
		if !sameTensor(c, out[i]) {
			t.Fatalf("output %q: folded %v %v, run %v %v", o, c, dataString(c), out[i], dataString(out[i]))
		}
	}
	return out, nil
}

// runNode is runNodeErr failing t on error.
func runNode(t *testing.T, opset int64, n onnx.Node, inputs ...*Tensor) []*Tensor {
	t.Helper()
	out, err := runNodeErr(t, opset, n, inputs...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantErr checks that running the node fails with an error containing want.
func wantErr(t *testing.T, opset int64, n onnx.Node, want string, inputs ...*Tensor) {
	t.Helper()
	_, err := runNodeErr(t, opset, n, inputs...)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: error %v, want one containing %q", n.OpType, err, want)
	}
}

// node returns a node of op type op reading inputs and writing outputs.
func node(op string, inputs, outputs []string, attrs ...onnx.Attribute) onnx.Node {
	return onnx.NewNode(op, op+"_node", inputs, outputs, attrs...)
}

// in returns names for n inputs: a, b, c ...
func in(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = string(rune('a' + i))
	}
	return out
}

// y is the usual single output.
var y = []string{"y"}

func f32(shape []int, v ...float32) *Tensor {
	return &Tensor{DType: onnx.Float, Shape: shape, F32: v}
}

func f64(shape []int, v ...float64) *Tensor {
	return &Tensor{DType: onnx.Double, Shape: shape, F64: v}
}

func i64(shape []int, v ...int64) *Tensor {
	return &Tensor{DType: onnx.Int64, Shape: shape, I64: v}
}

func i32(shape []int, v ...int32) *Tensor {
	return &Tensor{DType: onnx.Int32, Shape: shape, I32: v}
}

func i8(shape []int, v ...int8) *Tensor {
	return &Tensor{DType: onnx.Int8, Shape: shape, I8: v}
}

func u8(shape []int, v ...uint8) *Tensor {
	return &Tensor{DType: onnx.Uint8, Shape: shape, U8: v}
}

func bools(shape []int, v ...uint8) *Tensor {
	return &Tensor{DType: onnx.Bool, Shape: shape, U8: v}
}

// s is a shape literal.
func s(d ...int) []int { return d }

// scalar is the empty shape.
var scalar = []int{}

// sameTensor reports whether a and b have the same type, shape and bits.
func sameTensor(a, b *Tensor) bool {
	if a == nil || b == nil || a.DType != b.DType || !slices.Equal(a.Shape, b.Shape) {
		return false
	}
	wa, wb := wordsOf(a), wordsOf(b)
	return slices.Equal(wa.b1, wb.b1) && slices.Equal(wa.b4, wb.b4) && slices.Equal(wa.b8, wb.b8)
}

// dataString prints the data of x exactly (floats by their bits where
// printing would hide a difference).
func dataString(x *Tensor) string {
	switch x.DType {
	case onnx.Float:
		b := make([]uint32, len(x.F32))
		for i, v := range x.F32 {
			b[i] = math.Float32bits(v)
		}
		return fmt.Sprint(x.F32, b)
	case onnx.Double:
		b := make([]uint64, len(x.F64))
		for i, v := range x.F64 {
			b[i] = math.Float64bits(v)
		}
		return fmt.Sprint(x.F64, b)
	case onnx.Int64:
		return fmt.Sprint(x.I64)
	case onnx.Int32:
		return fmt.Sprint(x.I32)
	case onnx.Int8, onnx.Int4:
		return fmt.Sprint(x.I8)
	}
	return fmt.Sprint(x.U8)
}

// sameValues is sameTensor with every NaN equal to every NaN: their sign
// and payload mean nothing to ONNX and differ between CPUs.
func sameValues(a, b *Tensor) bool {
	if sameTensor(a, b) {
		return true
	}
	if a == nil || b == nil || a.DType != b.DType || !slices.Equal(a.Shape, b.Shape) {
		return false
	}
	same := func(x, y float64) bool { return x == y && math.Signbit(x) == math.Signbit(y) || x != x && y != y }
	switch a.DType {
	case onnx.Float:
		for i := range a.F32 {
			if !same(float64(a.F32[i]), float64(b.F32[i])) {
				return false
			}
		}
		return true
	case onnx.Double:
		for i := range a.F64 {
			if !same(a.F64[i], b.F64[i]) {
				return false
			}
		}
		return true
	}
	return false
}

// check fails t unless got equals want exactly: the same bits, or both
// NaN.
func check(t *testing.T, what string, got, want *Tensor) {
	t.Helper()
	if !sameValues(got, want) {
		gs, ws := "<nil>", ""
		if got != nil {
			gs = got.String() + " " + dataString(got)
		}
		ws = want.String() + " " + dataString(want)
		t.Errorf("%s:\n got %s\nwant %s", what, gs, ws)
	}
}

// near fails t unless got is FLOAT of want's shape and within tol
// (relative and absolute) of want.
func near(t *testing.T, what string, got *Tensor, want []float64, shape []int, tol float64) {
	t.Helper()
	if got == nil || got.DType != onnx.Float || !slices.Equal(got.Shape, shape) {
		t.Fatalf("%s: got %v, want FLOAT%v", what, got, shape)
	}
	for i, w := range want {
		g := float64(got.F32[i])
		if math.IsNaN(w) && math.IsNaN(g) {
			continue
		}
		if !(math.Abs(g-w) <= tol*(1+math.Abs(w))) {
			t.Errorf("%s: element %d is %v, want %v", what, i, g, w)
		}
	}
}

// randF32 returns a FLOAT tensor of the given shape with values in
// [-4, 4) from rng.
func randF32(rng *rand.Rand, shape ...int) *Tensor {
	n := prod(shape)
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.Float64()*8 - 4)
	}
	return f32(shape, v...)
}

// importInfo imports a model and returns the graph, failing t on error.
func importModel(t *testing.T, m *onnx.Model) *Graph {
	t.Helper()
	g, err := Import(m)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// shapeOf returns the inferred shape of value name as a string.
func shapeOf(g *Graph, name string) string {
	info := g.Info(name)
	if info == nil {
		return "<none>"
	}
	return ShapeString(info.Shape)
}
