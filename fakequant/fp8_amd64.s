//go:build gc && !purego

#include "textflag.h"

// FP8 kernels for AVX2 (also run when AVX-512 is selected: see
// fp8_amd64.go). Each handles len(src) rounded down to a multiple of 8,
// 8 elements per iteration (the iterations are independent, so the core
// overlaps them; unrolling did not pay), and reads and writes nothing
// beyond; Go finishes the tail with the generic kernel. The float32
// operations are IEEE (MXCSR is round-to-nearest-even in Go), so the
// division, the magic add and subtract and the multiplies give the bits of
// the Go code. Go operand order is Intel's reversed: VPCMPGTD B, A, M is
// Intel's vpcmpgtd m, a, b = (a > b), and VBLENDVPS M, T, F, D is
// d = m ? t : f.

// Rows of fp8Vec (fp8_asm.go): 32 bytes each, the constant in every lane.
#define V_ABS      0   // 0x7FFFFFFF
#define V_ONE      32  // 1
#define V_RBIAS    64  // 1<<(shift-1) - 1
#define V_HIMASK   96  // ^(1<<shift - 1)
#define V_EXPADJ   128 // (127-bias) << 23
#define V_MINNORM  160 // bits of the smallest normal value
#define V_SAT      192 // bits of the largest |x| that does not overflow
#define V_INF      224 // 0x7F800000
#define V_MAGIC    256 // bits of magic
#define V_MAX      288 // bits of max
#define V_SIGN     320 // 0x80
#define V_NANCODE  352 // 0x7F
#define V_DECMUL   448 // bits of 2^(127-bias)
#define V_NANABOVE 480 // |code| above it is NaN
#define V_INFCODE  512 // |code| of Inf, or 0xFF
#define V_QNAN     544 // 0x7FC00000
#define V_SHIFT    576 // shift count

#define DST DI // &dst[i]
#define SRC SI // &src[i]
#define CNT CX // blocks of 8 left
#define K   AX // &fp8Vec
#define BIG BX // &fp8Vec row of the overflow code

// ---------------------------------------------------------------------------
// func fakeQuantFP8AVX2(dst, src []float32, scale float32, k *fp8Vec)
// dst[i] = roundFP8(src[i] / scale) * scale (fakeQuantFP8Generic).
TEXT ·fakeQuantFP8AVX2(SB), NOSPLIT, $0-64
	MOVQ         dst_base+0(FP), DST  // DST = &dst[0]
	MOVQ         src_base+24(FP), SRC // SRC = &src[0]
	MOVQ         src_len+32(FP), CNT  // CNT = len(src)
	MOVQ         k+56(FP), K          // K = &fp8Vec
	VBROADCASTSS scale+48(FP), Y15    // Y15 = scale
	VMOVDQU      V_ABS(K), Y14        // Y14 = 0x7FFFFFFF
	VMOVDQU      V_ONE(K), Y13        // Y13 = 1
	VMOVDQU      V_RBIAS(K), Y12      // Y12 = round bias
	VMOVDQU      V_HIMASK(K), Y11     // Y11 = kept-bits mask
	VMOVDQU      V_MINNORM(K), Y10    // Y10 = smallest normal
	VMOVDQU      V_MAX(K), Y9         // Y9 = max
	VMOVDQU      V_INF(K), Y8         // Y8 = Inf
	VMOVDQU      V_MAGIC(K), Y7       // Y7 = magic
	VMOVD        V_SHIFT(K), X6       // X6 = shift count (a 64-bit count: one lane only)
	SHRQ         $3, CNT              // CNT = len / 8
	JZ           fq_done              // nothing to do

