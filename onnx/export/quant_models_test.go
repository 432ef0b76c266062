package export

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
)

// q quantizes the float layer l with the given descriptors (nil: the
// defaults of its quantized type).
func q(l layers.Layer, in, w *layers.QuantDescriptor) layers.QuantLayer {
	return must(layers.Quantize(l, layers.QuantDescs{Input: in, Weight: w}))
}

// tq returns a standalone quantizer.
func tq(d layers.QuantDescriptor) *layers.TensorQuantizer {
	return must(layers.NewTensorQuantizer(d))
}

// desc returns a copy of d changed by f.
func desc(d layers.QuantDescriptor, f func(*layers.QuantDescriptor)) *layers.QuantDescriptor {
	d = d.Clone()
	f(&d)
	return &d
}

// quantModel is a quantized model to export, calibrated on random data.
type quantModel struct {
	name   string
	model  layers.Layer
	shape  []int
	opsets []int
	// bias lists the bias formats to export with (nil: float only).
	bias []BiasFormat
	// calibrated, when not nil, runs after calibration.
	calibrated func()
	// fold says whether the model's BatchNorms may be folded: only into
	// convolutions whose weights are not quantized.
	fold bool
}

// quantModels builds models with every quantized layer and every form of
// quantizer the exporter supports: per tensor and per channel (weights
// and activations), unsigned, learned clipping (Clip, with and without
// quantization), scale_amax,
// standalone quantizers (one on a residual shortcut), BatchNorm folded
// into a convolution whose weights are not quantized.
func quantModels(t testing.TB, perTensor bool) []quantModel {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	var wd *layers.QuantDescriptor // per-channel defaults
	pt := layers.QuantDesc8BitPerTensor()
	if perTensor {
		wd = &pt
	}
	relu := layers.NewReLU
	cv := func(spec layers.ConvSpec, in *layers.QuantDescriptor) layers.QuantLayer {
		spec.Bias = true
		return q(must(layers.NewConv(spec, rng)), in, wd)
	}
	lin := func(in, out int, bias bool, inD *layers.QuantDescriptor) layers.QuantLayer {
		return q(must(layers.NewLinear(in, out, bias, rng)), inD, wd)
	}
	perChannelIn := desc(pt, func(d *layers.QuantDescriptor) { d.Axis = []int{1} })
	if perTensor {
		perChannelIn = nil
	}
	learn := tq(*desc(pt, func(d *layers.QuantDescriptor) { d.LearnAmax = true }))
	scaled := desc(pt, func(d *layers.QuantDescriptor) { d.ScaleAmax = 0.75 })
	unfolded := cv(layers.ConvSpec{InChannels: 8, OutChannels: 8, KernelSize: []int{3, 3}, Padding: []int{1}}, nil)
	_, uw := unfolded.Quantizers()
	uw.Disable() // a quantized layer whose weight stays float: BatchNorm folds into it

	cnn2d := seq(t,
		tq(pt),
		cv(layers.ConvSpec{InChannels: 3, OutChannels: 8, KernelSize: []int{3, 3}, Padding: []int{1}}, perChannelIn), relu(),
		q(must(layers.NewMaxPool2d(2, layers.PoolOptions{})), nil, nil),
		layers.NewResidual(seq(t, unfolded, must(layers.NewBatchNorm2d(8)), relu(),
			cv(layers.ConvSpec{InChannels: 8, OutChannels: 8, KernelSize: []int{3, 3}, Padding: []int{2}, Dilation: []int{2}, Groups: 2}, nil)),
			tq(pt)),
		relu(),
		cv(layers.ConvSpec{InChannels: 8, OutChannels: 6, KernelSize: []int{3, 3}, Stride: []int{2}, Padding: []int{1}, OutputPadding: []int{1}, Transposed: true}, nil),
		q(must(layers.NewAvgPool2d(3, layers.PoolOptions{Stride: 2, Padding: 1})), nil, nil),
		relu(), tq(layers.QuantDescUnsigned8BitPerTensor()),
		q(must(layers.NewAdaptiveAvgPool2d(2, 2)), nil, nil),
		layers.NewFlatten(1, -1), lin(24, 16, true, nil), relu(), learn, lin(16, 5, true, scaled))

	clipper := tq(*desc(pt, func(d *layers.QuantDescriptor) { d.LearnAmax = true }))
	cnn1d := seq(t,
		cv(layers.ConvSpec{InChannels: 2, OutChannels: 6, KernelSize: []int{5}, Stride: []int{2}, Padding: []int{2}}, nil),
		must(layers.NewBatchNorm1d(6)), relu(), clipper,
		q(must(layers.NewMaxPool1d(3, layers.PoolOptions{Stride: 2, Padding: 1, Dilation: 2})), nil, nil),
		cv(layers.ConvSpec{InChannels: 6, OutChannels: 4, KernelSize: []int{3}, Stride: []int{2}, Padding: []int{1}, OutputPadding: []int{1}, Transposed: true}, nil),
		q(must(layers.NewAvgPool1d(2, layers.PoolOptions{})), nil, nil),
		q(must(layers.NewAdaptiveAvgPool1d(1)), nil, nil),
		layers.NewFlatten(1, -1), lin(4, 3, true, nil))

	cnn3d := seq(t,
		cv(layers.ConvSpec{InChannels: 2, OutChannels: 4, KernelSize: []int{3, 2, 3}, Padding: []int{1, 0, 1}}, nil), relu(),
		q(must(layers.NewMaxPool3d(2, layers.PoolOptions{})), nil, nil),
		cv(layers.ConvSpec{InChannels: 4, OutChannels: 6, KernelSize: []int{2, 3, 2}, Stride: []int{2, 1, 2}, Groups: 2, Transposed: true}, nil),
		q(must(layers.NewAvgPool3d(2, layers.PoolOptions{Padding: 1})), nil, nil),
		q(must(layers.NewAdaptiveAvgPool3d(1, 1, 1)), nil, nil),
		layers.NewFlatten(1, -1), lin(6, 4, false, nil))

	// Linear on [N, T, F] (Transpose + MatMul + Add), and without bias.
	seq3 := seq(t, lin(7, 5, true, nil), relu(), lin(5, 3, false, nil))
	// MatMul with a constant weight, quantized per output channel (axis 1
	// of the weight) or per tensor.
	mm := func(in, out int, bias bool) layers.QuantLayer {
		var w *layers.QuantDescriptor
		if perTensor {
			w = &pt
		}
		return q(must(layers.NewMatMul(in, out, bias, rng)), nil, w)
	}
	matmul := seq(t, mm(7, 5, true), relu(), mm(5, 4, false), relu(), mm(4, 3, true))

	for _, m := range []layers.Layer{cnn2d, cnn1d, cnn3d} {
		randomizeBatchNorms(t, m, rng)
	}
	opsets := []int{13, 17}
	if perTensor {
		opsets = []int{10, 13}
	}
	both := []BiasFormat{BiasFloat, BiasInt32}
	// Asymmetric learned clipping: [-0.5·amax, amax].
	asymmetric := func() {
		for _, p := range learn.Params() {
			if p.Name == "clip.clip_value_min" {
				p.Value.Data[0] *= 0.5
			}
		}
	}
	return []quantModel{
		{"cnn2d", cnn2d, []int{3, 12, 12}, opsets, both, asymmetric, true},
		// A learn_amax quantizer with its quant stage off only clips.
		{"cnn1d", cnn1d, []int{2, 33}, opsets, both, func() {
			clipper.DisableQuant()
			for _, p := range clipper.Params() {
				p.Value.Data[0] *= 0.5
			}
		}, false},
		{"cnn3d", cnn3d, []int{2, 6, 5, 6}, opsets, nil, nil, false},
		{"seq3", seq3, []int{4, 7}, opsets, both, nil, false},
		{"matmul", matmul, []int{4, 7}, opsets, both, nil, false},
	}
}

