//go:build gc && !purego

#include "textflag.h"

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

#define DST R0 // next element of dst
#define SRC R1 // next element of src (x for steNEON)
#define N   R2 // elements left to do after the current stage
#define CNT R3 // iterations left in the current loop
#define SQP R4 // next element of sq (fakeQuantVecNEON)
#define SOP R5 // next element of so (fakeQuantVecNEON)
#define DYP R6 // next element of dy (steNEON)
#define ARG R7 // a float32 argument on its way into a vector

// Every kernel runs the same three stages: 16 elements per iteration, then
// blocks of 4, then single elements loaded into lane 0 and sent through the
// same vector instructions (the other lanes compute junk that is never
// stored).

// ROUNDCLAMP4(lo, hi) sets V0..V3 = clamp(roundHalfToEven(V0..V3), Vlo, Vhi)
// with torch's clamp, v < lo ? lo : v then v > hi ? hi : v, built from
// compares and bit inserts: a NaN compares false and passes through, and
// -0.0 is kept when lo is 0. (FMAX/FMIN would turn max(-0, +0) into +0, and
// FMAXNM/FMINNM would drop the NaN.) V4..V7 are scratch. The four
// registers are interleaved so that in-order cores overlap the latencies.
#define ROUNDCLAMP4(lo, hi) \
	FRINTN4S(0, 0);    /* V0 = roundHalfToEven(V0) */ \
	FRINTN4S(1, 1);    /* V1 = roundHalfToEven(V1) */ \
	FRINTN4S(2, 2);    /* V2 = roundHalfToEven(V2) */ \
	FRINTN4S(3, 3);    /* V3 = roundHalfToEven(V3) */ \
	FCMGT4S(0, lo, 4); /* V4 = lo > V0 */ \
	FCMGT4S(1, lo, 5); /* V5 = lo > V1 */ \
	FCMGT4S(2, lo, 6); /* V6 = lo > V2 */ \
	FCMGT4S(3, lo, 7); /* V7 = lo > V3 */ \
	BIT16B(4, lo, 0);  /* V0 = V4 ? lo : V0 */ \
	BIT16B(5, lo, 1);  /* V1 = V5 ? lo : V1 */ \
	BIT16B(6, lo, 2);  /* V2 = V6 ? lo : V2 */ \
	BIT16B(7, lo, 3);  /* V3 = V7 ? lo : V3 */ \
	FCMGT4S(hi, 0, 4); /* V4 = V0 > hi */ \
	FCMGT4S(hi, 1, 5); /* V5 = V1 > hi */ \
	FCMGT4S(hi, 2, 6); /* V6 = V2 > hi */ \
	FCMGT4S(hi, 3, 7); /* V7 = V3 > hi */ \
	BIT16B(4, hi, 0);  /* V0 = V4 ? hi : V0 */ \
	BIT16B(5, hi, 1);  /* V1 = V5 ? hi : V1 */ \
	BIT16B(6, hi, 2);  /* V2 = V6 ? hi : V2 */ \
	BIT16B(7, hi, 3)   /* V3 = V7 ? hi : V3 */

// ROUNDCLAMP1(lo, hi) is ROUNDCLAMP4 for V0 alone, with V4 as scratch.
#define ROUNDCLAMP1(lo, hi) \
	FRINTN4S(0, 0);    /* V0 = roundHalfToEven(V0) */ \
	FCMGT4S(0, lo, 4); /* V4 = lo > V0 */ \
	BIT16B(4, lo, 0);  /* V0 = V4 ? lo : V0 */ \
	FCMGT4S(hi, 0, 4); /* V4 = V0 > hi */ \
	BIT16B(4, hi, 0)   /* V0 = V4 ? hi : V0 */

