package graph_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/internal/testkit/models"
	"github.com/tensorquant/tensorquant/internal/testkit/qdqtest"
	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// trainCNN returns a quantized CNN of the layers package (int8 inputs
// per tensor, weights per channel) calibrated with max on x and in
// export mode: Conv-ReLU-MaxPool, a residual Conv block, Conv-ReLU,
// global average pooling, Flatten, Linear.
func trainCNN(t *testing.T, seed uint64, x *tensor.Tensor) layers.Layer {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	conv := func(in, out int) layers.Layer {
		c := must(layers.NewConv2d(in, out, 3, layers.ConvOptions{Padding: 1}, rng))
		return must(layers.Quantize(c, layers.QuantDescs{}))
	}
	lin := must(layers.Quantize(must(layers.NewLinear(8, 3, true, rng)), layers.QuantDescs{}))
	model := layers.NewSequential(
		conv(1, 4), layers.NewReLU(), must(layers.NewMaxPool2d(2, layers.PoolOptions{})),
		layers.NewResidual(layers.NewSequential(conv(4, 4), layers.NewReLU()), nil),
		conv(4, 8), layers.NewReLU(),
		must(layers.NewAdaptiveAvgPool2d(1, 1)), layers.NewFlatten(1, -1), lin,
	)
	if err := qdqtest.Calibrate(model, x); err != nil {
		t.Fatal(err)
	}
	if err := qdqtest.SetExportMode(model, true); err != nil {
		t.Fatal(err)
	}
	return model
}