fq_loop:
	VMOVUPS   (SRC), Y0      // Y0 = x
	VDIVPS    Y15, Y0, Y0    // v = x / scale
	VANDPS    Y14, Y0, Y1    // a = |v|
	VXORPS    Y1, Y0, Y0     // Y0 = sign bit of v
	VPSRLD    X6, Y1, Y3     // a >> shift
	VPAND     Y13, Y3, Y3    // the lowest kept bit
	VPADDD    Y12, Y3, Y3    // + round bias
	VPADDD    Y1, Y3, Y3     // + a: rounded half to even above the kept bits
	VPAND     Y11, Y3, Y3    // drop the low bits: the normal-range rounding
	VPMINUD   Y9, Y3, Y3     // saturate: anything above max (and Inf) is max
	VADDPS    Y7, Y1, Y4     // a + magic rounds to the subnormal step
	VSUBPS    Y7, Y4, Y4     // - magic (exact): the subnormal-range rounding
	VPCMPGTD  Y1, Y10, Y5    // Y5 = a < smallest normal
	VBLENDVPS Y5, Y4, Y3, Y3 // take the subnormal rounding there
	VPCMPGTD  Y8, Y1, Y5     // Y5 = a > Inf: NaN
	VBLENDVPS Y5, Y1, Y3, Y3 // keep the NaN
	VORPS     Y0, Y3, Y3     // put the sign back
	VMULPS    Y15, Y3, Y3    // * scale
	VMOVUPS   Y3, (DST)      // dst[i:i+8] = Y3
	ADDQ      $32, SRC       // i += 8
	ADDQ      $32, DST       // DST += 32 bytes
	DECQ      CNT            // CNT--
	JNZ       fq_loop        // more blocks of 8

fq_done:
	VZEROUPPER // clear the upper halves for SSE code
	RET

// ---------------------------------------------------------------------------
// func encodeFP8AVX2(dst []uint8, src []float32, scale float32, big *[8]uint32, k *fp8Vec)
// dst[i] = encodeFP8One(src[i] / scale) with the overflow code in *big
// (encodeFP8Generic).
TEXT ·encodeFP8AVX2(SB), NOSPLIT, $0-72
	MOVQ         dst_base+0(FP), DST  // DST = &dst[0]
	MOVQ         src_base+24(FP), SRC // SRC = &src[0]
	MOVQ         src_len+32(FP), CNT  // CNT = len(src)
	MOVQ         big+56(FP), BIG      // BIG = &overflow code row
	MOVQ         k+64(FP), K          // K = &fp8Vec
	VBROADCASTSS scale+48(FP), Y15    // Y15 = scale
	VMOVDQU      V_ABS(K), Y14        // Y14 = 0x7FFFFFFF
	VMOVDQU      V_ONE(K), Y13        // Y13 = 1
	VMOVDQU      V_RBIAS(K), Y12      // Y12 = round bias
	VMOVDQU      V_EXPADJ(K), Y11     // Y11 = exponent rebias
	VMOVDQU      V_MINNORM(K), Y10    // Y10 = smallest normal
	VMOVDQU      V_SAT(K), Y9         // Y9 = largest |x| kept finite
	VMOVDQU      V_INF(K), Y8         // Y8 = Inf
	VMOVDQU      V_MAGIC(K), Y7       // Y7 = magic
	VMOVD        V_SHIFT(K), X6       // X6 = shift count (a 64-bit count: one lane only)
	SHRQ         $3, CNT              // CNT = len / 8
	JZ           enc_done             // nothing to do

enc_loop:
	VMOVUPS      (SRC), Y0                  // Y0 = x
	VDIVPS       Y15, Y0, Y0                // v = x / scale
	VANDPS       Y14, Y0, Y1                // a = |v|
	VPSRLD       $24, Y0, Y0                // v >> 24
	VPAND        V_SIGN(K), Y0, Y0          // Y0 = sign of the code (0x80 or 0)
	VPSRLD       X6, Y1, Y3                 // a >> shift
	VPAND        Y13, Y3, Y3                // the lowest kept bit
	VPADDD       Y12, Y3, Y3                // + round bias
	VPADDD       Y1, Y3, Y3                 // + a: rounded half to even above the kept bits
	VPSUBD       Y11, Y3, Y3                // rebias the exponent
	VPSRLD       X6, Y3, Y3                 // Y3 = normal-range code
	VADDPS       Y7, Y1, Y4                 // a + magic rounds to the subnormal step
	VPSUBD       Y7, Y4, Y4                 // Y4 = bits - magic bits: subnormal-range code
	VPCMPGTD     Y1, Y10, Y5                // Y5 = a < smallest normal
	VBLENDVPS    Y5, Y4, Y3, Y3             // take the subnormal code there
	VPCMPGTD     Y9, Y1, Y5                 // Y5 = a overflows (or is Inf or NaN)
	VBLENDVPS    Y5, (BIG), Y3, Y3          // overflow code there
	VPCMPGTD     Y8, Y1, Y5                 // Y5 = a > Inf: NaN
	VBLENDVPS    Y5, V_NANCODE(K), Y3, Y3   // NaN code there
	VPOR         Y0, Y3, Y3                 // sign
	VEXTRACTI128 $1, Y3, X4                 // X4 = codes 4..7
	VPACKUSDW    X4, X3, X3                 // X3 = codes 0..7 as words
	VPACKUSWB    X3, X3, X3                 // X3 = codes 0..7 as bytes (twice)
	VMOVQ        X3, (DST)                  // dst[i:i+8] = the codes
	ADDQ         $32, SRC                   // i += 8
	ADDQ         $8, DST                    // DST += 8 bytes
	DECQ         CNT                        // CNT--
	JNZ          enc_loop                   // more blocks of 8

