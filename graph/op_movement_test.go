package graph

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/onnx"
)

// permute is the reference transpose: out[i...] = x[i[perm^-1]...].
func permute(x *Tensor, perm []int) *Tensor {
	shape := make([]int, len(perm))
	for i, p := range perm {
		shape[i] = x.Shape[p]
	}
	st := contiguous(x.Shape).strides
	out := f32(shape, make([]float32, prod(shape))...)
	idx := make([]int, len(shape))
	for k := range out.F32 {
		r, off := k, 0
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d] = r % shape[d]
			r /= shape[d]
		}
		for d, p := range perm {
			off += idx[d] * st[p]
		}
		out.F32[k] = x.F32[off]
	}
	return out
}

func TestTranspose(t *testing.T) {
	x := seq(2, 3, 4, 5)
	var perms [][]int
	var gen func(p []int)
	gen = func(p []int) {
		if len(p) == 4 {
			perms = append(perms, slices.Clone(p))
			return
		}
		for i := range 4 {
			if !slices.Contains(p, i) {
				gen(append(p, i))
			}
		}
	}
	gen(nil)
	for _, p := range perms {
		attr := make([]int64, len(p))
		for i, v := range p {
			attr[i] = int64(v)
		}
		got := runNode(t, 13, node("Transpose", in(1), y, onnx.IntsAttr("perm", attr...)), x)[0]
		check(t, fmt.Sprint("perm ", p), got, permute(x, p))
	}
	check(t, "default reverses", runNode(t, 13, node("Transpose", in(1), y), x)[0], permute(x, s(3, 2, 1, 0)))
	big := seq(3, 300, 70)
	check(t, "large", runNode(t, 13, node("Transpose", in(1), y, onnx.IntsAttr("perm", 2, 0, 1)), big)[0], permute(big, s(2, 0, 1)))
	nchw := seq(3, 40, 33, 17)
	check(t, "NCHW to NHWC", runNode(t, 13, node("Transpose", in(1), y, onnx.IntsAttr("perm", 0, 2, 3, 1)), nchw)[0], permute(nchw, s(0, 2, 3, 1)))
	check(t, "last two", runNode(t, 13, node("Transpose", in(1), y, onnx.IntsAttr("perm", 0, 1, 3, 2)), nchw)[0], permute(nchw, s(0, 1, 3, 2)))
	// Permutations that move only axes of size 1 keep the elements'
	// order (a view or a copy), and the last one does not.
	ones := seq(1, 3, 1, 5)
	for _, p := range [][]int{{1, 0, 2, 3}, {2, 1, 0, 3}, {1, 2, 3, 0}, {0, 3, 2, 1}} {
		attr := []int64{int64(p[0]), int64(p[1]), int64(p[2]), int64(p[3])}
		got := runNode(t, 13, node("Transpose", in(1), y, onnx.IntsAttr("perm", attr...)), ones)[0]
		check(t, fmt.Sprint("size-1 axes, perm ", p), got, permute(ones, p))
	}
	check(t, "int8", runNode(t, 13, node("Transpose", in(1), y), i8(s(2, 2), 1, 2, 3, 4))[0], i8(s(2, 2), 1, 3, 2, 4))
	check(t, "int64", runNode(t, 13, node("Transpose", in(1), y), i64(s(2, 2), 1, 2, 3, 4))[0], i64(s(2, 2), 1, 3, 2, 4))
	wantErr(t, 13, node("Transpose", in(1), y, onnx.IntsAttr("perm", 0, 0, 1, 2)), "perm [0 0 1 2] is not a permutation of 0..3", x)
	wantErr(t, 13, node("Transpose", in(1), y, onnx.IntsAttr("perm", 1, 0)), "perm [1 0] has 2 entries for an input of rank 4", x)

	m := &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 13}}, Graph: &onnx.Graph{
		Input:  []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Float, onnx.DimParam("N"), onnx.DimValue(3), onnx.DimValue(224), onnx.DimValue(224))},
		Output: []onnx.ValueInfo{{Name: "y"}},
		Node:   []onnx.Node{node("Transpose", []string{"x"}, y, onnx.IntsAttr("perm", 0, 2, 3, 1))},
	}}
	if got := shapeOf(importModel(t, m), "y"); got != "[N 224 224 3]" {
		t.Errorf("inferred %s, want [N 224 224 3]", got)
	}
}

