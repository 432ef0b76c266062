package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
	"github.com/tensorquant/tensorquant/npy"
	"github.com/tensorquant/tensorquant/onnx"
)

// linearModel is y = Relu(x·W + b) over x [N, 4] with W [4, 3], and the
// shape of x as a second output whose name is not a safe file name:
// every value is a small integer, so our result and ONNX Runtime's are
// exact.
func linearModel(t *testing.T) *onnx.Model {
	t.Helper()
	w, err := onnx.NewTensor("W", []int64{4, 3}, []float32{1, -1, 2, 0, 3, -2, -1, 1, 1, 2, 0, -3})
	if err != nil {
		t.Fatal(err)
	}
	b, err := onnx.NewTensor("b", []int64{3}, []float32{0.5, -4, 1})
	if err != nil {
		t.Fatal(err)
	}
	return &onnx.Model{IRVersion: 8, ProducerName: "test", OpsetImport: []onnx.OperatorSetID{{Version: 17}}, Graph: &onnx.Graph{
		Name:        "linear",
		Initializer: []onnx.Tensor{w, b},
		Node: []onnx.Node{
			onnx.NewNode("MatMul", "mm", []string{"x", "W"}, []string{"xw"}),
			onnx.NewNode("Add", "add", []string{"xw", "b"}, []string{"xwb"}),
			onnx.NewNode("Relu", "relu", []string{"xwb"}, []string{"y"}),
			onnx.NewNode("Shape", "shape", []string{"x"}, []string{"a/b:c"}),
		},
		Input:  []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Float, onnx.DimParam("N"), onnx.DimValue(4))},
		Output: []onnx.ValueInfo{onnx.TensorValueInfo("y", onnx.Float, onnx.DimParam("N"), onnx.DimValue(3)), {Name: "a/b:c"}},
	}}
}

// linearRef computes linearModel's y in Go.
func linearRef(x []float32, n int) []float32 {
	w := []float32{1, -1, 2, 0, 3, -2, -1, 1, 1, 2, 0, -3}
	b := []float32{0.5, -4, 1}
	y := make([]float32, n*3)
	for i := range n {
		for j := range 3 {
			s := b[j]
			for k := range 4 {
				s += x[i*4+k] * w[k*3+j]
			}
			y[i*3+j] = max(s, 0)
		}
	}
	return y
}

func writeModel(t *testing.T, path string, m *onnx.Model) {
	t.Helper()
	if err := onnx.WriteFile(path, m); err != nil {
		t.Fatal(err)
	}
}

func writeNPY[T npy.Element](t *testing.T, path string, data []T, shape ...int) {
	t.Helper()
	a, err := npy.New(data, shape...)
	if err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteArrayFile(path, a); err != nil {
		t.Fatal(err)
	}
}

func readNPY[T npy.Element](t *testing.T, path string) ([]T, []int) {
	t.Helper()
	a, err := npy.ReadArrayFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if a.DType != npy.DTypeOf[T]() {
		t.Fatalf("%s: dtype %v, want %v", path, a.DType, npy.DTypeOf[T]())
	}
	v, err := npy.Values[T](a)
	if err != nil {
		t.Fatal(err)
	}
	return v, a.Shape
}

