// Package fakequant holds the quantization kernels: integer quantization
// (TensorQuant, QuantInt8), fake quantization (quantize then dequantize in
// float32: FakeTensorQuant, FakeQuant, FakeQuantPerChannel), Dequant, and
// the straight-through-estimator gradient (STEGrad, STE).
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
// The original's own FP8 path (num_bits=(4, 3)) runs only in its CUDA
// extension: ScaledE4M3 and ScaledE4M3Tensor compute its scaled_e4m3 and
// FakeE4M3fy its fake_e4m3fy, bit for bit with the extension's outputs
// (testdata/conformance/e4m3_cuda). They differ from FakeQuantFP8 (the
// ONNX convention) in the last bit of some elements and in the sign of
// tiny zeros: use FakeQuantFP8 when a model and its export must agree,
// ScaledE4M3 to reproduce a model trained with the original.
//
// # The original on a GPU
//
// The integer numbers above are the original's on CPU: its Python formula,
// which the vectors in testdata/conformance pin and which is the intended
// behaviour. On a GPU the original runs fake_tensor_quant in its CUDA
// extension instead, which computes differently. Built from the original's
// sources and run on those vectors, the extension gave different bits in
// 42 of the 179 public cases it could run (and 22 of 69 held-back ones);
// every difference traces to its source:
//
//   - narrow_range is ignored. The extension's host functions launch the
//     kernels without it, so the kernels' default narrow_range=true
//     applies: on a GPU the original always fake-quantizes to
//     [-(2^(b-1)-1), 2^(b-1)-1] (-127.5 with scale 1 gives -127 on the
//     GPU, -128 on the CPU). The original's QuantDescriptor defaults to the
//     full range, so this touches most models trained with it on a GPU (17
//     of 60 public per-tensor full-range cases differ, 14 of 27 per-axis
//     ones). To reproduce such a model, set Format.NarrowRange
//     (layers.QuantDescriptor.NarrowRange) to true.
//   - An amax broadcast along the last dimension is applied along axis 0.
//     For x of shape (5, 6) and amax of shape (6,), the Python wrapper picks
//     axis = amax.shape.index(6) = 0, and the extension's
//     TORCH_CHECK(amax.numel(), inputs.size(axis)) tests amax.numel() for
//     truth rather than equality, so each row gets the amax of another
//     column (26 of 30 elements differ). This is a bug and is not
//     reproduced: amax broadcasts with NumPy rules here. (A per-channel
//     amax that keeps its size-1 dimensions, as the original's calibrators
//     make it, lands on the right axis on the GPU too.)
//   - amax exactly 2^-24 quantizes on the GPU (the kernel tests amax <
//     2^-24) but is flushed on the CPU (amax <= 2^-24). Below it the GPU
//     returns +0 for every input, where the CPU returns -0 for negative
//     inputs (and NaN for NaN and infinite ones). NaN results differ in
//     sign. A subnormal scale (amax 1e38 with 2 bits) gave -1e38 on the
//     GPU where the CPU gives -2e38.
//
// Each slice kernel has a pure-Go version, the specification, compiled on
// every architecture, and assembly versions for amd64 (AVX2, AVX-512) and
// arm64 (NEON) that are tested to give the same bits (any NaN matches any
// NaN). The family is chosen once at start-up from golang.org/x/sys/cpu
// (some kernels also by length); Implementation names it. Build with -tags purego for the Go code alone.
// All functions are safe for concurrent use on disjoint outputs.
package fakequant