func TestConcatSplit(t *testing.T) {
	a, b := seq(2, 2), f32(s(2, 1), 10, 11)
	check(t, "axis 1", runNode(t, 13, node("Concat", in(2), y, onnx.IntAttr("axis", 1)), a, b)[0], f32(s(2, 3), 0, 1, 10, 2, 3, 11))
	check(t, "axis -2", runNode(t, 13, node("Concat", in(2), y, onnx.IntAttr("axis", -2)), a, f32(s(1, 2), 7, 8))[0], f32(s(3, 2), 0, 1, 2, 3, 7, 8))
	check(t, "empty part", runNode(t, 13, node("Concat", in(3), y, onnx.IntAttr("axis", 0)), i64(s(1), 4), i64(s(0)), i64(s(2), 5, 6))[0], i64(s(3), 4, 5, 6))
	check(t, "one", runNode(t, 13, node("Concat", in(1), y, onnx.IntAttr("axis", 0)), u8(s(2), 1, 2))[0], u8(s(2), 1, 2))
	wantErr(t, 13, node("Concat", in(2), y, onnx.IntAttr("axis", 1)), "they differ outside axis 1", a, f32(s(3, 1), 1, 2, 3))
	wantErr(t, 13, node("Concat", in(2), y, onnx.IntAttr("axis", 2)), "axis 2 is out of range for rank 2", a, a)
	wantErr(t, 13, node("Concat", in(2), y), "attribute axis is required", a, a)
	wantErr(t, 13, node("Concat", in(2), y, onnx.IntAttr("axis", 0)), "input 1 has rank 1, input 0 has rank 2", a, f32(s(1), 1))

	x := seq(2, 7)
	outs := []string{"p", "q", "r"}
	split := func(got []*Tensor, sizes ...int) {
		t.Helper()
		off := 0
		for i, n := range sizes {
			want := f32(s(2, n))
			for r := range 2 {
				want.F32 = append(want.F32, x.F32[r*7+off:r*7+off+n]...)
			}
			check(t, fmt.Sprint("part ", i), got[i], want)
			off += n
		}
	}
	split(runNode(t, 13, node("Split", in(2), outs, onnx.IntAttr("axis", 1)), x, i64(s(3), 2, 0, 5)), 2, 0, 5)
	split(runNode(t, 11, node("Split", in(1), outs, onnx.IntAttr("axis", -1), onnx.IntsAttr("split", 4, 2, 1)), x), 4, 2, 1)
	// num_outputs (opset 18): parts of ceil(7/3) = 3, the last one smaller.
	split(runNode(t, 18, node("Split", in(1), outs, onnx.IntAttr("axis", 1), onnx.IntAttr("num_outputs", 3)), x), 3, 3, 1)
	split(runNode(t, 13, node("Split", in(1), outs[:1], onnx.IntAttr("axis", 1)), x), 7)
	check(t, "equal parts", runNode(t, 13, node("Split", in(1), outs[:2]), seq(4))[1], f32(s(2), 2, 3))
	wantErr(t, 13, node("Split", in(2), outs, onnx.IntAttr("axis", 1)), "split [2 2 2] sums to 6, the dimension is 7", x, i64(s(3), 2, 2, 2))
	wantErr(t, 13, node("Split", in(2), outs, onnx.IntAttr("axis", 1)), "split [7] has 1 parts, the node has 3 outputs", x, i64(s(1), 7))
	wantErr(t, 18, node("Split", in(1), outs, onnx.IntAttr("num_outputs", 2)), "num_outputs is 2, the node has 3 outputs", x)
	wantErr(t, 18, node("Split", in(1), []string{"p", "q", "r", "s"}, onnx.IntAttr("num_outputs", 4)), "a dimension of 2 cannot be split into 4 parts", x)
}

