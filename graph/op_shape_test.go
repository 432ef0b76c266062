package graph

import (
	"math"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/onnx"
)

// seq returns a FLOAT tensor of the given shape holding 0, 1, 2 ...
func seq(shape ...int) *Tensor {
	x := f32(shape, make([]float32, prod(shape))...)
	for i := range x.F32 {
		x.F32[i] = float32(i)
	}
	return x
}

func TestReshape(t *testing.T) {
	r := node("Reshape", in(2), y)
	x := seq(2, 3, 4)
	for _, c := range []struct {
		shape []int64
		want  []int
	}{
		{[]int64{4, 6}, s(4, 6)},
		{[]int64{-1}, s(24)},
		{[]int64{0, -1}, s(2, 12)},
		{[]int64{0, 0, 2, 2}, s(2, 3, 2, 2)},
		{[]int64{-1, 4, 1}, s(6, 4, 1)},
		{[]int64{2, 0, 4}, s(2, 3, 4)},
	} {
		got := runNode(t, 14, r, x, i64(s(len(c.shape)), c.shape...))[0]
		check(t, "Reshape", got, f32(c.want, x.F32...))
	}
	// allowzero: 0 is a 0.
	got := runNode(t, 14, node("Reshape", in(2), y, onnx.IntAttr("allowzero", 1)), f32(s(0, 3)), i64(s(2), 3, 0))[0]
	check(t, "allowzero", got, f32(s(3, 0)))
	wantErr(t, 14, r, "cannot reshape [2 3 4] (24 elements) to [5 5]", x, i64(s(2), 5, 5))
	wantErr(t, 14, r, "shape [-1 -1] has more than one -1", x, i64(s(2), -1, -1))
	wantErr(t, 14, r, "the 0 at index 3 copies a dimension", x, i64(s(4), 2, 3, 4, 0))
	wantErr(t, 14, r, "invalid dimension -2", x, i64(s(2), -2, 12))
	wantErr(t, 14, r, "24 elements do not divide into rows of 5", x, i64(s(2), 5, -1))
	wantErr(t, 14, node("Reshape", in(2), y, onnx.IntAttr("allowzero", 1)), "both 0 (with allowzero) and -1", x, i64(s(2), 0, -1))
	wantErr(t, 13, node("Reshape", in(2), y, onnx.IntAttr("allowzero", 1)), "unsupported attribute(s) allowzero", x, i64(s(1), -1))
	wantErr(t, 14, r, "shape must be a 1-D INT64 tensor", x, i32(s(1), 24))
}

