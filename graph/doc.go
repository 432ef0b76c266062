// Package graph is tensorquant's model of a network as a directed acyclic
// graph of operations — what an ONNX file describes — and the engine that
// runs it.
//
// A Graph holds named values (the graph inputs, the initializers, the node
// outputs) and Nodes that compute them, each with an Op. Values are
// Tensors of any element type a model computes with (FLOAT, INT64 for
// shapes and indices, INT8/UINT8 and FP8/INT4 codes for quantized
// models, BOOL ...); float32 work shares its data with tensor.Tensor.
//
// Import turns a decoded ONNX model (package onnx) into a Graph: it builds
// every node's Op from its attributes through the op registry (Register),
// refuses a model with unsupported op types in one error that lists them
// all (UnsupportedError), and calls Infer, which sorts the nodes, infers
// every value's element type and shape — symbolic dimensions such as a
// batch size included, and the elements of shape arithmetic
// (Shape → Gather → Concat → Reshape) — and folds constants: a node whose
// inputs are all known at load is run once and becomes an initializer
// (within a bound relative to the model's weights, so that a small file
// cannot make loading allocate without limit).
//
// FromLayers makes a graph of a model of package layers: each layer
// writes its nodes through the layers.Builder it implements, and
// quantizers become QuantizeLinear/DequantizeLinear pairs, exactly as
// onnx/export writes them (it writes every graph, converted or imported).
//
// A Session runs a prepared graph; it is safe for concurrent use. It
// executes the nodes in order with a memory plan (each value's buffer is
// recycled after its last reader, or overwritten in place by it) and gives
// ops a bounded number of goroutines (Options.Threads, Ctx.Parallel) and
// a run a bounded amount of memory (Options.MaxMemory). When the graph
// computes each item of a batch from that item alone (split.go follows
// the batch through the nodes: image classifiers, and encoders whose
// attention moves the batch among the heads), Run splits a batch into
// parts that run at once, each on its share of the threads, and joins
// the outputs: small models keep every core busy where their small ops
// alone do not, with the same bits. RunObserved shows
// chosen values to a function as soon as they are computed, before their
// buffers are recycled: calibration watches a float graph's activations
// that way without changing the graph.
//
// A Trainer fine-tunes a graph's parameters (NewTrainer; quantization-
// aware when the graph has QuantizeLinear/DequantizeLinear pairs): it runs
// a copy of the graph, unprepared (ImportRaw, ImportFileRaw, FromLayers:
// folding would turn the weights' pairs into constants), with the
// parameters as inputs, keeps what the backward needs, and differentiates
// it in reverse order through the ops' Backward (Differentiable, in the
// op_*_grad.go files beside the ops); a pair has the original toolkit's
// straight-through gradient. The optimizers and schedules are package
// layers', on the loop layers.Fit runs (Trainer.Fit). Every float op of
// a classifier or encoder has a backward; those without one (Min, Max,
// ReduceMax, Tile, Pad other than constant, InstanceNormalization,
// Resize, Upsample) make NewTrainer name each node a gradient would have
// to flow through.
//
// The convolution, pooling and normalisation ops compute with
// internal/nn, the arithmetic the layers package's layers use too, and
// QuantizeLinear/DequantizeLinear with fakequant's ONNX Runtime-exact Q/DQ
// kernels: a QDQ model exported from layers runs here bit for bit as its
// export-mode forward (and ONNX Runtime) computes it. NewSession's
// passes drop the nodes whose outputs nothing reads, fuse a convolution
// with its bias, residual Add and activation, and a transformer's
// attention into one op that reads its heads in place from the
// projection the export slices them from;
// OptimizeAll computes the float 3×3 stride-1 ones with enough channels
// by Winograd's F(2×2, 3×3) (2.25× fewer multiplications, within a few
// ulps of the sums; not those fed by DequantizeLinear, whose
// fake-quantized outputs keep the node-by-node bits). On FLOAT, the
// exponential, erf, tanh, sigmoid and Gelu ops, the rows of Softmax and
// LayerNormalization and the arithmetic of Add, Sub, Mul and Div run on
// internal/vecmath's vector kernels (float32 polynomials within a few ulps
// of the exact functions, as ONNX Runtime's MLAS computes them).
//
// Quantized models run in integer arithmetic: NewSession's int8 pass
// (unless Options.Float) turns every DequantizeLinear → Conv, Gemm or
// MatMul (→ bias, Relu or Clip) (→ QuantizeLinear) with constant weight
// codes into one integer node on internal/qgemm — int32 sums, the
// requantization of ONNX QLinearConv and QLinearMatMul, the weights packed
// once, the activations int8 between such nodes — and a MatMul of two
// dequantized activations (attention's, as ONNX Runtime's quantizer and
// quantize's ActivationMatMul option place them) into one whose second
// operand is packed on every run; it leaves the rest of the graph in
// float; Session.Int8Nodes says which layers run in int8 and
// why the others do not. The nhwc pass then keeps the values between
// integer convolutions in NHWC, the kernels' order, through the
// elementwise ops, residual Adds, squeeze-and-excitation scalings and
// global average pools between them, so that they are not transposed
// twice per layer (Int8Node.Layout). Smaller passes take the float ops
// between integer layers out of the float path: the activation after an
// integer node and the next layer's QuantizeLinear go into its epilogue
// (int8-act: codes out, the floats never written), DequantizeLinear →
// GlobalAveragePool → QuantizeLinear runs on the codes (int8-pool, ONNX
// Runtime's QLinearGlobalAveragePool), an NHWC squeeze-and-excitation
// scaling writes the next layer's codes (int8-scale), and the codes
// between integer nodes take the byte type the kernels read (int8-codes:
// uint8 on amd64, int8 on arm64, zero points shifted by 128, the same
// values). A QuantizeLinear → DequantizeLinear pair left in float (around
// the layers that stay float, and every pair with Options.Float) runs as
// one node without the codes in between (fuse-qdq, the same bits). The
// ONNX ops QLinearConv, QLinearMatMul, ConvInteger and MatMulInteger run
// on the same kernels.
//
// Place in the pipeline: graph sits beside layers, on the kernels they
// share, and below onnx/export (which writes a Graph back as ONNX); the
// onnx codec it imports sits at the bottom and imports nothing of ours.
package graph