enc_done:
	VZEROUPPER // clear the upper halves for SSE code
	RET

// ---------------------------------------------------------------------------
// func decodeFP8AVX2(dst []float32, src []uint8, scale float32, k *fp8Vec)
// dst[i] = value(src[i]) * scale (decodeFP8Generic): the code's exponent
// and mantissa placed in a float32 (a float32 subnormal for an FP8
// subnormal) times 2^(127-bias) is the value, exactly; NaN and Inf codes
// are blended in.
TEXT ·decodeFP8AVX2(SB), NOSPLIT, $0-64
	MOVQ         dst_base+0(FP), DST  // DST = &dst[0]
	MOVQ         src_base+24(FP), SRC // SRC = &src[0]
	MOVQ         src_len+32(FP), CNT  // CNT = len(src)
	MOVQ         k+56(FP), K          // K = &fp8Vec
	VBROADCASTSS scale+48(FP), Y15    // Y15 = scale
	VMOVDQU      V_NANCODE(K), Y14    // Y14 = 0x7F
	VMOVDQU      V_DECMUL(K), Y13     // Y13 = 2^(127-bias)
	VMOVDQU      V_NANABOVE(K), Y12   // Y12 = |code| above it is NaN
	VMOVDQU      V_INFCODE(K), Y11    // Y11 = |code| of Inf
	VMOVDQU      V_QNAN(K), Y10       // Y10 = quiet NaN
	VMOVDQU      V_INF(K), Y9         // Y9 = Inf
	VMOVD        V_SHIFT(K), X8       // X8 = shift count (a 64-bit count: one lane only)
	SHRQ         $3, CNT              // CNT = len / 8
	JZ           dec_done             // nothing to do

dec_loop:
	VPMOVZXBD (SRC), Y0        // Y0 = 8 codes
	VPAND     Y14, Y0, Y1      // m = code & 0x7F
	VPXOR     Y1, Y0, Y0       // code & 0x80
	VPSLLD    $24, Y0, Y0      // Y0 = the sign bit
	VPSLLD    X8, Y1, Y3       // m << shift: exponent and mantissa in place
	VMULPS    Y13, Y3, Y3      // * 2^(127-bias): the value
	VPCMPGTD  Y12, Y1, Y5      // Y5 = NaN code
	VBLENDVPS Y5, Y10, Y3, Y3  // NaN there
	VPCMPEQD  Y11, Y1, Y5      // Y5 = Inf code
	VBLENDVPS Y5, Y9, Y3, Y3   // Inf there
	VPOR      Y0, Y3, Y3       // sign
	VMULPS    Y15, Y3, Y3      // * scale
	VMOVUPS   Y3, (DST)        // dst[i:i+8] = Y3
	ADDQ      $8, SRC          // i += 8
	ADDQ      $32, DST         // DST += 32 bytes
	DECQ      CNT              // CNT--
	JNZ       dec_loop         // more blocks of 8

dec_done:
	VZEROUPPER // clear the upper halves for SSE code
	RET

// ---------------------------------------------------------------------------
// AVX-512 (F, BW, DQ, VL): the AVX2 steps on 16 lanes, with compares into
// K registers and merge-masked moves instead of blends, VPMOVDB to narrow
// codes, and the tail of fewer than 16 elements done under a K1 mask (the
// masked loads and stores touch nothing past the end).

