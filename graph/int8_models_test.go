package graph_test

import (
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
	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
	"github.com/tensorquant/tensorquant/internal/testkit/models"
	"github.com/tensorquant/tensorquant/internal/testkit/ptqtest"
	"github.com/tensorquant/tensorquant/internal/testkit/qdqtest"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/onnx/export"
	"github.com/tensorquant/tensorquant/tensor"
)

// int8Models are the reference models the int8 tests and benchmarks
// quantize.
var int8Models = []string{"resnet18", "mobilenet_v2", "encoder"}

// quantizedModel returns the QDQ model of reference model name (opset
// 17), calibrated on its batch-1 input, with int8 activations (uint8 when
// unsigned), written to a file in dir.
func quantizedModel(tb testing.TB, man *models.Manifest, name, dir string, unsigned bool) (*models.Model, *ptqtest.Model, string) {
	tb.Helper()
	mo, err := man.Model(name)
	if err != nil {
		tb.Fatal(err)
	}
	path, err := mo.Path(17)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := onnx.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	in, err := mo.ReadInputs(1)
	if err != nil {
		tb.Fatal(err)
	}
	qm, err := ptqtest.Quantize(m, floats(in), unsigned)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	file := filepath.Join(dir, name+".qdq.onnx")
	if unsigned {
		file = filepath.Join(dir, name+".qdq-u8.onnx")
	}
	if err := onnx.WriteFile(file, qm.Model); err != nil {
		tb.Fatal(err)
	}
	return mo, qm, file
}

// floats converts inputs to graph tensors.
func floats(in map[string]*tensor.Tensor) map[string]*graph.Tensor {
	out := map[string]*graph.Tensor{}
	for k, v := range in {
		out[k] = graph.Float(v)
	}
	return out
}

// runQDQ imports the file and runs it with options o.
func runQDQ(t *testing.T, file string, in map[string]*graph.Tensor, o graph.Options) (map[string]*graph.Tensor, *graph.Session) {
	t.Helper()
	g, err := graph.ImportFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s, err := graph.NewSession(g, o)
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	return out, s
}

