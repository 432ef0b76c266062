package export

import (
	"bytes"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
	"github.com/tensorquant/tensorquant/onnx"
)

// importedModel is a float model as PyTorch writes them: a Linear (MatMul
// + Add), Relu, a Constant, the shape arithmetic of x.view(x.size(0), -1)
// on a symbolic batch, and Softmax; two outputs.
func importedModel(t *testing.T, rng *rand.Rand) *onnx.Model {
	t.Helper()
	w := make([]float32, 6*4)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	wt := must(onnx.NewTensor("fc.weight", []int64{6, 4}, w))
	bt := must(onnx.NewTensor("fc.bias", []int64{4}, []float32{0.5, -0.25, 0, 1}))
	zero := must(onnx.NewTensor("", []int64{1}, []int64{0}))
	minus1 := must(onnx.NewTensor("", []int64{1}, []int64{-1}))
	half := must(onnx.NewTensor("", nil, []float32{0.5}))
	return &onnx.Model{IRVersion: 8, ProducerName: "pytorch", ProducerVersion: "1.13.1",
		OpsetImport: []onnx.OperatorSetID{{Version: 13}},
		Graph: &onnx.Graph{
			Name:        "torch_jit",
			Initializer: []onnx.Tensor{wt, bt},
			Node: []onnx.Node{
				onnx.NewNode("MatMul", "/fc/MatMul", []string{"x", "fc.weight"}, []string{"/fc/MatMul_output_0"}),
				onnx.NewNode("Add", "/fc/Add", []string{"/fc/MatMul_output_0", "fc.bias"}, []string{"/fc/Add_output_0"}),
				onnx.NewNode("Relu", "/relu/Relu", []string{"/fc/Add_output_0"}, []string{"/relu/Relu_output_0"}),
				onnx.ConstantNode("/Constant", "/Constant_output_0", half),
				onnx.NewNode("Mul", "/Mul", []string{"/relu/Relu_output_0", "/Constant_output_0"}, []string{"/Mul_output_0"}),
				onnx.NewNode("Shape", "/Shape", []string{"/Mul_output_0"}, []string{"/Shape_output_0"}),
				onnx.ConstantNode("/Constant_1", "/Constant_1_output_0", zero),
				onnx.NewNode("Gather", "/Gather", []string{"/Shape_output_0", "/Constant_1_output_0"}, []string{"/Gather_output_0"}, onnx.IntAttr("axis", 0)),
				onnx.ConstantNode("/Constant_2", "/Constant_2_output_0", minus1),
				onnx.NewNode("Concat", "/Concat", []string{"/Gather_output_0", "/Constant_2_output_0"}, []string{"/Concat_output_0"}, onnx.IntAttr("axis", 0)),
				onnx.NewNode("Reshape", "/Reshape", []string{"/Mul_output_0", "/Concat_output_0"}, []string{"flat"}),
				onnx.NewNode("Softmax", "/Softmax", []string{"flat"}, []string{"probs"}, onnx.IntAttr("axis", 1)),
			},
			Input:  []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Float, onnx.DimParam("N"), onnx.DimValue(3), onnx.DimValue(6))},
			Output: []onnx.ValueInfo{onnx.TensorValueInfo("flat", onnx.Float, onnx.DimParam("N"), onnx.DimValue(12)), onnx.TensorValueInfo("probs", onnx.Float, onnx.DimParam("N"), onnx.DimValue(12))},
		}}
}

// TestGraphRoundTrip imports a float model and exports the graph again:
// ONNX Runtime gives bit for bit the same outputs for both files (and our
// Session the same within float rounding), and importing and exporting
// the export gives the same bytes.
func TestGraphRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	orig := importedModel(t, rng)
	g, err := graph.Import(orig)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Graph(g)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	origPath, exportPath := filepath.Join(dir, "orig.onnx"), filepath.Join(dir, "export.onnx")
	if err := onnx.WriteFile(origPath, orig); err != nil {
		t.Fatal(err)
	}
	if err := onnx.WriteFile(exportPath, m); err != nil {
		t.Fatal(err)
	}
	if got := opTypes(m); !slices.Equal(got, []string{"MatMul", "Add", "Relu", "Mul", "Shape", "Gather", "Concat", "Reshape", "Softmax"}) {
		t.Errorf("exported ops %v: want the Constant nodes folded, the shape arithmetic on the symbolic batch kept", got)
	}
	const n = 5
	x := make([]float32, n*3*6)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	in := map[string]exttool.Input{"x": {Dims: []int{n, 3, 6}, Type: "float32", F32: x}}
	want := exttool.RunORT(t, origPath, "disabled", in)
	got := exttool.RunORT(t, exportPath, "disabled", in)
	for _, name := range []string{"flat", "probs"} {
		if !slices.Equal(got[name].Dims, []int{n, 12}) || !slices.EqualFunc(got[name].F32, want[name].F32, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
			t.Errorf("%s: ORT on the export gives %v %v, on the original %v %v", name, got[name].Dims, got[name].F32[:4], want[name].Dims, want[name].F32[:4])
		}
	}
	s, err := graph.NewSession(g, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	xt, err := graph.Floats(x, n, 3, 6)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := s.Run(map[string]*graph.Tensor{"x": xt})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"flat", "probs"} {
		for i, w := range want[name].F32 {
			if d := math.Abs(float64(ours[name].F32[i] - w)); d > 1e-6*(1+math.Abs(float64(w))) {
				t.Fatalf("%s[%d]: ours %v, ORT %v", name, i, ours[name].F32[i], w)
			}
		}
	}
	g2, err := graph.Import(m)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Graph(g2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(must(onnx.Marshal(m2)), must(onnx.Marshal(m))) {
		t.Error("import and export of the export changes it")
	}
}
