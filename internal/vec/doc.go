// Package vec holds the float32 element-wise kernels that run over every
// activation of a network: the finish of a fused convolution or GEMM tile
// (bias, residual add and activation in one pass) and the activations on
// their own (Relu, Clip).
//
//	graph (Relu, Clip ops; fused ops)   internal/nn   internal/gemm (epilogue)
//	                        \               |               /
//	                                   internal/vec
//
// Each kernel is plain Go here (the specification: the same bits on every
// architecture), with SIMD versions where they pay, chosen by
// internal/cpufeat like the other kernel packages'. The activations keep
// Go's min/max semantics: NaN propagates, and max(-0, 0) is +0.
package vec