// TestInt8ReferenceModels quantizes resnet18, mobilenet_v2, the
// transformer encoder and mobilenet_v3_small (internal/testkit/ptqtest:
// int8 activations per tensor, weights per channel, every output
// quantized) and runs the QDQ files at each test batch (resnet18 also
// with uint8 activations and zero points, as ONNX Runtime's quantizer
// makes them by default).
//
// On the integer path, every output element is within 2 quantization
// steps of ONNX Runtime with full optimisation (its fused integer
// kernels) — except on the MobileNets, where a step of difference in an
// early layer grows through 52 quantized convolutions (and, in
// mobilenet_v3_small, through the channel scaling of its squeeze-and-
// excitation blocks: ONNX Runtime's two modes differ by 14-17 steps, and
// we by 0-12 from its full optimisation, as before the QuantizeLinear,
// activations and pooling went into integer nodes): there ONNX
// Runtime's own two modes (full optimisation and node by node) disagree
// by up to 31 steps on the same file, and the bound is that
// disagreement: the integer path is no further from ONNX Runtime's
// fused kernels than its node-by-node run is.
//
// On a CPU where ONNX Runtime's integer kernels saturate
// (exttool.ORTIntegerExact false: amd64 without VNNI, where its own two
// modes disagree by 49 steps on resnet18) the reference is its
// node-by-node run instead, with the bounds that follow from those on a
// VNNI CPU: 4 steps (2 from its fused kernels plus the up to 1.34 by
// which its two modes differ there, in whole steps; we measured 3 and 4
// on resnet18 at batch 4 from two generations of the fixtures), 31 on the
// MobileNets (their largest disagreement there); the distance from its
// optimised run is logged.
//
// The float path (Options.Float) equals the node-by-node run of the graph
// (OptimizeNone) bit for bit. (It is not bit-exact with ONNX Runtime's
// node-by-node run on these models: the float convolutions and GEMM
// round differently from MLAS's at the ulp level, which
// TestReferenceModels tolerates, and a QuantizeLinear turns an ulp into
// a step where it crosses a rounding boundary; the differences are
// logged. TestPTQModels checks the bits on models where the float
// kernels agree.)
//
// On resnet18 and mobilenet_v2 every quantized Conv and Gemm runs in
// int8.
func TestInt8ReferenceModels(t *testing.T) {
	if testing.Short() {
		t.Skip("quantizes and runs three reference models here and in ONNX Runtime")
	}
	man := models.Open(t)
	dir := t.TempDir()
	type variant struct {
		name     string
		unsigned bool
	}
	var variants []variant
	for _, name := range int8Models {
		variants = append(variants, variant{name, false})
	}
	variants = append(variants, variant{"resnet18", true}, variant{"mobilenet_v3_small", false})
	for _, v := range variants {
		name := v.name
		mo, qm, file := quantizedModel(t, man, name, dir, v.unsigned)
		for _, batch := range mo.TestBatches() {
			t.Run(fmt.Sprintf("%s/b%d/%s", name, batch, map[bool]string{false: "int8", true: "uint8"}[v.unsigned]), func(t *testing.T) {
				in, err := mo.ReadInputs(batch)
				if err != nil {
					t.Fatal(err)
				}
				feeds := floats(in)
				ortIn := map[string]exttool.Input{}
				for k, v := range in {
					ortIn[k] = exttool.Input{Dims: v.Shape, Type: "float32", F32: v.Data}
				}
				got, s := runQDQ(t, file, feeds, graph.Options{Threads: 1})
				if name != "encoder" {
					checkInt8(t, s)
				}
				gotFloat, _ := runQDQ(t, file, feeds, graph.Options{Threads: 1, Float: true})
				nodeByNode, _ := runQDQ(t, file, feeds, graph.Options{Threads: 1, Optimization: graph.OptimizeNone})
				all := exttool.RunORT(t, file, "all", ortIn)
				none := exttool.RunORT(t, file, "disabled", ortIn)
				mobile := name == "mobilenet_v2" || name == "mobilenet_v3_small"
				for o, step := range qm.Steps {
					want := all[o]
					if !slices.Equal(got[o].Shape, want.Dims) {
						t.Fatalf("%s: shape %v, ONNX Runtime's %v", o, got[o].Shape, want.Dims)
					}
					ort, _ := steps(want.F32, none[o].F32, step)
					fromAll, _ := steps(got[o].F32, want.F32, step)
					t.Logf("%s: from ONNX Runtime (all): %v steps; ONNX Runtime's two modes: %v steps", o, fromAll, ort)
					bound := 2.0
					switch {
					case !exttool.ORTIntegerExact() && mobile:
						want, bound = none[o], 41
					case !exttool.ORTIntegerExact():
						want, bound = none[o], 4
					case mobile:
						bound = max(bound, ort)
					}
					worst, at := steps(got[o].F32, want.F32, step)
					if worst > bound {
						t.Errorf("%s: output %d is %v, ONNX Runtime's %v (%s): %v steps of %g (bound %v)", o, at, got[o].F32[at], want.F32[at], exttool.ORTIntegerOpt(), worst, step, bound)
					}
					fl, _ := steps(gotFloat[o].F32, none[o].F32, step)
					t.Logf("%s: float path from ONNX Runtime (node by node): %v steps", o, fl)
					if bad := sameBits(gotFloat[o], &tensor.Tensor{Shape: nodeByNode[o].Shape, Data: nodeByNode[o].F32}); bad != 0 {
						t.Errorf("%s: float path: %d of %d outputs differ from the node-by-node run", o, bad, len(gotFloat[o].F32))
					}
				}
			})
		}
	}
}

// steps returns the largest |got − want| in whole quantization steps (the
// values are dequantized codes), and where; infinity for another length.
func steps(got, want []float32, step float32) (float64, int) {
	if len(got) != len(want) {
		return math.Inf(1), 0
	}
	worst, at := 0.0, 0
	for i, v := range got {
		d := math.Round(math.Abs(float64(v)-float64(want[i])) / float64(step))
		if !(d <= worst) {
			worst, at = d, i
		}
	}
	return worst, at
}

