package export

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
)

// floatModel is a float model to export with the sample shape it takes.
type floatModel struct {
	name  string
	model layers.Layer
	shape []int
}

// conv returns the convolution spec describes, with a bias unless noBias.
func conv(t testing.TB, spec layers.ConvSpec, rng *rand.Rand, noBias ...bool) layers.Layer {
	t.Helper()
	spec.Bias = len(noBias) == 0 || !noBias[0]
	return must(layers.NewConv(spec, rng))
}

func seq(t testing.TB, ls ...layers.Layer) *layers.Sequential {
	t.Helper()
	return layers.NewSequential(ls...)
}

// floatModels builds models that use every exportable float layer and
// every form of its export.
func floatModels(t testing.TB) []floatModel {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	linear := func(in, out int, bias bool) *layers.Linear { return must(layers.NewLinear(in, out, bias, rng)) }
	relu := layers.NewReLU
	drop := must(layers.NewDropout(0.5, 1))

	// 2-D: Conv, BatchNorm2d, MaxPool, grouped dilated Conv, padded
	// AvgPool, adaptive pooling by a divisible window, Flatten, Gemm.
	cnn2d := seq(t,
		conv(t, layers.ConvSpec{InChannels: 3, OutChannels: 8, KernelSize: []int{3, 3}, Padding: []int{1}}, rng),
		must(layers.NewBatchNorm2d(8)), relu(),
		must(layers.NewMaxPool2d(2, layers.PoolOptions{})),
		conv(t, layers.ConvSpec{InChannels: 8, OutChannels: 8, KernelSize: []int{3, 3}, Padding: []int{2}, Dilation: []int{2}, Groups: 2}, rng),
		relu(),
		must(layers.NewAvgPool2d(3, layers.PoolOptions{Stride: 1, Padding: 1})),
		must(layers.NewAdaptiveAvgPool2d(2, 2)),
		layers.NewFlatten(1, -1), linear(32, 16, true), drop, relu(), linear(16, 5, true))

	// 1-D: Conv1d with stride, BatchNorm1d on [N, C, L] and on [N, C],
	// dilated padded MaxPool1d, ConvTranspose1d with output padding,
	// AvgPool1d, AdaptiveAvgPool1d to 1 (GlobalAveragePool).
	cnn1d := seq(t,
		conv(t, layers.ConvSpec{InChannels: 2, OutChannels: 6, KernelSize: []int{5}, Stride: []int{2}, Padding: []int{2}}, rng),
		must(layers.NewBatchNorm1d(6)), relu(),
		must(layers.NewMaxPool1d(3, layers.PoolOptions{Stride: 2, Padding: 1, Dilation: 2})),
		conv(t, layers.ConvSpec{InChannels: 6, OutChannels: 4, KernelSize: []int{3}, Stride: []int{2}, Padding: []int{1}, OutputPadding: []int{1}, Transposed: true}, rng),
		must(layers.NewAvgPool1d(2, layers.PoolOptions{})),
		must(layers.NewAdaptiveAvgPool1d(1)),
		layers.NewFlatten(1, -1), linear(4, 8, true), must(layers.NewBatchNorm1d(8)), relu(), linear(8, 3, true))

	// 3-D: Conv3d, MaxPool3d, grouped dilated ConvTranspose3d without
	// bias, BatchNorm3d, adaptive pooling to 1×1×1.
	cnn3d := seq(t,
		conv(t, layers.ConvSpec{InChannels: 2, OutChannels: 4, KernelSize: []int{3, 2, 3}, Padding: []int{1, 0, 1}}, rng),
		relu(), must(layers.NewMaxPool3d(2, layers.PoolOptions{})),
		conv(t, layers.ConvSpec{InChannels: 4, OutChannels: 6, KernelSize: []int{2, 3, 2}, Stride: []int{2, 1, 2}, Dilation: []int{1, 2, 1}, Groups: 2, Transposed: true}, rng, true),
		must(layers.NewBatchNorm3d(6)),
		must(layers.NewAvgPool3d(2, layers.PoolOptions{Padding: 1})),
		must(layers.NewAdaptiveAvgPool3d(1, 1, 1)),
		layers.NewFlatten(1, -1), linear(6, 4, false))

	// Residual blocks (identity and projection shortcuts), a transposed
	// 2-D convolution, Flatten(2, 3) as Reshape, Linear on a 3-D input
	// (MatMul + Add), Linear without bias.
	block := func(c int) *layers.Residual {
		return layers.NewResidual(seq(t,
			conv(t, layers.ConvSpec{InChannels: c, OutChannels: c, KernelSize: []int{3, 3}, Padding: []int{1}}, rng, true),
			must(layers.NewBatchNorm2d(c)), relu(),
			conv(t, layers.ConvSpec{InChannels: c, OutChannels: c, KernelSize: []int{3, 3}, Padding: []int{1}}, rng)), nil)
	}
	down := layers.NewResidual(
		seq(t, conv(t, layers.ConvSpec{InChannels: 4, OutChannels: 6, KernelSize: []int{3, 3}, Stride: []int{2}, Padding: []int{1}}, rng),
			must(layers.NewBatchNorm2d(6))),
		conv(t, layers.ConvSpec{InChannels: 4, OutChannels: 6, KernelSize: []int{1, 1}, Stride: []int{2}}, rng))
	resnet := seq(t,
		conv(t, layers.ConvSpec{InChannels: 1, OutChannels: 4, KernelSize: []int{3, 3}, Padding: []int{1}}, rng),
		block(4), relu(), down, relu(),
		conv(t, layers.ConvSpec{InChannels: 6, OutChannels: 3, KernelSize: []int{3, 3}, Stride: []int{2}, Padding: []int{1}, OutputPadding: []int{1}, Transposed: true}, rng),
		layers.NewFlatten(2, 3), linear(256, 5, true), relu(), layers.NewFlatten(1, -1), linear(15, 4, false))

	// A named Sequential, as the seed's digits CNN.
	digits := must(layers.NewNamedSequential(
		layers.Named{Name: "features", Layer: seq(t,
			conv(t, layers.ConvSpec{InChannels: 1, OutChannels: 8, KernelSize: []int{3, 3}, Padding: []int{1}}, rng), relu(),
			must(layers.NewMaxPool2d(2, layers.PoolOptions{})))},
		layers.Named{Name: "classifier", Layer: seq(t, layers.NewFlatten(1, -1), linear(128, 10, true))}))

	for _, m := range []layers.Layer{cnn2d, cnn1d, cnn3d, resnet, digits} {
		randomizeBatchNorms(t, m, rng)
	}
	return []floatModel{
		{"cnn2d", cnn2d, []int{3, 12, 12}},
		{"cnn1d", cnn1d, []int{2, 33}},
		{"cnn3d", cnn3d, []int{2, 6, 5, 6}},
		{"resnet", resnet, []int{1, 16, 16}},
		{"digits", digits, []int{1, 8, 8}},
		{"linear", linear(7, 3, false), []int{7}},
		// MatMul with a constant weight (and Add), on [N, T, F] and [N, F].
		{"matmul", seq(t, must(layers.NewMatMul(7, 5, true, rng)), relu(), must(layers.NewMatMul(5, 3, false, rng))), []int{4, 7}},
		{"matmul2d", must(layers.NewMatMul(6, 2, true, rng)), []int{6}},
	}
}

