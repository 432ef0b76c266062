package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/data/digits"
	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/onnx/export"
	"github.com/tensorquant/tensorquant/tensor"
)

// runExport writes the ONNX file of the built-in quantized digits CNN:
// its weights and amax from a checkpoint when one is given, else trained
// and calibrated here (seeded, about a second).
func runExport(args []string, stdout, _ io.Writer) error {
	fs := newFlags("export", "[flags] [checkpoint]", "tensorquant export -o digits.onnx -weights int8 -bias int32 model.tqckpt", stdout)
	out := fs.String("o", "model.onnx", "output `file` (written atomically)")
	opset := fs.Int("opset", 0, fmt.Sprintf("ai.onnx opset, %d to %d (0: %d, or what the quantizers need)", export.MinOpset, export.MaxOpset, export.DefaultOpset))
	weights := fs.String("weights", "float", "quantized weights as `float` initializers + QuantizeLinear/DequantizeLinear (TensorRT style) or as int8 codes + DequantizeLinear (ONNX Runtime style)")
	bias := fs.String("bias", "float", "biases of quantized layers as `float` or as int32 codes + DequantizeLinear")
	foldBN := fs.Bool("fold-bn", false, "fold BatchNorm into the preceding convolution")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return fmt.Errorf("at most one checkpoint, got %q", fs.Args())
	}
	o := export.Options{InputShape: []int{1, digits.Height, digits.Width}, Opset: *opset, FoldBatchNorm: *foldBN}
	switch *weights {
	case "float":
		o.Weights = export.WeightsFloat
	case "int8", "quantized":
		o.Weights = export.WeightsQuantized
	default:
		return fmt.Errorf("-weights %q: want float or int8", *weights)
	}
	switch *bias {
	case "float":
		o.Bias = export.BiasFloat
	case "int32":
		o.Bias = export.BiasInt32
	default:
		return fmt.Errorf("-bias %q: want float or int32", *bias)
	}
	model, err := quantizedDigitsCNN()
	if err != nil {
		return err
	}
	if fs.NArg() == 1 {
		if err := layers.LoadCheckpoint(fs.Arg(0), model); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "loaded %s into the built-in quantized digits CNN\n", fs.Arg(0))
	} else {
		acc, err := trainDigits(model)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "no checkpoint given: trained and calibrated the built-in quantized digits CNN, test accuracy %.1f%%\n", 100*acc)
	}
	m, err := export.Model(model, o)
	if err != nil {
		return err
	}
	if err := onnx.WriteFile(*out, m); err != nil {
		return err
	}
	st, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: opset %d, %d nodes, %d bytes (weights %s, bias %s)\n",
		*out, m.OpsetImport[0].Version, len(m.Graph.Node), st.Size(), *weights, *bias)
	return nil
}

// quantizedDigitsCNN builds the seed's CNN for 8×8 digits with quantized
// convolutions and classifier (layers.QuantizeModel: the original's
// default descriptors, 8-bit per-tensor inputs and per-channel weights).
func quantizedDigitsCNN() (*layers.Sequential, error) {
	rng := rand.New(rand.NewPCG(1, 0))
	conv1, err := layers.NewConv2d(1, 8, 3, layers.ConvOptions{Padding: 1}, rng)
	if err != nil {
		return nil, err
	}
	conv2, err := layers.NewConv2d(8, 16, 3, layers.ConvOptions{Padding: 1}, rng)
	if err != nil {
		return nil, err
	}
	fc, err := layers.NewLinear(16*2*2, digits.Classes, true, rng)
	if err != nil {
		return nil, err
	}
	pool1, err := layers.NewMaxPool2d(2, layers.PoolOptions{})
	if err != nil {
		return nil, err
	}
	pool2, err := layers.NewMaxPool2d(2, layers.PoolOptions{})
	if err != nil {
		return nil, err
	}
	model, err := layers.NewNamedSequential(
		layers.Named{Name: "features", Layer: layers.NewSequential(conv1, layers.NewReLU(), pool1, conv2, layers.NewReLU(), pool2)},
		layers.Named{Name: "classifier", Layer: layers.NewSequential(layers.NewFlatten(1, -1), fc)},
	)
	if err != nil {
		return nil, err
	}
	if _, err := layers.QuantizeModel(model, layers.ReplaceOptions{}); err != nil {
		return nil, err
	}
	return model, nil
}

// trainDigits trains model on the digits training split (quantization
// off), calibrates every quantizer with "max" on 512 training images, and
// returns the test accuracy with fake quantization.
func trainDigits(model *layers.Sequential) (float64, error) {
	set, err := digits.Load()
	if err != nil {
		return 0, err
	}
	train, test, err := set.Split(0.2, 1)
	if err != nil {
		return 0, err
	}
	named, err := layers.NamedQuantizers(model)
	if err != nil {
		return 0, err
	}
	qs := make([]*layers.TensorQuantizer, len(named))
	for i, nq := range named {
		qs[i] = nq.Quantizer
		qs[i].DisableQuant()
	}
	params, err := layers.NamedParams(model)
	if err != nil {
		return 0, err
	}
	opt, err := layers.NewAdam(params, layers.DefaultAdam(0.01))
	if err != nil {
		return 0, err
	}
	const epochs = 4
	if _, err := layers.Fit(model, train.X, train.Labels, layers.FitConfig{
		Epochs: epochs, BatchSize: 32, Optimizer: opt, Schedule: layers.NewCosineAnnealing(0.01, epochs), Seed: 1,
	}); err != nil {
		return 0, err
	}
	if err := layers.SetTraining(model, false); err != nil {
		return 0, err
	}
	for _, q := range qs {
		q.EnableCalib()
	}
	n := min(512, train.Len())
	if _, err := model.Forward(&tensor.Tensor{Shape: []int{n, 1, digits.Height, digits.Width}, Data: train.X.Data[:n*digits.Height*digits.Width]}); err != nil {
		return 0, err
	}
	for _, q := range qs {
		if err := q.LoadCalibAmax("max", calibrators.AmaxOptions{}); err != nil {
			return 0, err
		}
		q.DisableCalib()
		q.EnableQuant()
	}
	return layers.Accuracy(model, test.X, test.Labels, 256)
}