// func fakeQuantNEON(dst, src []float32, sq, so, lo, hi float32)
// dst[i] = clamp(roundHalfToEven(src[i]*sq), lo, hi) / so for i < len(src).
TEXT ·fakeQuantNEON(SB), NOSPLIT, $0-64
	MOVD  dst_base+0(FP), DST           // DST = &dst[0]
	MOVD  src_base+24(FP), SRC          // SRC = &src[0]
	MOVD  src_len+32(FP), N             // N = len(src)
	MOVWU sq+48(FP), ARG                // ARG = bits of sq
	VDUP  ARG, V16.S4                   // V16 = sq in every lane
	MOVWU so+52(FP), ARG                // ARG = bits of so
	VDUP  ARG, V17.S4                   // V17 = so in every lane
	MOVWU lo+56(FP), ARG                // ARG = bits of lo
	VDUP  ARG, V18.S4                   // V18 = lo in every lane
	MOVWU hi+60(FP), ARG                // ARG = bits of hi
	VDUP  ARG, V19.S4                   // V19 = hi in every lane
	LSR   $4, N, CNT                    // CNT = N / 16
	AND   $15, N, N                     // N = N % 16
	CBZ   CNT, fq4                      // fewer than 16 elements

fq16:
	VLD1.P 64(SRC), [V0.S4, V1.S4, V2.S4, V3.S4] // V0..V3 = next 16 elements of src
	FMUL4S(16, 0, 0)                             // V0 = V0 * sq
	FMUL4S(16, 1, 1)                             // V1 = V1 * sq
	FMUL4S(16, 2, 2)                             // V2 = V2 * sq
	FMUL4S(16, 3, 3)                             // V3 = V3 * sq
	ROUNDCLAMP4(18, 19)                          // V0..V3 = clamp(roundHalfToEven(V0..V3), lo, hi)
	FDIV4S(17, 0, 0)                             // V0 = V0 / so
	FDIV4S(17, 1, 1)                             // V1 = V1 / so
	FDIV4S(17, 2, 2)                             // V2 = V2 / so
	FDIV4S(17, 3, 3)                             // V3 = V3 / so
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(DST) // store 16 elements of dst
	SUBS   $1, CNT, CNT                          // CNT--
	BNE    fq16                                  // more blocks of 16

fq4:
	LSR $2, N, CNT                      // CNT = N / 4
	AND $3, N, N                        // N = N % 4
	CBZ CNT, fq1                        // no block of 4 left

fq4loop:
	VLD1.P 16(SRC), [V0.S4]             // V0 = next 4 elements of src
	FMUL4S(16, 0, 0)                    // V0 = V0 * sq
	ROUNDCLAMP1(18, 19)                 // V0 = clamp(roundHalfToEven(V0), lo, hi)
	FDIV4S(17, 0, 0)                    // V0 = V0 / so
	VST1.P [V0.S4], 16(DST)             // store 4 elements of dst
	SUBS   $1, CNT, CNT                 // CNT--
	BNE    fq4loop                      // more blocks of 4

fq1:
	CBZ N, fqdone                       // no single element left

fq1loop:
	VLD1.P 4(SRC), V0.S[0]              // V0[0] = next element of src
	FMUL4S(16, 0, 0)                    // V0 = V0 * sq
	ROUNDCLAMP1(18, 19)                 // V0 = clamp(roundHalfToEven(V0), lo, hi)
	FDIV4S(17, 0, 0)                    // V0 = V0 / so
	VST1.P V0.S[0], 4(DST)              // store V0[0] into dst
	SUBS   $1, N, N                     // N--
	BNE    fq1loop                      // more single elements

fqdone:
	RET

