//go:build gc && !purego

#include "textflag.h"

// The NEON kernels of kernels_arm64.go. Each handles all len(src) (or
// len(x)) elements, at least 4: 16 per iteration, then blocks of 4, and
// where len is not a multiple of 4 the last 4 elements again for the rest.
// Their results are computed first, before anything is stored, and stored
// last, over the overlap with the same values: so dst may be src.

// The Go assembler has no mnemonics for these vector instructions; the
// encodings were checked with llvm-mc and decode back in go tool objdump.
// Three-register macros take (m, n, d) and compute d = n OP m.
#define FMUL4S(m, n, d)   WORD $(0x6e20dc00 | ((m)<<16) | ((n)<<5) | (d)) // fmul   vd.4s, vn.4s, vm.4s
#define FDIV4S(m, n, d)   WORD $(0x6e20fc00 | ((m)<<16) | ((n)<<5) | (d)) // fdiv   vd.4s, vn.4s, vm.4s
#define FCMGT4S(m, n, d)  WORD $(0x6ea0e400 | ((m)<<16) | ((n)<<5) | (d)) // fcmgt  vd.4s, vn.4s, vm.4s
#define FCMGE4S(m, n, d)  WORD $(0x6e20e400 | ((m)<<16) | ((n)<<5) | (d)) // fcmge  vd.4s, vn.4s, vm.4s
#define BIT16B(m, n, d)   WORD $(0x6ea01c00 | ((m)<<16) | ((n)<<5) | (d)) // bit    vd.16b, vn.16b, vm.16b
#define FRINTN4S(n, d)    WORD $(0x4e218800 | ((n)<<5) | (d))             // frintn vd.4s, vn.4s
#define FABS4S(n, d)      WORD $(0x4ea0f800 | ((n)<<5) | (d))             // fabs   vd.4s, vn.4s
#define FCVTZS4S(n, d)    WORD $(0x4ea1b800 | ((n)<<5) | (d))             // fcvtzs vd.4s, vn.4s
#define SCVTF4S(n, d)     WORD $(0x4e21d800 | ((n)<<5) | (d))             // scvtf  vd.4s, vn.4s
#define SQXTN4H(n, d)     WORD $(0x0e614800 | ((n)<<5) | (d))             // sqxtn  vd.4h, vn.4s
#define SQXTN2_8H(n, d)   WORD $(0x4e614800 | ((n)<<5) | (d))             // sqxtn2 vd.8h, vn.4s
#define SQXTN8B(n, d)     WORD $(0x0e214800 | ((n)<<5) | (d))             // sqxtn  vd.8b, vn.8h
#define SQXTN2_16B(n, d)  WORD $(0x4e214800 | ((n)<<5) | (d))             // sqxtn2 vd.16b, vn.8h
#define SXTL8H(n, d)      WORD $(0x0f08a400 | ((n)<<5) | (d))             // sxtl   vd.8h, vn.8b  (sshll #0)
#define SXTL2_8H(n, d)    WORD $(0x4f08a400 | ((n)<<5) | (d))             // sxtl2  vd.8h, vn.16b (sshll2 #0)
#define SXTL4S(n, d)      WORD $(0x0f10a400 | ((n)<<5) | (d))             // sxtl   vd.4s, vn.4h  (sshll #0)
#define SXTL2_4S(n, d)    WORD $(0x4f10a400 | ((n)<<5) | (d))             // sxtl2  vd.4s, vn.8h  (sshll2 #0)
#define FMAXNM4S(m, n, d) WORD $(0x4e20c400 | ((m)<<16) | ((n)<<5) | (d)) // fmaxnm vd.4s, vn.4s, vm.4s
#define FMIN4S(m, n, d)   WORD $(0x4ea0f400 | ((m)<<16) | ((n)<<5) | (d)) // fmin   vd.4s, vn.4s, vm.4s
#define FCVTNS4S(n, d)    WORD $(0x4e21a800 | ((n)<<5) | (d))             // fcvtns vd.4s, vn.4s
#define XTN4H(n, d)       WORD $(0x0e612800 | ((n)<<5) | (d))             // xtn    vd.4h, vn.4s
#define XTN2_8H(n, d)     WORD $(0x4e612800 | ((n)<<5) | (d))             // xtn2   vd.8h, vn.4s
#define XTN8B(n, d)       WORD $(0x0e212800 | ((n)<<5) | (d))             // xtn    vd.8b, vn.8h
#define XTN2_16B(n, d)    WORD $(0x4e212800 | ((n)<<5) | (d))             // xtn2   vd.16b, vn.8h

