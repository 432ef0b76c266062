// Package qgemm is the integer arithmetic of quantized models: the
// products of ONNX QLinearMatMul, QLinearConv, MatMulInteger and
// ConvInteger, with int32 accumulation, zero points and requantization, on
// uint8 or int8 activations and int8 (or uint8) weights.
//
// # What is computed
//
// For activations A (M×K, one zero point za) and weights B (K×N, one zero
// point zb[n] per column: per output channel), every entry point computes
// exactly
//
//	C[m][n] = Σ_k (A[m][k] − za)·(B[k][n] − zb[n]) + bias[n]
//
// in int32 (the bias wraps modulo 2³², as int32 addition does), and then
// writes one of
//
//   - C itself (MatMulInt32, ConvInt32: MatMulInteger, ConvInteger);
//   - the requantized value clamp(roundHalfEven(float32(C)·scale[n]) + zy,
//     lo, hi) as int8 or uint8 (MatMulQuant, ConvQuant: QLinearMatMul,
//     QLinearConv, with scale[n] = a_scale·w_scale[n]/y_scale computed by the
//     caller), where float32(C) rounds to nearest even and the product is
//     one float32 multiplication. This is ONNX Runtime's requantization:
//     the ONNX reference multiplies in float64, and the two can differ by
//     one step where float32 rounding crosses a tie;
//   - the float value float32(float32(C)·scale[n]) + bias[n]
//     (MatMulFloat, ConvFloat: the product followed by DequantizeLinear, or
//     a float bias: two roundings, never fused), with the caller's
//     elementwise activation (Dequant.Act) applied to it;
//   - that float value, activated, then quantized by a per-tensor
//     QuantizeLinear (MatMulFloatQuant, ConvFloatQuant:
//     fakequant.QuantizeLinearCodes), as int8 or uint8 codes: a layer
//     whose activation is not a clamp (SiLU, HardSwish, Gelu) and the next
//     layer's input quantizer, without writing the floats.
//
// The convolutions are 2-D (1-D with H = 1), grouped or not, with strides,
// dilations and asymmetric padding; the padding has the activations' zero
// point, as in ONNX. Depthwise convolutions (one input and one output
// channel per group) run a direct kernel instead of a product.
//
// # The operand scheme
//
// Every kernel family multiplies bytes as its instructions want them,
// not necessarily as they were given:
//
//   - weights are stored as int8 β = B − ε with ε = 0 for int8 weights
//     and ε = 128 for uint8 weights (β = B xor 0x80), with the zero point
//     zβ[n] = zb[n] − ε, so that β − zβ = B − zb;
//   - the activation bytes the kernels read, κ, are uint8 on amd64
//     (VPDPBUSD multiplies unsigned by signed bytes) and in the generic
//     code, int8 on arm64 (SDOT and SMULL multiply signed bytes). An
//     activation of the other signedness is copied with its top bit
//     flipped, κ = A ± 128, and the zero point follows: zκ = za ± 128, so
//     that κ − zκ = A − za. The VPMADDWD kernels (AVX2, and AVX-512
//     without VNNI) read κ zero-extended to 16 bits: the copy of the
//     activations that every product makes for them (a convolution always
//     copies its input, see below) widens it once, instead of once per
//     weight panel in the kernel.
//
// A kernel computes only the raw products P[m][n] = Σ_k κ[m][k]·β[k][n];
// the zero points enter afterwards, through
//
//	C = P − zκ·(colsum[n] − K·zβ[n]) − zβ[n]·ρ[m] + bias[n]
//
// where colsum[n] = Σ_k β[k][n] is computed when the weights are packed and
// ρ[m] = Σ_k κ[m][k] is computed only when some zβ[n] is not zero
// (symmetric int8 weights, the usual case, need no row sums). The terms
// that do not depend on m are folded into one int32 per column with the
// bias, so the correction costs one addition per output, plus one
// multiply-add with asymmetric weights.
//
// # Why nothing overflows or saturates
//
// Every step above is int32 arithmetic modulo 2³² (Go's int32 operations,
// VPADDD, VPMULLD, VPDPBUSD and VPMADDWD, NEON ADD, MLA, SDOT and SADALP
// all wrap), so P and the correction terms are exact modulo 2³², and so is
// C. Since |A − za| ≤ 255 and |B − zb| ≤ 255, the true |C − bias| is at
// most 255²·K, which is below 2³¹ for K ≤ MaxK = 33025: the value modulo
// 2³² is then the value itself. Packing rejects a larger K.
//
// What must not happen is an instruction that saturates instead of
// wrapping, or that loses bits before the int32 sum. None is used:
//
//   - VPDPBUSD (not VPDPBUSDS) adds the four exact 16-bit products of a
//     byte quad to the accumulator with wraparound;
//   - the AVX2 and AVX-512 (without VNNI) kernels do not use VPMADDUBSW,
//     whose pair sums saturate at int16 (255·127 + 255·127 = 64770):
//     with κ zero-extended and β sign-extended to int16 they use VPMADDWD,
//     whose products (at most 255·128 = 32640 in magnitude) and pair sums
//     are exact in int32; its one wrapping case, two products of
//     −32768·−32768, cannot occur with κ ≤ 255, and would be right modulo
//     2³² anyway;
//   - SDOT sums four exact products of int8 values into the int32
//     accumulator with wraparound; SMULL's products of two int8 values
//     (at most 128·128 = 16384 in magnitude) are exact in int16, and SADALP
//     adds their pairs into int32 lanes.
//
// TestWorstCaseOperands runs the extremes (activations 0 and 255 against
// weights −128 and 127, every zero point at its extremes, K = MaxK) through
// every kernel family and compares with the formula in int64.
//
// # Packing and blocking
//
// Weights are packed once (PackMatrix, PackConv) for the kernel family
// selected at that time, into panels of nr columns: for each quad of four
// consecutive k, the nr columns' four bytes each (the layout VPDPBUSD and
// SDOT read: four products per 32-bit lane), zero-padded past K and N. The
// activations are not packed: a micro-kernel reads each of its mr rows
// through a pointer, four elements at a time, broadcast to every column
// (indirect GEMM). A matrix row is one pointer; a convolution's output
// pixel has one pointer per kernel tap, into a copy of the input in NHWC
// order whose border holds the zero point, so that im2col costs nothing
// but the copy (without groups, with at most 32 input channels in whole
// quads, one pointer per kernel row: the row's taps are consecutive
// pixels, 1.07-1.2× on the Fashion CNN's layers; an image of 1 to 3
// channels is copied with 4, the others holding the zero point and
// weighted 0, so that its rows too are one pointer each: MobileNetV2's
// stem 455 → 200 µs with the copy's assembly, quadsAVX2). The kernel
// family's micro-kernel computes an mr×nr tile of P over the whole depth; the epilogue turns the tile into the output while
// it is in L1. The convolutions work in NHWC: an NCHW input is transposed
// into the copy and an NCHW output transposed back (8×8 byte blocks in
// assembly); the input and output layouts are chosen separately, so that
// consecutive integer convolutions that keep NHWC between them save both.
// Depthwise convolutions run along rows of output pixels, vectorized over
// the channels; on AVX2, 3×3 and 5×5 windows of dilation 1 have kernels of
// their own (dwK3AVX2, dwK5AVX2) that address a tap from its pixel's
// pointer, pair the taps of a kernel row for VPMADDWD and compute 4
// pixels at a time (1.15-1.42× the generic-window kernel on mobilenet_v2's
// layers); on the VNNI families, a stride-1 layer of at least 32 channels
// reads its input widened to 16 bits (copied so once) and sums each tap
// with two VPDPWSSD per 32 channels, 4 pixels at a time (dwWordsVNNI:
// mobilenet_v2's stride-1 depthwise layers 1.45 → 1.35 ms in all; at
// stride 2 the wider copy cost more than it saved).
//
// The work is split like internal/gemm's: into row or column blocks of
// whole tiles, one per goroutine, up to the thread count the caller gives.
// Every output is computed by one goroutine in the same order, so results
// do not depend on the thread count (they are integers before the
// epilogue, so they could not anyway).
//
// # Kernel families
//
// The family comes from internal/cpufeat like the other kernel packages:
// AVX512 with AVX512-VNNI runs VPDPBUSD on ZMM registers (in tiles of 64
// columns, or of 32 for weights whose columns that pads less: both
// kernels are bound by the VPDPBUSD, so 144→24 at 56×56 runs 1.47× faster
// than on 64-column tiles), AVX512 without it runs VPMADDWD; AVX2 with
// AVX-VNNI (Alder Lake, Sapphire Rapids, Zen 5 on) runs the VEX form of
// VPDPBUSD on YMM registers in tiles of 6×16 (Go's assembler encodes only
// the EVEX form, so the generator writes its bytes), AVX2 without it
// VPMADDWD; NEON with the dot product extension runs SDOT and without it
// SMULL/SADALP. GODEBUG=cpu.avx512vnni=off, cpu.avxvnni=off and
// cpu.asimddp=off reach the fallbacks on a machine that has the
// extensions; the purego build tag runs the generic Go code, which is the
// specification. A virtual machine may hide AVX-VNNI from CPUID on a host
// that has it: the package's tests and the fuzz targets then find out in
// a child process whether the kernels run (HiddenAVXVNNI, ProbeAVXVNNI),
// and test them as a family if they do (AllowAVXVNNI).
package qgemm