// TestExportedQDQModelsInt8 runs our exporter's QDQ files (both weight
// styles, int32 biases) on the integer path: the layers with per-tensor
// activations run in int8 (with the Add, Relu and QuantizeLinear after
// them where the model has them), a per-channel input quantizer and a
// 3-D convolution stay in float and say why.
func TestExportedQDQModelsInt8(t *testing.T) {
	defer graph.ForceInt8()()
	rng := rand.New(rand.NewPCG(5, 6))
	want := map[string][]string{
		"cnn2d": {"/1/Conv float: its input's scale is not one constant (per-tensor activations only)",
			"/4/body/body.0/Conv int8 → float", "/4/body/body.3/Conv int8 → float", "/6/Conv int8 → int8 [QuantizeLinear]",
			"/13/Gemm int8 → float [Relu]", "/16/Gemm int8 → float"},
		"cnn1d": {"/0/Conv int8 → float", "/8/Gemm int8 → float"},
		"cnn3d": {"/0/Conv float: its weight INT8[4 2 3 2 3] is not of a 1-D or 2-D convolution", "/7/Gemm int8 → float"},
		"tokens": {"/0/MatMul int8 → int8 [Add Relu QuantizeLinear]", "/2/MatMul int8 → int8 [Add Relu QuantizeLinear]",
			"/4/MatMul int8 → float"},
	}
	for _, qm := range qdqModels(t)[:4] {
		if err := qdqtest.Calibrate(qm.model, qdqtest.Randn(rng, append([]int{16}, qm.shape...)...)); err != nil {
			t.Fatal(err)
		}
		if err := qdqtest.SetExportMode(qm.model, true); err != nil {
			t.Fatal(err)
		}
		x := qdqtest.Randn(rng, append([]int{2}, qm.shape...)...)
		for _, w := range []export.WeightFormat{export.WeightsFloat, export.WeightsQuantized} {
			m := must(export.Model(qm.model, export.Options{InputShape: qm.shape, Opset: 13, Weights: w, Bias: export.BiasInt32}))
			g := must(graph.Import(m))
			s := must(graph.NewSession(g, graph.Options{Threads: 2}))
			var got []string
			for _, n := range s.Int8Nodes() {
				d := n.Node + " float: " + n.Reason
				if n.Int8 {
					d = n.Node + " int8 → " + n.Output
					if len(n.Fused) > 0 {
						d += fmt.Sprint(" ", n.Fused)
					}
				}
				got = append(got, d)
			}
			if !slices.Equal(got, want[qm.name]) {
				t.Errorf("%s weights %v: int8 nodes\n%q\nwant\n%q", qm.name, w, got, want[qm.name])
			}
			if _, err := s.Run(map[string]*graph.Tensor{g.Inputs[0].Name: graph.Float(x)}); err != nil {
				t.Errorf("%s weights %v: %v", qm.name, w, err)
			}
		}
	}
}

// TestInt8FashionMNIST quantizes the Fashion-MNIST CNN of `make models`
// (ptqtest, calibrated on 256 training images) and classifies the 10,000
// test images (pixels / 255) on the integer path and in ONNX Runtime with
// full optimisation (node by node where its integer kernels saturate:
// exttool.ORTIntegerOpt): the top-1 classes agree on at least 99.5 % of
// them.
func TestInt8FashionMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("classifies 10,000 images here and in ONNX Runtime")
	}
	dir := "/usr/share/datasets/fashion-mnist"
	if _, err := os.Stat(filepath.Join(dir, "t10k-images-idx3-ubyte.gz")); err != nil {
		exttool.Missing(t, "Fashion-MNIST not found in %s (Debian package dataset-fashion-mnist; make tools-testdata installs it)", dir)
		return
	}
	images := func(file string, n int) *graph.Tensor {
		a := must(idx.ReadFile(filepath.Join(dir, file)))
		v := a.Float64s()
		x := must(graph.New(onnx.Float, n, 1, 28, 28))
		for i := range x.F32 {
			x.F32[i] = float32(v[i] / 255)
		}
		return x
	}
	calib, test := images("train-images-idx3-ubyte.gz", 256), images("t10k-images-idx3-ubyte.gz", 10000)
	mo := must(models.Open(t).Model("fashion_cnn"))
	m := must(onnx.ReadFile(must(mo.Path(17))))
	qm := must(ptqtest.Quantize(m, map[string]*graph.Tensor{"input": calib}, false))
	file := filepath.Join(t.TempDir(), "fashion_cnn.qdq.onnx")
	if err := onnx.WriteFile(file, qm.Model); err != nil {
		t.Fatal(err)
	}
	got, s := runQDQ(t, file, map[string]*graph.Tensor{"input": test}, graph.Options{Threads: 2})
	checkInt8(t, s)
	opt := exttool.ORTIntegerOpt()
	want := exttool.RunORT(t, file, opt, map[string]exttool.Input{"input": {Dims: test.Shape, Type: "float32", F32: test.F32}})["output"]
	argmax := func(v []float32) int { return slices.Index(v, slices.Max(v)) }
	agree := 0
	for i := range 10000 {
		if argmax(got["output"].F32[i*10:(i+1)*10]) == argmax(want.F32[i*10:(i+1)*10]) {
			agree++
		}
	}
	t.Logf("top-1 agreement with ONNX Runtime (%s): %d of 10000", opt, agree)
	if agree < 9950 {
		t.Errorf("top-1 agreement with ONNX Runtime (%s): %d of 10000, want 99.5%% or more", opt, agree)
	}
}

// checkInt8 fails t for each quantized layer of s that runs in float but
// for the small convolutions the int8 pass leaves in float on purpose (a
// stem of 1 to 3 channels and 3×3 taps).
func checkInt8(t *testing.T, s *graph.Session) {
	t.Helper()
	for _, n := range s.Int8Nodes() {
		if !n.Int8 && !strings.Contains(n.Reason, "too few for the integer kernels (float is faster)") {
			t.Errorf("%s runs in float: %s", n.Node, n.Reason)
		}
	}
}
