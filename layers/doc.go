// Package layers holds the neural-network layers of tensorquant, with
// forward and backward passes in float32, the containers and the walker that
// name them as PyTorch does, their quantized counterparts and the
// quantizers, training (losses, optimizers, schedules, a training loop) and
// checkpoints.
//
//	tensor -> reduce -> fakequant -> histogram -> calibrators -> layers -> onnx
//
// Every layer implements Layer: Forward(x) computes a batch and remembers
// what Backward needs; Backward(dy) adds the parameter gradients to each
// Param's Grad and returns the input gradient. Shapes are PyTorch's:
// channels first (NCL, NCHW, NCDHW), weights in PyTorch's layouts (Linear
// [out, in], Conv [out, in/groups, k...], ConvTranspose [in, out/groups,
// k...]), so that an exporter can read a model directly.
//
// The layers: Linear; Conv1d/2d/3d and ConvTranspose1d/2d/3d (stride,
// padding, dilation, groups, output padding; im2col and the cache-blocked
// SIMD GEMM of internal/gemm); MaxPool1d/2d/3d, AvgPool1d/2d/3d,
// AdaptiveAvgPool1d/2d/3d; ReLU, Flatten, Dropout; BatchNorm1d/2d/3d; and
// the containers Sequential and Residual (body(x) + shortcut(x), for
// ResNet-style models).
//
// Models are trees. Parent layers expose their sub-modules through
// Children, which is all the walker needs: Walk and NamedLayers visit every
// layer with its hierarchical name ("features.0"), NamedParams lists the
// parameters ("features.0.weight"), Find looks one up, and a Container's
// SetChild replaces one in place. A layer that owns sub-modules that are
// not layers of the float model (a quantized layer's input and weight
// quantizers) makes them children too, so that a calibration loop is
//
//	layers.Walk(model, func(name string, l layers.Layer) error {
//		if strings.HasSuffix(name, "input_quantizer") { ... }
//		return nil
//	})
//
// Bad input never panics: every layer returns an *Error that names the
// layer by its hierarchical name and repr, and states the shapes, for
// example
//
//	layers: features.0 Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1)): input shape [4 3 8 8]: has 3 channels, want 1
//
// Quantization follows the original toolkit. A QuantDescriptor says how a
// tensor is quantized; a TensorQuantizer built from one is a layer with the
// original's calib, clip and quant stages, a static (calibrated, set or
// given) or dynamic amax, learn_amax, and an export mode that computes what
// ONNX Runtime computes for the exported QuantizeLinear/DequantizeLinear
// pair. One generic wrapper, Quant[L], quantizes the input and (for a
// Weighted float layer) the weight of any quantizable float layer type L,
// with the default descriptors of the type (SetDefaultQuantDescInput/Weight)
// or given ones; the original's names are its aliases (QuantLinear =
// Quant[*Linear], QuantConv1d/2d/3d, QuantConvTranspose1d/2d/3d,
// QuantMaxPool*, QuantAvgPool*, QuantAdaptiveAvgPool*; the QuantLayer
// interface). QuantizeModel
// replaces the float layers of a model by quantized ones, keeping the
// weights (the original's quant_modules.initialize()), and NamedQuantizers
// lists the quantizers by name, so the original's calibration is
//
//	model, err := layers.QuantizeModel(model, layers.ReplaceOptions{})
//	qs, err := layers.NamedQuantizers(model)
//	for _, q := range qs { q.Quantizer.DisableQuant(); q.Quantizer.EnableCalib() }
//	// ... forward some batches ...
//	for _, q := range qs {
//		err = q.Quantizer.LoadCalibAmax("max", calibrators.AmaxOptions{})
//		q.Quantizer.DisableCalib(); q.Quantizer.EnableQuant()
//	}
//
// and quantization-aware training is Fit on the quantized model.
// Beyond the original, descriptors also describe FP8 (E4M3, E5M2) and
// block-wise integer quantization.
//
// Training: CrossEntropy (mean, numerically stable), SGD (momentum,
// dampening, Nesterov, weight decay) and Adam as PyTorch defines them,
// CosineAnnealing (NewCosineAnnealing decays to 1% of the base rate, as the
// original toolkit recommends for quantization-aware fine-tuning), and Fit,
// a minimal loop with seeded shuffling and a progress callback; Predict and
// Accuracy evaluate. Results are deterministic: the same seeds give the same
// bits, whatever the number of goroutines the GEMM uses.
//
// Checkpoints (SaveCheckpoint, LoadCheckpoint, Capture, Restore) store the
// parameters and every Stateful layer's buffers (BatchNorm running
// statistics, a quantizer's amax) by hierarchical name in a versioned,
// checksummed binary file written atomically; loading is strict about names
// and shapes and rejects truncated or hostile files with an error.
package layers