// func fakeQuantVecNEON(dst, src, sq, so []float32, lo, hi float32)
// dst[i] = clamp(roundHalfToEven(src[i]*sq[i]), lo, hi) / so[i] for i < len(src).
TEXT ·fakeQuantVecNEON(SB), NOSPLIT, $0-104
	MOVD  dst_base+0(FP), DST           // DST = &dst[0]
	MOVD  src_base+24(FP), SRC          // SRC = &src[0]
	MOVD  src_len+32(FP), N             // N = len(src)
	MOVD  sq_base+48(FP), SQP           // SQP = &sq[0]
	MOVD  so_base+72(FP), SOP           // SOP = &so[0]
	MOVWU lo+96(FP), ARG                // ARG = bits of lo
	VDUP  ARG, V24.S4                   // V24 = lo in every lane
	MOVWU hi+100(FP), ARG               // ARG = bits of hi
	VDUP  ARG, V25.S4                   // V25 = hi in every lane
	LSR   $4, N, CNT                    // CNT = N / 16
	AND   $15, N, N                     // N = N % 16
	CBZ   CNT, fqv4                     // fewer than 16 elements

fqv16:
	VLD1.P 64(SRC), [V0.S4, V1.S4, V2.S4, V3.S4]     // V0..V3 = next 16 elements of src
	VLD1.P 64(SQP), [V16.S4, V17.S4, V18.S4, V19.S4] // V16..V19 = next 16 elements of sq
	VLD1.P 64(SOP), [V20.S4, V21.S4, V22.S4, V23.S4] // V20..V23 = next 16 elements of so
	FMUL4S(16, 0, 0)                                 // V0 = V0 * V16
	FMUL4S(17, 1, 1)                                 // V1 = V1 * V17
	FMUL4S(18, 2, 2)                                 // V2 = V2 * V18
	FMUL4S(19, 3, 3)                                 // V3 = V3 * V19
	ROUNDCLAMP4(24, 25)                          // V0..V3 = clamp(roundHalfToEven(V0..V3), lo, hi)
	FDIV4S(20, 0, 0)                                 // V0 = V0 / V20
	FDIV4S(21, 1, 1)                                 // V1 = V1 / V21
	FDIV4S(22, 2, 2)                                 // V2 = V2 / V22
	FDIV4S(23, 3, 3)                                 // V3 = V3 / V23
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(DST)     // store 16 elements of dst
	SUBS   $1, CNT, CNT                              // CNT--
	BNE    fqv16                                     // more blocks of 16

fqv4:
	LSR $2, N, CNT                      // CNT = N / 4
	AND $3, N, N                        // N = N % 4
	CBZ CNT, fqv1                       // no block of 4 left

fqv4loop:
	VLD1.P 16(SRC), [V0.S4]             // V0 = next 4 elements of src
	VLD1.P 16(SQP), [V16.S4]            // V16 = next 4 elements of sq
	VLD1.P 16(SOP), [V20.S4]            // V20 = next 4 elements of so
	FMUL4S(16, 0, 0)                    // V0 = V0 * V16
	ROUNDCLAMP1(24, 25)                 // V0 = clamp(roundHalfToEven(V0), lo, hi)
	FDIV4S(20, 0, 0)                    // V0 = V0 / V20
	VST1.P [V0.S4], 16(DST)             // store 4 elements of dst
	SUBS   $1, CNT, CNT                 // CNT--
	BNE    fqv4loop                     // more blocks of 4

fqv1:
	CBZ N, fqvdone                      // no single element left

fqv1loop:
	VLD1.P 4(SRC), V0.S[0]              // V0[0] = next element of src
	VLD1.P 4(SQP), V16.S[0]             // V16[0] = next element of sq
	VLD1.P 4(SOP), V20.S[0]             // V20[0] = next element of so
	FMUL4S(16, 0, 0)                    // V0 = V0 * V16
	ROUNDCLAMP1(24, 25)                 // V0 = clamp(roundHalfToEven(V0), lo, hi)
	FDIV4S(20, 0, 0)                    // V0 = V0 / V20
	VST1.P V0.S[0], 4(DST)              // store V0[0] into dst
	SUBS   $1, N, N                     // N--
	BNE    fqv1loop                     // more single elements

fqvdone:
	RET