// TestRunWritesOutputs runs a model through the binary: each output is
// written in its own dtype under its mapped name, equal to the Go
// reference and to ONNX Runtime's outputs; -i FILE suffices for a model
// with one input.
func TestRunWritesOutputs(t *testing.T) {
	dir := t.TempDir()
	writeModel(t, filepath.Join(dir, "m.onnx"), linearModel(t))
	const n = 5
	x := make([]float32, n*4)
	for i := range x {
		x[i] = float32(i%9 - 4)
	}
	writeNPY(t, filepath.Join(dir, "x.npy"), x, n, 4)
	for _, in := range []string{"x=x.npy", "x.npy"} {
		out, errOut, code := tq(t, dir, "run", "-i", in, "-o", "out", "m.onnx")
		if code != 0 || errOut != "" {
			t.Fatalf("-i %s: exit %d: %s", in, code, errOut)
		}
		want := "y FLOAT[5 3] -> out/y.npy\na/b:c INT64[2] -> out/a%2Fb%3Ac.npy\n"
		if out != want {
			t.Errorf("stdout %q, want %q", out, want)
		}
	}
	y, shape := readNPY[float32](t, filepath.Join(dir, "out", "y.npy"))
	if !slices.Equal(shape, []int{n, 3}) || !slices.Equal(y, linearRef(x, n)) {
		t.Errorf("y = %v %v, want %v", shape, y, linearRef(x, n))
	}
	s, _ := readNPY[int64](t, filepath.Join(dir, "out", "a%2Fb%3Ac.npy"))
	if !slices.Equal(s, []int64{n, 4}) {
		t.Errorf("shape output %v", s)
	}
	ort := exttool.RunORT(t, filepath.Join(dir, "m.onnx"), "all", map[string]exttool.Input{"x": {Dims: []int{n, 4}, Type: "float32", F32: x}})
	if !slices.Equal(ort["y"].F32, y) || !slices.Equal(ort["a/b:c"].Ints, s) {
		t.Errorf("ONNX Runtime: y %v shape %v; ours %v %v", ort["y"].F32, ort["a/b:c"].Ints, y, s)
	}
}

// TestRunDTypes: inputs are converted to the model's element types as
// npy.Values converts (int32 data for an INT64 input, bool data for a
// BOOL one), and a BOOL output is written as bool.
func TestRunDTypes(t *testing.T) {
	dir := t.TempDir()
	m := &onnx.Model{IRVersion: 8, OpsetImport: []onnx.OperatorSetID{{Version: 17}}, Graph: &onnx.Graph{
		Node: []onnx.Node{
			onnx.NewNode("Cast", "cast", []string{"i"}, []string{"f"}, onnx.IntAttr("to", int64(onnx.Float))),
			onnx.NewNode("Equal", "eq", []string{"f", "x"}, []string{"same"}),
			onnx.NewNode("Not", "not", []string{"mask"}, []string{"notmask"}),
		},
		Input: []onnx.ValueInfo{
			onnx.TensorValueInfo("i", onnx.Int64, onnx.DimValue(4)),
			onnx.TensorValueInfo("x", onnx.Float, onnx.DimValue(4)),
			onnx.TensorValueInfo("mask", onnx.Bool, onnx.DimValue(2)),
		},
		Output: []onnx.ValueInfo{{Name: "same"}, {Name: "notmask"}},
	}}
	writeModel(t, filepath.Join(dir, "m.onnx"), m)
	writeNPY(t, filepath.Join(dir, "i.npy"), []int32{1, 2, 3, -4}, 4)
	writeNPY(t, filepath.Join(dir, "x.npy"), []float64{1, 2.5, 3, -4}, 4)
	writeNPY(t, filepath.Join(dir, "mask.npy"), []bool{true, false}, 2)
	_, errOut, code := tq(t, dir, "run", "-i", "i=i.npy", "-i", "x=x.npy", "-i", "mask=mask.npy", "-o", ".", "m.onnx")
	if code != 0 {
		t.Fatal(errOut)
	}
	if same, _ := readNPY[bool](t, filepath.Join(dir, "same.npy")); !slices.Equal(same, []bool{true, false, true, true}) {
		t.Errorf("same = %v", same)
	}
	if nm, _ := readNPY[bool](t, filepath.Join(dir, "notmask.npy")); !slices.Equal(nm, []bool{false, true}) {
		t.Errorf("notmask = %v", nm)
	}
	// Float data for an integer input, and values that do not fit.
	writeNPY(t, filepath.Join(dir, "fi.npy"), []float32{1, 2, 3, 4}, 4)
	writeNPY(t, filepath.Join(dir, "big.npy"), []int64{1 << 40, 0}, 2)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-i", "i=fi.npy", "-i", "x=x.npy", "-i", "mask=mask.npy"}, `fi.npy: input "i": npy: float32 data cannot be read as int64`},
		{[]string{"-i", "i=i.npy", "-i", "x=x.npy", "-i", "mask=big.npy"}, `big.npy: input "mask": npy: int64 value 1099511627776 at flat index 0 does not fit bool`},
		{[]string{"-i", "i=i.npy", "-i", "x=x.npy"}, `no file for the model's input "mask" BOOL[2] (give -i mask=FILE.npy)`},
		{[]string{"-i", "i=i.npy", "-i", "i=i.npy"}, `-i: input "i" is given twice`},
		{[]string{"-i", "i.npy"}, `-i "i.npy": want NAME=FILE.npy with NAME one of the model's inputs ("i", "x", "mask")`},
		{[]string{"-i", "q=i.npy"}, `-i "q=i.npy": want NAME=FILE.npy`},
		{[]string{"-i", "i=x.npy", "-i", "x=x.npy", "-i", "mask=mask.npy"}, `x.npy: input "i": npy: float64 data cannot be read as int64`},
		{[]string{"-i", "i=i.npy", "-i", "x=i.npy", "-i", "mask=i.npy"}, `i.npy: input "mask": npy: int32 value 2 at flat index 1 does not fit bool`},
	} {
		args := append(append([]string{"run"}, tc.args...), "-o", "o", "m.onnx")
		out, errOut, code := tq(t, dir, args...)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, "tensorquant run: ") || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

