//go:build gc && !purego

#include "textflag.h"

// The original toolkit's scaled E4M3 fake quantization (scaledE4M3Generic
// in e4m3_generic.go is the specification): per element
//
//	v = x * scale                        (VMULPS)
//	r = v rounded to E4M3FN, saturating  (integer rounding above 2^-6,
//	                                      magic-number rounding below)
//	y = r / scale                        (VDIVPS, a true division)
//	y = +0 where |x| < 2^-24
//
// MXCSR is round-to-nearest-even without flush-to-zero in Go, so every
// float operation gives the bits of the Go code. The rounding is that of
// roundFP8 (fp8_generic.go) for E4M3FN: with a = |v|'s bits, the normal
// range rounds half to even by the integer addition a + 0x7FFFF + the
// lowest kept bit, then clears the 20 bits E4M3 drops, and saturates at
// the bits of 448 (±Inf included); below 2^-6 a + 2^14 - 2^14 rounds to the
// subnormal step 2^-9 in the FPU; a NaN (a above Inf's bits) is kept.
// Go operand order is Intel's reversed: VPCMPGTD B, A, M is a > b, and
// VBLENDVPS M, T, F, D is d = m ? t : f.

#include "e4m3_consts.h"

#define C_ABS     e4m3c<>+0(SB)
#define C_ONE     e4m3c<>+4(SB)
#define C_RBIAS   e4m3c<>+8(SB)
#define C_HIMASK  e4m3c<>+12(SB)
#define C_MINNORM e4m3c<>+16(SB)
#define C_MAX     e4m3c<>+20(SB)
#define C_INF     e4m3c<>+24(SB)
#define C_MAGIC   e4m3c<>+28(SB)
#define C_TINYM1  e4m3c<>+32(SB)

#define DST DI // &dst[i]
#define SRC SI // &src[i]
#define CNT CX // blocks left (AVX2), or the tail length (AVX-512)

// ---------------------------------------------------------------------------
// func scaledE4M3AVX2(dst, src []float32, scale float32)
// 8 elements per iteration over len(src) rounded down to a multiple of 8.
TEXT ·scaledE4M3AVX2(SB), NOSPLIT, $0-52
	MOVQ         dst_base+0(FP), DST  // DST = &dst[0]
	MOVQ         src_base+24(FP), SRC // SRC = &src[0]
	MOVQ         src_len+32(FP), CNT  // CNT = len(src)
	VBROADCASTSS scale+48(FP), Y15    // Y15 = scale
	VPBROADCASTD C_ABS, Y14           // Y14 = 0x7FFFFFFF
	VPBROADCASTD C_ONE, Y13           // Y13 = 1
	VPBROADCASTD C_RBIAS, Y12         // Y12 = round bias
	VPBROADCASTD C_HIMASK, Y11        // Y11 = kept-bits mask
	VPBROADCASTD C_MINNORM, Y10       // Y10 = 2^-6
	VPBROADCASTD C_MAX, Y9            // Y9 = 448
	VPBROADCASTD C_INF, Y8            // Y8 = Inf
	VPBROADCASTD C_MAGIC, Y7          // Y7 = magic
	VPBROADCASTD C_TINYM1, Y6         // Y6 = below 2^-24
	SHRQ         $3, CNT              // CNT = len / 8
	JZ           avx2_done            // nothing to do

avx2_loop:
	VMOVUPS   (SRC), Y0      // Y0 = x
	VMULPS    Y15, Y0, Y1    // v = x * scale
	VANDPS    Y14, Y1, Y2    // a = |v|
	VXORPS    Y2, Y1, Y1     // Y1 = sign bit of v
	VPSRLD    $20, Y2, Y3    // a >> 20
	VPAND     Y13, Y3, Y3    // the lowest kept bit
	VPADDD    Y12, Y3, Y3    // + round bias
	VPADDD    Y2, Y3, Y3     // + a: rounded half to even above the kept bits
	VPAND     Y11, Y3, Y3    // drop the low bits: the normal-range rounding
	VPMINUD   Y9, Y3, Y3     // saturate: anything above 448 (and Inf) is 448
	VADDPS    Y7, Y2, Y4     // a + magic rounds to the subnormal step
	VSUBPS    Y7, Y4, Y4     // - magic (exact): the subnormal-range rounding
	VPCMPGTD  Y2, Y10, Y5    // Y5 = a < 2^-6
	VBLENDVPS Y5, Y4, Y3, Y3 // take the subnormal rounding there
	VPCMPGTD  Y8, Y2, Y5     // Y5 = a > Inf: NaN
	VBLENDVPS Y5, Y2, Y3, Y3 // keep the NaN
	VORPS     Y1, Y3, Y3     // put the sign back
	VDIVPS    Y15, Y3, Y3    // / scale
	VANDPS    Y14, Y0, Y0    // |x|
	VPCMPGTD  Y6, Y0, Y0     // Y0 = |x| >= 2^-24 (NaN too)
	VPAND     Y0, Y3, Y3     // +0 elsewhere
	VMOVUPS   Y3, (DST)      // dst[i:i+8] = Y3
	ADDQ      $32, SRC       // i += 8
	ADDQ      $32, DST       // DST += 32 bytes
	DECQ      CNT            // CNT--
	JNZ       avx2_loop      // more blocks of 8

