// Package fakequant holds the quantization kernels: integer quantization
// (TensorQuant, QuantInt8), fake quantization (quantize then dequantize in
// float32: FakeTensorQuant, FakeQuant, FakeQuantPerChannel), Dequant, and
// the straight-through-estimator gradient (STEGrad, STE).
//
//	tensor -> reduce -> fakequant -> histogram -> calibrators -> layers -> onnx
//
// The numbers are those of NVIDIA's pytorch_quantization 2.2.1 on CPU, bit
// for bit, all in float32:
//
//	maxBound = 2^(NumBits-1+unsigned) - 1
//	minBound = 0 (unsigned), -maxBound (narrow range), -maxBound-1 (otherwise)
//	scale    = maxBound / amax
//	q        = clamp(roundHalfToEven(x*scale), minBound, maxBound)
//	fake     = q / scale            (a division, not a reciprocal multiply)
//
// clamp is torch's: NaN propagates and on a tie the input is kept, so -0.0
// survives a lower bound of 0. An amax <= 2^-24 counts as zero: its scale is 0
// while quantizing (every x becomes x*0, so ±Inf and NaN give NaN) and 1 in
// the scale returned. If any amax element is NaN, no element is treated as
// zero (the original's min(amax) is then NaN). The gradient of both
// functions is straight-through: dx = dy where |x| <= amax, else 0.
//
// FakeQuantQDQ and FakeQuantQDQPerChannel compute instead what an exported
// QuantizeLinear/DequantizeLinear pair computes in ONNX Runtime (scale =
// amax/bound, x/scale saturated then rounded half to even, NaN to the lowest
// code, dequantized as (q-zp)*scale), so that a model can be checked against
// its ONNX export bit for bit.
//
// Beyond the original toolkit, in the ONNX conventions so that exported
// models compute the same numbers: FP8 (E4M3FN, E5M2) conversion,
// quantization and fake quantization (EncodeFP8, QuantizeFP8, FakeQuantFP8,
// FakeTensorQuantFP8), block-wise quantization along the last axis
// (NumBlocks, BlockAmax, FakeQuantBlock) and INT4/UINT4 codes with packed
// storage, two per byte, low nibble first (QuantizeInt4Block, PackInt4).
//
// Each slice kernel has a pure-Go version, the specification, compiled on
// every architecture, and assembly versions for amd64 (AVX2, AVX-512) and
// arm64 (NEON) that are tested to give the same bits (any NaN matches any
// NaN). The family is chosen once at start-up from golang.org/x/sys/cpu
// (some kernels also by length); Implementation names it. Build with -tags purego for the Go code alone.
// All functions are safe for concurrent use on disjoint outputs.
package fakequant
