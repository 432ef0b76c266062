// Package layers holds the neural-network side of tensorquant: float
// layers with forward and backward passes, the quantization of the
// original toolkit on top of them, training, and checkpoints. It is four
// rooms, told apart by their file names; the float framework uses nothing
// of the other three, and they use nothing of each other (TestRooms
// checks it).
//
// # The float framework (files without a prefix)
//
// Every layer implements Layer: Forward(x) computes a batch and remembers
// what Backward needs; Backward(dy) adds the parameter gradients to each
// Param's Grad and returns the input gradient. Shapes are PyTorch's:
// channels first (NCL, NCHW, NCDHW), weights in PyTorch's layouts (Linear
// [out, in], Conv [out, in/groups, k...], ConvTranspose [in, out/groups,
// k...]), so that models and weights move between the two as they are.
// The layers are PyTorch's Linear, Conv1d/2d/3d and ConvTranspose1d/2d/3d
// (the arithmetic of internal/nn, which imported graphs share: im2col and
// the cache-blocked SIMD GEMM of internal/gemm), MaxPool,
// AvgPool and AdaptiveAvgPool in 1 to 3 dimensions, BatchNorm1d/2d/3d,
// ReLU, Flatten, Dropout, ONNX's MatMul with a constant weight, and the
// containers Sequential and Residual (body(x) + shortcut(x)); CrossEntropy
// is the loss.
//
// Models are trees. Parent layers expose their sub-modules through
// Children, which is all the walker needs: Walk and NamedLayers visit every
// layer with its hierarchical name ("features.0"), NamedParams lists the
// parameters ("features.0.weight"), Find looks one up, and a Container's
// SetChild replaces one in place. Forward hooks (RegisterForwardHook,
// RegisterForwardPreHook: PyTorch's register_forward_hook) observe or
// replace the input and output of a layer found by its name, without
// changing the tree.
//
// Each layer says, next to its Forward and Backward, how it is written as
// ONNX nodes (Exporter, through a Builder that graph.FromLayers implements),
// and a layer with a weight lets it be replaced for one pass (Weighted),
// which is all quantization needs of it. Bad input never panics: every
// layer returns an *Error that names the layer by its hierarchical name and
// repr, and states the shapes, for example
//
//	layers: features.0 Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1)): input shape [4 3 8 8]: has 3 channels, want 1
//
// # Quantization (quant_ files)
//
// A QuantDescriptor says how a tensor is quantized (the predefined ones
// are functions: QuantDesc8BitPerTensor() ...); a TensorQuantizer built
// from one is a layer with the original's calib, clip and quant stages, a
// static (calibrated, set or given) or dynamic amax, learn_amax, FP8 and
// block formats, and an export mode that computes what ONNX Runtime
// computes for the exported QuantizeLinear/DequantizeLinear pair. One
// generic wrapper, Quant[L], quantizes the input and (for a Weighted L) the
// weight of any quantizable float layer type: the original's QuantConv2d
// is Quant[*Conv2d] (the alias QuantConv2d), with the default descriptors
// of its type (SetDefaultQuantDescInput[*Conv2d]) or given ones.
// Quantize wraps one layer, QuantizeModel every layer of a model that the
// original's quant_modules.initialize() would, NamedQuantizers lists the
// quantizers by name ("features.0.input_quantizer"), and Calibrate runs
// the original's calibration loop:
//
//	model, err := layers.QuantizeModel(model, layers.ReplaceOptions{})
//	err = layers.Calibrate(model, batches, calibrators.MethodMax, calibrators.AmaxOptions{}, nil)
//
// Quantization-aware training is Fit on the quantized model.
//
// # Training (train_ files)
//
// SGD (momentum, dampening, Nesterov, weight decay) and Adam as PyTorch
// defines them, CosineAnnealing (NewCosineAnnealing decays to 1% of the
// base rate, as the original toolkit recommends for quantization-aware
// fine-tuning), and Fit, a minimal loop with seeded shuffling and a
// progress callback; Predict and Accuracy evaluate. Results are
// deterministic: the same seeds give the same bits, whatever the number of
// goroutines the GEMM uses.
//
// # Persistence (persist_ files)
//
// Checkpoints (SaveCheckpoint, LoadCheckpoint, Capture, Restore) store the
// parameters and every Stateful layer's buffers (BatchNorm running
// statistics, a quantizer's amax) by hierarchical name in a versioned,
// checksummed binary file written atomically; loading is strict about names
// and shapes and rejects truncated or hostile files with an error.
package layers