avx2_done:
	VZEROUPPER // clear the upper halves for SSE code
	RET

// ---------------------------------------------------------------------------
// AVX-512 (F, BW, DQ, VL): the AVX2 steps on 16 lanes, with compares into
// K registers and merge-masked moves instead of blends, and the tail of
// fewer than 16 elements under the mask K1 (the masked load and store
// touch nothing past the end).

// SCALED16 computes 16 results from Z0 = x into Z3.
#define SCALED16 \
	VMULPS      Z16, Z0, Z1;      /* v = x * scale                    */ \
	VPANDD      Z17, Z1, Z2;      /* a = |v|                          */ \
	VPXORD      Z2, Z1, Z1;       /* Z1 = sign bit of v               */ \
	VPSRLD      $20, Z2, Z3;      /* a >> 20                          */ \
	VPANDD      Z18, Z3, Z3;      /* the lowest kept bit              */ \
	VPADDD      Z19, Z3, Z3;      /* + round bias                     */ \
	VPADDD      Z2, Z3, Z3;       /* + a                              */ \
	VPANDD      Z20, Z3, Z3;      /* drop the low bits                */ \
	VPMINUD     Z22, Z3, Z3;      /* saturate to 448                  */ \
	VADDPS      Z24, Z2, Z4;      /* a + magic                        */ \
	VSUBPS      Z24, Z4, Z4;      /* - magic: subnormal rounding      */ \
	VPCMPUD     $1, Z21, Z2, K2;  /* K2 = a < 2^-6                    */ \
	VMOVDQA32   Z4, K2, Z3;       /* subnormal rounding there         */ \
	VPCMPUD     $6, Z23, Z2, K3;  /* K3 = a > Inf: NaN                */ \
	VMOVDQA32   Z2, K3, Z3;       /* keep the NaN                     */ \
	VPORD       Z1, Z3, Z3;       /* sign                             */ \
	VDIVPS      Z16, Z3, Z3;      /* / scale                          */ \
	VPANDD      Z17, Z0, Z0;      /* |x|                              */ \
	VPCMPUD     $6, Z25, Z0, K4;  /* K4 = |x| >= 2^-24 (NaN too)      */ \
	VMOVDQA32.Z Z3, K4, Z3        // +0 elsewhere

// func scaledE4M3AVX512(dst, src []float32, scale float32)
TEXT ·scaledE4M3AVX512(SB), NOSPLIT, $0-52
	MOVQ         dst_base+0(FP), DST  // DST = &dst[0]
	MOVQ         src_base+24(FP), SRC // SRC = &src[0]
	MOVQ         src_len+32(FP), BX   // BX = len(src)
	VBROADCASTSS scale+48(FP), Z16    // Z16 = scale
	VPBROADCASTD C_ABS, Z17           // Z17 = 0x7FFFFFFF
	VPBROADCASTD C_ONE, Z18           // Z18 = 1
	VPBROADCASTD C_RBIAS, Z19         // Z19 = round bias
	VPBROADCASTD C_HIMASK, Z20        // Z20 = kept-bits mask
	VPBROADCASTD C_MINNORM, Z21       // Z21 = 2^-6
	VPBROADCASTD C_MAX, Z22           // Z22 = 448
	VPBROADCASTD C_INF, Z23           // Z23 = Inf
	VPBROADCASTD C_MAGIC, Z24         // Z24 = magic
	VPBROADCASTD C_TINYM1, Z25        // Z25 = below 2^-24
	MOVQ         BX, CNT              // CNT = len
	SHRQ         $4, BX               // BX = len / 16
	ANDQ         $15, CNT             // CNT = len % 16
	TESTQ        BX, BX               // no block of 16?
	JZ           avx512_tail          // then only the tail

avx512_loop:
	VMOVUPS (SRC), Z0 // Z0 = x
	SCALED16          // Z3 = results
	VMOVUPS Z3, (DST) // dst[i:i+16] = Z3
	ADDQ    $64, SRC  // i += 16
	ADDQ    $64, DST  // DST += 64 bytes
	DECQ    BX        // BX--
	JNZ     avx512_loop // more blocks of 16

avx512_tail:
	TESTQ     CNT, CNT        // no tail?
	JZ        avx512_done     // done
	MOVL      $1, DX          // DX = 1
	SHLL      CX, DX          // DX = 1 << CNT
	DECL      DX              // DX = (1 << CNT) - 1
	KMOVW     DX, K1          // K1 = the CNT remaining lanes
	VMOVUPS.Z (SRC), K1, Z0   // Z0 = the last x, 0 elsewhere
	SCALED16                  // Z3 = results
	VMOVUPS   Z3, K1, (DST)   // dst[i:len] = those lanes

avx512_done:
	VZEROUPPER // clear the upper halves for SSE code
	RET