#define DST R0 // next element of dst
#define SRC R1 // next element of src (x for steNEON)
#define N   R2 // elements left after the current stage
#define CNT R3 // iterations left in the current loop
#define SQP R4 // next element of sq (fakeQuantVecNEON)
#define SOP R5 // next element of so (fakeQuantVecNEON)
#define DYP R6 // next element of dy (steNEON)
#define ARG R7 // a float32 argument on its way into a vector
#define ESRC R8  // the last 4 elements of src (x), then of sq, so or dy, and of dst
#define EAUX R9
#define EAUX2 R10
#define EDST R11
#define TAIL R12 // len % 4: the last 4 elements are done again unless 0

// LAST4(p, size, e) sets e to the address of the last 4 elements of size
// bytes (shift 2 for float32, 0 for bytes) of the slice at p with N of them.
#define LAST4(p, shift, e) \
	ADD N<<shift, p, e; \
	SUB $(4<<shift), e, e

// ROUNDCLAMP4(lo, hi) sets V0..V3 = clamp(roundHalfToEven(V0..V3), Vlo, Vhi)
// with torch's clamp, v < lo ? lo : v then v > hi ? hi : v, built from
// compares and bit inserts: a NaN compares false and passes through, and
// -0.0 is kept when lo is 0. (FMAX/FMIN would turn max(-0, +0) into +0, and
// FMAXNM/FMINNM would drop the NaN.) V4..V7 are scratch. The four
// registers are interleaved so that in-order cores overlap the latencies.
#define ROUNDCLAMP4(lo, hi) \
	FRINTN4S(0, 0);    \
	FRINTN4S(1, 1);    \
	FRINTN4S(2, 2);    \
	FRINTN4S(3, 3);    \
	FCMGT4S(0, lo, 4); \
	FCMGT4S(1, lo, 5); \
	FCMGT4S(2, lo, 6); \
	FCMGT4S(3, lo, 7); \
	BIT16B(4, lo, 0);  \
	BIT16B(5, lo, 1);  \
	BIT16B(6, lo, 2);  \
	BIT16B(7, lo, 3);  \
	FCMGT4S(hi, 0, 4); \
	FCMGT4S(hi, 1, 5); \
	FCMGT4S(hi, 2, 6); \
	FCMGT4S(hi, 3, 7); \
	BIT16B(4, hi, 0);  \
	BIT16B(5, hi, 1);  \
	BIT16B(6, hi, 2);  \
	BIT16B(7, hi, 3)

// ROUNDCLAMP1(lo, hi) is ROUNDCLAMP4 for V0 alone, with V4 as scratch.
#define ROUNDCLAMP1(lo, hi) \
	FRINTN4S(0, 0);    \
	FCMGT4S(0, lo, 4); \
	BIT16B(4, lo, 0);  \
	FCMGT4S(hi, 0, 4); \
	BIT16B(4, hi, 0)

