// Package nn holds the arithmetic of the convolution, pooling and
// normalisation ops, written once for the hand-built layers of package
// layers and the imported graphs of package graph:
//
//	          layers (Conv, MaxPool, AvgPool, AdaptiveAvgPool, BatchNorm: state, backward wiring, export)
//	internal/nn  <
//	          graph  (Conv, ConvTranspose, MaxPool, AveragePool, Global*Pool, BatchNormalization, InstanceNormalization)
//	             |
//	        internal/gemm
//
// The functions are plain: float32 (or, for max pooling, integer) slices
// in, slices out, a geometry struct that says how windows read their
// input, and scratch the caller provides. Nothing here keeps state between
// calls, allocates more than small per-call tables, or checks what its
// callers have checked (shapes, ranges): like internal/gemm, the kernels
// panic when a slice is too short for the geometry it is given. Every
// function works on a range of samples or planes, so that a caller can
// split the work across goroutines; results never depend on that split.
package nn