// TAIL_MASK sets K1 to the low CNT bits (CNT < 16, in CX for the shift).
#define TAIL_MASK \
	MOVL  $1, DX;   /* DX = 1                */ \
	SHLL  CX, DX;   /* DX = 1 << CNT         */ \
	DECL  DX;       /* DX = (1 << CNT) - 1   */ \
	KMOVW DX, K1    // K1 = the CNT low lanes

// FQ16 computes 16 results of fakeQuantFP8 from Z0 = x into Z3.
#define FQ16 \
	VDIVPS    Z16, Z0, Z0;        /* v = x / scale                      */ \
	VPANDD    Z17, Z0, Z1;        /* a = |v|                            */ \
	VPXORD    Z1, Z0, Z0;         /* Z0 = sign bit of v                 */ \
	VPSRLD    X6, Z1, Z3;         /* a >> shift                         */ \
	VPANDD    Z18, Z3, Z3;        /* the lowest kept bit                */ \
	VPADDD    Z19, Z3, Z3;        /* + round bias                       */ \
	VPADDD    Z1, Z3, Z3;         /* + a                                */ \
	VPANDD    Z20, Z3, Z3;        /* drop the low bits: normal rounding */ \
	VPMINUD   Z22, Z3, Z3;        /* saturate to max                    */ \
	VADDPS    Z24, Z1, Z4;        /* a + magic                          */ \
	VSUBPS    Z24, Z4, Z4;        /* - magic: subnormal rounding        */ \
	VPCMPUD   $1, Z21, Z1, K2;    /* K2 = a < smallest normal           */ \
	VMOVDQA32 Z4, K2, Z3;         /* subnormal rounding there           */ \
	VPCMPUD   $6, Z23, Z1, K3;    /* K3 = a > Inf: NaN                  */ \
	VMOVDQA32 Z1, K3, Z3;         /* keep the NaN                       */ \
	VPORD     Z0, Z3, Z3;         /* sign                               */ \
	VMULPS    Z16, Z3, Z3         // * scale

// func fakeQuantFP8AVX512(dst, src []float32, scale float32, k *fp8Vec)
TEXT ·fakeQuantFP8AVX512(SB), NOSPLIT, $0-64
	MOVQ         dst_base+0(FP), DST  // DST = &dst[0]
	MOVQ         src_base+24(FP), SRC // SRC = &src[0]
	MOVQ         src_len+32(FP), BX   // BX = len(src)
	MOVQ         k+56(FP), K          // K = &fp8Vec
	VBROADCASTSS scale+48(FP), Z16    // Z16 = scale
	VPBROADCASTD V_ABS(K), Z17        // Z17 = 0x7FFFFFFF
	VPBROADCASTD V_ONE(K), Z18        // Z18 = 1
	VPBROADCASTD V_RBIAS(K), Z19      // Z19 = round bias
	VPBROADCASTD V_HIMASK(K), Z20     // Z20 = kept-bits mask
	VPBROADCASTD V_MINNORM(K), Z21    // Z21 = smallest normal
	VPBROADCASTD V_MAX(K), Z22        // Z22 = max
	VPBROADCASTD V_INF(K), Z23        // Z23 = Inf
	VPBROADCASTD V_MAGIC(K), Z24      // Z24 = magic
	VMOVD        V_SHIFT(K), X6       // X6 = shift count
	MOVQ         BX, CNT              // CNT = len
	SHRQ         $4, BX               // BX = len / 16
	ANDQ         $15, CNT             // CNT = len % 16
	TESTQ        BX, BX               // no block of 16?
	JZ           fq5_tail             // then only the tail

fq5_loop:
	VMOVUPS (SRC), Z0   // Z0 = x
	FQ16                // Z3 = results
	VMOVUPS Z3, (DST)   // dst[i:i+16] = Z3
	ADDQ    $64, SRC    // i += 16
	ADDQ    $64, DST    // DST += 64 bytes
	DECQ    BX          // BX--
	JNZ     fq5_loop    // more blocks of 16

