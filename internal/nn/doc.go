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
//
// A convolution runs by im2col and the GEMM (Conv.Forward, the layers'
// path and the specification), by an implicit im2col that packs the
// GEMM's panels straight from the input (ConvPlan.ForwardPacked with
// PackConvWeights: Forward's bits; samples with few output positions
// share a GEMM; on AVX2, 16 to 64 output channels per group skip the
// packing, 6 output positions × 16 channels per step (on AVX-512, 32 or
// 64 channels, × 32 per step) read through the columns' offsets from
// each position's place in the phase buffer (the padding's columns not
// computed), still Forward's bits: convtile.go; a
// unit-stride phase buffer is written by a kernel, padPlanes), by
// Winograd's F(2×2, 3×3) for the 3×3 stride-1
// convolutions where Conv.Winograd says it is faster (ForwardPacked with
// PackWinogradWeights: 2.25× fewer multiplications, within a few ulps of
// the sums), or, depthwise, directly (on AVX2 eight channels at a time,
// on AVX-512 sixteen, interleaved in strips of a pooled scratch buffer:
// DepthwiseBlock).
// Max pooling without argmax runs plane kernels on AVX2 and AVX-512, and
// 2×2 windows of stride 2 that stay inside the plane a kernel of their
// own (maxK2S2AVX2), the planes of a call as one tall plane.
package nn
