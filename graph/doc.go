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
// a run a bounded amount of memory (Options.MaxMemory).
//
// The convolution, pooling and normalisation ops compute with
// internal/nn, the arithmetic the layers package's layers use too, and
// QuantizeLinear/DequantizeLinear with fakequant's ONNX Runtime-exact Q/DQ
// kernels: a QDQ model exported from layers runs here bit for bit as its
// export-mode forward (and ONNX Runtime) computes it. On FLOAT, the
// exponential, erf, tanh, sigmoid and Gelu ops, the rows of Softmax and
// LayerNormalization and the arithmetic of Add, Sub, Mul and Div run on
// internal/vecmath's vector kernels (float32 polynomials within a few ulps
// of the exact functions, as ONNX Runtime's MLAS computes them).
//
// Place in the pipeline: graph sits beside layers, on the kernels they
// share, and below onnx/export (which writes a Graph back as ONNX); the
// onnx codec it imports sits at the bottom and imports nothing of ours.
package graph
