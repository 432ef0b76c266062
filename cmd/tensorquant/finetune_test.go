package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/idx"
	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
	"github.com/tensorquant/tensorquant/internal/testkit/models"
	"github.com/tensorquant/tensorquant/internal/testkit/qdqtest"
	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/npy"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/onnx/export"
	"github.com/tensorquant/tensorquant/tensor"
)

// finetuneSummary is finetune -json's output.
type finetuneSummary struct {
	Samples   int       `json:"samples"`
	Params    []string  `json:"params"`
	EpochLoss []float64 `json:"epoch_loss"`
}

// runFinetuneJSON runs finetune with -json and the given arguments and
// returns its summary, failing t on a non-zero exit.
func runFinetuneJSON(t *testing.T, dir string, args ...string) finetuneSummary {
	t.Helper()
	out, errOut, code := tq(t, dir, append([]string{"finetune", "-json", "-quiet"}, args...)...)
	if code != 0 {
		t.Fatalf("finetune %q: exit %d: %s", args, code, errOut)
	}
	var s finetuneSummary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("finetune %q: %v\n%s", args, err, out)
	}
	return s
}

// opHistogram counts a model's nodes by op type.
func opHistogram(m *onnx.Model) map[string]int {
	h := map[string]int{}
	for _, n := range m.Graph.Node {
		h[n.OpType]++
	}
	return h
}

