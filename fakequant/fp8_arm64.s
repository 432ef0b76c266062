//go:build gc && !purego

#include "textflag.h"

// FP8 kernels for NEON. Each handles all len(src) elements, at least 4:
// 4 per iteration, and where len is not a multiple of 4 the last 4 again
// for the rest, computed before anything is stored and stored last, over
// the overlap with the same values. FPCR is Go's default (round to nearest even, no flush to zero),
// so FDIV, FADD, FSUB and FMUL give the bits of the Go code, subnormals
// included.

// The Go assembler has no mnemonics for these vector instructions; the
// encodings were checked with llvm-mc (and decode back in go tool objdump).
// Three-register macros take (m, n, d) and compute d = n OP m.
#define FDIV4S(m, n, d)  WORD $(0x6e20fc00 | ((m)<<16) | ((n)<<5) | (d)) // fdiv  vd.4s, vn.4s, vm.4s
#define FMUL4S(m, n, d)  WORD $(0x6e20dc00 | ((m)<<16) | ((n)<<5) | (d)) // fmul  vd.4s, vn.4s, vm.4s
#define FADD4S(m, n, d)  WORD $(0x4e20d400 | ((m)<<16) | ((n)<<5) | (d)) // fadd  vd.4s, vn.4s, vm.4s
#define FSUB4S(m, n, d)  WORD $(0x4ea0d400 | ((m)<<16) | ((n)<<5) | (d)) // fsub  vd.4s, vn.4s, vm.4s
#define USHL4S(m, n, d)  WORD $(0x6ea04400 | ((m)<<16) | ((n)<<5) | (d)) // ushl  vd.4s, vn.4s, vm.4s (shift by vm's signed low byte)
#define UMIN4S(m, n, d)  WORD $(0x6ea06c00 | ((m)<<16) | ((n)<<5) | (d)) // umin  vd.4s, vn.4s, vm.4s
#define CMHI4S(m, n, d)  WORD $(0x6ea03400 | ((m)<<16) | ((n)<<5) | (d)) // cmhi  vd.4s, vn.4s, vm.4s (n > m, unsigned)
#define BIT16B(m, n, d)  WORD $(0x6ea01c00 | ((m)<<16) | ((n)<<5) | (d)) // bit   vd.16b, vn.16b, vm.16b (d = m ? n : d)
#define XTN4H(n, d)      WORD $(0x0e612800 | ((n)<<5) | (d))             // xtn   vd.4h, vn.4s
#define XTN8B(n, d)      WORD $(0x0e212800 | ((n)<<5) | (d))             // xtn   vd.8b, vn.8h
#define UXTL8H(n, d)     WORD $(0x2f08a400 | ((n)<<5) | (d))             // uxtl  vd.8h, vn.8b  (ushll #0)
#define UXTL4S(n, d)     WORD $(0x2f10a400 | ((n)<<5) | (d))             // uxtl  vd.4s, vn.4h  (ushll #0)

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
#define V_SHIFT    576 // shift
#define V_NEGSHIFT 608 // -shift

#define DST  R0 // &dst[i]
#define SRC  R1 // &src[i]
#define CNT  R2 // blocks of 4 left
#define K    R3 // &fp8Vec
#define ROW  R4 // address of one fp8Vec row
#define ARG  R5 // a float32 argument on its way into a vector
#define ESRC R6 // the last 4 elements of src
#define EDST R7 // the last 4 elements of dst
#define TAIL R8 // len % 4: the last 4 elements are done again unless 0

// LOADROW(off, v) sets Vv to the first 4 lanes of the fp8Vec row at off.
#define LOADROW(off, v) \
	ADD  $off, K, ROW; \
	VLD1 (ROW), [v.S4]

// LAST4(shift) points ESRC and EDST at the last 4 elements of src and dst,
// whose elements are 4 bytes (shift 2) or 1 byte (0); CNT holds len(src).
#define LAST4(srcshift, dstshift) \
	ADD CNT<<srcshift, SRC, ESRC; \
	SUB $(4<<srcshift), ESRC, ESRC; \
	ADD CNT<<dstshift, DST, EDST; \
	SUB $(4<<dstshift), EDST, EDST