func TestFlattenSqueezeUnsqueezeIdentity(t *testing.T) {
	x := seq(2, 3, 4)
	for axis, want := range map[int64][]int{0: s(1, 24), 1: s(2, 12), 2: s(6, 4), 3: s(24, 1), -1: s(6, 4), -3: s(1, 24)} {
		check(t, "Flatten", runNode(t, 13, node("Flatten", in(1), y, onnx.IntAttr("axis", axis)), x)[0], f32(want, x.F32...))
	}
	wantErr(t, 13, node("Flatten", in(1), y, onnx.IntAttr("axis", 4)), "axis 4 is out of range for rank 3", x)

	x1 := seq(1, 3, 1, 2)
	sq := node("Squeeze", in(2), y)
	check(t, "Squeeze axes", runNode(t, 13, sq, x1, i64(s(1), -2))[0], f32(s(1, 3, 2), x1.F32...))
	check(t, "Squeeze all", runNode(t, 13, node("Squeeze", in(1), y), x1)[0], f32(s(3, 2), x1.F32...))
	check(t, "Squeeze-11 attr", runNode(t, 11, node("Squeeze", in(1), y, onnx.IntsAttr("axes", 0, 2)), x1)[0], f32(s(3, 2), x1.F32...))
	wantErr(t, 13, sq, "cannot squeeze axis 1 of shape [1 3 1 2]", x1, i64(s(1), 1))
	wantErr(t, 13, sq, "axis 4 is out of range for rank 4", x1, i64(s(1), 4))
	wantErr(t, 13, sq, "name axis 0 twice", x1, i64(s(2), 0, -4))

	un := node("Unsqueeze", in(2), y)
	check(t, "Unsqueeze", runNode(t, 13, un, seq(3, 2), i64(s(3), 0, 3, -1))[0], f32(s(1, 3, 2, 1, 1), seq(3, 2).F32...))
	check(t, "Unsqueeze scalar", runNode(t, 13, un, i64(scalar, 7), i64(s(1), 0))[0], i64(s(1), 7))
	check(t, "Unsqueeze-11", runNode(t, 11, node("Unsqueeze", in(1), y, onnx.IntsAttr("axes", 1)), seq(3))[0], f32(s(3, 1), 0, 1, 2))
	wantErr(t, 13, un, "axis 3 is out of range for rank 3", seq(2), i64(s(2), 0, 3))
	wantErr(t, 11, node("Unsqueeze", in(1), y), "attribute axes is required", seq(2))
	wantErr(t, 13, node("Unsqueeze", in(1), y), "takes 2 inputs", seq(2))

	check(t, "Identity", runNode(t, 16, node("Identity", in(1), y), i32(s(2), 1, 2))[0], i32(s(2), 1, 2))
	out := runNode(t, 13, node("Dropout", in(1), []string{"y", "mask"}), x)
	check(t, "Dropout", out[0], x)
	check(t, "Dropout mask", out[1], bools(s(2, 3, 4), slices.Repeat([]uint8{1}, 24)...))
	out = runNode(t, 13, node("Dropout", in(3), y), x, f32(scalar, 0), bools(scalar, 1))
	check(t, "Dropout training ratio 0", out[0], x)
	check(t, "Dropout-11", runNode(t, 11, node("Dropout", in(1), y, onnx.FloatAttr("ratio", 0.3)), x)[0], x)
	wantErr(t, 13, node("Dropout", in(3), y), "training mode with a non-zero ratio", x, f32(scalar, 0.5), bools(scalar, 1))
}