// LINEAR4(s, lo, hi, zp) sets V0..V3 = int32(roundHalfToEven(min(maxnm(
// V0..V3/Vs, Vlo), Vhi))) + Vzp, quantLinearGeneric up to the narrowing:
// the quotient of FDIV is a quiet NaN when NaN, and FMAXNM returns the
// number when the other operand is a quiet NaN, so NaN gives lo; the
// bounds are integers, so the sign of a zero does not matter; FCVTNS
// rounds to nearest, ties to even.
#define LINEAR4(s, lo, hi, zp) \
	FDIV4S(s, 0, 0);    \
	FDIV4S(s, 1, 1);    \
	FDIV4S(s, 2, 2);    \
	FDIV4S(s, 3, 3);    \
	FMAXNM4S(lo, 0, 0); \
	FMAXNM4S(lo, 1, 1); \
	FMAXNM4S(lo, 2, 2); \
	FMAXNM4S(lo, 3, 3); \
	FMIN4S(hi, 0, 0);   \
	FMIN4S(hi, 1, 1);   \
	FMIN4S(hi, 2, 2);   \
	FMIN4S(hi, 3, 3);   \
	FCVTNS4S(0, 0);     \
	FCVTNS4S(1, 1);     \
	FCVTNS4S(2, 2);     \
	FCVTNS4S(3, 3);     \
	VADD zp.S4, V0.S4, V0.S4; \
	VADD zp.S4, V1.S4, V1.S4; \
	VADD zp.S4, V2.S4, V2.S4; \
	VADD zp.S4, V3.S4, V3.S4

// LINEAR1(s, lo, hi, zp) is LINEAR4 for V0 alone.
#define LINEAR1(s, lo, hi, zp) \
	FDIV4S(s, 0, 0);    \
	FMAXNM4S(lo, 0, 0); \
	FMIN4S(hi, 0, 0);   \
	FCVTNS4S(0, 0);     \
	VADD zp.S4, V0.S4, V0.S4

// STAGES splits N into CNT blocks of 16 and N blocks of 4.
#define STAGES \
	LSR $4, N, CNT; \
	AND $15, N, N;  \
	LSR $2, N, N

// func fakeQuantNEON(dst, src []float32, sq, so, lo, hi float32)
// dst[i] = clamp(roundHalfToEven(src[i]*sq), lo, hi) / so.
TEXT ·fakeQuantNEON(SB), NOSPLIT, $0-64
	MOVD  dst_base+0(FP), DST
	MOVD  src_base+24(FP), SRC
	MOVD  src_len+32(FP), N
	MOVWU sq+48(FP), ARG
	VDUP  ARG, V16.S4
	MOVWU so+52(FP), ARG
	VDUP  ARG, V17.S4
	MOVWU lo+56(FP), ARG
	VDUP  ARG, V18.S4
	MOVWU hi+60(FP), ARG
	VDUP  ARG, V19.S4
	AND   $3, N, TAIL
	CBZ   TAIL, fqbody
	LAST4(SRC, 2, ESRC)
	LAST4(DST, 2, EDST)
	VLD1  (ESRC), [V0.S4]
	FMUL4S(16, 0, 0)
	ROUNDCLAMP1(18, 19)
	FDIV4S(17, 0, 0)
	VMOV  V0.B16, V26.B16

fqbody:
	STAGES
	CBZ   CNT, fq4

fq16:
	VLD1.P 64(SRC), [V0.S4, V1.S4, V2.S4, V3.S4]
	FMUL4S(16, 0, 0)
	FMUL4S(16, 1, 1)
	FMUL4S(16, 2, 2)
	FMUL4S(16, 3, 3)
	ROUNDCLAMP4(18, 19)
	FDIV4S(17, 0, 0)
	FDIV4S(17, 1, 1)
	FDIV4S(17, 2, 2)
	FDIV4S(17, 3, 3)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(DST)
	SUBS   $1, CNT, CNT
	BNE    fq16

fq4:
	CBZ N, fqdone

fq4loop:
	VLD1.P 16(SRC), [V0.S4]
	FMUL4S(16, 0, 0)
	ROUNDCLAMP1(18, 19)
	FDIV4S(17, 0, 0)
	VST1.P [V0.S4], 16(DST)
	SUBS   $1, N, N
	BNE    fq4loop

fqdone:
	CBZ  TAIL, fqret
	VST1 [V26.S4], (EDST)

fqret:
	RET