// FQ4 computes V3 = roundFP8(V0 / scale) * scale, with V1, V4 and V5
// scratch: the normal-range rounding in integers, the subnormal one by
// adding and subtracting magic, NaN kept.
#define FQ4 \
	FDIV4S(16, 0, 0); \
	VAND V17.B16, V0.B16, V1.B16; /* a = |v| */ \
	VEOR V1.B16, V0.B16, V0.B16;  /* the sign bit of v */ \
	USHL4S(18, 1, 3); \
	VAND V19.B16, V3.B16, V3.B16; /* the lowest kept bit */ \
	VADD V20.S4, V3.S4, V3.S4; \
	VADD V1.S4, V3.S4, V3.S4; \
	VAND V21.B16, V3.B16, V3.B16; \
	UMIN4S(22, 3, 3);             /* saturate: above max (and Inf) is max */ \
	FADD4S(23, 1, 4);             /* a + magic rounds to the subnormal step */ \
	FSUB4S(23, 4, 4); \
	CMHI4S(1, 24, 5);             /* a < smallest normal */ \
	BIT16B(5, 4, 3); \
	CMHI4S(25, 1, 5);             /* a > Inf: NaN */ \
	BIT16B(5, 1, 3); \
	VORR V0.B16, V3.B16, V3.B16; \
	FMUL4S(16, 3, 3)

// ENC4 computes the 4 codes of V0 / scale into the low bytes of V3, with
// V1, V4 and V5 scratch.
#define ENC4 \
	FDIV4S(16, 0, 0); \
	VAND  V17.B16, V0.B16, V1.B16; /* a = |v| */ \
	VUSHR $24, V0.S4, V0.S4; \
	VAND  V26.B16, V0.B16, V0.B16; /* the sign of the code */ \
	USHL4S(18, 1, 3); \
	VAND  V19.B16, V3.B16, V3.B16; /* the lowest kept bit */ \
	VADD  V20.S4, V3.S4, V3.S4; \
	VADD  V1.S4, V3.S4, V3.S4; \
	VSUB  V21.S4, V3.S4, V3.S4;    /* rebias the exponent */ \
	USHL4S(18, 3, 3); \
	FADD4S(23, 1, 4);              /* a + magic: the subnormal code ... */ \
	VSUB  V23.S4, V4.S4, V4.S4;    /* ... in the low bits */ \
	CMHI4S(1, 24, 5);              /* a < smallest normal */ \
	BIT16B(5, 4, 3); \
	CMHI4S(22, 1, 5);              /* a overflows (or is Inf or NaN) */ \
	BIT16B(5, 28, 3); \
	CMHI4S(25, 1, 5);              /* a > Inf: NaN */ \
	BIT16B(5, 27, 3); \
	VORR  V0.B16, V3.B16, V3.B16; \
	XTN4H(3, 3); \
	XTN8B(3, 3)

// DEC4 computes the values of the 4 codes in the low bytes of V0, times
// scale, into V3, with V1 and V5 scratch.
#define DEC4 \
	UXTL8H(0, 0); \
	UXTL4S(0, 0); \
	VAND  V17.B16, V0.B16, V1.B16; /* m = code & 0x7F */ \
	VEOR  V1.B16, V0.B16, V0.B16; \
	VSHL  $24, V0.S4, V0.S4;       /* the sign bit */ \
	USHL4S(18, 1, 3);              /* m << shift: exponent and mantissa in place */ \
	FMUL4S(19, 3, 3); \
	CMHI4S(20, 1, 5);              /* NaN code */ \
	BIT16B(5, 22, 3); \
	VCMEQ V21.S4, V1.S4, V5.S4;    /* Inf code */ \
	BIT16B(5, 23, 3); \
	VORR  V0.B16, V3.B16, V3.B16; \
	FMUL4S(16, 3, 3)

// func fakeQuantFP8NEON(dst, src []float32, scale float32, k *fp8Vec)
// dst[i] = roundFP8(src[i] / scale) * scale (fakeQuantFP8Generic).
TEXT ·fakeQuantFP8NEON(SB), NOSPLIT, $0-64
	MOVD  dst_base+0(FP), DST
	MOVD  src_base+24(FP), SRC
	MOVD  src_len+32(FP), CNT
	MOVD  k+56(FP), K
	MOVWU scale+48(FP), ARG
	VDUP  ARG, V16.S4
	LOADROW(V_ABS, V17)
	LOADROW(V_NEGSHIFT, V18)
	LOADROW(V_ONE, V19)
	LOADROW(V_RBIAS, V20)
	LOADROW(V_HIMASK, V21)
	LOADROW(V_MAX, V22)
	LOADROW(V_MAGIC, V23)
	LOADROW(V_MINNORM, V24)
	LOADROW(V_INF, V25)
	AND   $3, CNT, TAIL
	CBZ   TAIL, fq_body
	LAST4(2, 2)
	VLD1  (ESRC), [V0.S4]
	FQ4
	VMOV  V3.B16, V29.B16