// ourTop1 runs model on x with the graph package and returns the output
// and each row's highest class.
func ourTop1(t *testing.T, model string, x *graph.Tensor) ([]float32, []int) {
	t.Helper()
	g, err := graph.ImportFile(model)
	if err != nil {
		t.Fatal(err)
	}
	s, err := graph.NewSession(g, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Run(map[string]*graph.Tensor{g.Inputs[0].Name: x})
	if err != nil {
		t.Fatal(err)
	}
	y := out[g.Outputs[0].Name]
	return y.F32, argmaxRows(y.F32, y.Shape[len(y.Shape)-1])
}

func argmaxRows(v []float32, c int) []int {
	var out []int
	for i := 0; i+c <= len(v); i += c {
		best := 0
		for j, x := range v[i : i+c] {
			if x > v[i+best] {
				best = j
			}
		}
		out = append(out, best)
	}
	return out
}

// checkORT runs model in ONNX Runtime on x, node by node, and checks that
// it classifies every sample as our forward does, within atol of our
// outputs (a QDQ model's activations may round to neighbouring codes:
// their float arithmetic differs in the last bits). Node by node: ONNX
// Runtime's optimised run of a QDQ model takes integer kernels of its own
// on a CPU without AVX-512 VNNI, which on an AVX2-only EPYC changed the
// top-1 of these small models against its own node-by-node run.
func checkORT(t *testing.T, model string, x *graph.Tensor, atol float64) {
	t.Helper()
	ours, top := ourTop1(t, model, x)
	res := exttool.RunORT(t, model, "disabled", map[string]exttool.Input{"input": {Dims: x.Shape, Type: "float32", F32: x.F32}})
	ort := res["output"].F32
	if len(ort) != len(ours) {
		t.Fatalf("ONNX Runtime gave %d outputs, we %d", len(ort), len(ours))
	}
	if got := argmaxRows(ort, len(ours)/x.Shape[0]); !slices.Equal(got, top) {
		t.Errorf("%s: ONNX Runtime's top-1 %v, ours %v", model, got, top)
	}
	for i, v := range ort {
		if math.Abs(float64(v-ours[i])) > atol {
			t.Errorf("%s: output %d: ONNX Runtime %v, ours %v", model, i, v, ours[i])
			break
		}
	}
}

// TestFinetuneOriginalsExport fine-tunes the original toolkit's own QDQ
// export of a CNN (Conv, BatchNormalization, residual Add, MaxPool,
// GlobalAveragePool, Gemm; testdata/conformance/onnx_ptq) on its sample
// images: the loss falls every epoch, the output has the input's nodes
// (every QuantizeLinear/DequantizeLinear pair kept, their scales
// unchanged) with new weights, and ONNX Runtime runs it with our top-1.
func TestFinetuneOriginalsExport(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(must(conformance.Root()), "testdata", "conformance", "onnx_ptq")
	xs, err := npy.ReadFile(filepath.Join(src, "cnn.x.npy"))
	if err != nil {
		t.Fatal(err)
	}
	labels := make([]int64, xs.Shape[0])
	for i := range labels {
		labels[i] = int64(i % 10)
	}
	writeNPY(t, filepath.Join(dir, "y.npy"), labels, len(labels))
	model := filepath.Join(src, "cnn.pq_qdq.onnx")
	s := runFinetuneJSON(t, dir, "-data", filepath.Join(src, "cnn.x.npy"), "-labels", "y.npy", "-epochs", "4", "-batch", "4",
		"-lr", "0.01", "-threads", "1", "-o", "ft.onnx", model)
	for i := 1; i < len(s.EpochLoss); i++ {
		if !(s.EpochLoss[i] < s.EpochLoss[i-1]) {
			t.Errorf("epoch losses %v do not fall", s.EpochLoss)
		}
	}
	if s.Samples != 8 || len(s.EpochLoss) != 4 || len(s.Params) != 11 {
		t.Errorf("summary %+v", s)
	}
	before, err := onnx.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "ft.onnx")
	after, err := onnx.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	hb, ha := opHistogram(before), opHistogram(after)
	if !maps_equal(hb, ha) {
		t.Errorf("op types before %v, after %v", hb, ha)
	}
	inits := map[string]onnx.Tensor{}
	for _, x := range before.Graph.Initializer {
		inits[x.Name] = x
	}
	changed := 0
	for _, x := range after.Graph.Initializer {
		b, ok := inits[x.Name]
		if !ok {
			t.Errorf("new initializer %q", x.Name)
			continue
		}
		tb, _ := graph.TensorFromONNX(&b)
		ta, _ := graph.TensorFromONNX(&x)
		if !slices.Equal(tb.F32, ta.F32) || !slices.Equal(tb.Shape, ta.Shape) {
			changed++
			if !slices.Contains(s.Params, x.Name) {
				t.Errorf("initializer %q changed, but it is not a parameter", x.Name)
			}
		}
	}
	if changed != len(s.Params) {
		t.Errorf("%d initializers changed, %d parameters trained", changed, len(s.Params))
	}
	checkORT(t, out, graph.Float(xs), 5e-3)
}

