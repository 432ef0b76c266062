// Package export turns a model of package layers, float or quantized,
// into an ONNX model (package onnx) for inference in ONNX Runtime or
// TensorRT.
//
// It sits above layers, graph and the onnx codec, and is the one writer
// of ONNX models: Graph writes any graph (an imported model exports
// again), and Model is graph.FromLayers followed by Graph. The
// conversion knows no layer type: every layer writes its own nodes
// (layers.Exporter) through the layers.Builder that graph.FromLayers
// implements, containers included (Sequential through Builder.Chain,
// Residual through Apply and an Add node). What the conversion adds is
// the quantization: TensorQuantizers become QuantizeLinear/
// DequantizeLinear pairs, and a quantized layer (layers.QuantLayer) is
// its input's Q/DQ followed by its float layer, whose weight and bias
// (layers.Weighted tells them apart) go through the weight quantizer
// and, with BiasInt32, become INT32; and BatchNorm folding, into any
// layer that implements layers.BatchNormFolder.
//
//	m, err := export.Model(model, export.Options{InputShape: []int{1, 8, 8}})
//	...
//	err = onnx.WriteFile("model.onnx", m) // or export.WriteFile in one call
//
// The graph follows what PyTorch's exporter writes for the original
// toolkit's models (testdata/conformance/tiny_qdq_model.onnx is matched
// node by node): input "input" of shape [batch, InputShape...] with a
// symbolic batch dimension, output "output", weights as initializers
// named like PyTorch's parameters ("features.0.weight"), nodes named by
// module scope ("/features/features.0/Conv", output
// "/features/features.0/Conv_output_0"; a quantized layer's quantizers are
// "_input_quantizer" and "_weight_quantizer" as in the original),
// attributes in PyTorch's order, scales and zero points as Constant nodes
// (zero point first), and a value_info for every intermediate value. The
// export is for inference: BatchNorm uses its running statistics and
// Dropout is left out, whatever the layers' training mode.
//
// # Layers
//
// Every layer of package layers that implements layers.Exporter is
// exportable; its Export method documents the nodes it becomes. For the
// layers of the original toolkit:
//
//   - Sequential: its children in order; Residual: body(x) + shortcut(x)
//     as Add (x itself when the shortcut is nil).
//   - Conv1d/2d/3d: Conv; ConvTranspose1d/2d/3d: ConvTranspose (stride,
//     padding, dilation, groups, output padding).
//   - Linear: Gemm (transB=1) on a 2-D input, as PyTorch exports it;
//     Transpose of the weight, MatMul and Add on inputs of more dimensions,
//     and at opset 10 for a Linear without bias (Gemm-10 requires one).
//   - MaxPool1d/2d/3d: MaxPool (dilations when not 1); AvgPool1d/2d/3d:
//     AveragePool (count_include_pad=1 when padded, PyTorch's default).
//   - AdaptiveAvgPool1d/2d/3d: GlobalAveragePool when the output size is
//     1, else AveragePool with kernel = stride = input/output when every
//     input size is a multiple of the output size (PyTorch's windows are
//     then exactly those); otherwise an error.
//   - BatchNorm1d/2d/3d: BatchNormalization with the running statistics,
//     or, with Options.FoldBatchNorm, folded into the convolution it
//     directly follows in a Sequential (weight·γ/√(var+ε), (bias −
//     mean)·γ/√(var+ε) + β, in float64, initializers "<conv>.weight_folded"
//     and "<conv>.bias_folded").
//   - ReLU: Relu; Dropout: nothing; Flatten: Flatten(axis=1) for start_dim
//     1 through the last dimension, Reshape otherwise.
//   - Any quantized layer (layers.QuantLayer, Quant[L] for a quantizable
//     float layer L: QuantLinear, QuantConv2d ...): its float layer, with
//     QuantizeLinear → DequantizeLinear on the input and on the weight.
//   - TensorQuantizer anywhere in a model (for example on a residual
//     shortcut): QuantizeLinear → DequantizeLinear on its input.
//
// # Quantizers
//
// Every quantizer that is enabled with its quant stage on (!Disabled() &&
// QuantEnabled()) becomes QuantizeLinear → DequantizeLinear; others are
// left out. The static amax (times ScaleAmax; with LearnAmax the learned
// amax, after a Clip node to the learned bounds) gives the scale, per
// element: amax/bound, 1 where that is 0, with bound = 2^(b-1)−1 (127 for
// 8 bits) or 2^b−1 unsigned, zero point 0 of type INT8 (UINT8 unsigned),
// codes over the full range ([-128, 127] or [0, 255]). This is what the
// quantizer's export mode (TensorQuantizer.SetExportMode) computes, so a
// model evaluated in that mode gives ONNX Runtime's numbers (up to the
// order of float sums). The amax decides per tensor (one value) or per
// axis (the one axis along which it varies: the `axis` attribute; opset 13
// on). Beyond INT8:
//
//   - FP8 (Format "e4m3", "e5m2"): FLOAT8E4M3FN / FLOAT8E5M2 zero points,
//     scale amax/448 or amax/57344 (fakequant.FP8Scale), saturate=1;
//     opset 19 on. Format "scaled_e4m3" (the original's num_bits=(4, 3))
//     exports exactly as "e4m3": standard ONNX has no node for the
//     original's multiply-by-448/amax and flush of |x| < 2^-24 (the
//     original itself writes TensorRT's custom trt::TRT_FP8QuantizeLinear
//     there), so the exported model computes fakequant.FakeQuantFP8's
//     numbers, which differ from the quantizer's own in the last bit of
//     some elements and in the sign of tiny zeros; the quantizer's export
//     mode computes the exported numbers. Train with "e4m3" when the
//     fake-quantized model and its export must agree bit for bit.
//   - 4- and 16-bit integers: INT4/UINT4, INT16/UINT16 zero points; opset
//     21 on.
//   - Block quantization of weights (BlockSize): block_size on the last
//     axis, opset 21 on. A convolution's weight is quantized as the matrix
//     [filters, rest] the quantizer sees, followed by a Reshape.
//
// Options.Opset 0 picks DefaultOpset, raised to what the quantizers need
// (19 for FP8, 21 for 4- and 16-bit integers and blocks).
//
// # Options
//
//   - Weights: WeightsFloat (default) stores quantized weights as float
//     initializers followed by QuantizeLinear → DequantizeLinear (the
//     original's export, TensorRT's style); WeightsQuantized stores the
//     codes QuantizeLinear computes (INT8, UINT8, INT16, FLOAT8, INT4
//     packed two per byte), as "<name>.weight_quantized", followed by
//     DequantizeLinear only (ONNX Runtime's style; a quarter of the size
//     for 8 bits). Both give the same numbers.
//   - Bias: BiasFloat (default), or BiasInt32: the bias of a Conv,
//     ConvTranspose or Linear whose input is quantized per tensor and
//     whose weight per tensor or per output channel, both 8-bit integers,
//     becomes INT32 codes round-half-even(bias/(input scale · weight
//     scale)) ("<name>.bias_quantized") followed by DequantizeLinear, as
//     ONNX Runtime's quantizer writes it; other biases stay float. The
//     rounding moves a bias by at most half of that scale.
//   - FoldBatchNorm, Opset (MinOpset to MaxOpset), InputShape (required),
//     InputName, OutputName, BatchName.
//
// # Refused
//
// Every refusal is an error naming the layer ("export: features.3
// Swish(): ...") or the quantizer ("export: quantizer
// features.0.weight_quantizer: ...") by its hierarchical name:
//
//   - a layer kind not listed above (one that is not a layers.Exporter);
//     a layer whose hyper-parameters, weights or input shape do not fit;
//   - Flatten with start_dim 0 (it would merge the symbolic batch
//     dimension);
//   - AdaptiveAvgPool whose input size is not a multiple of its output
//     size;
//   - FoldBatchNorm into a convolution whose weight quantizer is active
//     (its amax was calibrated on the unfolded weight);
//   - a real (FakeQuant false) quantizer; a signed narrow-range one
//     (QuantizeLinear saturates to [-128, 127]; the original refuses it
//     too); num_bits other than 4, 8 and 16;
//   - a dynamic amax (no static amax); a NaN, infinite or negative one; an
//     amax that varies along more than one axis, along the batch
//     dimension, or does not broadcast against the input;
//   - block quantization of an activation (its amax would fix the batch
//     size);
//   - per-axis quantization below opset 13, FP8 below 19, 4- and 16-bit
//     integers and blocks below 21;
//   - an INT32 bias code beyond the INT32 range (BiasInt32).
//
// ONNX Runtime 1.30 (tools/onnxcheck) runs every export with graph
// optimizations disabled, bit for bit as the export mode computes; three
// of its optimizations fail on valid exports: at opset 10 a float bias
// after a dequantized input cannot be loaded from level "basic" on (its
// WeightBiasQuantization inserts Round, an opset-11 operator: use
// BiasInt32 there); at opset 21 an INT8 QuantizeLinear after MaxPool or
// Flatten cannot be loaded from "extended" on (QDQPropagationTransformer
// and QDQS8ToU8Transformer disagree on the zero-point type); and with FP8
// a float bias is requantized to INT32 from "extended" on, with wrong
// results.
package export
