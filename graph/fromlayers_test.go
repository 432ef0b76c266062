package graph_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/internal/testkit/qdqtest"
	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/tensor"
)

// TestFromLayersRuns converts a Sequential of Flatten, Linear, ReLU, a
// Residual block and a MatMul layer into a graph, runs it in a Session
// at two batch sizes, and compares with the layers' own forward.
func TestFromLayersRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	model := layers.NewSequential(
		layers.NewFlatten(1, -1),
		must(layers.NewLinear(12, 8, true, rng)),
		layers.NewReLU(),
		layers.NewResidual(layers.NewSequential(must(layers.NewLinear(8, 8, true, rng)), layers.NewReLU()), nil),
		must(layers.NewLinear(8, 5, false, rng)),
	)
	g, err := graph.FromLayers(model, graph.LayersOptions{InputShape: []int{3, 4}})
	if err != nil {
		t.Fatal(err)
	}
	if got := graph.ShapeString(g.Inputs[0].Shape); got != "[batch 3 4]" {
		t.Errorf("input shape %s", got)
	}
	if n := len(g.ValueInfo); n != len(g.Nodes)-1 {
		t.Errorf("%d value infos for %d nodes", n, len(g.Nodes))
	}
	s, err := graph.NewSession(g, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, batch := range []int{1, 6} {
		x := tensor.New(batch, 3, 4)
		for i := range x.Data {
			x.Data[i] = float32(rng.NormFloat64())
		}
		want, err := model.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Run(map[string]*graph.Tensor{"input": graph.Float(x)})
		if err != nil {
			t.Fatal(err)
		}
		y := out["output"]
		if y.String() != "FLOAT["+strconv.Itoa(batch)+" 5]" {
			t.Fatalf("output %v", y)
		}
		for i, w := range want.Data {
			if d := math.Abs(float64(y.F32[i] - w)); d > 1e-5*(1+math.Abs(float64(w))) {
				t.Fatalf("batch %d: y[%d] = %v, the layers give %v", batch, i, y.F32[i], w)
			}
		}
	}
}

// swish is a layer that exports as an op type no one registers.
type swish struct{ layers.ReLU }

func (*swish) Export(b layers.Builder, x layers.Value) (layers.Value, error) {
	return b.Node("NoSuchSwish", []layers.Value{x}, x.Shape), nil
}

// TestFromLayersNeedsOps: the conversion does not need the ops (the
// export writes the graph as it is), the session does, and says which
// are missing, all at once.
func TestFromLayersNeedsOps(t *testing.T) {
	model := layers.NewSequential(layers.NewReLU(), &swish{}, layers.NewReLU(), &swish{})
	g, err := graph.FromLayers(model, graph.LayersOptions{InputShape: []int{4}})
	if err != nil {
		t.Fatal(err)
	}
	var ue *graph.UnsupportedError
	if _, err = graph.NewSession(g, graph.Options{}); !errors.As(err, &ue) || len(ue.Ops) != 1 || ue.Ops["NoSuchSwish"] != "/1/NoSuchSwish" {
		t.Errorf("NewSession: %v", err)
	}
}

// TestFromLayersErrors: bad options name the field, layers and
// quantizers are named by their hierarchical names.
func TestFromLayersErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	conv := must(layers.NewConv2d(3, 4, 3, layers.ConvOptions{}, rng))
	for _, tc := range []struct {
		model layers.Layer
		o     graph.LayersOptions
		want  string
	}{
		{conv, graph.LayersOptions{}, "graph: LayersOptions.InputShape is empty: give the shape of one sample without the batch dimension"},
		{conv, graph.LayersOptions{InputShape: []int{3, -1, 2}}, "graph: LayersOptions.InputShape [3 -1 2]: every dimension must be at least 1"},
		{conv, graph.LayersOptions{InputShape: []int{3, 8, 8}, Opset: 99}, "graph: opset 99 is not supported (want 10 to 22)"},
		{layers.NewSequential(conv), graph.LayersOptions{InputShape: []int{2, 8, 8}},
			"graph: 0 Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1)): input shape [batch 2 8 8]: want 4 dimensions with 3 channels"},
	} {
		_, err := graph.FromLayers(tc.model, tc.o)
		var ce *graph.ConversionError
		if !errors.As(err, &ce) || err.Error() != tc.want {
			t.Errorf("%v: %v, want %q", tc.o, err, tc.want)
		}
	}
}

// TestFromLayersQDQModels runs the quantized models of
// TestExportedQDQModels converted directly (no ONNX file between): every
// output bit equals the layers model's export-mode forward on the float
// path, with both weight styles.
func TestFromLayersQDQModels(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, qm := range qdqModels(t) {
		if err := qdqtest.Calibrate(qm.model, qdqtest.Randn(rng, append([]int{16}, qm.shape...)...)); err != nil {
			t.Fatal(err)
		}
		if err := qdqtest.SetExportMode(qm.model, true); err != nil {
			t.Fatal(err)
		}
		x := qdqtest.Randn(rng, append([]int{3}, qm.shape...)...)
		want := must(qm.model.Forward(x))
		for _, weights := range []graph.WeightFormat{graph.WeightsFloat, graph.WeightsQuantized} {
			g, err := graph.FromLayers(qm.model, graph.LayersOptions{InputShape: qm.shape, Weights: weights})
			if err != nil {
				t.Fatalf("%s: %v", qm.name, err)
			}
			s, err := graph.NewSession(g, graph.Options{Threads: 2, Float: true})
			if err != nil {
				t.Fatalf("%s: %v", qm.name, err)
			}
			out, err := s.Run(map[string]*graph.Tensor{"input": graph.Float(x)})
			if err != nil {
				t.Fatalf("%s: %v", qm.name, err)
			}
			if bad := sameBits(out["output"], want); bad != 0 {
				t.Errorf("%s weights %v: %d of %d outputs differ from the export-mode forward", qm.name, weights, bad, len(want.Data))
			}
		}
	}
}
