package export

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/tensor"
)

// unknownLayer is a layer kind the exporter does not know: it does not
// implement layers.Exporter. (Embedding a layer would inherit its Export.)
type unknownLayer struct{}

func (*unknownLayer) Forward(x *tensor.Tensor) (*tensor.Tensor, error)   { return x, nil }
func (*unknownLayer) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) { return dy, nil }
func (*unknownLayer) Params() []layers.Param                             { return nil }
func (*unknownLayer) Kind() string                                       { return "Swish" }
func (*unknownLayer) String() string                                     { return "Swish()" }

// refusal is a configuration Model must refuse, with the exact error.
type refusal struct {
	name  string
	model layers.Layer
	opts  Options
	want  string
}

func checkRefusals(t *testing.T, cases []refusal) {
	t.Helper()
	for _, c := range cases {
		m, err := Model(c.model, c.opts)
		if err == nil {
			t.Errorf("%s: exported %d nodes, want error %q", c.name, len(m.Graph.Node), c.want)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, err, c.want)
		}
	}
}

// TestFloatRefusals: bad options and layers the exporter cannot express
// give errors that name the layer and say why.
func TestFloatRefusals(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	conv := func() layers.Layer { return must(layers.NewConv2d(3, 4, 3, layers.ConvOptions{}, rng)) }
	in := Options{InputShape: []int{3, 8, 8}}
	badWeight := must(layers.NewLinear(4, 2, true, rng))
	badWeight.Weight = randn(rng, 2, 5)
	badBN := must(layers.NewBatchNorm2d(4))
	badBN.Eps = 0
	checkRefusals(t, []refusal{
		{"nil model", nil, in, "export: layers: nil model"},
		{"no input shape", conv(), Options{}, "export: Options.InputShape is empty: give the shape of one sample without the batch dimension"},
		{"zero input dimension", conv(), Options{InputShape: []int{3, 0, 4}}, "export: Options.InputShape [3 0 4]: every dimension must be at least 1"},
		{"opset 9", conv(), Options{InputShape: in.InputShape, Opset: 9}, "export: opset 9 is not supported (want 10 to 22)"},
		{"opset 23", conv(), Options{InputShape: in.InputShape, Opset: 23}, "export: opset 23 is not supported (want 10 to 22)"},
		{"same names", conv(), Options{InputShape: in.InputShape, InputName: "x", OutputName: "x"}, `export: input and output are both named "x"`},
		{"weight format", conv(), Options{InputShape: in.InputShape, Weights: 7}, "export: unknown weight format WeightFormat(7)"},
		{"bias format", conv(), Options{InputShape: in.InputShape, Bias: 7}, "export: unknown bias format BiasFormat(7)"},
		{"channels", conv(), Options{InputShape: []int{2, 8, 8}},
			"export: Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1)): input shape [batch 2 8 8]: want 4 dimensions with 3 channels"},
		{"too small", conv(), Options{InputShape: []int{3, 2, 8}},
			"export: Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1)): input shape [batch 3 2 8]: spatial size [2 8] is too small for the kernel"},
		{"flatten batch", layers.NewSequential(conv(), layers.NewFlatten(0, 1)), in,
			"export: 1 Flatten(start_dim=0, end_dim=1): input shape [batch 4 6 6]: flattening from dimension 0 merges the batch dimension, which the export keeps symbolic"},
		{"flatten range", layers.NewSequential(conv(), layers.NewFlatten(1, 7)), in,
			"export: 1 Flatten(start_dim=1, end_dim=7): input shape [batch 4 6 6]: cannot flatten dimensions 1 to 7"},
		{"adaptive", layers.NewSequential(conv(), must(layers.NewAdaptiveAvgPool2d(4, 3))), in,
			"export: 1 AdaptiveAvgPool2d(output_size=(4, 3)): input shape [batch 4 6 6]: spatial size [6 6] is not a multiple of output_size [4 3]: ONNX has no adaptive pooling, and AveragePool's fixed window matches PyTorch's only then"},
		{"unknown layer", must(layers.NewNamedSequential(layers.Named{Name: "act", Layer: layers.NewSequential(&unknownLayer{})})), in,
			"export: act.0 Swish(): layer kind Swish is not exportable (see the package documentation of onnx/export for the list)"},
		{"linear weight", layers.NewSequential(layers.NewFlatten(1, -1), badWeight), Options{InputShape: []int{4}},
			"export: 1 Linear(in_features=4, out_features=2, bias=True): weight shape [2 5], want [2 4]"},
		{"batchnorm eps", layers.NewSequential(conv(), badBN), in,
			"export: 1 BatchNorm2d(4, eps=0, momentum=0.1, affine=True, track_running_stats=True): eps 0: want eps > 0"},
		{"residual shapes", layers.NewResidual(conv(), nil), in,
			"export: Residual(): input shape [batch 3 8 8]: body gives [batch 4 6 6], shortcut gives [batch 3 8 8]"},
	})
}