func TestSlice(t *testing.T) {
	x := seq(3, 4)
	sl := node("Slice", in(5), y)
	max64 := int64(math.MaxInt64)
	for _, c := range []struct {
		starts, ends, axes, steps []int64
		want                      *Tensor
	}{
		{[]int64{1, 0}, []int64{3, 4}, nil, nil, f32(s(2, 4), 4, 5, 6, 7, 8, 9, 10, 11)},
		{[]int64{1}, []int64{max64}, []int64{1}, nil, f32(s(3, 3), 1, 2, 3, 5, 6, 7, 9, 10, 11)},
		{[]int64{-1}, []int64{-max64}, []int64{-1}, []int64{-1}, f32(s(3, 4), 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8)},
		{[]int64{-2, 0}, []int64{-1, 4}, []int64{0, 1}, []int64{1, 3}, f32(s(1, 2), 4, 7)},
		{[]int64{10}, []int64{20}, []int64{0}, nil, f32(s(0, 4))},
		{[]int64{-100}, []int64{100}, []int64{1}, []int64{2}, f32(s(3, 2), 0, 2, 4, 6, 8, 10)},
		{[]int64{3}, []int64{0}, []int64{1}, []int64{-2}, f32(s(3, 2), 3, 1, 7, 5, 11, 9)},
		{[]int64{2}, []int64{-5}, []int64{0}, []int64{-1}, f32(s(3, 4), 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3)},
	} {
		ins := []*Tensor{x, i64(s(len(c.starts)), c.starts...), i64(s(len(c.ends)), c.ends...), nil, nil}
		names := []string{"a", "b", "c", "", ""}
		if c.axes != nil {
			ins[3], names[3] = i64(s(len(c.axes)), c.axes...), "d"
		}
		if c.steps != nil {
			ins[4], names[4] = i64(s(len(c.steps)), c.steps...), "e"
		}
		got := runNode(t, 13, node("Slice", names, y), ins...)[0]
		check(t, fmt.Sprint("slice ", c.starts, c.ends, c.axes, c.steps), got, c.want)
	}
	check(t, "INT32 params", runNode(t, 13, node("Slice", in(3), y), x, i32(s(1), 1), i32(s(1), 2))[0], f32(s(1, 4), 4, 5, 6, 7))
	check(t, "opset 9 attributes", runNode(t, 9, node("Slice", in(1), y, onnx.IntsAttr("starts", 1), onnx.IntsAttr("ends", 3), onnx.IntsAttr("axes", 1)), x)[0],
		f32(s(3, 2), 1, 2, 5, 6, 9, 10))
	wantErr(t, 13, sl, "steps [0] has a 0", x, i64(s(1), 0), i64(s(1), 1), i64(s(1), 0), i64(s(1), 0))
	wantErr(t, 13, sl, "axis 2 is out of range for rank 2", x, i64(s(1), 0), i64(s(1), 1), i64(s(1), 2), i64(s(1), 1))
	wantErr(t, 13, sl, "differ in length", x, i64(s(2), 0, 0), i64(s(1), 1), i64(s(1), 0), i64(s(1), 1))

	// Symbolic: the whole range keeps the dimension, a part of it is unknown.
	m := &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 13}}, Graph: &onnx.Graph{
		Input:       []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Float, onnx.DimParam("N"), onnx.DimParam("S"), onnx.DimValue(8))},
		Output:      []onnx.ValueInfo{{Name: "y"}},
		Initializer: []onnx.Tensor{constT(t, "st", i64(s(3), 0, 1, 2)), constT(t, "en", i64(s(3), max64, max64, -1)), constT(t, "ax", i64(s(3), 0, 1, 2))},
		Node:        []onnx.Node{node("Slice", []string{"x", "st", "en", "ax"}, y)},
	}}
	if got := shapeOf(importModel(t, m), "y"); got != "[N ? 5]" {
		t.Errorf("inferred %s, want [N ? 5]", got)
	}
}