fq5_tail:
	TESTQ   CNT, CNT          // no tail?
	JZ      fq5_done          // done
	TAIL_MASK                 // K1 = the CNT remaining lanes
	VMOVUPS.Z (SRC), K1, Z0   // Z0 = the last x, 0 elsewhere
	FQ16                      // Z3 = results
	VMOVUPS Z3, K1, (DST)     // dst[i:len] = those lanes

fq5_done:
	VZEROUPPER // clear the upper halves for SSE code
	RET

// ENC16 computes 16 codes of x in Z0 into Z3, with Z25 the overflow code.
#define ENC16 \
	VDIVPS    Z16, Z0, Z0;        /* v = x / scale                   */ \
	VPANDD    Z17, Z0, Z1;        /* a = |v|                         */ \
	VPSRLD    $24, Z0, Z0;        /* v >> 24                         */ \
	VPANDD    Z26, Z0, Z0;        /* Z0 = sign of the code           */ \
	VPSRLD    X6, Z1, Z3;         /* a >> shift                      */ \
	VPANDD    Z18, Z3, Z3;        /* the lowest kept bit             */ \
	VPADDD    Z19, Z3, Z3;        /* + round bias                    */ \
	VPADDD    Z1, Z3, Z3;         /* + a                             */ \
	VPSUBD    Z20, Z3, Z3;        /* rebias the exponent             */ \
	VPSRLD    X6, Z3, Z3;         /* Z3 = normal-range code          */ \
	VADDPS    Z24, Z1, Z4;        /* a + magic                       */ \
	VPSUBD    Z24, Z4, Z4;        /* Z4 = subnormal-range code       */ \
	VPCMPUD   $1, Z21, Z1, K2;    /* K2 = a < smallest normal        */ \
	VMOVDQA32 Z4, K2, Z3;         /* subnormal code there            */ \
	VPCMPUD   $6, Z22, Z1, K2;    /* K2 = a overflows, Inf or NaN    */ \
	VMOVDQA32 Z25, K2, Z3;        /* overflow code there             */ \
	VPCMPUD   $6, Z23, Z1, K2;    /* K2 = a > Inf: NaN               */ \
	VMOVDQA32 Z27, K2, Z3;        /* NaN code there                  */ \
	VPORD     Z0, Z3, Z3          // sign

// func encodeFP8AVX512(dst []uint8, src []float32, scale float32, big *[8]uint32, k *fp8Vec)
TEXT ·encodeFP8AVX512(SB), NOSPLIT, $0-72
	MOVQ         dst_base+0(FP), DST  // DST = &dst[0]
	MOVQ         src_base+24(FP), SRC // SRC = &src[0]
	MOVQ         src_len+32(FP), BX   // BX = len(src)
	MOVQ         big+56(FP), R8       // R8 = &overflow code row
	MOVQ         k+64(FP), K          // K = &fp8Vec
	VBROADCASTSS scale+48(FP), Z16    // Z16 = scale
	VPBROADCASTD V_ABS(K), Z17        // Z17 = 0x7FFFFFFF
	VPBROADCASTD V_ONE(K), Z18        // Z18 = 1
	VPBROADCASTD V_RBIAS(K), Z19      // Z19 = round bias
	VPBROADCASTD V_EXPADJ(K), Z20     // Z20 = exponent rebias
	VPBROADCASTD V_MINNORM(K), Z21    // Z21 = smallest normal
	VPBROADCASTD V_SAT(K), Z22        // Z22 = largest |x| kept finite
	VPBROADCASTD V_INF(K), Z23        // Z23 = Inf
	VPBROADCASTD V_MAGIC(K), Z24      // Z24 = magic
	VPBROADCASTD (R8), Z25            // Z25 = overflow code
	VPBROADCASTD V_SIGN(K), Z26       // Z26 = 0x80
	VPBROADCASTD V_NANCODE(K), Z27    // Z27 = 0x7F
	VMOVD        V_SHIFT(K), X6       // X6 = shift count
	MOVQ         BX, CNT              // CNT = len
	SHRQ         $4, BX               // BX = len / 16
	ANDQ         $15, CNT             // CNT = len % 16
	TESTQ        BX, BX               // no block of 16?
	JZ           enc5_tail            // then only the tail