// func quantInt8NEON(dst []int8, src []float32, sq, lo, hi float32)
// dst[i] = int8(clamp(roundHalfToEven(src[i]*sq), lo, hi)), NaN giving 0,
// for i < len(src); lo and hi lie in [-128, 127].
TEXT ·quantInt8NEON(SB), NOSPLIT, $0-60
	MOVD  dst_base+0(FP), DST           // DST = &dst[0]
	MOVD  src_base+24(FP), SRC          // SRC = &src[0]
	MOVD  src_len+32(FP), N             // N = len(src)
	MOVWU sq+48(FP), ARG                // ARG = bits of sq
	VDUP  ARG, V16.S4                   // V16 = sq in every lane
	MOVWU lo+52(FP), ARG                // ARG = bits of lo
	VDUP  ARG, V18.S4                   // V18 = lo in every lane
	MOVWU hi+56(FP), ARG                // ARG = bits of hi
	VDUP  ARG, V19.S4                   // V19 = hi in every lane
	LSR   $4, N, CNT                    // CNT = N / 16
	AND   $15, N, N                     // N = N % 16
	CBZ   CNT, q4                       // fewer than 16 elements

q16:
	VLD1.P 64(SRC), [V0.S4, V1.S4, V2.S4, V3.S4] // V0..V3 = next 16 elements of src
	FMUL4S(16, 0, 0)                             // V0 = V0 * sq
	FMUL4S(16, 1, 1)                             // V1 = V1 * sq
	FMUL4S(16, 2, 2)                             // V2 = V2 * sq
	FMUL4S(16, 3, 3)                             // V3 = V3 * sq
	ROUNDCLAMP4(18, 19)                          // V0..V3 = clamp(roundHalfToEven(V0..V3), lo, hi)
	FCVTZS4S(0, 0)                               // V0 = int32(V0), NaN -> 0
	FCVTZS4S(1, 1)                               // V1 = int32(V1), NaN -> 0
	FCVTZS4S(2, 2)                               // V2 = int32(V2), NaN -> 0
	FCVTZS4S(3, 3)                               // V3 = int32(V3), NaN -> 0
	SQXTN4H(0, 8)                                // V8 lanes 0..3 = int16(V0)
	SQXTN2_8H(1, 8)                              // V8 lanes 4..7 = int16(V1)
	SQXTN4H(2, 9)                                // V9 lanes 0..3 = int16(V2)
	SQXTN2_8H(3, 9)                              // V9 lanes 4..7 = int16(V3)
	SQXTN8B(8, 10)                               // V10 bytes 0..7 = int8(V8)
	SQXTN2_16B(9, 10)                            // V10 bytes 8..15 = int8(V9)
	VST1.P [V10.B16], 16(DST)                    // store 16 codes into dst
	SUBS   $1, CNT, CNT                          // CNT--
	BNE    q16                                   // more blocks of 16

q4:
	LSR $2, N, CNT                      // CNT = N / 4
	AND $3, N, N                        // N = N % 4
	CBZ CNT, q1                         // no block of 4 left

q4loop:
	VLD1.P 16(SRC), [V0.S4]             // V0 = next 4 elements of src
	FMUL4S(16, 0, 0)                    // V0 = V0 * sq
	ROUNDCLAMP1(18, 19)                 // V0 = clamp(roundHalfToEven(V0), lo, hi)
	FCVTZS4S(0, 0)                      // V0 = int32(V0), NaN -> 0
	SQXTN4H(0, 8)                       // V8 lanes 0..3 = int16(V0)
	SQXTN8B(8, 10)                      // V10 bytes 0..3 = int8(V8)
	VST1.P V10.S[0], 4(DST)             // store 4 codes into dst
	SUBS   $1, CNT, CNT                 // CNT--
	BNE    q4loop                       // more blocks of 4

q1:
	CBZ N, qdone                        // no single element left