func TestGather(t *testing.T) {
	x := seq(3, 4)
	g := node("Gather", in(2), y)
	check(t, "axis 0", runNode(t, 13, g, x, i64(s(2), 2, -3))[0], f32(s(2, 4), 8, 9, 10, 11, 0, 1, 2, 3))
	check(t, "axis 1, 2-D indices", runNode(t, 13, node("Gather", in(2), y, onnx.IntAttr("axis", 1)), x, i32(s(2, 2), 0, -1, 1, 1))[0],
		f32(s(3, 2, 2), 0, 3, 1, 1, 4, 7, 5, 5, 8, 11, 9, 9))
	check(t, "scalar index", runNode(t, 13, node("Gather", in(2), y, onnx.IntAttr("axis", -1)), x, i64(scalar, 2))[0], f32(s(3), 2, 6, 10))
	check(t, "shape elements", runNode(t, 13, g, i64(s(4), 1, 3, 224, 224), i64(scalar, 0))[0], i64(scalar, 1))
	check(t, "uint8", runNode(t, 13, g, u8(s(3), 7, 8, 9), i64(s(4), 2, 2, 0, 1))[0], u8(s(4), 9, 9, 7, 8))
	check(t, "empty indices", runNode(t, 13, g, x, i64(s(0)))[0], f32(s(0, 4)))
	// An embedding table: many rows.
	emb := seq(1000, 16)
	ids := i64(s(3000), make([]int64, 3000)...)
	want := f32(s(3000, 16))
	for i := range ids.I64 {
		ids.I64[i] = int64(i*7) % 1000
		want.F32 = append(want.F32, emb.F32[ids.I64[i]*16:(ids.I64[i]+1)*16]...)
	}
	check(t, "embedding", runNode(t, 13, g, emb, ids)[0], want)
	wantErr(t, 13, g, "index 3 (element 1 of the indices) is out of range for axis 0 of size 3", x, i64(s(2), 0, 3))
	wantErr(t, 13, g, "index -4 (element 0 of the indices) is out of range", x, i64(s(1), -4))
	wantErr(t, 13, g, "indices are FLOAT, want INT32 or INT64", x, f32(s(1), 0))
	wantErr(t, 13, node("Gather", in(2), y, onnx.IntAttr("axis", 2)), "axis 2 is out of range for rank 2", x, i64(s(1), 0))
}

func TestExpandTile(t *testing.T) {
	e := node("Expand", in(2), y)
	check(t, "Expand", runNode(t, 13, e, f32(s(3, 1), 1, 2, 3), i64(s(1), 1))[0], f32(s(3, 1), 1, 2, 3))
	check(t, "Expand up", runNode(t, 13, e, f32(s(3, 1), 1, 2, 3), i64(s(3), 2, 1, 2))[0], f32(s(2, 3, 2), 1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3))
	// Bidirectional: a 1 in the shape keeps the input's size.
	check(t, "Expand ones", runNode(t, 13, e, f32(s(1, 2), 5, 6), i64(s(1), 1))[0], f32(s(1, 2), 5, 6))
	check(t, "Expand scalar", runNode(t, 13, e, i64(scalar, 4), i64(s(2), 2, 2))[0], i64(s(2, 2), 4, 4, 4, 4))
	wantErr(t, 13, e, "do not broadcast", f32(s(3), 1, 2, 3), i64(s(1), 2))
	wantErr(t, 13, e, "negative dimension", f32(s(1), 1), i64(s(1), -2))

	tl := node("Tile", in(2), y)
	check(t, "Tile", runNode(t, 13, tl, f32(s(2, 2), 1, 2, 3, 4), i64(s(2), 2, 3))[0],
		f32(s(4, 6), 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4, 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4))
	check(t, "Tile zero", runNode(t, 13, tl, f32(s(2), 1, 2), i64(s(1), 0))[0], f32(s(0)))
	tm := &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 13}}, Graph: &onnx.Graph{
		Input:       []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Float, onnx.DimParam("N"), onnx.DimValue(3), onnx.DimParam("S"))},
		Output:      []onnx.ValueInfo{{Name: "y"}},
		Initializer: []onnx.Tensor{constT(t, "r", i64(s(3), 2, 2, 1))},
		Node:        []onnx.Node{node("Tile", []string{"x", "r"}, y)},
	}}
	if got := shapeOf(importModel(t, tm), "y"); got != "[2*N 6 S]" {
		t.Errorf("Tile inferred %s, want [2*N 6 S]", got)
	}
	wantErr(t, 13, tl, "repeats has 1 elements for an input of rank 2", f32(s(1, 1), 1), i64(s(1), 2))
	wantErr(t, 13, tl, "repeats [-1] has a negative element", f32(s(1), 1), i64(s(1), -1))
	wantErr(t, 13, tl, "repeats [1099511627776] makes the output too large", f32(s(2), 1, 2), i64(s(1), 1<<40))
}