// checkQuantORT exports the calibrated models (in export mode) with the
// given options and compares ONNX Runtime with our forward: every element
// within one output step (max|y|/127).
func checkQuantORT(t *testing.T, models []quantModel, variants []Options) {
	t.Helper()
	rng := rand.New(rand.NewPCG(5, 6))
	var cases []ortCase
	// want is our export-equivalent forward with the biases the export
	// holds (INT32 ones rounded to their scale), floatBias the one with
	// the float biases.
	want, floatBias := map[string][]float32{}, map[string][]float32{}
	all := map[string]*onnx.Model{}
	for _, qm := range models {
		calibrate(t, qm.model, randn(rng, append([]int{16}, qm.shape...)...))
		if qm.calibrated != nil {
			qm.calibrated()
		}
		setExportMode(t, qm.model, true)
		x := randn(rng, append([]int{4}, qm.shape...)...)
		y := forward(t, qm.model, x)
		for _, opset := range qm.opsets {
			for _, v := range variants {
				if v.FoldBatchNorm && !qm.fold {
					continue
				}
				biases := qm.bias
				if biases == nil {
					biases = []BiasFormat{BiasFloat}
				}
				for _, bias := range biases {
					o := v
					o.InputShape, o.Opset, o.Bias = qm.shape, opset, bias
					name := fmt.Sprintf("%s_opset%d_%s_%s", qm.name, opset, o.Weights, bias)
					if o.FoldBatchNorm {
						name += "_fold"
					}
					m, err := Model(qm.model, o)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					cases = append(cases, ortCase{name, m, x, ortLevels(m)})
					want[name], floatBias[name] = y.Data, y.Data
					if bias == BiasInt32 {
						want[name] = forwardWithBiases(t, qm.model, exportedBiases(t, m), x).Data
					}
					all[name] = m
				}
			}
		}
	}
	files := mergeCases(t, cases)
	for _, r := range runORT(t, files) {
		y := want[r.name]
		step := stepOf(y)
		tol := func(float32) float64 { return step }
		s := compare(r.out.F32, y, tol)
		sf := compare(r.out.F32, floatBias[r.name], tol)
		t.Logf("%-34s opt=%-8s max |diff| %.3g = %.3f output steps, %d/%d bit-exact; with float biases %.3f steps",
			r.name, r.level, s.maxAbs, s.maxAbs/step, s.exact, s.n, sf.maxAbs/step)
		if len(r.out.F32) != len(y) || s.bad > 0 {
			t.Errorf("%s (opt=%s): %d of %d elements beyond one output step %g (%d outputs)", r.name, r.level, s.bad, s.n, step, len(r.out.F32))
		}
	}
	protoDecode(t, files)
	onnxCheck(t, all)
}