q1loop:
	VLD1.P 4(SRC), V0.S[0]              // V0[0] = next element of src
	FMUL4S(16, 0, 0)                    // V0 = V0 * sq
	ROUNDCLAMP1(18, 19)                 // V0 = clamp(roundHalfToEven(V0), lo, hi)
	FCVTZS4S(0, 0)                      // V0 = int32(V0), NaN -> 0
	SQXTN4H(0, 8)                       // V8 = int16(V0)
	SQXTN8B(8, 10)                      // V10 = int8(V8)
	VST1.P V10.B[0], 1(DST)             // store one code into dst
	SUBS   $1, N, N                     // N--
	BNE    q1loop                       // more single elements

qdone:
	RET

// func dequantInt8NEON(dst []float32, src []int8, so float32)
// dst[i] = float32(src[i]) / so for i < len(src).
TEXT ·dequantInt8NEON(SB), NOSPLIT, $0-52
	MOVD  dst_base+0(FP), DST           // DST = &dst[0]
	MOVD  src_base+24(FP), SRC          // SRC = &src[0]
	MOVD  src_len+32(FP), N             // N = len(src)
	MOVWU so+48(FP), ARG                // ARG = bits of so
	VDUP  ARG, V17.S4                   // V17 = so in every lane
	LSR   $4, N, CNT                    // CNT = N / 16
	AND   $15, N, N                     // N = N % 16
	CBZ   CNT, dq4                      // fewer than 16 codes

dq16:
	VLD1.P 16(SRC), [V0.B16]                     // V0 = next 16 codes of src
	SXTL8H(0, 1)                                 // V1 = int16(codes 0..7)
	SXTL2_8H(0, 2)                               // V2 = int16(codes 8..15)
	SXTL4S(1, 4)                                 // V4 = int32(codes 0..3)
	SXTL2_4S(1, 5)                               // V5 = int32(codes 4..7)
	SXTL4S(2, 6)                                 // V6 = int32(codes 8..11)
	SXTL2_4S(2, 7)                               // V7 = int32(codes 12..15)
	SCVTF4S(4, 4)                                // V4 = float32(V4)
	SCVTF4S(5, 5)                                // V5 = float32(V5)
	SCVTF4S(6, 6)                                // V6 = float32(V6)
	SCVTF4S(7, 7)                                // V7 = float32(V7)
	FDIV4S(17, 4, 4)                             // V4 = V4 / so
	FDIV4S(17, 5, 5)                             // V5 = V5 / so
	FDIV4S(17, 6, 6)                             // V6 = V6 / so
	FDIV4S(17, 7, 7)                             // V7 = V7 / so
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(DST) // store 16 elements of dst
	SUBS   $1, CNT, CNT                          // CNT--
	BNE    dq16                                  // more blocks of 16

dq4:
	LSR $2, N, CNT                      // CNT = N / 4
	AND $3, N, N                        // N = N % 4
	CBZ CNT, dq1                        // no block of 4 left

dq4loop:
	VLD1.P 4(SRC), V0.S[0]              // V0 bytes 0..3 = next 4 codes of src
	SXTL8H(0, 1)                        // V1 = int16(V0 bytes 0..7)
	SXTL4S(1, 4)                        // V4 = int32(codes 0..3)
	SCVTF4S(4, 4)                       // V4 = float32(V4)
	FDIV4S(17, 4, 4)                    // V4 = V4 / so
	VST1.P [V4.S4], 16(DST)             // store 4 elements of dst
	SUBS   $1, CNT, CNT                 // CNT--
	BNE    dq4loop                      // more blocks of 4

dq1:
	CBZ N, dqdone                       // no single code left

dq1loop:
	VLD1.P 1(SRC), V0.B[0]              // V0 byte 0 = next code of src
	SXTL8H(0, 1)                        // V1 = int16(V0 bytes 0..7)
	SXTL4S(1, 4)                        // V4 = int32(V1 lanes 0..3)
	SCVTF4S(4, 4)                       // V4 = float32(V4)
	FDIV4S(17, 4, 4)                    // V4 = V4 / so
	VST1.P V4.S[0], 4(DST)              // store V4[0] into dst
	SUBS   $1, N, N                     // N--
	BNE    dq1loop                      // more single codes

