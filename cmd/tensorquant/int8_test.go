package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/npy"
	"github.com/tensorquant/tensorquant/onnx"
)

// TestRunInt8 runs pytorch_quantization's QDQ export of the onnx_ptq CNN
// (testdata/conformance/onnx_ptq) with and without -float: -float gives
// the outputs ONNX Runtime computed node by node, recorded with the model
// (within 1e-5 of the largest: the pure-Go GEMM rounds each product), the
// default int8 arithmetic differs from them in some bits but not by more
// than float rounding (its layers' outputs are float), and -bench says
// which arithmetic ran. info lists the five quantized layers in int8,
// the first convolution's (3 channels, 3×3 taps) with a float output.
func TestRunInt8(t *testing.T) {
	root, err := conformance.Root()
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(root, "testdata", "conformance", "onnx_ptq")
	model, x := filepath.Join(src, "cnn.pq_qdq.onnx"), filepath.Join(src, "cnn.x.npy")
	want, err := npy.ReadFile(filepath.Join(src, "cnn.ort.npy"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	outputs := map[string][]float32{}
	for _, mode := range []string{"int8", "float"} {
		args := []string{"run", "-i", x, "-o", mode, "-bench", "2", "-quiet", model}
		line := "arithmetic: int8 in 5 of 5 quantized layers (tensorquant info lists them)"
		if mode == "float" {
			args = append([]string{"run", "-float"}, args[1:]...)
			line = "arithmetic: float (-float: quantized layers as fake quantization)"
		}
		out, errOut, code := tq(t, dir, args...)
		if code != 0 || !strings.Contains(out, "\n"+line+"\n") {
			t.Fatalf("%q: exit %d, stdout %q, stderr %q; want the line %q", args, code, out, errOut, line)
		}
		y, err := npy.ReadFile(filepath.Join(dir, mode, "output.npy"))
		if err != nil {
			t.Fatal(err)
		}
		outputs[mode] = y.Data
	}
	tol := 0.0
	for _, v := range want.Data {
		tol = max(tol, 1e-5*math.Abs(float64(v)))
	}
	differ := 0
	for i, w := range want.Data {
		f, q := outputs["float"][i], outputs["int8"][i]
		if d := math.Abs(float64(f - w)); !(d <= tol) {
			t.Fatalf("-float output %d is %v, ONNX Runtime's %v", i, f, w)
		}
		if d := math.Abs(float64(q - w)); !(d <= tol) {
			t.Fatalf("int8 output %d is %v, ONNX Runtime's %v", i, q, w)
		}
		if f != q {
			differ++
		}
	}
	if differ == 0 {
		t.Errorf("the int8 and -float outputs are the same: the integer path did not run")
	}

	out, errOut, code := tq(t, dir, "info", model)
	if code != 0 || !strings.Contains(out, "int8:        5 of 5 quantized layers\n") ||
		!strings.Contains(out, "  /conv1/Conv      Conv    int8 → float\n") ||
		!strings.Contains(out, "  /res/conv1/Conv  Conv    int8 → int8 (with Relu, QuantizeLinear)\n") {
		t.Errorf("info: exit %d, stderr %q, printed\n%s", code, errOut, out)
	}
	out, _, _ = tq(t, dir, "info", "-json", model)
	var info modelInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	if len(info.Int8) != 5 || !reflect.DeepEqual(info.Int8[1], int8Layer{Node: "/res/conv1/Conv", Op: "Conv", Int8: true, Output: "int8", Fused: []string{"Relu", "QuantizeLinear"}}) {
		t.Errorf("info -json: int8 %+v", info.Int8)
	}
}

// TestInfoInt8Fallback: info names a quantized layer that runs in float
// and why (a 3-D convolution beside a MatMul in int8).
func TestInfoInt8Fallback(t *testing.T) {
	f := func(name string, dims []int64, v ...float32) onnx.Tensor {
		x, _ := onnx.NewTensor(name, dims, v)
		return x
	}
	i8 := func(name string, dims []int64, v ...int8) onnx.Tensor {
		x, _ := onnx.NewTensor(name, dims, v)
		return x
	}
	m := &onnx.Model{IRVersion: 8, OpsetImport: []onnx.OperatorSetID{{Version: 17}}, Graph: &onnx.Graph{
		Input:       []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Int8, onnx.DimValue(1), onnx.DimValue(1), onnx.DimValue(2), onnx.DimValue(2), onnx.DimValue(2))},
		Output:      []onnx.ValueInfo{{Name: "y"}, {Name: "z"}},
		Initializer: []onnx.Tensor{f("s", nil, 0.5), i8("zp", nil, 0), i8("w", []int64{1, 1, 1, 1, 1}, 3), i8("m", []int64{2, 2}, 1, 2, 3, 4)},
		Node: []onnx.Node{
			onnx.NewNode("DequantizeLinear", "dqx", []string{"x", "s", "zp"}, []string{"xf"}),
			onnx.NewNode("DequantizeLinear", "dqw", []string{"w", "s", "zp"}, []string{"wf"}),
			onnx.NewNode("DequantizeLinear", "dqm", []string{"m", "s", "zp"}, []string{"mf"}),
			onnx.NewNode("Conv", "conv3d", []string{"xf", "wf"}, []string{"y"}),
			onnx.NewNode("MatMul", "matmul", []string{"xf", "mf"}, []string{"z"}),
		},
	}}
	dir := t.TempDir()
	writeModel(t, filepath.Join(dir, "m.onnx"), m)
	out, errOut, code := tq(t, dir, "info", "m.onnx")
	want := "int8:        1 of 2 quantized layers (the others run in float)\n" +
		"  conv3d  Conv    float: its weight INT8[1 1 1 1 1] is not of a 1-D or 2-D convolution\n" +
		"  matmul  MatMul  int8 → float\n"
	if code != 0 || !strings.HasSuffix(out, want) {
		t.Errorf("info: exit %d, stderr %q, printed\n%s\nwant it to end with\n%s", code, errOut, out, want)
	}
}