// TestFinetuneCodes fine-tunes a model whose weights are stored as int8
// codes and whose biases as int32 codes (ONNX Runtime's style): the
// output keeps that storage, the codes change, and ONNX Runtime runs it
// with our top-1. The data come as IDX files (uint8 images [N, 8, 8] for
// an input [N, 1, 8, 8], normalised by -preprocess; uint8 labels).
func TestFinetuneCodes(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(2, 3))
	const n = 40
	pixels := make([]float64, n*64)
	for i := range pixels {
		pixels[i] = float64(rng.IntN(256))
	}
	labels := make([]float64, n)
	for i := range labels {
		labels[i] = float64(rng.IntN(4))
	}
	for name, a := range map[string]*idx.Array{
		"x-idx3-ubyte": must(idx.New(idx.Uint8, []int{n, 8, 8}, pixels)),
		"y-idx1-ubyte": must(idx.New(idx.Uint8, []int{n}, labels)),
	} {
		if err := idx.WriteFile(filepath.Join(dir, name), a); err != nil {
			t.Fatal(err)
		}
	}
	conv := must(layers.NewConv2d(1, 4, 3, layers.ConvOptions{Padding: 1}, rng))
	lin := must(layers.NewLinear(4*16, 4, true, rng))
	model := layers.NewSequential(
		must(layers.Quantize(conv, layers.QuantDescs{})), layers.NewReLU(), must(layers.NewMaxPool2d(2, layers.PoolOptions{})),
		layers.NewFlatten(1, -1), must(layers.Quantize(lin, layers.QuantDescs{})))
	x := qdqtest.Randn(rng, 32, 1, 8, 8)
	if err := qdqtest.Calibrate(model, x); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "codes.onnx")
	if err := export.WriteFile(src, model, export.Options{InputShape: []int{1, 8, 8}, Weights: graph.WeightsQuantized, Bias: graph.BiasInt32}); err != nil {
		t.Fatal(err)
	}
	s := runFinetuneJSON(t, dir, "-data", "x-idx3-ubyte", "-labels", "y-idx1-ubyte", "-preprocess", "0.0078:-1", "-epochs", "3",
		"-optimizer", "adam", "-lr", "0.01", "-o", "ft.onnx", "codes.onnx")
	if s.Samples != n || !slices.Contains(s.Params, "0.weight_quantized") || !slices.Contains(s.Params, "4.bias_quantized") {
		t.Errorf("summary %+v", s)
	}
	before, after := must(onnx.ReadFile(src)), must(onnx.ReadFile(filepath.Join(dir, "ft.onnx")))
	types := map[string]onnx.Tensor{}
	for _, x := range before.Graph.Initializer {
		types[x.Name] = x
	}
	for _, x := range after.Graph.Initializer {
		b := types[x.Name]
		if x.DataType != b.DataType || !slices.Equal(x.Dims, b.Dims) {
			t.Errorf("%s: %v%v, was %v%v", x.Name, x.DataType, x.Dims, b.DataType, b.Dims)
		}
		if slices.Contains(s.Params, x.Name) && slices.Equal(x.RawData, b.RawData) && slices.Equal(x.Int32Data, b.Int32Data) {
			t.Errorf("%s did not change", x.Name)
		}
	}
	if !maps_equal(opHistogram(before), opHistogram(after)) {
		t.Errorf("op types before %v, after %v", opHistogram(before), opHistogram(after))
	}
	checkORT(t, filepath.Join(dir, "ft.onnx"), graph.Float(qdqtest.Randn(rng, 16, 1, 8, 8)), 5e-3)
}

