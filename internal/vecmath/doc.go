// Package vecmath holds the float32 vector kernels of the graph executor's
// element-wise ops: the transcendental functions (Exp, Erf, Tanh, Sigmoid,
// SiLU, Gelu, GeluTanh, and GeluFast for values quantized next), the row
// kernels of Softmax and LayerNorm, and the element-wise arithmetic of
// Add, Sub, Mul and Div with a scalar or a second vector.
//
// The functions are polynomial approximations in float32, as vector math
// libraries (ONNX Runtime's MLAS among them) compute them, rather than
// float64 math.Exp and math.Erf per element; each documents its largest
// error against the exact function, measured over every float32 input by
// TestAccuracy (-vecmath.exhaustive) and over a dense sample by default.
//
// As for the other kernel packages, the generic Go code is the executable
// specification: AVX2 and AVX-512 on amd64, NEON on arm64 compute the
// same bits for every input (any NaN matching any NaN), so results do not
// depend on the machine. The family comes from internal/cpufeat. Reductions
// (Max, Sum, the sums of Softmax and LayerNorm) accumulate in 16 lanes in a
// fixed order for that reason.
package vecmath
