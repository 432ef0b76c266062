// Package tensor is the bottom of the tensorquant pipeline: a minimal dense
// float32 tensor (a shape and its row-major data) and the NumPy broadcasting
// rule that the quantization kernels use to pair an amax with its input.
//
// It deliberately has no arithmetic: the packages above it own the kernels.
// A Tensor is a plain value; nothing here is safe for concurrent mutation, but
// concurrent reads are.
package tensor