// TestFinetuneMSE fine-tunes the original's QDQ export of a token model
// (MatMul attention, Softmax, LayerNorm as arithmetic, GELU) towards
// float targets of its output's shape: the mean squared error falls.
func TestFinetuneMSE(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(must(conformance.Root()), "testdata", "conformance", "onnx_ptq")
	ort, err := npy.ReadFile(filepath.Join(src, "mlp_attn.ort.npy"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range ort.Data {
		ort.Data[i] = ort.Data[i]*0.5 + 0.1
	}
	if err := npy.WriteFile(filepath.Join(dir, "targets.npy"), ort); err != nil {
		t.Fatal(err)
	}
	s := runFinetuneJSON(t, dir, "-data", filepath.Join(src, "mlp_attn.x.npy"), "-labels", "targets.npy", "-epochs", "3",
		"-batch", "8", "-lr", "0.05", "-o", "ft.onnx", filepath.Join(src, "mlp_attn.pq_qdq.onnx"))
	if len(s.EpochLoss) != 3 || !(s.EpochLoss[2] < s.EpochLoss[0]) {
		t.Errorf("epoch losses %v", s.EpochLoss)
	}
	// The LayerNorm's scale and shift (Mul and Add operands) train too.
	if len(s.Params) != 18 {
		t.Errorf("trained %v", s.Params)
	}
}

// TestFinetuneErrors: bad flags, data and models give one line on stderr
// and exit status 2.
func TestFinetuneErrors(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(must(conformance.Root()), "testdata", "conformance", "onnx_ptq")
	model, x := filepath.Join(src, "cnn.pq_qdq.onnx"), filepath.Join(src, "cnn.x.npy")
	writeNPY(t, filepath.Join(dir, "y.npy"), []int64{0, 1, 2, 3, 4, 5, 6, 7}, 8)
	writeNPY(t, filepath.Join(dir, "y3.npy"), []int64{0, 1, 2}, 3)
	writeNPY(t, filepath.Join(dir, "y10.npy"), []int64{0, 1, 2, 3, 4, 5, 6, 10}, 8)
	relu := &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 13}}, Graph: &onnx.Graph{Name: "g",
		Node:   []onnx.Node{onnx.NewNode("Relu", "r", []string{"input"}, []string{"output"})},
		Input:  []onnx.ValueInfo{onnx.TensorValueInfo("input", onnx.Float, onnx.DimParam("n"), onnx.DimValue(3))},
		Output: []onnx.ValueInfo{onnx.TensorValueInfo("output", onnx.Float, onnx.DimParam("n"), onnx.DimValue(3))}}}
	writeModel(t, filepath.Join(dir, "relu.onnx"), relu)
	// A trainable MatMul before a reflecting Pad: the weight's gradient
	// would have to flow back through the Pad.
	w := must(onnx.NewTensor("w", []int64{5, 2}, make([]float32, 10)))
	padded := &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 13}}, Graph: &onnx.Graph{Name: "g",
		Node: []onnx.Node{onnx.NewNode("MatMul", "m", []string{"input", "w"}, []string{"h"}),
			onnx.NewNode("Pad", "p", []string{"h", "pads"}, []string{"output"}, onnx.StringAttr("mode", "reflect"))},
		Initializer: []onnx.Tensor{w, must(onnx.NewTensor("pads", []int64{4}, []int64{0, 1, 0, 1}))},
		Input:       []onnx.ValueInfo{onnx.TensorValueInfo("input", onnx.Float, onnx.DimParam("n"), onnx.DimValue(5))},
		Output:      []onnx.ValueInfo{onnx.TensorValueInfo("output", onnx.Float, onnx.DimParam("n"), onnx.DimValue(4))}}}
	writeModel(t, filepath.Join(dir, "padded.onnx"), padded)
	writeNPY(t, filepath.Join(dir, "x5.npy"), make([]float32, 40), 8, 5)
	whole := must(os.ReadFile(x))
	if err := os.WriteFile(filepath.Join(dir, "cut.npy"), whole[:len(whole)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-labels", "y.npy", "-o", "o.onnx", model}, "no training data: give -data FILE"},
		{[]string{"-data", x, "-o", "o.onnx", model}, "no targets: give -labels FILE"},
		{[]string{"-data", x, "-labels", "y.npy", model}, "no output file: give -o OUT.onnx"},
		{[]string{"-data", x, "-labels", "y.npy", "-o", "o.onnx"}, "want one model file after the flags, got 0"},
		{[]string{"-data", x, "-labels", "y.npy", "-o", "o.onnx", "-lr", "-1", model}, "-lr -1: want a positive learning rate"},
		{[]string{"-data", x, "-labels", "y.npy", "-o", "o.onnx", "-optimizer", "rmsprop", model}, `-optimizer "rmsprop": want sgd or adam`},
		{[]string{"-data", x, "-labels", "y.npy", "-o", "o.onnx", "-preprocess", "1", model}, `-preprocess "1": want SCALE:SHIFT`},
		{[]string{"-data", x, "-labels", "y3.npy", "-o", "o.onnx", model}, "y3.npy: [3] targets for 8 samples"},
		{[]string{"-data", x, "-labels", "y10.npy", "-o", "o.onnx", model}, "label 10 of sample"},
		{[]string{"-data", "y.npy", "-labels", "y.npy", "-o", "o.onnx", model}, "y.npy: input \"input\": samples of 1 values ([8]) for an input of 3072 per sample [batch 3 32 32]"},
		{[]string{"-data", x, "-labels", "y.npy", "-o", "o.onnx", "relu.onnx"}, "graph: train: the graph has no parameters to train"},
		{[]string{"-data", x, "-labels", "y.npy", "-o", "o.onnx", "missing.onnx"}, "missing.onnx"},
		{[]string{"-data", x, "-labels", "y.npy", "-o", "o.onnx", "-max-memory", "100000", model}, "graph: memory limit exceeded"},
		{[]string{"-data", x, "-labels", "y.npy", "-o", "o.onnx", "-epochs", "0", model}, "-epochs 0: want at least 1"},
		{[]string{"-data", x, "-labels", "y.npy", "-o", "o.onnx", "-batch", "0", model}, "-batch 0: want at least 1"},
		{[]string{"-data", x, "-labels", "y.npy", "-o", "o.onnx", "-lr", "NaN", model}, "-lr NaN: want a positive learning rate"},
		{[]string{"-data", "cut.npy", "-labels", "y.npy", "-o", "o.onnx", model}, "cut.npy"},
		{[]string{"-data", "x5.npy", "-labels", "y.npy", "-o", "o.onnx", "padded.onnx"},
			`graph: train: gradients would have to flow through 1 node(s) without a backward: Pad (node "p": a Pad in mode reflect has no gradient)`},
		{[]string{"-data", x, "-labels", "y.npy", "-o", filepath.Join("nodir", "o.onnx"), model}, "-o " + filepath.Join("nodir", "o.onnx") + ": nodir is not a directory"},
	} {
		_, errOut, code := tq(t, dir, append([]string{"finetune"}, tc.args...)...)
		if code != 2 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tc.want) || !strings.HasPrefix(errOut, "tensorquant finetune: ") {
			t.Errorf("%q: exit %d, stderr %q, want %q", tc.args, code, errOut, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "o.onnx")); err == nil {
		t.Error("a failed run wrote o.onnx")
	}
}