// TestTrainerMatchesLayersFit ties the graph's training to the layers
// package's: a quantized CNN converted by FromLayers (its quantizers as
// QuantizeLinear/DequantizeLinear pairs, the weights' pairs included)
// and fine-tuned by a Trainer (one thread) ends with the same parameters,
// bit for bit, as the layers model fine-tuned by layers.Fit on the same
// data, seed, optimizer and schedule: the same forward, the same
// backward of every op (Conv, Relu, MaxPool, Add, GlobalAveragePool,
// Flatten, Gemm) and the original's straight-through gradient through
// every pair. With the weights stored as codes (WeightsQuantized), the
// Trainer trains their dequantized values, which a QuantizeLinear
// quantizes again on every pass: the layers model starting from those
// values trains the same numbers.
func TestTrainerMatchesLayersFit(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	x := qdqtest.Randn(rng, 48, 1, 8, 8)
	labels := make([]int, 48)
	for i := range labels {
		labels[i] = rng.IntN(3)
	}
	for _, weights := range []graph.WeightFormat{graph.WeightsFloat, graph.WeightsQuantized} {
		model := trainCNN(t, 9, x)
		g, err := graph.FromLayers(model, graph.LayersOptions{InputShape: []int{1, 8, 8}, Weights: weights})
		if err != nil {
			t.Fatal(err)
		}
		tr, err := graph.NewTrainer(g, graph.TrainOptions{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		cfg := func(params []layers.Param) layers.FitConfig {
			opt := must(layers.NewAdam(params, layers.DefaultAdam(0.01)))
			return layers.FitConfig{Epochs: 3, BatchSize: 16, Optimizer: opt, Schedule: layers.NewCosineAnnealing(0.01, 3), Seed: 77}
		}
		lp := must(layers.NamedParams(model))
		byName := map[string]*tensor.Tensor{}
		for _, p := range lp {
			byName[p.Name] = p.Value
		}
		name := func(p layers.Param) string { return strings.TrimSuffix(p.Name, "_quantized") }
		if weights == graph.WeightsQuantized {
			for _, p := range tr.Params() {
				if w := byName[name(p)]; w != nil && name(p) != p.Name {
					copy(w.Data, p.Value.Data)
				}
			}
		}
		wantLoss := must(layers.Fit(model, x, labels, cfg(lp)))
		target := &graph.Tensor{DType: onnx.Int64, Shape: []int{48}, I64: make([]int64, 48)}
		for i, l := range labels {
			target.I64[i] = int64(l)
		}
		gotLoss := must(tr.Fit(map[string]*graph.Tensor{"input": graph.Float(x)}, target, cfg(tr.Params())))
		if !slices.Equal(gotLoss, wantLoss) {
			t.Errorf("weights %v: epoch losses %v, layers.Fit %v", weights, gotLoss, wantLoss)
		}
		var names []string
		for _, p := range tr.Params() {
			names = append(names, p.Name)
			w := byName[name(p)]
			if w == nil {
				t.Errorf("weights %v: parameter %q is not one of the layers model's", weights, p.Name)
				continue
			}
			bad := 0
			for i, v := range p.Value.Data {
				if math.Float32bits(v) != math.Float32bits(w.Data[i]) {
					bad++
				}
			}
			if bad > 0 {
				t.Errorf("weights %v: %s: %d of %d values differ from layers.Fit's", weights, p.Name, bad, len(w.Data))
			}
		}
		if len(names) != len(lp) {
			t.Errorf("weights %v: trained %v, the layers model has %d parameters", weights, names, len(lp))
		}
	}
}

// TestTrainerReferenceModels differentiates every reference model of
// `make models` (torchvision's resnet18, mobilenet_v2,
// mobilenet_v3_small, efficientnet_b0, two transformer encoders, the
// Fashion-MNIST CNN with and without BatchNormalization nodes; opsets 13
// and 17) end to end: the gradient of the mean squared error towards
// targets near the output, along the gradient itself, agrees with the
// central difference of the loss (float32 forward passes) within 1%
// (they agree within 0.5% and mostly 1e-4).
// Every op these models use has a backward, and they chain.
func TestTrainerReferenceModels(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every reference model forward and backward")
	}
	eachReferenceModel(t, func(t *testing.T, mo *models.Model, opset int, path string) {
		g, err := graph.ImportFileRaw(path)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := graph.NewTrainer(g, graph.TrainOptions{})
		if err != nil {
			t.Fatal(err)
		}
		in, err := mo.ReadInputs(1)
		if err != nil {
			t.Fatal(err)
		}
		want, err := mo.ReadOutputs(1, models.ORT(opset, true))
		if err != nil {
			t.Fatal(err)
		}
		feeds := map[string]*graph.Tensor{}
		for name, x := range in {
			feeds[name] = graph.Float(x)
		}
		y := want[g.Outputs[0].Name]
		target := &graph.Tensor{DType: onnx.Float, Shape: y.Shape, F32: make([]float32, len(y.Data))}
		rng := rand.New(rand.NewPCG(1, 2))
		for i, v := range y.Data {
			target.F32[i] = v + float32(rng.NormFloat64())*(0.1+0.1*float32(math.Abs(float64(v))))
		}
		loss, err := tr.Grad(feeds, target)
		if err != nil {
			t.Fatal(err)
		}
		params := tr.Params()
		grads := make([][]float32, len(params))
		var g2 float64
		for i, p := range params {
			grads[i] = slices.Clone(p.Grad.Data)
			for _, v := range grads[i] {
				g2 += float64(v) * float64(v)
			}
		}
		h := 1e-3 * loss / g2
		at := func(s float64) float64 {
			for i, p := range params {
				for j, d := range grads[i] {
					p.Value.Data[j] += float32(s * float64(d))
				}
			}
			l, err := tr.Grad(feeds, target)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range params {
				for j, d := range grads[i] {
					p.Value.Data[j] -= float32(s * float64(d))
				}
			}
			return l
		}
		num := (at(h) - at(-h)) / (2 * h)
		if math.Abs(num-g2) > 0.01*g2 || len(params) < 3 {
			t.Errorf("%d parameters: |grad|² %.6g, central difference of the loss (%.6g) %.6g", len(params), g2, loss, num)
		}
	})
}

// TestTrainerErrors: a prepared graph, a parameter or output that does not
// exist, a step beyond the memory bound, missing or unknown inputs and a
// target that does not fit are errors that say so.
func TestTrainerErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := qdqtest.Randn(rng, 8, 1, 8, 8)
	model := trainCNN(t, 3, x)
	conv := func() *graph.Graph {
		return must(graph.FromLayers(model, graph.LayersOptions{InputShape: []int{1, 8, 8}}))
	}
	prepared := conv()
	if err := prepared.Infer(); err != nil {
		t.Fatal(err)
	}
	labels := &graph.Tensor{DType: onnx.Int64, Shape: []int{8}, I64: make([]int64, 8)}
	feeds := map[string]*graph.Tensor{"input": graph.Float(x)}
	for _, tc := range []struct {
		g    *graph.Graph
		o    graph.TrainOptions
		grad func(*graph.Trainer) error
		want string
	}{
		{prepared, graph.TrainOptions{}, nil, "graph: train: the graph has been prepared (Infer)"},
		{conv(), graph.TrainOptions{Params: []string{"nope"}}, nil, `graph: "nope" is not a float initializer a node reads`},
		{conv(), graph.TrainOptions{Output: "nope"}, nil, `graph: train: "nope" is not an output of the graph`},
		{conv(), graph.TrainOptions{MaxMemory: 20000}, func(tr *graph.Trainer) error {
			_, err := tr.Grad(feeds, labels)
			if !errors.Is(err, graph.ErrMemoryLimit) {
				return fmt.Errorf("not ErrMemoryLimit: %w", err)
			}
			return err
		}, "memory limit exceeded"},
		{conv(), graph.TrainOptions{}, func(tr *graph.Trainer) error {
			_, err := tr.Grad(map[string]*graph.Tensor{}, labels)
			return err
		}, `graph: train: input "input" is missing`},
		{conv(), graph.TrainOptions{}, func(tr *graph.Trainer) error {
			_, err := tr.Grad(map[string]*graph.Tensor{"input": graph.Float(x), "0.weight": graph.Float(x)}, labels)
			return err
		}, `graph: train: "0.weight" is not an input of the graph`},
		{conv(), graph.TrainOptions{}, func(tr *graph.Trainer) error {
			_, err := tr.Grad(feeds, &graph.Tensor{DType: onnx.Int64, Shape: []int{8}, I64: []int64{0, 1, 2, 3, 4, 5, 6, 7}})
			return err
		}, "graph: loss: layers: cross entropy: label 3 of sample 3 is outside [0, 3)"},
		{conv(), graph.TrainOptions{}, func(tr *graph.Trainer) error {
			_, err := tr.Grad(feeds, graph.Float(x))
			return err
		}, "graph: loss: target FLOAT[8 1 8 8] for an output FLOAT[8 3]: want the output's shape"},
	} {
		tr, err := graph.NewTrainer(tc.g, tc.o)
		if err == nil && tc.grad != nil {
			err = tc.grad(tr)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
}

// TestTrainerSplitBatch: a trainer on three threads splits a batch of 16
// into chunks of 5, 5 and 6 items that run at once; the loss and the
// gradients are the one-thread trainer's (the whole batch at once) up to
// rounding, and the same bit for bit from one call to the next.
func TestTrainerSplitBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := qdqtest.Randn(rng, 16, 1, 8, 8)
	target := &graph.Tensor{DType: onnx.Int64, Shape: []int{16}, I64: make([]int64, 16)}
	for i := range target.I64 {
		target.I64[i] = rng.Int64N(3)
	}
	feeds := map[string]*graph.Tensor{"input": graph.Float(x)}
	g := must(graph.FromLayers(trainCNN(t, 9, x), graph.LayersOptions{InputShape: []int{1, 8, 8}}))
	grads := func(threads int) (float64, [][]float32) {
		tr := must(graph.NewTrainer(g, graph.TrainOptions{Threads: threads}))
		if !tr.SplitsBatch() {
			t.Fatal("the CNN's batch does not split")
		}
		loss := must(tr.Grad(feeds, target))
		var out [][]float32
		for _, p := range tr.Params() {
			out = append(out, slices.Clone(p.Grad.Data))
		}
		if again := must(tr.Grad(feeds, target)); again != loss {
			t.Errorf("threads %d: loss %v, then %v", threads, loss, again)
		}
		for i, p := range tr.Params() {
			if !slices.Equal(p.Grad.Data, out[i]) {
				t.Errorf("threads %d: %s's gradient changed from one call to the next", threads, p.Name)
			}
		}
		return loss, out
	}
	wantLoss, want := grads(1)
	gotLoss, got := grads(3)
	if math.Abs(gotLoss-wantLoss) > 1e-6*math.Abs(wantLoss) {
		t.Errorf("loss %v in chunks, %v whole", gotLoss, wantLoss)
	}
	for i := range want {
		var scale, diff float64
		for j, w := range want[i] {
			scale = max(scale, math.Abs(float64(w)))
			diff = max(diff, math.Abs(float64(got[i][j]-w)))
		}
		if diff > 1e-5*scale {
			t.Errorf("parameter %d: gradient in chunks off by %g (largest %g)", i, diff, scale)
		}
	}
	// A target that does not fit the batch is refused, as on one thread.
	tr := must(graph.NewTrainer(g, graph.TrainOptions{Threads: 3}))
	short := &graph.Tensor{DType: onnx.Int64, Shape: []int{15}, I64: make([]int64, 15)}
	if _, err := tr.Grad(feeds, short); err == nil {
		t.Error("15 labels for 16 inputs: no error")
	}
}