// TestRunBench: -bench prints the runs, the median latency, the
// throughput, the arithmetic and (on Linux) the resident memory; -o is
// then optional.
func TestRunBench(t *testing.T) {
	dir := t.TempDir()
	writeModel(t, filepath.Join(dir, "m.onnx"), linearModel(t))
	writeNPY(t, filepath.Join(dir, "x.npy"), make([]float32, 8*4), 8, 4)
	out, errOut, code := tq(t, dir, "run", "-i", "x.npy", "-bench", "7", "-threads", "1", "-quiet", "m.onnx")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 4 || len(lines) > 5 || lines[0] != "runs: 7 (after 1 warm-up run), batch 8, 1 threads" ||
		!strings.HasPrefix(lines[1], "latency: median ") || !strings.Contains(lines[1], " ms, min ") ||
		!strings.HasPrefix(lines[2], "throughput: ") || !strings.Contains(lines[2], " inputs/s at the median (") ||
		lines[3] != "arithmetic: float (no quantized Conv, Gemm or MatMul layers)" ||
		len(lines) == 5 && (!strings.HasPrefix(lines[4], "memory: ") || !strings.HasSuffix(lines[4], " MiB resident (after a garbage collection)")) {
		t.Errorf("bench printed\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "y.npy")); !os.IsNotExist(err) {
		t.Errorf("bench without -o wrote outputs: %v", err)
	}
}

// TestRunProfile: -bench with -profile prints, after the benchmark's
// lines, one line per node of the optimised graph, the slowest first, with
// shares that add up to 100%.
func TestRunProfile(t *testing.T) {
	dir := t.TempDir()
	writeModel(t, filepath.Join(dir, "m.onnx"), linearModel(t))
	writeNPY(t, filepath.Join(dir, "x.npy"), make([]float32, 8*4), 8, 4)
	out, errOut, code := tq(t, dir, "run", "-i", "x.npy", "-bench", "5", "-threads", "1", "-quiet", "-profile", "m.onnx")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	_, prof, ok := strings.Cut(out, "profile: ")
	if !ok {
		t.Fatalf("no profile in\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(prof), "\n")
	var nodes int
	if _, err := fmt.Sscanf(lines[0], "%d nodes, ", &nodes); err != nil || nodes < 1 || !strings.Contains(lines[0], "(mean of 5 runs;") ||
		len(lines) < 2+nodes || !strings.HasPrefix(strings.TrimSpace(lines[1]), "ms/run") {
		t.Fatalf("profile printed\n%s", prof)
	}
	sum, last := 0.0, math.Inf(1)
	for _, l := range lines[2 : 2+nodes] {
		var msRun, share float64
		var op, name string
		if _, err := fmt.Sscanf(l, "%f %f%% %s %s", &msRun, &share, &op, &name); err != nil || msRun > last {
			t.Fatalf("profile line %q (%v; the slowest first)", l, err)
		}
		sum, last = sum+share, msRun
	}
	if math.Abs(sum-100) > 0.1*float64(nodes) {
		t.Errorf("the shares add up to %.1f%%", sum)
	}
}

// TestRunErrors: failures are one line on stderr with exit status 2.
func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	writeModel(t, filepath.Join(dir, "m.onnx"), linearModel(t))
	um := linearModel(t)
	um.Graph.Node[2].OpType = "NoSuchOp"
	um.Graph.Node[1].OpType = "AlsoMissing"
	writeModel(t, filepath.Join(dir, "unsupported.onnx"), um)
	writeNPY(t, filepath.Join(dir, "x.npy"), make([]float32, 8), 2, 4)
	writeNPY(t, filepath.Join(dir, "x3.npy"), make([]float32, 6), 2, 3)
	os.WriteFile(filepath.Join(dir, "junk.onnx"), []byte("\x0a\xff\xff"), 0o644)
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-i", "x.npy", "-o", "o", "missing.onnx"}, "tensorquant run: onnx: open missing.onnx: no such file or directory"},
		{[]string{"-i", "x.npy", "-o", "o", "junk.onnx"}, "tensorquant run: onnx: malformed model at byte 0"},
		{[]string{"-i", "x.npy", "-o", "o", "unsupported.onnx"}, `tensorquant run: graph: 2 unsupported op type(s): AlsoMissing (first node "add"), NoSuchOp (first node "relu")`},
		{[]string{"-i", "x3.npy", "-o", "o", "m.onnx"}, `tensorquant run: graph: run: input "x" has shape [2 3], the graph wants [N 4]`},
		{[]string{"-i", "x.npy", "m.onnx"}, "tensorquant run: no output directory: give -o DIR (or -bench N)"},
		{[]string{"-i", "x.npy", "-o", "o"}, "tensorquant run: want one model file after the flags, got 0 (try -h)"},
		{[]string{"-i", "x.npy", "-o", "o", "-threads", "-1", "m.onnx"}, "tensorquant run: -threads -1 is negative"},
		{[]string{"-i", "x.npy", "-bench", "-2", "m.onnx"}, "tensorquant run: -bench -2 is negative"},
		{[]string{"-i", "x.npy", "-o", "o", "-profile", "m.onnx"}, "tensorquant run: -profile needs -bench N"},
		{[]string{"-i", "x.npy", "-o", "file", "m.onnx"}, "tensorquant run: mkdir file: not a directory"},
		{[]string{"-i", "missing.npy", "-o", "o", "m.onnx"}, "tensorquant run: open missing.npy: no such file or directory"},
	} {
		out, errOut, code := tq(t, dir, append([]string{"run"}, tc.args...)...)
		if code != 2 || !strings.HasPrefix(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

// TestOutputFile pins the mapping of output names to file names.
func TestOutputFile(t *testing.T) {
	long := strings.Repeat("a", 250)
	for name, want := range map[string]string{
		"y":                      "y.npy",
		"logits_1.0-x":           "logits_1.0-x.npy",
		"/head/Gemm_output_0":    "%2Fhead%2FGemm_output_0.npy",
		"onnx::Add_5":            "onnx%3A%3AAdd_5.npy",
		".":                      "%2E.npy",
		"..":                     "%2E..npy",
		".hidden":                "%2Ehidden.npy",
		"100%":                   "100%25.npy",
		"a b\x00\\":              "a%20b%00%5C.npy",
		"é":                      "%C3%A9.npy",
		"":                       ".npy",
		long:                     long[:200] + "~" + "3f3e35e0a775d9b1" + ".npy",
		long[:200] + "%":         long[:200] + "~" + "deab54fa67c5d8ba" + ".npy",
		strings.Repeat("a", 200): strings.Repeat("a", 200) + ".npy",
	} {
		if got := outputFile(name); got != want {
			t.Errorf("outputFile(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestInfo describes a model in text and JSON, and a model with
// unsupported ops, which info describes too (and says it does not
// import).
func TestInfo(t *testing.T) {
	dir := t.TempDir()
	writeModel(t, filepath.Join(dir, "m.onnx"), linearModel(t))
	um := linearModel(t)
	um.Graph.Node[2].OpType = "NoSuchOp"
	um.Graph.Node[1].Domain = "com.example"
	um.OpsetImport = append(um.OpsetImport, onnx.OperatorSetID{Domain: "com.example", Version: 1})
	writeModel(t, filepath.Join(dir, "u.onnx"), um)
	out, errOut, code := tq(t, dir, "info", "m.onnx")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := `model:       m.onnx
ir_version:  8
producer:    test
opsets:      ai.onnx 17
inputs:      1
  x  FLOAT[N 4]
outputs:     2
  y      FLOAT[N 3]
  a/b:c  INT64[2]
parameters:  15 (2 initializers)
nodes:       4
  Add     1
  MatMul  1
  Relu    1
  Shape   1
unsupported: none
imports:     yes
batch:       runs whole (its ops share the threads)
int8:        no quantized Conv, Gemm or MatMul layers
`
	if out != want {
		t.Errorf("info printed\n%s\nwant\n%s", out, want)
	}
	// Without the output of the input's shape (the same for every item
	// only in a whole run), each item is computed alone.
	sm := linearModel(t)
	sm.Graph.Node, sm.Graph.Output = sm.Graph.Node[:3], sm.Graph.Output[:1]
	writeModel(t, filepath.Join(dir, "s.onnx"), sm)
	if out, _, _ := tq(t, dir, "info", "s.onnx"); !strings.Contains(out, "\nbatch:       each item computed alone: a batch runs in chunks on every thread\n") {
		t.Errorf("info of a sample-wise model:\n%s", out)
	}
	// 3×3 convolutions of 64 channels at 28×28: the second by Winograd's
	// F(2×2, 3×3), the first (stride 2) not.
	w, err := onnx.NewTensor("w", []int64{64, 64, 3, 3}, make([]float32, 64*64*9))
	if err != nil {
		t.Fatal(err)
	}
	conv := func(name, in, out string, stride int64) onnx.Node {
		n := onnx.NewNode("Conv", name, []string{in, "w"}, []string{out})
		n.Attribute = []onnx.Attribute{onnx.IntsAttr("pads", 1, 1, 1, 1), onnx.IntsAttr("strides", stride, stride)}
		return n
	}
	cm := &onnx.Model{IRVersion: 8, OpsetImport: []onnx.OperatorSetID{{Version: 17}}, Graph: &onnx.Graph{
		Name: "convs", Initializer: []onnx.Tensor{w},
		Node:   []onnx.Node{conv("down", "x", "h", 2), conv("same", "h", "y", 1)},
		Input:  []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Float, onnx.DimParam("N"), onnx.DimValue(64), onnx.DimValue(56), onnx.DimValue(56))},
		Output: []onnx.ValueInfo{onnx.TensorValueInfo("y", onnx.Float, onnx.DimParam("N"), onnx.DimValue(64), onnx.DimValue(28), onnx.DimValue(28))},
	}}
	writeModel(t, filepath.Join(dir, "c.onnx"), cm)
	if out, _, _ := tq(t, dir, "info", "c.onnx"); !strings.Contains(out, "\nwinograd:    1 convolution(s) by Winograd's F(2×2, 3×3): same\n") {
		t.Errorf("info of a model with 3×3 convolutions:\n%s", out)
	}
	out, _, code = tq(t, dir, "info", "-json", "u.onnx")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var info modelInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if info.Imports || !strings.Contains(info.ImportError, "2 unsupported op type(s)") ||
		!slices.Equal(info.Unsupported, []unsupportedOp{{"NoSuchOp", "relu"}, {"com.example.Add", "add"}}) ||
		info.Parameters != 15 || info.Nodes != 4 || info.Opsets["com.example"] != 1 ||
		len(info.Outputs) != 2 || info.Outputs[1].Shape != nil || info.Outputs[0].Shape[0] != "N" || info.Outputs[0].Shape[1] != 3.0 {
		t.Errorf("info -json of a model with unsupported ops:\n%s", out)
	}
	out, _, _ = tq(t, dir, "info", "u.onnx")
	if !strings.Contains(out, "unsupported: 2 op type(s)\n  NoSuchOp (first node \"relu\")\n  com.example.Add (first node \"add\")\nimports:     no: graph: 2 unsupported op type(s)") {
		t.Errorf("info of a model with unsupported ops:\n%s", out)
	}
	if _, errOut, code := tq(t, dir, "info", "missing.onnx"); code != 2 || errOut != "tensorquant info: onnx: open missing.onnx: no such file or directory\n" {
		t.Errorf("missing model: exit %d, %q", code, errOut)
	}
}