// func fakeQuantVecNEON(dst, src, sq, so []float32, lo, hi float32)
// dst[i] = clamp(roundHalfToEven(src[i]*sq[i]), lo, hi) / so[i].
TEXT ·fakeQuantVecNEON(SB), NOSPLIT, $0-104
	MOVD  dst_base+0(FP), DST
	MOVD  src_base+24(FP), SRC
	MOVD  src_len+32(FP), N
	MOVD  sq_base+48(FP), SQP
	MOVD  so_base+72(FP), SOP
	MOVWU lo+96(FP), ARG
	VDUP  ARG, V24.S4
	MOVWU hi+100(FP), ARG
	VDUP  ARG, V25.S4
	AND   $3, N, TAIL
	CBZ   TAIL, fqvbody
	LAST4(SRC, 2, ESRC)
	LAST4(SQP, 2, EAUX)
	LAST4(SOP, 2, EAUX2)
	LAST4(DST, 2, EDST)
	VLD1  (ESRC), [V0.S4]
	VLD1  (EAUX), [V16.S4]
	VLD1  (EAUX2), [V20.S4]
	FMUL4S(16, 0, 0)
	ROUNDCLAMP1(24, 25)
	FDIV4S(20, 0, 0)
	VMOV  V0.B16, V26.B16

fqvbody:
	STAGES
	CBZ   CNT, fqv4

fqv16:
	VLD1.P 64(SRC), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(SQP), [V16.S4, V17.S4, V18.S4, V19.S4]
	VLD1.P 64(SOP), [V20.S4, V21.S4, V22.S4, V23.S4]
	FMUL4S(16, 0, 0)
	FMUL4S(17, 1, 1)
	FMUL4S(18, 2, 2)
	FMUL4S(19, 3, 3)
	ROUNDCLAMP4(24, 25)
	FDIV4S(20, 0, 0)
	FDIV4S(21, 1, 1)
	FDIV4S(22, 2, 2)
	FDIV4S(23, 3, 3)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(DST)
	SUBS   $1, CNT, CNT
	BNE    fqv16

fqv4:
	CBZ N, fqvdone

fqv4loop:
	VLD1.P 16(SRC), [V0.S4]
	VLD1.P 16(SQP), [V16.S4]
	VLD1.P 16(SOP), [V20.S4]
	FMUL4S(16, 0, 0)
	ROUNDCLAMP1(24, 25)
	FDIV4S(20, 0, 0)
	VST1.P [V0.S4], 16(DST)
	SUBS   $1, N, N
	BNE    fqv4loop

fqvdone:
	CBZ  TAIL, fqvret
	VST1 [V26.S4], (EDST)

fqvret:
	RET

// func quantInt8NEON(dst []int8, src []float32, sq, lo, hi float32)
// dst[i] = int8(clamp(roundHalfToEven(src[i]*sq), lo, hi)), NaN giving 0
// (FCVTZS), for lo and hi in [-128, 127]: two saturating narrowings.
TEXT ·quantInt8NEON(SB), NOSPLIT, $0-60
	MOVD  dst_base+0(FP), DST
	MOVD  src_base+24(FP), SRC
	MOVD  src_len+32(FP), N
	MOVWU sq+48(FP), ARG
	VDUP  ARG, V16.S4
	MOVWU lo+52(FP), ARG
	VDUP  ARG, V18.S4
	MOVWU hi+56(FP), ARG
	VDUP  ARG, V19.S4
	AND   $3, N, TAIL
	CBZ   TAIL, qbody
	LAST4(SRC, 2, ESRC)
	LAST4(DST, 0, EDST)
	VLD1  (ESRC), [V0.S4]
	FMUL4S(16, 0, 0)
	ROUNDCLAMP1(18, 19)
	FCVTZS4S(0, 0)
	SQXTN4H(0, 8)
	SQXTN8B(8, 26)

qbody:
	STAGES
	CBZ   CNT, q4