func maps_equal(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestFinetuneDataForms: the same samples as one .npy, a .npz keyed by
// the input's name, a directory of two .npy files, raw float32 with
// -shape, and divided per channel by powers of two with -preprocess
// multiplying them back (exactly) fine-tune to the same model, byte for
// byte.
func TestFinetuneDataForms(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(must(conformance.Root()), "testdata", "conformance", "onnx_ptq")
	model, xPath := filepath.Join(src, "cnn.pq_qdq.onnx"), filepath.Join(src, "cnn.x.npy")
	xa := must(npy.ReadArrayFile(xPath))
	x := must(xa.Tensor())
	n, plane := x.Shape[0], x.Shape[2]*x.Shape[3]
	writeNPY(t, filepath.Join(dir, "y.npy"), []int64{3, 1, 4, 1, 5, 9, 2, 6}, n)
	if err := npy.WriteNPZFile(filepath.Join(dir, "x.npz"), map[string]*npy.Array{"input": xa}, true); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "parts"), 0o755); err != nil {
		t.Fatal(err)
	}
	half := len(x.Data) / 2
	writeNPY(t, filepath.Join(dir, "parts", "a.npy"), x.Data[:half], append([]int{n / 2}, x.Shape[1:]...)...)
	writeNPY(t, filepath.Join(dir, "parts", "b.npy"), x.Data[half:], append([]int{n - n/2}, x.Shape[1:]...)...)
	raw := make([]byte, 4*len(x.Data))
	for i, v := range x.Data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	if err := os.WriteFile(filepath.Join(dir, "x.raw"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	scales := []float32{2, 4, 0.5}
	scaled := make([]float32, len(x.Data))
	for i, v := range x.Data {
		scaled[i] = v / scales[i/plane%3]
	}
	writeNPY(t, filepath.Join(dir, "scaled.npy"), scaled, x.Shape...)
	train := func(out string, data ...string) []byte {
		t.Helper()
		runFinetuneJSON(t, dir, append(append([]string{"-labels", "y.npy", "-epochs", "2", "-batch", "3", "-lr", "0.01",
			"-threads", "1", "-o", out}, data...), model)...)
		return must(os.ReadFile(filepath.Join(dir, out)))
	}
	want := train("npy.onnx", "-data", xPath)
	if bytes.Equal(want, must(os.ReadFile(model))) {
		t.Fatal("fine-tuning did not change the model")
	}
	for _, tc := range []struct {
		name string
		data []string
	}{
		{"npz", []string{"-data", "x.npz"}},
		{"named", []string{"-data", "input=" + xPath}},
		{"dir", []string{"-data", "parts"}},
		{"raw", []string{"-data", "x.raw", "-shape", fmt.Sprintf("3,%d,%d", x.Shape[2], x.Shape[3])}},
		{"preprocess", []string{"-data", "scaled.npy", "-preprocess", "2,4,0.5:0"}},
	} {
		if got := train(tc.name+".onnx", tc.data...); !bytes.Equal(got, want) {
			t.Errorf("%s: the fine-tuned model differs from the .npy run's", tc.name)
		}
	}
}

// TestFinetuneFloat fine-tunes a float model with -method: finetune
// quantizes it first exactly as quantize does with the same flags (its
// output is, byte for byte, what finetune writes from quantize's QDQ
// file), and the fine-tuned model differs from that PTQ model and has a
// lower loss on the training data. Under an emulator (models.Emulated)
// it runs the first flag set only.
func TestFinetuneFloat(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(must(conformance.Root()), "testdata", "conformance", "onnx_ptq")
	model, xPath, small := filepath.Join(src, "cnn.float.onnx"), filepath.Join(src, "cnn.calib.npy"), filepath.Join(src, "cnn.x.npy")
	x := must(npy.ReadFile(xPath))
	labels := make([]int64, x.Shape[0])
	for i := range labels {
		labels[i] = int64(i * 7 % 10)
	}
	writeNPY(t, filepath.Join(dir, "y.npy"), labels, len(labels))
	train := []string{"-data", xPath, "-labels", "y.npy", "-epochs", "2", "-batch", "16", "-lr", "0.01", "-threads", "1"}
	for i, tc := range []struct{ quantize, finetune []string }{
		{[]string{"-method", "max"}, []string{"-method", "max"}},
		{[]string{"-method", "percentile", "-percentile", "99.9", "-per-tensor-weights", "-batch", "4", "-calib", small},
			[]string{"-method", "percentile", "-percentile", "99.9", "-per-tensor-weights", "-calib-batch", "4", "-calib", small}},
	} {
		if i > 0 && models.Emulated() {
			break
		}
		ptq, viaFile, ft := fmt.Sprintf("ptq%d.onnx", i), fmt.Sprintf("file%d.onnx", i), fmt.Sprintf("ft%d.onnx", i)
		q := tc.quantize
		if !slices.Contains(q, "-calib") {
			q = append(q, "-calib", xPath)
		}
		if _, e, code := tq(t, dir, append(append([]string{"quantize", "-quiet", "-o", ptq}, q...), model)...); code != 0 {
			t.Fatalf("quantize %q: exit %d: %s", q, code, e)
		}
		runFinetuneJSON(t, dir, append(append(train, "-o", viaFile), ptq)...)
		s := runFinetuneJSON(t, dir, append(append(append(train, "-o", ft), tc.finetune...), model)...)
		if s.Samples != 128 || len(s.Params) != 10 {
			t.Errorf("%q: summary %+v", tc.finetune, s)
		}
		got := must(os.ReadFile(filepath.Join(dir, ft)))
		if !bytes.Equal(got, must(os.ReadFile(filepath.Join(dir, viaFile)))) {
			t.Errorf("%q: finetune of the float model differs from finetune of quantize %q's output", tc.finetune, tc.quantize)
		}
		if bytes.Equal(got, must(os.ReadFile(filepath.Join(dir, ptq)))) {
			t.Errorf("%q: the fine-tuned model is the PTQ model", tc.finetune)
		}
		before, after := crossEntropy(t, filepath.Join(dir, ptq), x, labels), crossEntropy(t, filepath.Join(dir, ft), x, labels)
		if !(after < before) {
			t.Errorf("%q: loss on the training data %v after fine-tuning, %v before", tc.finetune, after, before)
		}
	}
}

// crossEntropy returns the mean cross-entropy of model's outputs on x
// (our forward, in float) against labels.
func crossEntropy(t *testing.T, model string, x *tensor.Tensor, labels []int64) float64 {
	t.Helper()
	g := must(graph.ImportFile(model))
	s := must(graph.NewSession(g, graph.Options{Float: true}))
	out := must(s.Run(map[string]*graph.Tensor{g.Inputs[0].Name: graph.Float(x)}))
	y := out[g.Outputs[0].Name]
	c := y.Shape[1]
	var sum float64
	for i, l := range labels {
		row := y.F32[i*c : (i+1)*c]
		m := float64(slices.Max(row))
		var z float64
		for _, v := range row {
			z += math.Exp(float64(v) - m)
		}
		sum += m + math.Log(z) - float64(row[l])
	}
	return sum / float64(len(labels))
}

// TestFinetuneFloatErrors: quantize's flags on finetune without -method,
// or with values quantize refuses, and a -shape that does not fit the raw
// -data file give one line on stderr and exit
// status 2, before any training.
func TestFinetuneFloatErrors(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(must(conformance.Root()), "testdata", "conformance", "onnx_ptq")
	model, qdq, x := filepath.Join(src, "cnn.float.onnx"), filepath.Join(src, "cnn.pq_qdq.onnx"), filepath.Join(src, "cnn.x.npy")
	writeNPY(t, filepath.Join(dir, "y.npy"), []int64{0, 1, 2, 3, 4, 5, 6, 7}, 8)
	if err := os.WriteFile(filepath.Join(dir, "x.raw"), make([]byte, 8*3*32*32*4), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"-labels", "y.npy", "-o", "o.onnx"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-format", "fp8", model}, "-format is for quantizing a float model first: give -method"},
		{[]string{"-per-tensor-weights", model}, "-per-tensor-weights is for quantizing a float model first: give -method"},
		{[]string{"-calib", x, model}, "-calib is for quantizing a float model first: give -method"},
		{[]string{"-method", "minmax", model}, `-method "minmax": want max, entropy, percentile or mse`},
		{[]string{"-method", "percentile", "-percentile", "0", model}, "-percentile 0 out of range (0, 100]"},
		{[]string{"-method", "max", "-calib-batch", "0", model}, "-calib-batch 0: want at least 1"},
		{[]string{"-method", "max", "-block", "16", model}, "-block 16 is for -format int4 (weights in blocks), not int8"},
		{[]string{"-method", "max", "-exclude", "(", model}, `-exclude "(": error parsing regexp`},
		{[]string{"-method", "entropy", "-format", "fp8", model}, "-method entropy with -format fp8"},
		{[]string{"-method", "max", qdq}, "quantize: the graph is already quantized: node"},
		{[]string{"-method", "max", "-calib", "y.npy", model}, `y.npy`},
		{[]string{"-shape", "3,32,31", "-data", "x.raw", model}, "x.raw: 98304 bytes are not a whole number of float32 samples of shape [3 32 31]"},
	} {
		args := append([]string{"finetune"}, base...)
		if !slices.Contains(tc.args, "-data") {
			args = append(args, "-data", x)
		}
		_, errOut, code := tq(t, dir, append(args, tc.args...)...)
		if code != 2 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tc.want) || !strings.HasPrefix(errOut, "tensorquant finetune: ") {
			t.Errorf("%q: exit %d, stderr %q, want %q", tc.args, code, errOut, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "o.onnx")); err == nil {
		t.Error("a failed run wrote o.onnx")
	}
}