dqdone:
	RET

// func steNEON(dst, x, dy []float32, amax float32)
// dst[i] = |x[i]| <= amax ? dy[i] : +0 for i < len(x).
TEXT ·steNEON(SB), NOSPLIT, $0-76
	MOVD  dst_base+0(FP), DST           // DST = &dst[0]
	MOVD  x_base+24(FP), SRC            // SRC = &x[0]
	MOVD  x_len+32(FP), N               // N = len(x)
	MOVD  dy_base+48(FP), DYP           // DYP = &dy[0]
	MOVWU amax+72(FP), ARG              // ARG = bits of amax
	VDUP  ARG, V16.S4                   // V16 = amax in every lane
	LSR   $4, N, CNT                    // CNT = N / 16
	AND   $15, N, N                     // N = N % 16
	CBZ   CNT, ste4                     // fewer than 16 elements

ste16:
	VLD1.P 64(SRC), [V0.S4, V1.S4, V2.S4, V3.S4] // V0..V3 = next 16 elements of x
	VLD1.P 64(DYP), [V4.S4, V5.S4, V6.S4, V7.S4] // V4..V7 = next 16 elements of dy
	FABS4S(0, 0)                                 // V0 = |V0|
	FABS4S(1, 1)                                 // V1 = |V1|
	FABS4S(2, 2)                                 // V2 = |V2|
	FABS4S(3, 3)                                 // V3 = |V3|
	FCMGE4S(0, 16, 0)                            // V0 = amax >= V0 (false for NaN)
	FCMGE4S(1, 16, 1)                            // V1 = amax >= V1
	FCMGE4S(2, 16, 2)                            // V2 = amax >= V2
	FCMGE4S(3, 16, 3)                            // V3 = amax >= V3
	VAND   V0.B16, V4.B16, V4.B16                // V4 = V0 ? dy : +0
	VAND   V1.B16, V5.B16, V5.B16                // V5 = V1 ? dy : +0
	VAND   V2.B16, V6.B16, V6.B16                // V6 = V2 ? dy : +0
	VAND   V3.B16, V7.B16, V7.B16                // V7 = V3 ? dy : +0
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(DST) // store 16 elements of dst
	SUBS   $1, CNT, CNT                          // CNT--
	BNE    ste16                                 // more blocks of 16

ste4:
	LSR $2, N, CNT                      // CNT = N / 4
	AND $3, N, N                        // N = N % 4
	CBZ CNT, ste1                       // no block of 4 left

ste4loop:
	VLD1.P 16(SRC), [V0.S4]             // V0 = next 4 elements of x
	VLD1.P 16(DYP), [V4.S4]             // V4 = next 4 elements of dy
	FABS4S(0, 0)                        // V0 = |V0|
	FCMGE4S(0, 16, 0)                   // V0 = amax >= V0 (false for NaN)
	VAND   V0.B16, V4.B16, V4.B16       // V4 = V0 ? dy : +0
	VST1.P [V4.S4], 16(DST)             // store 4 elements of dst
	SUBS   $1, CNT, CNT                 // CNT--
	BNE    ste4loop                     // more blocks of 4

ste1:
	CBZ N, stedone                      // no single element left

ste1loop:
	VLD1.P 4(SRC), V0.S[0]              // V0[0] = next element of x
	VLD1.P 4(DYP), V4.S[0]              // V4[0] = next element of dy
	FABS4S(0, 0)                        // V0 = |V0|
	FCMGE4S(0, 16, 0)                   // V0 = amax >= V0 (false for NaN)
	VAND   V0.B16, V4.B16, V4.B16       // V4 = V0 ? dy : +0
	VST1.P V4.S[0], 4(DST)              // store V4[0] into dst
	SUBS   $1, N, N                     // N--
	BNE    ste1loop                     // more single elements

stedone:
	RET