q16:
	VLD1.P 64(SRC), [V0.S4, V1.S4, V2.S4, V3.S4]
	FMUL4S(16, 0, 0)
	FMUL4S(16, 1, 1)
	FMUL4S(16, 2, 2)
	FMUL4S(16, 3, 3)
	ROUNDCLAMP4(18, 19)
	FCVTZS4S(0, 0)
	FCVTZS4S(1, 1)
	FCVTZS4S(2, 2)
	FCVTZS4S(3, 3)
	SQXTN4H(0, 8)
	SQXTN2_8H(1, 8)
	SQXTN4H(2, 9)
	SQXTN2_8H(3, 9)
	SQXTN8B(8, 10)
	SQXTN2_16B(9, 10)
	VST1.P [V10.B16], 16(DST)
	SUBS   $1, CNT, CNT
	BNE    q16

q4:
	CBZ N, qdone

q4loop:
	VLD1.P 16(SRC), [V0.S4]
	FMUL4S(16, 0, 0)
	ROUNDCLAMP1(18, 19)
	FCVTZS4S(0, 0)
	SQXTN4H(0, 8)
	SQXTN8B(8, 10)
	VST1.P V10.S[0], 4(DST)
	SUBS   $1, N, N
	BNE    q4loop

qdone:
	CBZ  TAIL, qret
	VST1 V26.S[0], (EDST)

qret:
	RET

// func quantLinearNEON(dst []byte, src []float32, scale, lo, hi float32, zp int32)
// dst[i] = byte(int32(roundHalfToEven(clamp(src[i]/scale, lo, hi))) + zp),
// NaN giving lo (LINEAR4), for integer lo and hi: two truncating
// narrowings keep the low byte of each int32.
TEXT ·quantLinearNEON(SB), NOSPLIT, $0-64
	MOVD  dst_base+0(FP), DST
	MOVD  src_base+24(FP), SRC
	MOVD  src_len+32(FP), N
	MOVWU scale+48(FP), ARG
	VDUP  ARG, V16.S4
	MOVWU lo+52(FP), ARG
	VDUP  ARG, V18.S4
	MOVWU hi+56(FP), ARG
	VDUP  ARG, V19.S4
	MOVWU zp+60(FP), ARG
	VDUP  ARG, V20.S4
	AND   $3, N, TAIL
	CBZ   TAIL, qlbody
	LAST4(SRC, 2, ESRC)
	LAST4(DST, 0, EDST)
	VLD1  (ESRC), [V0.S4]
	LINEAR1(16, 18, 19, V20)
	XTN4H(0, 8)
	XTN8B(8, 26)

qlbody:
	STAGES
	CBZ   CNT, ql4

ql16:
	VLD1.P 64(SRC), [V0.S4, V1.S4, V2.S4, V3.S4]
	LINEAR4(16, 18, 19, V20)
	XTN4H(0, 8)
	XTN2_8H(1, 8)
	XTN4H(2, 9)
	XTN2_8H(3, 9)
	XTN8B(8, 10)
	XTN2_16B(9, 10)
	VST1.P [V10.B16], 16(DST)
	SUBS   $1, CNT, CNT
	BNE    ql16

ql4:
	CBZ N, qldone

ql4loop:
	VLD1.P 16(SRC), [V0.S4]
	LINEAR1(16, 18, 19, V20)
	XTN4H(0, 8)
	XTN8B(8, 10)
	VST1.P V10.S[0], 4(DST)
	SUBS   $1, N, N
	BNE    ql4loop

qldone:
	CBZ  TAIL, qlret
	VST1 V26.S[0], (EDST)

qlret:
	RET

// func dequantInt8NEON(dst []float32, src []int8, so float32)
// dst[i] = float32(src[i]) / so: sign-extend to int32, SCVTF, FDIV.
TEXT ·dequantInt8NEON(SB), NOSPLIT, $0-52
	MOVD  dst_base+0(FP), DST
	MOVD  src_base+24(FP), SRC
	MOVD  src_len+32(FP), N
	MOVWU so+48(FP), ARG
	VDUP  ARG, V17.S4
	AND   $3, N, TAIL
	CBZ   TAIL, dqbody
	LAST4(SRC, 0, ESRC)
	LAST4(DST, 2, EDST)
	VLD1  (ESRC), V0.S[0]
	SXTL8H(0, 1)
	SXTL4S(1, 4)
	SCVTF4S(4, 4)
	FDIV4S(17, 4, 26)