func TestPad(t *testing.T) {
	x := seq(2, 3)
	pad := func(mode string, inputs int) onnx.Node {
		return node("Pad", in(inputs), y, onnx.StringAttr("mode", mode))
	}
	pads := i64(s(4), 1, 2, 1, 0) // axis 0: 1 before, 1 after; axis 1: 2 before
	check(t, "constant", runNode(t, 11, pad("constant", 3), x, pads, f32(scalar, -1))[0], f32(s(4, 5),
		-1, -1, -1, -1, -1,
		-1, -1, 0, 1, 2,
		-1, -1, 3, 4, 5,
		-1, -1, -1, -1, -1))
	check(t, "constant default 0", runNode(t, 11, node("Pad", in(2), y), i32(s(2), 7, 8), i64(s(2), 1, 1))[0], i32(s(4), 0, 7, 8, 0))
	check(t, "reflect", runNode(t, 11, pad("reflect", 2), x, pads)[0], f32(s(4, 5),
		5, 4, 3, 4, 5,
		2, 1, 0, 1, 2,
		5, 4, 3, 4, 5,
		2, 1, 0, 1, 2))
	check(t, "edge", runNode(t, 11, pad("edge", 2), x, pads)[0], f32(s(4, 5),
		0, 0, 0, 1, 2,
		0, 0, 0, 1, 2,
		3, 3, 3, 4, 5,
		3, 3, 3, 4, 5))
	check(t, "wrap", runNode(t, 19, pad("wrap", 2), x, pads)[0], f32(s(4, 5),
		4, 5, 3, 4, 5,
		1, 2, 0, 1, 2,
		4, 5, 3, 4, 5,
		1, 2, 0, 1, 2))
	// numpy.pad's reflect repeats periodically past the edge (numpy: [2 1 2 3 2 1 2 3]).
	check(t, "long reflect", runNode(t, 11, pad("reflect", 2), i64(s(3), 1, 2, 3), i64(s(2), 5, 0))[0], i64(s(8), 2, 1, 2, 3, 2, 1, 2, 3))
	// Negative pads crop.
	check(t, "crop", runNode(t, 11, pad("constant", 3), x, i64(s(4), 0, -1, 1, -1), f32(scalar, 9))[0], f32(s(3, 1), 1, 4, 9))
	check(t, "crop edge", runNode(t, 11, pad("edge", 2), x, i64(s(4), 0, -2, 0, 1))[0], f32(s(2, 2), 2, 2, 5, 5))
	// Opset 18: axes.
	check(t, "axes", runNode(t, 18, node("Pad", []string{"a", "b", "", "d"}, y), x, i64(s(2), 1, 1), nil, i64(s(1), -1))[0],
		f32(s(2, 5), 0, 0, 1, 2, 0, 0, 3, 4, 5, 0))
	// Opset 2: attributes.
	check(t, "opset 2", runNode(t, 2, node("Pad", in(1), y, onnx.IntsAttr("pads", 0, 1, 0, 0), onnx.FloatAttr("value", 7)), x)[0],
		f32(s(2, 4), 7, 0, 1, 2, 7, 3, 4, 5))
	wantErr(t, 11, pad("constant", 3), "pads [1 1] has 2 elements, want 2×2", x, i64(s(2), 1, 1), f32(scalar, 0))
	wantErr(t, 11, pad("constant", 3), "leave axis 0 of shape [2 3] with -1 elements", x, i64(s(4), -3, 0, 0, 0), f32(scalar, 0))
	wantErr(t, 11, pad("reflect", 2), "mode reflect cannot pad axis 1, which is empty", f32(s(1, 0)), i64(s(4), 0, 1, 0, 0))
	wantErr(t, 11, pad("wrap", 2), `mode "wrap" is not one of [constant reflect edge]`, x, pads)
	wantErr(t, 11, pad("constant", 3), "constant_value: inputs have element types FLOAT and DOUBLE", x, pads, f64(scalar, 0))
}
