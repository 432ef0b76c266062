package export

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
	"github.com/tensorquant/tensorquant/internal/testkit/qdqtest"
	"github.com/tensorquant/tensorquant/onnx"
)

// normName maps our node and value names to the original's where the
// models differ in form only: the original flattens with torch.flatten
// (a function, at the root scope), this model with a Flatten layer named
// "flatten".
func normName(s string) string {
	if after, ok := bytes.CutPrefix([]byte(s), []byte("/flatten/Flatten")); ok {
		return "/Flatten" + string(after)
	}
	return s
}

func sameTensor(a, b *onnx.Tensor) bool {
	return a.Name == b.Name && a.DataType == b.DataType && slices.Equal(a.Dims, b.Dims) && bytes.Equal(a.RawData, b.RawData)
}

func attrString(a onnx.Attribute) string {
	s := fmt.Sprintf("%s %v f=%v i=%v ints=%v", a.Name, a.Type, a.F, a.I, a.Ints)
	if a.T != nil {
		s += fmt.Sprintf(" t=%v %v %x", a.T.DataType, a.T.Dims, a.T.RawData)
	}
	return s
}

// sameValueInfo compares value infos, where a symbolic batch dimension of
// ours stands for the original's fixed batch of 1.
func sameValueInfo(got, want onnx.ValueInfo) bool {
	g, w := got.Type.Tensor, want.Type.Tensor
	if got.Name != want.Name || g.ElemType != w.ElemType || len(g.Shape.Dim) != len(w.Shape.Dim) {
		return false
	}
	for i, d := range g.Shape.Dim {
		if d.Param == "batch" && i == 0 {
			if w.Shape.Dim[i].Value != 1 {
				return false
			}
		} else if d.Param != "" || d.Value != w.Shape.Dim[i].Value {
			return false
		}
	}
	return true
}

// TestTinyQDQModelNodeByNode exports the original toolkit's tiny model
// (same parameters and amax) and compares the graph node by node with the
// file PyTorch wrote through the original's export (tiny_qdq_model.onnx):
// op types, names, inputs, outputs, attributes, the bytes of every scale
// and zero point, the initializers and the value infos. The one
// difference in form is the batch dimension, symbolic here and 1 there.
func TestTinyQDQModelNodeByNode(t *testing.T) {
	model := must(qdqtest.Tiny()).Model
	got, err := Model(model, Options{InputShape: []int{3, 4, 4}})
	if err != nil {
		t.Fatal(err)
	}
	root := must(conformance.Root())
	want, err := onnx.ReadFile(filepath.Join(root, "testdata", "conformance", "tiny_qdq_model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if got.IRVersion != want.IRVersion || got.OpsetImport[0].Version != want.OpsetImport[0].Version {
		t.Errorf("IR %d opset %d, want IR %d opset %d", got.IRVersion, got.OpsetImport[0].Version, want.IRVersion, want.OpsetImport[0].Version)
	}
	g, w := got.Graph, want.Graph
	if len(g.Node) != len(w.Node) {
		t.Fatalf("%d nodes, want %d", len(g.Node), len(w.Node))
	}
	for i := range w.Node {
		gn, wn := g.Node[i], w.Node[i]
		norm := func(s []string) []string {
			out := make([]string, len(s))
			for j, n := range s {
				out[j] = normName(n)
			}
			return out
		}
		if gn.OpType != wn.OpType || normName(gn.Name) != wn.Name || !slices.Equal(norm(gn.Input), wn.Input) || !slices.Equal(norm(gn.Output), wn.Output) {
			t.Errorf("node %d: %s %q %v -> %v\n want %s %q %v -> %v", i, gn.OpType, gn.Name, gn.Input, gn.Output, wn.OpType, wn.Name, wn.Input, wn.Output)
		}
		var ga, wa []string
		for _, a := range gn.Attribute {
			ga = append(ga, attrString(a))
		}
		for _, a := range wn.Attribute {
			wa = append(wa, attrString(a))
		}
		if !slices.Equal(ga, wa) {
			t.Errorf("node %d (%s): attributes\n %q\nwant %q", i, wn.Name, ga, wa)
		}
	}
	if len(g.Initializer) != len(w.Initializer) {
		t.Fatalf("%d initializers, want %d", len(g.Initializer), len(w.Initializer))
	}
	for i := range w.Initializer {
		if !sameTensor(&g.Initializer[i], &w.Initializer[i]) {
			t.Errorf("initializer %d: %q %v %v, want %q %v %v (or other bytes)", i, g.Initializer[i].Name, g.Initializer[i].DataType,
				g.Initializer[i].Dims, w.Initializer[i].Name, w.Initializer[i].DataType, w.Initializer[i].Dims)
		}
	}
	for _, list := range []struct {
		what      string
		got, want []onnx.ValueInfo
	}{{"input", g.Input, w.Input}, {"output", g.Output, w.Output}, {"value_info", g.ValueInfo, w.ValueInfo}} {
		if len(list.got) != len(list.want) {
			t.Errorf("%d %s, want %d", len(list.got), list.what, len(list.want))
			continue
		}
		for i := range list.want {
			gv := list.got[i]
			gv.Name = normName(gv.Name)
			if !sameValueInfo(gv, list.want[i]) {
				t.Errorf("%s %d: %q %v %+v, want %q %v %+v", list.what, i, gv.Name, gv.Type.Tensor.ElemType, gv.Type.Tensor.Shape.Dim,
					list.want[i].Name, list.want[i].Type.Tensor.ElemType, list.want[i].Type.Tensor.Shape.Dim)
			}
		}
	}
	if g.Input[0].Type.Tensor.Shape.Dim[0].Param != "batch" {
		t.Errorf("input batch dimension %+v, want the symbolic \"batch\"", g.Input[0].Type.Tensor.Shape.Dim[0])
	}
}

// TestTinyQDQModelORT runs the export of the tiny model in ONNX Runtime on
// the original's input and compares with our export-equivalent forward
// (the same arithmetic: equal but for the order of float sums) and with
// the output of the original toolkit in PyTorch (fake quantization by
// multiplication, not division: equal within one step of the output).
func TestTinyQDQModelORT(t *testing.T) {
	tiny := must(qdqtest.Tiny())
	model, x, torch := tiny.Model, tiny.X, tiny.Torch.Data
	setExportMode(t, model, true)
	ours := forward(t, model, x)
	m := must(Model(model, Options{InputShape: []int{3, 4, 4}}))
	path := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := onnx.WriteFile(path, m); err != nil {
		t.Fatal(err)
	}
	step := stepOf(torch)
	for _, opt := range []string{"disabled", "all"} {
		out := exttool.RunORT(t, path, opt, map[string]exttool.Input{"input": {Dims: x.Shape, Type: "float32", F32: x.Data}})["output"]
		if !slices.Equal(out.Dims, ours.Shape) {
			t.Fatalf("ORT output shape %v, want %v", out.Dims, ours.Shape)
		}
		so := compare(out.F32, ours.Data, func(float32) float64 { return step })
		st := compare(out.F32, torch, func(float32) float64 { return step })
		t.Logf("opt=%s: vs export-mode forward max |diff| %.3g (%.3g steps); vs original toolkit (torch) %.3g (%.3g steps)",
			opt, so.maxAbs, so.maxAbs/step, st.maxAbs, st.maxAbs/step)
		if so.bad > 0 || st.bad > 0 {
			t.Errorf("opt=%s: %d elements differ from our forward and %d from torch's by more than one output step %g\nORT   %v\nours  %v\ntorch %v",
				opt, so.bad, st.bad, step, out.F32, ours.Data, torch)
		}
	}
}
