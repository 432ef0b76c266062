// Package quantize is post-training quantization of an imported ONNX
// model, the original toolkit's workflow (quant_modules.initialize(),
// calibrate, export) on a graph instead of PyTorch modules, with the same
// placement and the same amax:
//
//	g, _ := graph.ImportFile("model.onnx")
//	plan, _ := quantize.Place(g, quantize.Options{})           // where the quantizers go
//	c, _ := plan.Calibrate(data, quantize.CalibrateOptions{})  // what the activations see
//	amax, _ := c.Amax(calibrators.MethodEntropy, calibrators.AmaxOptions{})
//	q, _ := plan.Apply(amax)                                   // the QDQ graph
//	m, _ := export.Graph(q)                                    // written with onnx.WriteFile
//
// # The quantized model is the QDQ graph
//
// Apply returns the float graph with a QuantizeLinear → DequantizeLinear
// pair on every quantized input: the one representation of the quantized
// model. graph.Session runs it bit for bit as ONNX Runtime runs the
// written file node by node (the pairs are fakequant's ONNX
// Runtime-exact kernels; the weights' pairs fold into fake-quantized
// constants), so evaluating it and deploying it compute the same numbers;
// onnx/export.Graph writes it (TensorRT's explicit quantization: opset 13,
// INT8, symmetric, zero point 0, scale = amax/127; FP8 at opset 19; INT4
// at opset 21).
//
// # Placement
//
// Place puts the original's quantizers on the graph (see Place and
// Options): on the data input and the per-channel weight of every Conv,
// ConvTranspose, Gemm and MatMul with a constant weight, and on the input
// of average pooling. Each consumer gets its own pair, as the original
// gives q, k and v three pairs on one tensor. On the vectors of the
// original (testdata/conformance/onnx_ptq: a CNN with BatchNorm, a
// residual block, strided Conv, global pooling and Gemm; a token model
// with attention, LayerNorm and GELU) the placement is the original's
// export node for node. Options add what TensorRT and ONNX Runtime users
// know: op types to quantize or exclude, nodes to exclude by regular
// expression, residual Add inputs, activation MatMuls, per-tensor
// weights, unsigned activations after ReLU.
//
// # Calibration
//
// Calibrate runs the float graph over the data in batches (BatchSize, in
// data order) and shows each quantized activation, as soon as it is
// computed, to one calibrators.Set per tensor (a histogram and a max
// calibrator: every method from one pass). Nothing is kept per batch, so
// memory does not grow with the data; batches run on every core, each
// whole on one goroutine, and each calibrator takes them in data order,
// so the result is the same for any number of workers — exactly what one
// worker collects, including the histogram's bin width fixed by the first
// batch and its growth after.
//
// Amax computes every quantizer's amax by method: "max", "entropy",
// "percentile" and "mse" for activations, the original's algorithms
// bit for bit (package calibrators); the weights' per-channel max (or
// percentile and mse through calibrators.CalibrateWeight) from their
// initializers. On the vector models every amax equals the original's
// where our float activations do (their SHA-256 equal), and is within 5
// ulps where our forward adds in another order than torch's.
//
// # Many machines
//
// With CalibrateOptions.Shards, a calibration collects one slice of the
// batches (every shard runs batch 0 first to fix its histograms' bins);
// each shard's Calibration is saved (MarshalBinary, WriteFile) and Merge
// joins them into what one run over all the data collects — exactly,
// unless a shard other than the last grew a histogram past its first
// batch's range, or a bin counts 2^24 values or more (Inexact says which).
package quantize