// TestQuantModelsORT: every quantized layer, per channel at opsets 13 and
// 17 and per tensor at opsets 10 and 13, both weight styles, both bias
// styles, with and without BatchNorm folding, in ONNX Runtime against our
// export-equivalent forward.
func TestQuantModelsORT(t *testing.T) {
	models := quantModels(t, false)
	for _, m := range quantModels(t, true) {
		m.name += "_pertensor"
		models = append(models, m)
	}
	checkQuantORT(t, models, []Options{{}, {Weights: WeightsQuantized}, {FoldBatchNorm: true}})
}

// lowpModels builds models with FP8 (E4M3FN, E5M2, and the original's
// scaled E4M3, which exports as E4M3FN) and 4- and 16-bit integer
// quantizers, block-quantized weights included.
func lowpModels(t testing.TB) []quantModel {
	t.Helper()
	rng := rand.New(rand.NewPCG(8, 9))
	pt := layers.QuantDesc8BitPerTensor()
	e4m3 := desc(pt, func(d *layers.QuantDescriptor) { d.Format = "e4m3" })
	e4m3pc := desc(layers.QuantDesc8BitConv2dWeightPerChannel(), func(d *layers.QuantDescriptor) { d.Format = "e4m3" })
	e5m2 := desc(pt, func(d *layers.QuantDescriptor) { d.Format = "e5m2" })
	scaled := desc(pt, func(d *layers.QuantDescriptor) { d.Format = "scaled_e4m3" }) // the original's num_bits=(4, 3)
	int4 := desc(layers.QuantDesc8BitConv2dWeightPerChannel(), func(d *layers.QuantDescriptor) { d.NumBits = 4 })
	block := func(n int) *layers.QuantDescriptor {
		return desc(pt, func(d *layers.QuantDescriptor) { d.NumBits, d.BlockSize = 4, n })
	}
	uint4 := desc(layers.QuantDescUnsigned8BitPerTensor(), func(d *layers.QuantDescriptor) { d.NumBits = 4 })
	int16 := desc(pt, func(d *layers.QuantDescriptor) { d.NumBits = 16 })
	conv := func(in, out, k int) layers.Layer {
		return must(layers.NewConv2d(in, out, k, layers.ConvOptions{Padding: 1}, rng))
	}
	linear := func(in, out int) layers.Layer { return must(layers.NewLinear(in, out, true, rng)) }
	fp8 := seq(t,
		q(conv(2, 6, 3), e4m3, e4m3pc), layers.NewReLU(),
		layers.NewFlatten(1, -1), q(linear(6*36, 8), e5m2, e5m2), layers.NewReLU(), q(linear(8, 4), scaled, scaled))
	int4m := seq(t,
		q(conv(2, 6, 3), &pt, int4), layers.NewReLU(),
		q(conv(6, 4, 3), uint4, block(16)), layers.NewReLU(), // blocks over each 6·3·3 filter: 16, 16, 16, 6
		layers.NewFlatten(1, -1), q(linear(4*36, 10), int16, block(32)), layers.NewReLU(),
		q(linear(10, 3), &pt, block(4)))
	return []quantModel{
		{"fp8", fp8, []int{2, 6, 6}, []int{19}, nil, nil, false},
		{"int4", int4m, []int{2, 6, 6}, []int{21}, nil, nil, false},
	}
}

// TestLowPrecisionORT: FP8 at opset 19 and INT4/UINT4/INT16 with
// blocks at opset 21, both weight styles, in ONNX Runtime against our
// export-equivalent forward.
func TestLowPrecisionORT(t *testing.T) {
	checkQuantORT(t, lowpModels(t), []Options{{}, {Weights: WeightsQuantized}})
}