fq_body:
	LSR   $2, CNT, CNT

fq_loop:
	VLD1.P 16(SRC), [V0.S4]
	FQ4
	VST1.P [V3.S4], 16(DST)
	SUBS   $1, CNT, CNT
	BNE    fq_loop
	CBZ    TAIL, fq_ret
	VST1   [V29.S4], (EDST)

fq_ret:
	RET

// func encodeFP8NEON(dst []uint8, src []float32, scale float32, big *[8]uint32, k *fp8Vec)
// dst[i] = the code of src[i] / scale, with the overflow code in *big
// (encodeFP8Generic).
TEXT ·encodeFP8NEON(SB), NOSPLIT, $0-72
	MOVD  dst_base+0(FP), DST
	MOVD  src_base+24(FP), SRC
	MOVD  src_len+32(FP), CNT
	MOVD  big+56(FP), ROW
	VLD1  (ROW), [V28.S4]
	MOVD  k+64(FP), K
	MOVWU scale+48(FP), ARG
	VDUP  ARG, V16.S4
	LOADROW(V_ABS, V17)
	LOADROW(V_NEGSHIFT, V18)
	LOADROW(V_ONE, V19)
	LOADROW(V_RBIAS, V20)
	LOADROW(V_EXPADJ, V21)
	LOADROW(V_SAT, V22)
	LOADROW(V_MAGIC, V23)
	LOADROW(V_MINNORM, V24)
	LOADROW(V_INF, V25)
	LOADROW(V_SIGN, V26)
	LOADROW(V_NANCODE, V27)
	AND   $3, CNT, TAIL
	CBZ   TAIL, enc_body
	LAST4(2, 0)
	VLD1  (ESRC), [V0.S4]
	ENC4
	VMOV  V3.B16, V29.B16

enc_body:
	LSR   $2, CNT, CNT

enc_loop:
	VLD1.P 16(SRC), [V0.S4]
	ENC4
	VST1.P V3.S[0], 4(DST)
	SUBS   $1, CNT, CNT
	BNE    enc_loop
	CBZ    TAIL, enc_ret
	VST1   V29.S[0], (EDST)

enc_ret:
	RET

// func decodeFP8NEON(dst []float32, src []uint8, scale float32, k *fp8Vec)
// dst[i] = value(src[i]) * scale (decodeFP8Generic): the code's exponent
// and mantissa placed in a float32 (a float32 subnormal for an FP8
// subnormal) times 2^(127-bias), with NaN and Inf codes inserted.
TEXT ·decodeFP8NEON(SB), NOSPLIT, $0-64
	MOVD  dst_base+0(FP), DST
	MOVD  src_base+24(FP), SRC
	MOVD  src_len+32(FP), CNT
	MOVD  k+56(FP), K
	MOVWU scale+48(FP), ARG
	VDUP  ARG, V16.S4
	LOADROW(V_NANCODE, V17)
	LOADROW(V_SHIFT, V18)
	LOADROW(V_DECMUL, V19)
	LOADROW(V_NANABOVE, V20)
	LOADROW(V_INFCODE, V21)
	LOADROW(V_QNAN, V22)
	LOADROW(V_INF, V23)
	AND   $3, CNT, TAIL
	CBZ   TAIL, dec_body
	LAST4(0, 2)
	VLD1  (ESRC), V0.S[0]
	DEC4
	VMOV  V3.B16, V29.B16

dec_body:
	LSR   $2, CNT, CNT

dec_loop:
	VLD1.P 4(SRC), V0.S[0]
	DEC4
	VST1.P [V3.S4], 16(DST)
	SUBS   $1, CNT, CNT
	BNE    dec_loop
	CBZ    TAIL, dec_ret
	VST1   [V29.S4], (EDST)

dec_ret:
	RET