dqbody:
	STAGES
	CBZ   CNT, dq4

dq16:
	VLD1.P 16(SRC), [V0.B16]
	SXTL8H(0, 1)
	SXTL2_8H(0, 2)
	SXTL4S(1, 4)
	SXTL2_4S(1, 5)
	SXTL4S(2, 6)
	SXTL2_4S(2, 7)
	SCVTF4S(4, 4)
	SCVTF4S(5, 5)
	SCVTF4S(6, 6)
	SCVTF4S(7, 7)
	FDIV4S(17, 4, 4)
	FDIV4S(17, 5, 5)
	FDIV4S(17, 6, 6)
	FDIV4S(17, 7, 7)
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(DST)
	SUBS   $1, CNT, CNT
	BNE    dq16

dq4:
	CBZ N, dqdone

dq4loop:
	VLD1.P 4(SRC), V0.S[0]
	SXTL8H(0, 1)
	SXTL4S(1, 4)
	SCVTF4S(4, 4)
	FDIV4S(17, 4, 4)
	VST1.P [V4.S4], 16(DST)
	SUBS   $1, N, N
	BNE    dq4loop

dqdone:
	CBZ  TAIL, dqret
	VST1 [V26.S4], (EDST)

dqret:
	RET

// func steNEON(dst, x, dy []float32, amax float32)
// dst[i] = |x[i]| <= amax ? dy[i] : +0: FCMGE is false for NaN, and the
// AND with dy leaves +0 where the test fails.
TEXT ·steNEON(SB), NOSPLIT, $0-76
	MOVD  dst_base+0(FP), DST
	MOVD  x_base+24(FP), SRC
	MOVD  x_len+32(FP), N
	MOVD  dy_base+48(FP), DYP
	MOVWU amax+72(FP), ARG
	VDUP  ARG, V16.S4
	AND   $3, N, TAIL
	CBZ   TAIL, stebody
	LAST4(SRC, 2, ESRC)
	LAST4(DYP, 2, EAUX)
	LAST4(DST, 2, EDST)
	VLD1  (ESRC), [V0.S4]
	VLD1  (EAUX), [V26.S4]
	FABS4S(0, 0)
	FCMGE4S(0, 16, 0)
	VAND  V0.B16, V26.B16, V26.B16

stebody:
	STAGES
	CBZ   CNT, ste4

ste16:
	VLD1.P 64(SRC), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(DYP), [V4.S4, V5.S4, V6.S4, V7.S4]
	FABS4S(0, 0)
	FABS4S(1, 1)
	FABS4S(2, 2)
	FABS4S(3, 3)
	FCMGE4S(0, 16, 0)
	FCMGE4S(1, 16, 1)
	FCMGE4S(2, 16, 2)
	FCMGE4S(3, 16, 3)
	VAND   V0.B16, V4.B16, V4.B16
	VAND   V1.B16, V5.B16, V5.B16
	VAND   V2.B16, V6.B16, V6.B16
	VAND   V3.B16, V7.B16, V7.B16
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(DST)
	SUBS   $1, CNT, CNT
	BNE    ste16

ste4:
	CBZ N, stedone

ste4loop:
	VLD1.P 16(SRC), [V0.S4]
	VLD1.P 16(DYP), [V4.S4]
	FABS4S(0, 0)
	FCMGE4S(0, 16, 0)
	VAND   V0.B16, V4.B16, V4.B16
	VST1.P [V4.S4], 16(DST)
	SUBS   $1, N, N
	BNE    ste4loop

stedone:
	CBZ  TAIL, steret
	VST1 [V26.S4], (EDST)

steret:
	RET
