package export

import (
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/layers"
)

// unknownLayer is a layer kind the exporter does not know.
type unknownLayer struct{ layers.ReLU }

func (*unknownLayer) Kind() string   { return "Swish" }
func (*unknownLayer) String() string { return "Swish()" }

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