// floatTol is the tolerance of the float comparison: the exported graph
// and our forward pass sum in different orders (and BatchNorm runs in
// float64 here, float32 in ONNX Runtime).
func floatTol(w float32) float64 { return 1e-5 + 1e-5*math.Abs(float64(w)) }

// TestFloatModelsORT exports float models at several opsets, with and
// without BatchNorm folding, and compares ONNX Runtime's outputs with the
// forward pass, with graph optimizations disabled and at "all".
func TestFloatModelsORT(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var cases []ortCase
	want := map[string][]float32{}
	models := map[string]*onnx.Model{}
	for _, fm := range floatModels(t) {
		x := randn(rng, append([]int{3}, fm.shape...)...)
		y := forward(t, fm.model, x)
		hasBN := false
		_ = layers.Walk(fm.model, func(_ string, l layers.Layer) error {
			bn, _ := batchNormOf(l)
			hasBN = hasBN || bn != nil
			return nil
		})
		for _, opset := range []int{10, 13, 17} {
			for _, fold := range []bool{false, true} {
				if fold && (!hasBN || opset != 13) {
					continue
				}
				name := fmt.Sprintf("%s_opset%d", fm.name, opset)
				if fold {
					name += "_fold"
				}
				m, err := Model(fm.model, Options{InputShape: fm.shape, Opset: opset, FoldBatchNorm: fold})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if got := m.Graph.Output[0]; len(got.Type.Tensor.Shape.Dim) != len(y.Shape) {
					t.Fatalf("%s: output rank %d, want %d", name, len(got.Type.Tensor.Shape.Dim), len(y.Shape))
				}
				for i, d := range m.Graph.Output[0].Type.Tensor.Shape.Dim[1:] {
					if int(d.Value) != y.Shape[i+1] {
						t.Errorf("%s: output shape %v, forward gives %v", name, m.Graph.Output[0].Type.Tensor.Shape.Dim, y.Shape)
					}
				}
				cases = append(cases, ortCase{name: name, model: m, x: x})
				want[name] = y.Data
				models[name] = m
			}
		}
	}
	files := mergeCases(t, cases)
	for _, r := range runORT(t, files) {
		got, y := r.out.F32, want[r.name]
		if len(got) != len(y) {
			t.Errorf("%s (%s): %d outputs, want %d", r.name, r.level, len(got), len(y))
			continue
		}
		s := compare(got, y, floatTol)
		t.Logf("%-22s opt=%-8s max |diff| %.3g (max |y| %.3g), %d/%d bit-exact", r.name, r.level, s.maxAbs, s.maxWant, s.exact, s.n)
		if s.bad > 0 {
			t.Errorf("%s (%s): %d of %d elements beyond tolerance; worst %d: %v, want %v", r.name, r.level, s.bad, s.n, s.worst, got[s.worst], y[s.worst])
		}
	}
	protoDecode(t, files)
	onnxCheck(t, models)
}