func TestShapeAndConstants(t *testing.T) {
	x := seq(2, 3, 4, 5)
	for _, c := range []struct {
		start, end int64
		want       []int64
	}{
		{0, math.MaxInt64, []int64{2, 3, 4, 5}}, {1, math.MaxInt64, []int64{3, 4, 5}}, {-1, math.MaxInt64, []int64{5}},
		{0, -1, []int64{2, 3, 4}}, {1, 2, []int64{3}}, {-10, 10, []int64{2, 3, 4, 5}}, {3, 1, []int64{}},
	} {
		sh := node("Shape", in(1), y, onnx.IntAttr("start", c.start), onnx.IntAttr("end", c.end))
		check(t, "Shape", runNode(t, 15, sh, x)[0], i64(s(len(c.want)), c.want...))
	}
	wantErr(t, 13, node("Shape", in(1), y, onnx.IntAttr("start", 1)), "unsupported attribute(s) start", x)

	constant := func(attr onnx.Attribute) *Tensor {
		t.Helper()
		return runNode(t, 13, node("Constant", nil, y, attr))[0]
	}
	check(t, "value", constant(onnx.TensorAttr("value", constT(t, "v", i32(s(2), 3, 4)))), i32(s(2), 3, 4))
	check(t, "value_float", constant(onnx.FloatAttr("value_float", 1.5)), f32(scalar, 1.5))
	check(t, "value_floats", constant(onnx.FloatsAttr("value_floats", 1, 2)), f32(s(2), 1, 2))
	check(t, "value_int", constant(onnx.IntAttr("value_int", -3)), i64(scalar, -3))
	check(t, "value_ints", constant(onnx.IntsAttr("value_ints", 4, 5, 6)), i64(s(3), 4, 5, 6))
	wantErr(t, 13, node("Constant", nil, y), "exactly one value attribute is required, the node has 0")
	wantErr(t, 13, node("Constant", nil, y, onnx.IntAttr("value_int", 1), onnx.FloatAttr("value_float", 1)), "the node has 2")
	wantErr(t, 13, node("Constant", nil, y, onnx.StringAttr("value_string", "x")), "attribute value_string is not supported")

	cs := node("ConstantOfShape", in(1), y)
	check(t, "ConstantOfShape default", runNode(t, 9, cs, i64(s(2), 2, 2))[0], f32(s(2, 2), 0, 0, 0, 0))
	check(t, "ConstantOfShape int", runNode(t, 9, node("ConstantOfShape", in(1), y, onnx.TensorAttr("value", constT(t, "v", i64(s(1), 7)))), i64(s(2), 1, 3))[0],
		i64(s(1, 3), 7, 7, 7))
	// (A graph input of shape [0] reads as [?]: Import's valueSpec.)
	cos := runOp(t, 9, node("ConstantOfShape", in(1), y, onnx.TensorAttr("value", constT(t, "v", f32(s(1), 2)))), i64(s(0)))
	check(t, "ConstantOfShape scalar", cos[0], f32(scalar, 2))
	check(t, "ConstantOfShape empty", runNode(t, 9, cs, i64(s(2), 0, 5))[0], f32(s(0, 5)))
	wantErr(t, 9, cs, "negative dimension", i64(s(1), -1))
	wantErr(t, 9, cs, "more than the 2147483647 an op may create", i64(s(2), 1<<20, 1<<20))
	wantErr(t, 9, node("ConstantOfShape", in(1), y, onnx.TensorAttr("value", constT(t, "v", f32(s(2), 1, 2)))), "value must hold one element", i64(s(1), 1))

	rg := node("Range", in(3), y)
	check(t, "Range float", runNode(t, 11, rg, f32(scalar, 1), f32(scalar, 2), f32(scalar, 0.25))[0], f32(s(4), 1, 1.25, 1.5, 1.75))
	check(t, "Range int negative delta", runNode(t, 11, rg, i32(scalar, 10), i32(scalar, 4), i32(scalar, -3))[0], i32(s(2), 10, 7))
	check(t, "Range int64 empty", runNode(t, 11, rg, i64(scalar, 5), i64(scalar, 1), i64(scalar, 1))[0], i64(s(0)))
	check(t, "Range double", runNode(t, 11, rg, f64(scalar, 0), f64(scalar, 1), f64(scalar, 0.5))[0], f64(s(2), 0, 0.5))
	wantErr(t, 11, rg, "delta is 0", i64(scalar, 0), i64(scalar, 5), i64(scalar, 0))
	wantErr(t, 11, rg, "more than 2147483647 elements", i64(scalar, 0), i64(scalar, math.MaxInt64), i64(scalar, 1))
	wantErr(t, 11, rg, "does not have a valid element count", f32(scalar, 0), f32(scalar, float32(math.Inf(1))), f32(scalar, 1))
	wantErr(t, 11, rg, "limit must be a scalar", i64(scalar, 0), i64(s(2), 1, 2), i64(scalar, 1))
}