enc5_loop:
	VMOVUPS (SRC), Z0   // Z0 = x
	ENC16               // Z3 = codes
	VPMOVDB Z3, (DST)   // dst[i:i+16] = the codes
	ADDQ    $64, SRC    // i += 16
	ADDQ    $16, DST    // DST += 16 bytes
	DECQ    BX          // BX--
	JNZ     enc5_loop   // more blocks of 16

enc5_tail:
	TESTQ     CNT, CNT          // no tail?
	JZ        enc5_done         // done
	TAIL_MASK                   // K1 = the CNT remaining lanes
	VMOVUPS.Z (SRC), K1, Z0     // Z0 = the last x, 0 elsewhere
	ENC16                       // Z3 = codes
	VPMOVDB   Z3, K1, (DST)     // dst[i:len] = those codes

enc5_done:
	VZEROUPPER // clear the upper halves for SSE code
	RET

// DEC16 computes 16 values of the codes in Z0 (as dwords) into Z3.
#define DEC16 \
	VPANDD    Z17, Z0, Z1;        /* m = code & 0x7F           */ \
	VPXORD    Z1, Z0, Z0;         /* code & 0x80               */ \
	VPSLLD    $24, Z0, Z0;        /* Z0 = the sign bit         */ \
	VPSLLD    X6, Z1, Z3;         /* m << shift                */ \
	VMULPS    Z18, Z3, Z3;        /* * 2^(127-bias): the value */ \
	VPCMPUD   $6, Z19, Z1, K2;    /* K2 = NaN code             */ \
	VMOVDQA32 Z21, K2, Z3;        /* NaN there                 */ \
	VPCMPEQD  Z20, Z1, K2;        /* K2 = Inf code             */ \
	VMOVDQA32 Z22, K2, Z3;        /* Inf there                 */ \
	VPORD     Z0, Z3, Z3;         /* sign                      */ \
	VMULPS    Z16, Z3, Z3         // * scale

// func decodeFP8AVX512(dst []float32, src []uint8, scale float32, k *fp8Vec)
TEXT ·decodeFP8AVX512(SB), NOSPLIT, $0-64
	MOVQ         dst_base+0(FP), DST  // DST = &dst[0]
	MOVQ         src_base+24(FP), SRC // SRC = &src[0]
	MOVQ         src_len+32(FP), BX   // BX = len(src)
	MOVQ         k+56(FP), K          // K = &fp8Vec
	VBROADCASTSS scale+48(FP), Z16    // Z16 = scale
	VPBROADCASTD V_NANCODE(K), Z17    // Z17 = 0x7F
	VPBROADCASTD V_DECMUL(K), Z18     // Z18 = 2^(127-bias)
	VPBROADCASTD V_NANABOVE(K), Z19   // Z19 = |code| above it is NaN
	VPBROADCASTD V_INFCODE(K), Z20    // Z20 = |code| of Inf
	VPBROADCASTD V_QNAN(K), Z21       // Z21 = quiet NaN
	VPBROADCASTD V_INF(K), Z22        // Z22 = Inf
	VMOVD        V_SHIFT(K), X6       // X6 = shift count
	MOVQ         BX, CNT              // CNT = len
	SHRQ         $4, BX               // BX = len / 16
	ANDQ         $15, CNT             // CNT = len % 16
	TESTQ        BX, BX               // no block of 16?
	JZ           dec5_tail            // then only the tail

dec5_loop:
	VPMOVZXBD (SRC), Z0   // Z0 = 16 codes
	DEC16                 // Z3 = values
	VMOVUPS   Z3, (DST)   // dst[i:i+16] = Z3
	ADDQ      $16, SRC    // i += 16
	ADDQ      $64, DST    // DST += 64 bytes
	DECQ      BX          // BX--
	JNZ       dec5_loop   // more blocks of 16

dec5_tail:
	TESTQ       CNT, CNT          // no tail?
	JZ          dec5_done         // done
	TAIL_MASK                     // K1 = the CNT remaining lanes
	VPMOVZXBD.Z (SRC), K1, Z0     // Z0 = the last codes, 0 elsewhere
	DEC16                         // Z3 = values
	VMOVUPS     Z3, K1, (DST)     // dst[i:len] = those lanes

dec5_done:
	VZEROUPPER // clear the upper halves for SSE code
	RET
