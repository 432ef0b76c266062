package main

import (
	"fmt"
	"io"
	"os"

	"github.com/tensorquant/tensorquant/data/digits"
	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/onnx/export"
)

// runExport writes the ONNX file of the demo's quantized digits CNN: its
// weights and amax from a checkpoint (tensorquant demo writes
// tensorquant-demo.tqckpt) when one is given, else trained, calibrated and
// fine-tuned here as the demo does (seeded, about a second).
func runExport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", "[flags] [checkpoint]", "tensorquant export -o digits.onnx -weights int8 -bias int32 tensorquant-demo.tqckpt", stdout)
	out := fs.String("o", "model.onnx", "output `file` (written atomically)")
	opset := fs.Int("opset", 0, fmt.Sprintf("ai.onnx opset, %d to %d (0: %d, or what the quantizers need)", export.MinOpset, export.MaxOpset, export.DefaultOpset))
	weights := fs.String("weights", "float", "quantized weights as `float` initializers + QuantizeLinear/DequantizeLinear (TensorRT style) or as int8 codes + DequantizeLinear (ONNX Runtime style)")
	bias := fs.String("bias", "float", "biases of quantized layers as `float` or as int32 codes + DequantizeLinear")
	foldBN := fs.Bool("fold-bn", false, "fold BatchNorm into the preceding convolution")
	epochs := fs.Int("epochs", 10, "float training epochs when no checkpoint is given")
	seed := fs.Uint64("seed", 1, "seed of the training when no checkpoint is given")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return fmt.Errorf("at most one checkpoint, got %q", fs.Args())
	}
	if err := checkEpochs(*epochs); err != nil {
		return err
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
	d, err := newDemo(demoConfig{epochs: *epochs, seed: *seed}, stderr)
	if err != nil {
		return err
	}
	var model layers.Layer
	if fs.NArg() == 1 {
		if model, err = d.quantStructure(); err != nil {
			return err
		}
		if err := layers.LoadCheckpoint(fs.Arg(0), model); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "loaded %s into the demo's quantized digits CNN\n", fs.Arg(0))
	} else {
		if model, err = d.deployable(); err != nil {
			return err
		}
		acc, err := d.accuracy(model)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "no checkpoint given: trained the demo's digits CNN, calibrated it (8-bit, max) and fine-tuned it: test accuracy %.2f%%\n", 100*acc)
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