// TestShapeSubgraph imports torch's x.view(x.size(0), -1): Shape → Gather
// → Unsqueeze → Concat(-1) → Reshape. With a symbolic batch the Reshape's
// output shape is known at load; with a static one the whole shape
// subgraph folds away.
func TestShapeSubgraph(t *testing.T) {
	model := func(batch onnx.Dimension) *onnx.Model {
		return &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 13}}, Graph: &onnx.Graph{
			Input:  []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Float, batch, onnx.DimValue(3), onnx.DimValue(4), onnx.DimValue(4))},
			Output: []onnx.ValueInfo{onnx.TensorValueInfo("y", onnx.Float, batch, onnx.DimValue(48))},
			Initializer: []onnx.Tensor{
				constT(t, "zero", i64(scalar, 0)),
				constT(t, "axes", i64(s(1), 0)),
			},
			Node: []onnx.Node{
				onnx.NewNode("Shape", "shape", []string{"x"}, []string{"s"}),
				onnx.NewNode("Gather", "gather", []string{"s", "zero"}, []string{"n"}, onnx.IntAttr("axis", 0)),
				onnx.NewNode("Unsqueeze", "unsqueeze", []string{"n", "axes"}, []string{"n1"}),
				onnx.ConstantNode("minus1", "m1", constT(t, "v", i64(s(1), -1))),
				onnx.NewNode("Concat", "concat", []string{"n1", "m1"}, []string{"target"}, onnx.IntAttr("axis", 0)),
				onnx.NewNode("Reshape", "reshape", []string{"x", "target"}, []string{"y"}),
			},
		}}
	}
	g := importModel(t, model(onnx.DimParam("N")))
	if got := shapeOf(g, "y"); got != "[N 48]" {
		t.Errorf("symbolic batch: y inferred %s, want [N 48]", got)
	}
	if got := elemsString(g.Info("target").Elems); got != "[N -1]" {
		t.Errorf("symbolic batch: target elements %s, want [N -1]", got)
	}
	sess, err := NewSession(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 3} {
		x := seq(n, 3, 4, 4)
		out, err := sess.Run(map[string]*Tensor{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		check(t, "y", out["y"], f32(s(n, 48), x.F32...))
	}

	g = importModel(t, model(onnx.DimValue(2)))
	if len(g.Nodes) != 1 || g.Nodes[0].OpType != "Reshape" {
		var ops []string
		for _, n := range g.Nodes {
			ops = append(ops, n.OpType)
		}
		t.Errorf("static batch: nodes %v after import, want the Reshape alone", ops)
	}
	if c := g.Initializers["target"]; c == nil || !sameTensor(c, i64(s(2), 2, -1)) {
		t.Errorf("static batch: target folded to %v, want [2 -1]", c)
	}
}

// TestSymbolicProducts checks products of symbolic sizes, named
// canonically ("4*N", "N*S"): a head split computed with Mul, the -1 of a
// Reshape, Flatten, Div back to N, and two products that must be Same.
func TestSymbolicProducts(t *testing.T) {
	m := &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 13}}, Graph: &onnx.Graph{
		Input:  []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Float, onnx.DimParam("N"), onnx.DimParam("S"), onnx.DimValue(64))},
		Output: []onnx.ValueInfo{{Name: "heads"}, {Name: "sum"}, {Name: "n"}},
		Initializer: []onnx.Tensor{constT(t, "ax0", i64(s(1), 0)), constT(t, "i0", i64(scalar, 0)), constT(t, "i1", i64(scalar, 1)),
			constT(t, "four", i64(scalar, 4)), constT(t, "d16", i64(s(1), 16)), constT(t, "rows", i64(s(2), -1, 64))},
		Node: []onnx.Node{
			onnx.NewNode("Shape", "shape", []string{"x"}, []string{"s"}),
			onnx.NewNode("Gather", "g0", []string{"s", "i0"}, []string{"b"}),
			onnx.NewNode("Gather", "g1", []string{"s", "i1"}, []string{"sl"}),
			onnx.NewNode("Mul", "mul", []string{"b", "four"}, []string{"b4"}),
			onnx.NewNode("Div", "div", []string{"b4", "four"}, []string{"n"}),
			onnx.NewNode("Unsqueeze", "u0", []string{"sl", "ax0"}, []string{"s1"}),
			onnx.NewNode("Unsqueeze", "u1", []string{"b4", "ax0"}, []string{"b41"}),
			onnx.NewNode("Concat", "cat", []string{"s1", "b41", "d16"}, []string{"target"}, onnx.IntAttr("axis", 0)),
			onnx.NewNode("Reshape", "split", []string{"x", "target"}, []string{"heads"}),
			onnx.NewNode("Reshape", "rows", []string{"heads", "rows"}, []string{"r"}),
			onnx.NewNode("Flatten", "flat", []string{"x"}, []string{"f"}, onnx.IntAttr("axis", 2)),
			onnx.NewNode("Add", "add", []string{"r", "f"}, []string{"sum"}),
		},
	}}
	g := importModel(t, m)
	for name, want := range map[string]string{"heads": "[S 4*N 16]", "r": "[N*S 64]", "f": "[N*S 64]", "sum": "[N*S 64]"} {
		if got := shapeOf(g, name); got != want {
			t.Errorf("%s inferred %s, want %s", name, got, want)
		}
	}
	if got := elemsString(g.Info("n").Elems); got != "[N]" {
		t.Errorf("4*N / 4 is %s, want [N]", got)
	}
	sess, err := NewSession(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.Run(map[string]*Tensor{"x": seq(2, 3, 64)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out["heads"].Shape, s(3, 8, 16)) || !slices.Equal(out["sum"].Shape, s(6, 64)) {
		t.Errorf("shapes %v and %v, want [3 8 16] and [6 64]", out["heads"].Shape, out["sum"].Shape)
	}
	check(t, "n", out["n"], i64(scalar, 2))
	for _, c := range []struct {
		dims []Dim
		want string
	}{
		{[]Dim{{Size: 2}, {Size: -1, Param: "S"}, {Size: -1, Param: "N"}, {Size: 3}}, "6*N*S"},
		{[]Dim{{Size: -1, Param: "2*N"}, {Size: -1, Param: "S"}}, "2*N*S"},
		{[]Dim{{Size: 0}, {Size: -1, Param: "N"}}, "0"},
		{[]Dim{{Size: -1, Param: "N"}, Unknown()}, "?"},
	} {
		if got := dimsProduct(c.dims).String(); got != c.want {
			t.Errorf("product of %v is %s, want %s", c.dims, got, c.want)
		}
	}
}

// TestSymbolicEncoder follows a transformer's head split: [N S 256] →
// Reshape(Concat(N, S, 4, 64)) → Transpose → [N 4 S 64], the sizes taken
// from Shape at run time, with positions from Range(0, S, 1) and an
// expanded mask (ConstantOfShape, Equal, Where, Expand).
func TestSymbolicEncoder(t *testing.T) {
	ax := constT(t, "ax0", i64(s(1), 0))
	m := &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 13}}, Graph: &onnx.Graph{
		Input:  []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Float, onnx.DimParam("N"), onnx.DimParam("S"), onnx.DimValue(256))},
		Output: []onnx.ValueInfo{{Name: "heads"}, {Name: "pos"}, {Name: "ones"}, {Name: "mask"}},
		Initializer: []onnx.Tensor{
			ax, constT(t, "i0", i64(scalar, 0)), constT(t, "i1", i64(scalar, 1)),
			constT(t, "hd", i64(s(2), 4, 64)), constT(t, "m1", i64(s(1), -1)),
		},
		Node: []onnx.Node{
			onnx.NewNode("Shape", "shape", []string{"x"}, []string{"s"}),
			onnx.NewNode("Gather", "g0", []string{"s", "i0"}, []string{"n"}),
			onnx.NewNode("Gather", "g1", []string{"s", "i1"}, []string{"sl"}),
			onnx.NewNode("Unsqueeze", "u0", []string{"n", "ax0"}, []string{"n1"}),
			onnx.NewNode("Unsqueeze", "u1", []string{"sl", "ax0"}, []string{"s1"}),
			onnx.NewNode("Concat", "cat", []string{"n1", "s1", "hd"}, []string{"target"}, onnx.IntAttr("axis", 0)),
			onnx.NewNode("Reshape", "split", []string{"x", "target"}, []string{"r"}),
			onnx.NewNode("Transpose", "tr", []string{"r"}, []string{"heads"}, onnx.IntsAttr("perm", 0, 2, 1, 3)),
			onnx.NewNode("Range", "range", []string{"i0", "sl", "i1"}, []string{"pos"}),
			// torch's expand(N, -1): the -1s replaced by 1 with Where.
			onnx.NewNode("Concat", "cat2", []string{"n1", "m1"}, []string{"want"}, onnx.IntAttr("axis", 0)),
			onnx.NewNode("Equal", "eq", []string{"want", "m1"}, []string{"isneg"}),
			onnx.NewNode("Shape", "shape2", []string{"want"}, []string{"wl"}),
			onnx.NewNode("ConstantOfShape", "cos", []string{"wl"}, []string{"ones"}, onnx.TensorAttr("value", constT(t, "one", i64(s(1), 1)))),
			onnx.NewNode("Where", "where", []string{"isneg", "ones", "want"}, []string{"eshape"}),
			onnx.NewNode("Expand", "expand", []string{"pos", "eshape"}, []string{"mask"}),
		},
	}}
	g := importModel(t, m)
	for name, want := range map[string]string{"r": "[N S 4 64]", "heads": "[N 4 S 64]", "pos": "[S]", "ones": "[2]", "mask": "[N S]"} {
		if got := shapeOf(g, name); got != want {
			t.Errorf("%s inferred %s, want %s", name, got, want)
		}
	}
	if got := elemsString(g.Info("eshape").Elems); got != "[N 1]" {
		t.Errorf("eshape elements %s, want [N 1]", got)
	}
	sess, err := NewSession(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	x := seq(2, 3, 256)
	out, err := sess.Run(map[string]*Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "pos", out["pos"], i64(s(3), 0, 1, 2))
	check(t, "mask", out["mask"], i64(s(2, 3), 0, 1, 2, 0, 1, 2))
	h := out["heads"]
	if !slices.Equal(h.Shape, s(2, 4, 3, 64)) {
		t.Fatalf("heads shape %v", h.Shape)
	}
	// heads[n][h][s][d] = x[n][s][h*64+d]
	for _, idx := range [][4]int{{0, 0, 0, 0}, {1, 3, 2, 63}, {0, 2, 1, 5}} {
		n, hh, sq, d := idx[0], idx[1], idx[2], idx[3]
		if got, want := h.F32[((n*4+hh)*3+sq)*64+d], x.F32[(n*3+sq)*256+hh*64+d]; got != want {
			t.Errorf("heads%v = %v, want %v", idx, got, want)
		}
	}
}

// runOp builds node n's op and calls its Infer and Run directly.
func runOp(t *testing.T, opset int, n onnx.Node, inputs ...*Tensor) []*Tensor {
	t.Helper()
	b, ok := lookup("", n.OpType)
	if !ok {
		t.Fatalf("no op %s", n.OpType)
	}
	op, err := b(&NodeDef{Name: n.Name, OpType: n.OpType, Opset: opset, Attrs: NewAttrs(n.Attribute),
		NumInputs: len(n.Input), NumOutputs: len(n.Output), Const: make([]*Tensor, len(n.Input))})
	if err != nil {
		t.Fatal(err)
	}
	infos := make([]*Info, len(inputs))
	for i, x := range inputs {
		if x != nil {
			infos[i] = InfoOf(x)
		}
	}
	want, err := op.Infer(infos)
	if err != nil {
		t.Fatal(err)
	}
	out, err := op.Run(newCtx(nil, 1), inputs)
	if err == nil {
		err = checkOutputs(want, out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// constT returns an ONNX initializer from a tensor.
func constT(t *testing.T, name string, x *Tensor) onnx.Tensor {
	t.Helper()
	ot, err := TensorToONNX(name, x)
	if err != nil {
		t.Fatal(err)
	}
	return ot
}