// TestQuantRefusals: every quantizer setting QuantizeLinear cannot express
// is refused with an error naming the quantizer by its hierarchical name.
func TestQuantRefusals(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	pt := layers.QuantDesc8BitPerTensor()
	static := func(d layers.QuantDescriptor, amax ...float32) *layers.TensorQuantizer {
		q := tq(d)
		if amax != nil {
			if err := q.SetAmax(must(tensor.FromSlice(amax))); err != nil {
				t.Fatal(err)
			}
		}
		return q
	}
	// convModel is QuantConv2d(3, 4, 3) with static amax (per-channel
	// weights), after the quantizer first (when not nil).
	convModel := func(w *layers.QuantDescriptor, wAmax *tensor.Tensor, first layers.Layer) layers.Layer {
		c := q(must(layers.NewConv2d(3, 4, 3, layers.ConvOptions{}, rng)), nil, w)
		in, wq := c.Quantizers()
		if err := in.SetAmax(tensor.Scalar(2)); err != nil {
			t.Fatal(err)
		}
		if wAmax == nil {
			wAmax = must(tensor.FromSlice([]float32{0.5, 0.6, 0.7, 0.8}, 4, 1, 1, 1))
		}
		if err := wq.SetAmax(wAmax); err != nil {
			t.Fatal(err)
		}
		if first == nil {
			return must(layers.NewNamedSequential(layers.Named{Name: "conv", Layer: c}))
		}
		return must(layers.NewNamedSequential(layers.Named{Name: "q", Layer: first}, layers.Named{Name: "conv", Layer: c}))
	}
	in := Options{InputShape: []int{3, 8, 8}}
	at := func(opset int) Options { return Options{InputShape: in.InputShape, Opset: opset} }
	nanQ := tq(pt)
	if err := nanQ.SetState("amax", tensor.Scalar(float32(math.NaN()))); err != nil {
		t.Fatal(err)
	}
	batchAmax := static(*desc(pt, func(d *layers.QuantDescriptor) { d.Axis = []int{0} }))
	if err := batchAmax.SetAmax(must(tensor.FromSlice([]float32{1, 2}, 2, 1, 1, 1))); err != nil {
		t.Fatal(err)
	}
	blockIn := q(must(layers.NewLinear(8, 2, true, rng)), desc(pt, func(d *layers.QuantDescriptor) { d.NumBits, d.BlockSize = 4, 4 }), nil)
	bi, bw := blockIn.Quantizers()
	if err := bi.SetAmax(must(tensor.FromSlice([]float32{1, 1}, 1, 2))); err != nil {
		t.Fatal(err)
	}
	if err := bw.SetAmax(must(tensor.FromSlice([]float32{1, 1}, 2, 1))); err != nil {
		t.Fatal(err)
	}
	overflow := q(must(layers.NewLinear(2, 2, true, rng)), nil, nil)
	oi, ow := overflow.Quantizers()
	if err := oi.SetAmax(tensor.Scalar(1e-4)); err != nil {
		t.Fatal(err)
	}
	if err := ow.SetAmax(must(tensor.FromSlice([]float32{1e-4, 1e-4}, 2, 1))); err != nil {
		t.Fatal(err)
	}
	copy(overflow.FloatLayer().(*layers.Linear).Bias.Data, []float32{0, 1})
	folded := q(must(layers.NewConv2d(3, 4, 3, layers.ConvOptions{}, rng)), nil, nil)
	fi, fw := folded.Quantizers()
	if err := fi.SetAmax(tensor.Scalar(1)); err != nil {
		t.Fatal(err)
	}
	if err := fw.SetAmax(must(tensor.FromSlice([]float32{1, 1, 1, 1}, 4, 1, 1, 1))); err != nil {
		t.Fatal(err)
	}
	checkRefusals(t, []refusal{
		{"narrow range", convModel(nil, nil, static(*desc(pt, func(d *layers.QuantDescriptor) { d.NarrowRange = true }), 1)), in,
			"export: quantizer q: narrow range: QuantizeLinear saturates to the full range [-128, 127] (the original toolkit refuses it too)"},
		{"real quantization", convModel(nil, nil, static(*desc(pt, func(d *layers.QuantDescriptor) { d.FakeQuant = false }), 1)), in,
			"export: quantizer q: real quantization (fake_quant false) outputs integer codes, not a Q/DQ pair: export needs a fake quantizer"},
		{"6 bits", convModel(nil, nil, static(*desc(pt, func(d *layers.QuantDescriptor) { d.NumBits = 6 }), 1)), in,
			"export: quantizer q: num_bits 6: QuantizeLinear has no 6-bit type (8 bits from opset 10, 4 and 16 from opset 21)"},
		{"4 bits at 13", convModel(nil, nil, static(*desc(pt, func(d *layers.QuantDescriptor) { d.NumBits = 4 }), 1)), at(13),
			"export: quantizer q: 4-bit integers: needs opset 21 or later, exporting at opset 13"},
		{"dynamic", convModel(nil, nil, tq(pt)), in,
			"export: quantizer q: dynamic amax (computed from each input): export needs a static amax; calibrate the quantizer or set one"},
		{"NaN amax", convModel(nil, nil, nanQ), in, "export: quantizer q: amax NaN at flat index 0: want finite and >= 0"},
		{"batch axis", convModel(nil, nil, batchAmax), in,
			"export: quantizer q: amax shape [2 1 1 1] varies along the batch dimension of the input [batch 3 8 8], which the export keeps symbolic"},
		{"two axes", convModel(desc(pt, func(d *layers.QuantDescriptor) { d.Axis = []int{0, 1} }), must(tensor.FromSlice(make([]float32, 12), 4, 3, 1, 1)), nil), in,
			"export: quantizer conv.weight_quantizer: amax shape [4 3 1 1] varies along more than one axis of the input [4 3 3 3]: QuantizeLinear takes one axis"},
		{"per channel at 10", convModel(nil, nil, nil), at(10),
			"export: quantizer conv.weight_quantizer: a per-channel amax: needs opset 13 or later, exporting at opset 10"},
		{"FP8 at 13", convModel(desc(pt, func(d *layers.QuantDescriptor) { d.Format = "e4m3" }), tensor.Scalar(1), nil), at(13),
			"export: quantizer conv.weight_quantizer: FP8 (e4m3): needs opset 19 or later, exporting at opset 13"},
		{"blocks at 13", convModel(desc(pt, func(d *layers.QuantDescriptor) { d.NumBits, d.BlockSize = 8, 16 }), must(tensor.FromSlice(make([]float32, 8), 4, 2)), nil), at(13),
			"export: quantizer conv.weight_quantizer: block_size 16: needs opset 21 or later, exporting at opset 13"},
		{"blocks on an activation", blockIn, Options{InputShape: []int{8}, Opset: 21},
			"export: quantizer input_quantizer: block_size 4 on an activation: its block amax would fix the batch size; only weights are exported with blocks"},
		{"INT32 bias overflow", overflow, Options{InputShape: []int{2}, Bias: BiasInt32},
			"export: QuantLinear(in_features=2, out_features=2, bias=True): bias[1] = 1 divided by its INT32 scale 6.2000123e-13 (input scale × weight scale) is 1.613e+12, beyond INT32; export the bias as float"},
		{"fold quantized weights", must(layers.NewNamedSequential(layers.Named{Name: "conv", Layer: folded}, layers.Named{Name: "bn", Layer: must(layers.NewBatchNorm2d(4))})),
			Options{InputShape: in.InputShape, FoldBatchNorm: true},
			"export: conv QuantConv2d(3, 4, kernel_size=(3, 3), stride=(1, 1)): FoldBatchNorm: cannot fold bn into weights quantized by conv.weight_quantizer, whose amax was calibrated on the unfolded weight (fold before calibrating, or export without folding)"},
	})
}
