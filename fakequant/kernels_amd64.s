//go:build gc && !purego

#include "textflag.h"

// Register aliases shared by every kernel.
#define DST   DI // &dst[i]
#define SRC   SI // &src[i] (or &x[i])
#define LEN   BX // elements left
#define TMP   AX // scratch
#define SHIFT CX // shift counts (CL) for masks

// NT_MIN is the length (in elements: 8 MiB of float32 output) from which
// the float32-output kernels write with non-temporal stores (VMOVNTPS to a
// 64-byte aligned dst after an unaligned head, then SFENCE). Measured on the
// Zen 5 of BENCHMARKS.md: streaming loses up to 25% while the output still
// fits the last-level cache (1-8 MiB) and gains 15-35% from 16 MiB on.
// copy() streams from 1 MiB; QuantInt8 writes a quarter of the bytes and
// never streams.
#define NT_MIN $2097152

// ---------------------------------------------------------------------------
// fakeQuant: dst[i] = clamp(roundHalfToEven(src[i]*sq), lo, hi) / so.
// Go operand order is Intel's reversed: VMAXPS V, LO, R is Intel's
// vmaxps r, lo, v = (lo > v) ? lo : v, which is torch's (v < lo) ? lo : v
// (a NaN v is kept, and so is -0 against a bound of 0); likewise VMINPS
// V, HI, R = (hi < v) ? hi : v = (v > hi) ? hi : v.

// AVX2 constants.
#define Y_SQ Y12 // sq in every lane
#define Y_SO Y13 // so in every lane
#define Y_LO Y14 // lo in every lane
#define Y_HI Y15 // hi in every lane

// FQ_AVX2 computes 8 results from src at off into r.
#define FQ_AVX2(off, r) \
	VMULPS   off(SRC), Y_SQ, r; /* r = x*sq            */ \
	VROUNDPS $8, r, r;          /* round half to even  */ \
	VMAXPS   r, Y_LO, r;        /* r = r < lo ? lo : r */ \
	VMINPS   r, Y_HI, r;        /* r = r > hi ? hi : r */ \
	VDIVPS   Y_SO, r, r         // r = r / so

// FQ_SCALAR computes one result from src[i] into X0.
#define FQ_SCALAR \
	VMOVSS   (SRC), X0;   /* X0 = x             */ \
	VMULPS   X0, X12, X0; /* x*sq               */ \
	VROUNDPS $8, X0, X0;  /* round half to even */ \
	VMAXPS   X0, X14, X0; /* clamp below        */ \
	VMINPS   X0, X15, X0; /* clamp above        */ \
	VDIVPS   X13, X0, X0  // / so

// func fakeQuantAVX2(dst, src []float32, sq, so, lo, hi float32)
TEXT ·fakeQuantAVX2(SB), NOSPLIT, $0-64
	MOVQ         dst_base+0(FP), DST  // DST = &dst[0]
	MOVQ         src_base+24(FP), SRC // SRC = &src[0]
	MOVQ         src_len+32(FP), LEN  // LEN = len(src)
	VBROADCASTSS sq+48(FP), Y_SQ      // (sq, so, lo and hi in every lane)
	VBROADCASTSS so+52(FP), Y_SO      // Y_SO = so in every lane
	VBROADCASTSS lo+56(FP), Y_LO      // Y_LO = lo in every lane
	VBROADCASTSS hi+60(FP), Y_HI      // Y_HI = hi in every lane
	CMPQ         LEN, NT_MIN          // if LEN >= NT_MIN
	JAE          fq2_nt               // stream the output

fq2_loop32:
	CMPQ    LEN, $32    // while LEN >= 32
	JB      fq2_loop8   // no: on to fq2_loop8
	FQ_AVX2(0, Y0)      // Y0 = results for [i, i+8); 4 vectors in flight hide the division latency
	FQ_AVX2(32, Y1)     // Y1 = results for [i+8, i+16)
	FQ_AVX2(64, Y2)     // Y2 = results for [i+16, i+24)
	FQ_AVX2(96, Y3)     // Y3 = results for [i+24, i+32)
	VMOVUPS Y0, (DST)   // dst[i:i+8] = Y0
	VMOVUPS Y1, 32(DST) // dst[i+8:i+16] = Y1
	VMOVUPS Y2, 64(DST) // dst[i+16:i+24] = Y2
	VMOVUPS Y3, 96(DST) // dst[i+24:i+32] = Y3
	ADDQ    $128, SRC   // i += 32
	ADDQ    $128, DST   // DST += 128 bytes
	SUBQ    $32, LEN    // LEN -= 32
	JMP     fq2_loop32  // next iteration

fq2_loop8:
	CMPQ    LEN, $8   // while LEN >= 8
	JB      fq2_tail  // no: on to fq2_tail
	FQ_AVX2(0, Y0)    // Y0 = results for src[i:i+8]
	VMOVUPS Y0, (DST) // dst[i:i+8] = Y0
	ADDQ    $32, SRC  // i += 8
	ADDQ    $32, DST  // DST += 32 bytes
	SUBQ    $8, LEN   // LEN -= 8
	JMP     fq2_loop8 // next iteration

fq2_tail:
	TESTQ  LEN, LEN  // for the last LEN < 8 elements
	JZ     fq2_done  // none: go to fq2_done
	FQ_SCALAR        // X0 = result for src[i]
	VMOVSS X0, (DST) // dst[i] = X0
	ADDQ   $4, SRC   // i++
	ADDQ   $4, DST   // DST += 4 bytes
	DECQ   LEN       // LEN--
	JMP    fq2_tail  // next iteration

fq2_done:
	VZEROUPPER // clear the upper halves for SSE code
	RET        // return

fq2_nt:
	TESTQ  $63, DST   // until DST is 64-byte aligned (LEN is far above 15)
	JZ     fq2_ntloop // aligned: stream
	FQ_SCALAR         // X0 = result for src[i]
	VMOVSS X0, (DST)  // dst[i] = X0
	ADDQ   $4, SRC    // i++
	ADDQ   $4, DST    // DST += 4 bytes
	DECQ   LEN        // LEN--
	JMP    fq2_nt     // next iteration

fq2_ntloop:
	FQ_AVX2(0, Y0)       // Y0 = results for [i, i+8)
	FQ_AVX2(32, Y1)      // Y1 = results for [i+8, i+16)
	FQ_AVX2(64, Y2)      // Y2 = results for [i+16, i+24)
	FQ_AVX2(96, Y3)      // Y3 = results for [i+24, i+32)
	VMOVNTPS Y0, (DST)   // stream dst[i:i+8] = Y0
	VMOVNTPS Y1, 32(DST) // stream dst[i+8:i+16] = Y1
	VMOVNTPS Y2, 64(DST) // stream dst[i+16:i+24] = Y2
	VMOVNTPS Y3, 96(DST) // stream dst[i+24:i+32] = Y3
	ADDQ     $128, SRC   // i += 32
	ADDQ     $128, DST   // DST += 128 bytes
	SUBQ     $32, LEN    // LEN -= 32
	CMPQ     LEN, $32    // while LEN >= 32
	JAE      fq2_ntloop  // loop
	SFENCE               // order the streamed stores before later ones
	JMP      fq2_loop8   // the rest as usual

// AVX-512 constants.
#define Z_SQ Z28 // sq in every lane
#define Z_SO Z29 // so in every lane
#define Z_LO Z30 // lo in every lane
#define Z_HI Z31 // hi in every lane

// FQ_AVX512 computes 16 results from src at off into r.
#define FQ_AVX512(off, r) \
	VMULPS      off(SRC), Z_SQ, r; /* r = x*sq            */ \
	VRNDSCALEPS $8, r, r;          /* round half to even  */ \
	VMAXPS      r, Z_LO, r;        /* r = r < lo ? lo : r */ \
	VMINPS      r, Z_HI, r;        /* r = r > hi ? hi : r */ \
	VDIVPS      Z_SO, r, r         // r = r / so

// FQ_AVX512_MASKED computes the lanes of K1 from src into Z0 (the other
// lanes are neither read nor faulted on).
#define FQ_AVX512_MASKED \
	VMULPS.Z    (SRC), Z_SQ, K1, Z0; /* Z0 = x*sq in the lanes of K1 */ \
	VRNDSCALEPS $8, Z0, Z0;          /* round half to even           */ \
	VMAXPS      Z0, Z_LO, Z0;        /* clamp below                  */ \
	VMINPS      Z0, Z_HI, Z0;        /* clamp above                  */ \
	VDIVPS      Z_SO, Z0, Z0         // / so

// LANES sets K1 to the low SHIFT lanes: (1<<SHIFT) - 1.
#define LANES \
	MOVL  $1, TMP; /* TMP = 1       */ \
	SHLL  CX, TMP; /* TMP <<= SHIFT */ \
	DECL  TMP;     /* TMP -= 1      */ \
	KMOVW TMP, K1  // K1 = TMP

// func fakeQuantAVX512(dst, src []float32, sq, so, lo, hi float32)
TEXT ·fakeQuantAVX512(SB), NOSPLIT, $0-64
	MOVQ         dst_base+0(FP), DST  // DST = &dst[0]
	MOVQ         src_base+24(FP), SRC // SRC = &src[0]
	MOVQ         src_len+32(FP), LEN  // LEN = len(src)
	VBROADCASTSS sq+48(FP), Z_SQ      // (sq, so, lo and hi in every lane)
	VBROADCASTSS so+52(FP), Z_SO      // Z_SO = so in every lane
	VBROADCASTSS lo+56(FP), Z_LO      // Z_LO = lo in every lane
	VBROADCASTSS hi+60(FP), Z_HI      // Z_HI = hi in every lane
	CMPQ         LEN, NT_MIN          // if LEN >= NT_MIN
	JAE          fq5_nt               // stream the output

fq5_loop64:
	CMPQ    LEN, $64     // while LEN >= 64
	JB      fq5_loop16   // no: on to fq5_loop16
	FQ_AVX512(0, Z0)     // Z0 = results for [i, i+16); 4 vectors in flight hide the division latency
	FQ_AVX512(64, Z1)    // Z1 = results for [i+16, i+32)
	FQ_AVX512(128, Z2)   // Z2 = results for [i+32, i+48)
	FQ_AVX512(192, Z3)   // Z3 = results for [i+48, i+64)
	VMOVUPS Z0, (DST)    // dst[i:i+16] = Z0
	VMOVUPS Z1, 64(DST)  // dst[i+16:i+32] = Z1
	VMOVUPS Z2, 128(DST) // dst[i+32:i+48] = Z2
	VMOVUPS Z3, 192(DST) // dst[i+48:i+64] = Z3
	ADDQ    $256, SRC    // i += 64
	ADDQ    $256, DST    // DST += 256 bytes
	SUBQ    $64, LEN     // LEN -= 64
	JMP     fq5_loop64   // next iteration

fq5_loop16:
	CMPQ    LEN, $16   // while LEN >= 16
	JB      fq5_tail   // no: on to fq5_tail
	FQ_AVX512(0, Z0)   // Z0 = results for src[i:i+16]
	VMOVUPS Z0, (DST)  // dst[i:i+16] = Z0
	ADDQ    $64, SRC   // i += 16
	ADDQ    $64, DST   // DST += 64 bytes
	SUBQ    $16, LEN   // LEN -= 16
	JMP     fq5_loop16 // next iteration

fq5_tail:
	TESTQ   LEN, LEN      // the last LEN < 16 elements, if any
	JZ      fq5_done      // none: go to fq5_done
	MOVQ    LEN, SHIFT    // K1 = their lanes
	LANES                 // K1 = lanes [0, SHIFT)
	FQ_AVX512_MASKED      // Z0 = results for src[i:i+LEN]
	VMOVUPS Z0, K1, (DST) // dst[i:i+LEN] = Z0

fq5_done:
	VZEROUPPER // clear the upper halves for SSE code
	RET        // return

fq5_nt:
	MOVQ    DST, SHIFT          // SHIFT = elements before DST is 64-byte aligned
	NEGQ    SHIFT               // SHIFT = -DST
	ANDQ    $63, SHIFT          // bytes to the next 64-byte boundary
	SHRQ    $2, SHIFT           // as float32 elements, 0..15
	LANES                       // K1 = those lanes (none when aligned)
	FQ_AVX512_MASKED            // Z0 = results for src[i:i+SHIFT]
	VMOVUPS Z0, K1, (DST)       // dst[i:i+SHIFT] = Z0
	LEAQ    (SRC)(SHIFT*4), SRC // i += SHIFT
	LEAQ    (DST)(SHIFT*4), DST // DST += SHIFT elements
	SUBQ    SHIFT, LEN          // LEN -= SHIFT

fq5_ntloop:
	FQ_AVX512(0, Z0)      // Z0 = results for [i, i+16)
	FQ_AVX512(64, Z1)     // Z1 = results for [i+16, i+32)
	FQ_AVX512(128, Z2)    // Z2 = results for [i+32, i+48)
	FQ_AVX512(192, Z3)    // Z3 = results for [i+48, i+64)
	VMOVNTPS Z0, (DST)    // stream dst[i:i+16] = Z0, a whole cache line
	VMOVNTPS Z1, 64(DST)  // stream dst[i+16:i+32] = Z1
	VMOVNTPS Z2, 128(DST) // stream dst[i+32:i+48] = Z2
	VMOVNTPS Z3, 192(DST) // stream dst[i+48:i+64] = Z3
	ADDQ     $256, SRC    // i += 64
	ADDQ     $256, DST    // DST += 256 bytes
	SUBQ     $64, LEN     // LEN -= 64
	CMPQ     LEN, $64     // while LEN >= 64
	JAE      fq5_ntloop   // loop
	SFENCE                // order the streamed stores before later ones
	JMP      fq5_loop16   // the rest as usual

// ---------------------------------------------------------------------------
// fakeQuantVec: dst[i] = clamp(roundHalfToEven(src[i]*sq[i]), lo, hi) / so[i].

#define SQP R8 // &sq[i]
#define SOP R9 // &so[i]

// FQV_AVX2 computes 8 results for the elements at off into r.
#define FQV_AVX2(off, r) \
	VMOVUPS  off(SRC), r;    /* r = x               */ \
	VMULPS   off(SQP), r, r; /* r = x*sq            */ \
	VROUNDPS $8, r, r;       /* round half to even  */ \
	VMAXPS   r, Y_LO, r;     /* r = r < lo ? lo : r */ \
	VMINPS   r, Y_HI, r;     /* r = r > hi ? hi : r */ \
	VDIVPS   off(SOP), r, r  // r = r / so

// FQV_SCALAR computes the result for element i into X0.
#define FQV_SCALAR \
	VMOVSS   (SRC), X0;     /* X0 = x             */ \
	VMULSS   (SQP), X0, X0; /* x*sq               */ \
	VROUNDPS $8, X0, X0;    /* round half to even */ \
	VMAXPS   X0, X14, X0;   /* clamp below        */ \
	VMINPS   X0, X15, X0;   /* clamp above        */ \
	VDIVSS   (SOP), X0, X0  // / so

// ADVANCE4 moves every pointer of fakeQuantVec on by n bytes.
#define ADVANCE4(n) \
	ADDQ $n, SRC; /* SRC += n */ \
	ADDQ $n, SQP; /* SQP += n */ \
	ADDQ $n, SOP; /* SOP += n */ \
	ADDQ $n, DST  // DST += n

// func fakeQuantVecAVX2(dst, src, sq, so []float32, lo, hi float32)
TEXT ·fakeQuantVecAVX2(SB), NOSPLIT, $0-104
	MOVQ         dst_base+0(FP), DST  // DST = &dst[0]
	MOVQ         src_base+24(FP), SRC // SRC = &src[0]
	MOVQ         src_len+32(FP), LEN  // LEN = len(src)
	MOVQ         sq_base+48(FP), SQP  // SQP = &sq[0]
	MOVQ         so_base+72(FP), SOP  // SOP = &so[0]
	VBROADCASTSS lo+96(FP), Y_LO      // (lo and hi in every lane)
	VBROADCASTSS hi+100(FP), Y_HI     // Y_HI = hi in every lane
	CMPQ         LEN, NT_MIN          // if LEN >= NT_MIN
	JAE          fqv2_nt              // stream the output

fqv2_loop32:
	CMPQ    LEN, $32    // while LEN >= 32
	JB      fqv2_loop8  // no: on to fqv2_loop8
	FQV_AVX2(0, Y0)     // Y0 = results for [i, i+8)
	FQV_AVX2(32, Y1)    // Y1 = results for [i+8, i+16)
	FQV_AVX2(64, Y2)    // Y2 = results for [i+16, i+24)
	FQV_AVX2(96, Y3)    // Y3 = results for [i+24, i+32)
	VMOVUPS Y0, (DST)   // dst[i:i+8] = Y0
	VMOVUPS Y1, 32(DST) // dst[i+8:i+16] = Y1
	VMOVUPS Y2, 64(DST) // dst[i+16:i+24] = Y2
	VMOVUPS Y3, 96(DST) // dst[i+24:i+32] = Y3
	ADVANCE4(128)       // i += 32
	SUBQ    $32, LEN    // LEN -= 32
	JMP     fqv2_loop32 // next iteration

fqv2_loop8:
	CMPQ    LEN, $8    // while LEN >= 8
	JB      fqv2_tail  // no: on to fqv2_tail
	FQV_AVX2(0, Y0)    // Y0 = results for [i, i+8)
	VMOVUPS Y0, (DST)  // dst[i:i+8] = Y0
	ADVANCE4(32)       // i += 8
	SUBQ    $8, LEN    // LEN -= 8
	JMP     fqv2_loop8 // next iteration

fqv2_tail:
	TESTQ  LEN, LEN  // for the last LEN < 8 elements
	JZ     fqv2_done // none: go to fqv2_done
	FQV_SCALAR       // X0 = result for element i
	VMOVSS X0, (DST) // dst[i] = X0
	ADVANCE4(4)      // i++
	DECQ   LEN       // LEN--
	JMP    fqv2_tail // next iteration

fqv2_done:
	VZEROUPPER // clear the upper halves for SSE code
	RET        // return

fqv2_nt:
	TESTQ  $63, DST    // until DST is 64-byte aligned (LEN is far above 15)
	JZ     fqv2_ntloop // aligned: stream
	FQV_SCALAR         // X0 = result for element i
	VMOVSS X0, (DST)   // dst[i] = X0
	ADVANCE4(4)        // i++
	DECQ   LEN         // LEN--
	JMP    fqv2_nt     // next iteration

fqv2_ntloop:
	FQV_AVX2(0, Y0)      // Y0 = results for [i, i+8)
	FQV_AVX2(32, Y1)     // Y1 = results for [i+8, i+16)
	FQV_AVX2(64, Y2)     // Y2 = results for [i+16, i+24)
	FQV_AVX2(96, Y3)     // Y3 = results for [i+24, i+32)
	VMOVNTPS Y0, (DST)   // stream dst[i:i+8] = Y0
	VMOVNTPS Y1, 32(DST) // stream dst[i+8:i+16] = Y1
	VMOVNTPS Y2, 64(DST) // stream dst[i+16:i+24] = Y2
	VMOVNTPS Y3, 96(DST) // stream dst[i+24:i+32] = Y3
	ADVANCE4(128)        // i += 32
	SUBQ     $32, LEN    // LEN -= 32
	CMPQ     LEN, $32    // while LEN >= 32
	JAE      fqv2_ntloop // loop
	SFENCE               // order the streamed stores before later ones
	JMP      fqv2_loop8  // the rest as usual

// FQV_AVX512 computes 16 results for the elements at off into r.
#define FQV_AVX512(off, r) \
	VMOVUPS     off(SRC), r;    /* r = x               */ \
	VMULPS      off(SQP), r, r; /* r = x*sq            */ \
	VRNDSCALEPS $8, r, r;       /* round half to even  */ \
	VMAXPS      r, Z_LO, r;     /* r = r < lo ? lo : r */ \
	VMINPS      r, Z_HI, r;     /* r = r > hi ? hi : r */ \
	VDIVPS      off(SOP), r, r  // r = r / so

// FQV_AVX512_MASKED computes the lanes of K1 into Z0, reading no others.
#define FQV_AVX512_MASKED \
	VMOVUPS.Z   (SRC), K1, Z0;     /* Z0 = x in the lanes of K1 */ \
	VMULPS.Z    (SQP), Z0, K1, Z0; /* x*sq                      */ \
	VRNDSCALEPS $8, Z0, Z0;        /* round half to even        */ \
	VMAXPS      Z0, Z_LO, Z0;      /* clamp below               */ \
	VMINPS      Z0, Z_HI, Z0;      /* clamp above               */ \
	VDIVPS.Z    (SOP), Z0, K1, Z0  // / so

// func fakeQuantVecAVX512(dst, src, sq, so []float32, lo, hi float32)
TEXT ·fakeQuantVecAVX512(SB), NOSPLIT, $0-104
	MOVQ         dst_base+0(FP), DST  // DST = &dst[0]
	MOVQ         src_base+24(FP), SRC // SRC = &src[0]
	MOVQ         src_len+32(FP), LEN  // LEN = len(src)
	MOVQ         sq_base+48(FP), SQP  // SQP = &sq[0]
	MOVQ         so_base+72(FP), SOP  // SOP = &so[0]
	VBROADCASTSS lo+96(FP), Z_LO      // (lo and hi in every lane)
	VBROADCASTSS hi+100(FP), Z_HI     // Z_HI = hi in every lane
	CMPQ         LEN, NT_MIN          // if LEN >= NT_MIN
	JAE          fqv5_nt              // stream the output

fqv5_loop64:
	CMPQ    LEN, $64     // while LEN >= 64
	JB      fqv5_loop16  // no: on to fqv5_loop16
	FQV_AVX512(0, Z0)    // Z0 = results for [i, i+16)
	FQV_AVX512(64, Z1)   // Z1 = results for [i+16, i+32)
	FQV_AVX512(128, Z2)  // Z2 = results for [i+32, i+48)
	FQV_AVX512(192, Z3)  // Z3 = results for [i+48, i+64)
	VMOVUPS Z0, (DST)    // dst[i:i+16] = Z0
	VMOVUPS Z1, 64(DST)  // dst[i+16:i+32] = Z1
	VMOVUPS Z2, 128(DST) // dst[i+32:i+48] = Z2
	VMOVUPS Z3, 192(DST) // dst[i+48:i+64] = Z3
	ADVANCE4(256)        // i += 64
	SUBQ    $64, LEN     // LEN -= 64
	JMP     fqv5_loop64  // next iteration

fqv5_loop16:
	CMPQ    LEN, $16    // while LEN >= 16
	JB      fqv5_tail   // no: on to fqv5_tail
	FQV_AVX512(0, Z0)   // Z0 = results for [i, i+16)
	VMOVUPS Z0, (DST)   // dst[i:i+16] = Z0
	ADVANCE4(64)        // i += 16
	SUBQ    $16, LEN    // LEN -= 16
	JMP     fqv5_loop16 // next iteration

fqv5_tail:
	TESTQ   LEN, LEN      // the last LEN < 16 elements, if any
	JZ      fqv5_done     // none: go to fqv5_done
	MOVQ    LEN, SHIFT    // K1 = their lanes
	LANES                 // K1 = lanes [0, SHIFT)
	FQV_AVX512_MASKED     // Z0 = their results
	VMOVUPS Z0, K1, (DST) // dst[i:i+LEN] = Z0

fqv5_done:
	VZEROUPPER // clear the upper halves for SSE code
	RET        // return

fqv5_nt:
	MOVQ    DST, SHIFT          // SHIFT = elements before DST is 64-byte aligned
	NEGQ    SHIFT               // SHIFT = -DST
	ANDQ    $63, SHIFT          // bytes to the next 64-byte boundary
	SHRQ    $2, SHIFT           // as float32 elements, 0..15
	LANES                       // K1 = those lanes (none when aligned)
	FQV_AVX512_MASKED           // Z0 = their results
	VMOVUPS Z0, K1, (DST)       // dst[i:i+SHIFT] = Z0
	LEAQ    (SRC)(SHIFT*4), SRC // i += SHIFT
	LEAQ    (SQP)(SHIFT*4), SQP // SQP += SHIFT elements
	LEAQ    (SOP)(SHIFT*4), SOP // SOP += SHIFT elements
	LEAQ    (DST)(SHIFT*4), DST // DST += SHIFT elements
	SUBQ    SHIFT, LEN          // LEN -= SHIFT

fqv5_ntloop:
	FQV_AVX512(0, Z0)     // Z0 = results for [i, i+16)
	FQV_AVX512(64, Z1)    // Z1 = results for [i+16, i+32)
	FQV_AVX512(128, Z2)   // Z2 = results for [i+32, i+48)
	FQV_AVX512(192, Z3)   // Z3 = results for [i+48, i+64)
	VMOVNTPS Z0, (DST)    // stream dst[i:i+16] = Z0, a whole cache line
	VMOVNTPS Z1, 64(DST)  // stream dst[i+16:i+32] = Z1
	VMOVNTPS Z2, 128(DST) // stream dst[i+32:i+48] = Z2
	VMOVNTPS Z3, 192(DST) // stream dst[i+48:i+64] = Z3
	ADVANCE4(256)         // i += 64
	SUBQ     $64, LEN     // LEN -= 64
	CMPQ     LEN, $64     // while LEN >= 64
	JAE      fqv5_ntloop  // loop
	SFENCE                // order the streamed stores before later ones
	JMP      fqv5_loop16  // the rest as usual

// ---------------------------------------------------------------------------
// quantInt8: dst[i] = int8(clamp(roundHalfToEven(src[i]*sq), lo, hi)), NaN
// giving 0, for integer bounds lo, hi within [-128, 127] (the dispatcher
// sends the non-integer bounds of the degenerate NumBits 0 to the generic
// code). With integer bounds, rounding after the clamp gives the same
// integer as rounding before it (only the sign of a zero differs, which an
// int8 cannot hold), so the clamp runs on the product and the conversion
// rounds half to even: VCVTPS2DQ under Go's MXCSR (round to nearest even)
// on AVX2, with embedded rounding (.RN_SAE) on AVX-512. A NaN converts to
// 0x80000000, whose low byte is 0: narrowing by truncation (VPSHUFB on
// AVX2, VPMOVDB on AVX-512) turns NaN into 0 for free, and cannot change
// the clamped codes.

// QI_AVX2 computes 8 int32 codes from src at off into r.
#define QI_AVX2(off, r) \
	VMULPS    off(SRC), Y_SQ, r; /* r = x*sq            */ \
	VMAXPS    r, Y_LO, r;        /* r = r < lo ? lo : r */ \
	VMINPS    r, Y_HI, r;        /* r = r > hi ? hi : r */ \
	VCVTPS2DQ r, r               // r = int32(roundHalfToEven(r)), NaN 0x80000000

// QI_SCALAR computes the code of src[i] into the low byte of TMP.
#define QI_SCALAR \
	VMOVSS    (SRC), X0;   /* X0 = x                      */ \
	VMULPS    X0, X12, X0; /* x*sq                        */ \
	VMAXPS    X0, X14, X0; /* clamp below                 */ \
	VMINPS    X0, X15, X0; /* clamp above                 */ \
	VCVTPS2DQ X0, X0;      /* int32, rounded half to even */ \
	VMOVD     X0, TMP      // TMP = code (low byte)

// lowBytes<>+32*k: the VPSHUFB control that moves the low byte of each dword
// of a 128-bit lane to bytes 4k..4k+3 of that lane and zeroes the others.
DATA lowBytes<>+0(SB)/8, $0x808080800c080400
DATA lowBytes<>+8(SB)/8, $0x8080808080808080
DATA lowBytes<>+16(SB)/8, $0x808080800c080400
DATA lowBytes<>+24(SB)/8, $0x8080808080808080
DATA lowBytes<>+32(SB)/8, $0x0c08040080808080
DATA lowBytes<>+40(SB)/8, $0x8080808080808080
DATA lowBytes<>+48(SB)/8, $0x0c08040080808080
DATA lowBytes<>+56(SB)/8, $0x8080808080808080
DATA lowBytes<>+64(SB)/8, $0x8080808080808080
DATA lowBytes<>+72(SB)/8, $0x808080800c080400
DATA lowBytes<>+80(SB)/8, $0x8080808080808080
DATA lowBytes<>+88(SB)/8, $0x808080800c080400
DATA lowBytes<>+96(SB)/8, $0x8080808080808080
DATA lowBytes<>+104(SB)/8, $0x0c08040080808080
DATA lowBytes<>+112(SB)/8, $0x8080808080808080
DATA lowBytes<>+120(SB)/8, $0x0c08040080808080
GLOBL lowBytes<>(SB), RODATA|NOPTR, $128

// lanePerm: the dword order that turns lanes [a0-3 b0-3 c0-3 d0-3 |
// a4-7 b4-7 c4-7 d4-7] into a0-7 b0-7 c0-7 d0-7.
DATA lanePerm<>+0(SB)/4, $0
DATA lanePerm<>+4(SB)/4, $4
DATA lanePerm<>+8(SB)/4, $1
DATA lanePerm<>+12(SB)/4, $5
DATA lanePerm<>+16(SB)/4, $2
DATA lanePerm<>+20(SB)/4, $6
DATA lanePerm<>+24(SB)/4, $3
DATA lanePerm<>+28(SB)/4, $7
GLOBL lanePerm<>(SB), RODATA|NOPTR, $32

#define Y_PERM Y11 // lanePerm

// func quantInt8AVX2(dst []int8, src []float32, sq, lo, hi float32)
TEXT ·quantInt8AVX2(SB), NOSPLIT, $0-60
	MOVQ         dst_base+0(FP), DST    // DST = &dst[0]
	MOVQ         src_base+24(FP), SRC   // SRC = &src[0]
	MOVQ         src_len+32(FP), LEN    // LEN = len(src)
	VBROADCASTSS sq+48(FP), Y_SQ        // (sq, so, lo and hi in every lane)
	VBROADCASTSS lo+52(FP), Y_LO        // Y_LO = lo in every lane
	VBROADCASTSS hi+56(FP), Y_HI        // Y_HI = hi in every lane
	VMOVDQU      lanePerm<>(SB), Y_PERM // Y_PERM = lanePerm

qi2_loop32:
	CMPQ    LEN, $32                  // while LEN >= 32
	JB      qi2_loop8                 // no: on to qi2_loop8
	QI_AVX2(0, Y0)                    // Y0 = codes a for [i, i+8)
	QI_AVX2(32, Y1)                   // Y1 = codes b for [i+8, i+16)
	QI_AVX2(64, Y2)                   // Y2 = codes c for [i+16, i+24)
	QI_AVX2(96, Y3)                   // Y3 = codes d for [i+24, i+32)
	VPSHUFB lowBytes<>+0(SB), Y0, Y0  // Y0 = bytes a0-3 in dword 0 of each lane
	VPSHUFB lowBytes<>+32(SB), Y1, Y1 // Y1 = bytes b0-3 in dword 1
	VPSHUFB lowBytes<>+64(SB), Y2, Y2 // Y2 = bytes c0-3 in dword 2
	VPSHUFB lowBytes<>+96(SB), Y3, Y3 // Y3 = bytes d0-3 in dword 3
	VPOR    Y1, Y0, Y0                // Y0 = a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7
	VPOR    Y3, Y2, Y2                // Y2 |= Y3
	VPOR    Y2, Y0, Y0                // Y0 |= Y2
	VPERMD  Y0, Y_PERM, Y0            // Y0 = a0-7 b0-7 c0-7 d0-7
	VMOVDQU Y0, (DST)                 // dst[i:i+32] = Y0
	ADDQ    $128, SRC                 // i += 32
	ADDQ    $32, DST                  // DST += 32 bytes
	SUBQ    $32, LEN                  // LEN -= 32
	JMP     qi2_loop32                // next iteration

qi2_loop8:
	CMPQ         LEN, $8                  // while LEN >= 8
	JB           qi2_tail                 // no: on to qi2_tail
	QI_AVX2(0, Y0)                        // Y0 = int32 codes of src[i:i+8]
	VPSHUFB      lowBytes<>+0(SB), Y0, Y0 // bytes 0-3 and 4-7 in dword 0 of each lane
	VEXTRACTI128 $1, Y0, X1               // X1 = upper half of Y0
	VPUNPCKLDQ   X1, X0, X0               // X0 = bytes 0-7
	VMOVQ        X0, (DST)                // dst[i:i+8] = X0
	ADDQ         $32, SRC                 // i += 8
	ADDQ         $8, DST                  // DST += 8 bytes
	SUBQ         $8, LEN                  // LEN -= 8
	JMP          qi2_loop8                // next iteration

qi2_tail:
	TESTQ LEN, LEN  // for the last LEN < 8 elements
	JZ    qi2_done  // none: go to qi2_done
	QI_SCALAR       // TMP = code of src[i]
	MOVB  AL, (DST) // dst[i] = TMP
	ADDQ  $4, SRC   // i++
	INCQ  DST       // DST++
	DECQ  LEN       // LEN--
	JMP   qi2_tail  // next iteration

qi2_done:
	VZEROUPPER // clear the upper halves for SSE code
	RET        // return

// QI_AVX512 computes 16 int32 codes from src at off into r.
#define QI_AVX512(off, r) \
	VMULPS off(SRC), Z_SQ, r; /* r = x*sq            */ \
	VMAXPS r, Z_LO, r;        /* r = r < lo ? lo : r */ \
	VMINPS r, Z_HI, r;        /* r = r > hi ? hi : r */ \
	VCVTPS2DQ.RN_SAE r, r     // r = int32(roundHalfToEven(r)), NaN 0x80000000

// func quantInt8AVX512(dst []int8, src []float32, sq, lo, hi float32)
TEXT ·quantInt8AVX512(SB), NOSPLIT, $0-60
	MOVQ         dst_base+0(FP), DST  // DST = &dst[0]
	MOVQ         src_base+24(FP), SRC // SRC = &src[0]
	MOVQ         src_len+32(FP), LEN  // LEN = len(src)
	VBROADCASTSS sq+48(FP), Z_SQ      // (sq, so, lo and hi in every lane)
	VBROADCASTSS lo+52(FP), Z_LO      // Z_LO = lo in every lane
	VBROADCASTSS hi+56(FP), Z_HI      // Z_HI = hi in every lane

qi5_loop64:
	CMPQ    LEN, $64    // while LEN >= 64
	JB      qi5_loop16  // no: on to qi5_loop16
	QI_AVX512(0, Z0)    // Z0 = codes for [i, i+16)
	QI_AVX512(64, Z1)   // Z1 = codes for [i+16, i+32)
	QI_AVX512(128, Z2)  // Z2 = codes for [i+32, i+48)
	QI_AVX512(192, Z3)  // Z3 = codes for [i+48, i+64)
	VPMOVDB Z0, (DST)   // dst[i:i+16] = low bytes of Z0
	VPMOVDB Z1, 16(DST) // dst[i+16:i+32] = low bytes of Z1
	VPMOVDB Z2, 32(DST) // dst[i+32:i+48] = low bytes of Z2
	VPMOVDB Z3, 48(DST) // dst[i+48:i+64] = low bytes of Z3
	ADDQ    $256, SRC   // i += 64
	ADDQ    $64, DST    // DST += 64 bytes
	SUBQ    $64, LEN    // LEN -= 64
	JMP     qi5_loop64  // next iteration

qi5_loop16:
	CMPQ    LEN, $16   // while LEN >= 16
	JB      qi5_tail   // no: on to qi5_tail
	QI_AVX512(0, Z0)   // Z0 = int32 codes of src[i:i+16]
	VPMOVDB Z0, (DST)  // dst[i:i+16] = their low bytes
	ADDQ    $64, SRC   // i += 16
	ADDQ    $16, DST   // DST += 16 bytes
	SUBQ    $16, LEN   // LEN -= 16
	JMP     qi5_loop16 // next iteration

qi5_tail:
	TESTQ    LEN, LEN            // the last LEN < 16 elements, if any
	JZ       qi5_done            // none: go to qi5_done
	MOVQ     LEN, SHIFT          // K1 = their lanes
	LANES                        // K1 = lanes [0, SHIFT)
	VMULPS.Z (SRC), Z_SQ, K1, Z0 // Z0 = x*sq in the lanes of K1
	VMAXPS   Z0, Z_LO, Z0        // clamp below
	VMINPS   Z0, Z_HI, Z0        // clamp above
	VCVTPS2DQ.RN_SAE Z0, Z0      // int32, rounded half to even
	VPMOVDB  Z0, K1, (DST)       // dst[i:i+LEN] = their low bytes

qi5_done:
	VZEROUPPER // clear the upper halves for SSE code
	RET        // return

// ---------------------------------------------------------------------------
// dequantInt8: dst[i] = float32(src[i]) / so.

// DQ_AVX2 computes 8 results from the codes at soff into r.
#define DQ_AVX2(soff, r) \
	VPMOVSXBD soff(SRC), r; /* r = int32(codes) */ \
	VCVTDQ2PS r, r;         /* r = float32(r)   */ \
	VDIVPS    Y_SO, r, r    // r = r / so

// func dequantInt8AVX2(dst []float32, src []int8, so float32)
TEXT ·dequantInt8AVX2(SB), NOSPLIT, $0-52
	MOVQ         dst_base+0(FP), DST  // DST = &dst[0]
	MOVQ         src_base+24(FP), SRC // SRC = &src[0]
	MOVQ         src_len+32(FP), LEN  // LEN = len(src)
	VBROADCASTSS so+48(FP), Y_SO      // Y_SO = so in every lane
	CMPQ         LEN, NT_MIN          // if LEN >= NT_MIN
	JAE          dq2_nt               // stream the output

dq2_loop32:
	CMPQ    LEN, $32    // while LEN >= 32
	JB      dq2_loop8   // no: on to dq2_loop8
	DQ_AVX2(0, Y0)      // Y0 = results for [i, i+8)
	DQ_AVX2(8, Y1)      // Y1 = results for [i+8, i+16)
	DQ_AVX2(16, Y2)     // Y2 = results for [i+16, i+24)
	DQ_AVX2(24, Y3)     // Y3 = results for [i+24, i+32)
	VMOVUPS Y0, (DST)   // dst[i:i+8] = Y0
	VMOVUPS Y1, 32(DST) // dst[i+8:i+16] = Y1
	VMOVUPS Y2, 64(DST) // dst[i+16:i+24] = Y2
	VMOVUPS Y3, 96(DST) // dst[i+24:i+32] = Y3
	ADDQ    $32, SRC    // i += 32
	ADDQ    $128, DST   // DST += 128 bytes
	SUBQ    $32, LEN    // LEN -= 32
	JMP     dq2_loop32  // next iteration

dq2_loop8:
	CMPQ    LEN, $8   // while LEN >= 8
	JB      dq2_tail  // no: on to dq2_tail
	DQ_AVX2(0, Y0)    // Y0 = results for src[i:i+8]
	VMOVUPS Y0, (DST) // dst[i:i+8] = Y0
	ADDQ    $8, SRC   // i += 8
	ADDQ    $32, DST  // DST += 32 bytes
	SUBQ    $8, LEN   // LEN -= 8
	JMP     dq2_loop8 // next iteration

dq2_tail:
	TESTQ     LEN, LEN    // for the last LEN < 8 elements
	JZ        dq2_done    // none: go to dq2_done
	MOVBLSX   (SRC), TMP  // TMP = int32(src[i])
	VMOVD     TMP, X0     // X0 = TMP
	VCVTDQ2PS X0, X0      // float32
	VDIVPS    X13, X0, X0 // / so
	VMOVSS    X0, (DST)   // dst[i] = X0
	INCQ      SRC         // i++
	ADDQ      $4, DST     // DST += 4 bytes
	DECQ      LEN         // LEN--
	JMP       dq2_tail    // next iteration

dq2_done:
	VZEROUPPER // clear the upper halves for SSE code
	RET        // return

dq2_nt:
	TESTQ     $63, DST    // until DST is 64-byte aligned (LEN is far above 15)
	JZ        dq2_ntloop  // aligned: stream
	MOVBLSX   (SRC), TMP  // TMP = int32(src[i])
	VMOVD     TMP, X0     // X0 = TMP
	VCVTDQ2PS X0, X0      // float32
	VDIVPS    X13, X0, X0 // / so
	VMOVSS    X0, (DST)   // dst[i] = X0
	INCQ      SRC         // i++
	ADDQ      $4, DST     // DST += 4 bytes
	DECQ      LEN         // LEN--
	JMP       dq2_nt      // next iteration

dq2_ntloop:
	DQ_AVX2(0, Y0)       // Y0 = results for [i, i+8)
	DQ_AVX2(8, Y1)       // Y1 = results for [i+8, i+16)
	DQ_AVX2(16, Y2)      // Y2 = results for [i+16, i+24)
	DQ_AVX2(24, Y3)      // Y3 = results for [i+24, i+32)
	VMOVNTPS Y0, (DST)   // stream dst[i:i+8] = Y0
	VMOVNTPS Y1, 32(DST) // stream dst[i+8:i+16] = Y1
	VMOVNTPS Y2, 64(DST) // stream dst[i+16:i+24] = Y2
	VMOVNTPS Y3, 96(DST) // stream dst[i+24:i+32] = Y3
	ADDQ     $32, SRC    // i += 32
	ADDQ     $128, DST   // DST += 128 bytes
	SUBQ     $32, LEN    // LEN -= 32
	CMPQ     LEN, $32    // while LEN >= 32
	JAE      dq2_ntloop  // loop
	SFENCE               // order the streamed stores before later ones
	JMP      dq2_loop8   // the rest as usual

// DQ_AVX512 computes 16 results from the codes at soff into r.
#define DQ_AVX512(soff, r) \
	VPMOVSXBD soff(SRC), r; /* r = int32(codes) */ \
	VCVTDQ2PS r, r;         /* r = float32(r)   */ \
	VDIVPS    Z_SO, r, r    // r = r / so

// DQ_AVX512_MASKED computes the lanes of K1 into Z0, reading no other codes.
#define DQ_AVX512_MASKED \
	VMOVDQU8.Z (SRC), K1, X0; /* X0 = the codes in the lanes of K1 */ \
	VPMOVSXBD  X0, Z0;        /* int32                             */ \
	VCVTDQ2PS  Z0, Z0;        /* float32                           */ \
	VDIVPS     Z_SO, Z0, Z0   // / so

// func dequantInt8AVX512(dst []float32, src []int8, so float32)
TEXT ·dequantInt8AVX512(SB), NOSPLIT, $0-52
	MOVQ         dst_base+0(FP), DST  // DST = &dst[0]
	MOVQ         src_base+24(FP), SRC // SRC = &src[0]
	MOVQ         src_len+32(FP), LEN  // LEN = len(src)
	VBROADCASTSS so+48(FP), Z_SO      // Z_SO = so in every lane
	CMPQ         LEN, NT_MIN          // if LEN >= NT_MIN
	JAE          dq5_nt               // stream the output

dq5_loop64:
	CMPQ    LEN, $64     // while LEN >= 64
	JB      dq5_loop16   // no: on to dq5_loop16
	DQ_AVX512(0, Z0)     // Z0 = results for [i, i+16)
	DQ_AVX512(16, Z1)    // Z1 = results for [i+16, i+32)
	DQ_AVX512(32, Z2)    // Z2 = results for [i+32, i+48)
	DQ_AVX512(48, Z3)    // Z3 = results for [i+48, i+64)
	VMOVUPS Z0, (DST)    // dst[i:i+16] = Z0
	VMOVUPS Z1, 64(DST)  // dst[i+16:i+32] = Z1
	VMOVUPS Z2, 128(DST) // dst[i+32:i+48] = Z2
	VMOVUPS Z3, 192(DST) // dst[i+48:i+64] = Z3
	ADDQ    $64, SRC     // i += 64
	ADDQ    $256, DST    // DST += 256 bytes
	SUBQ    $64, LEN     // LEN -= 64
	JMP     dq5_loop64   // next iteration

dq5_loop16:
	CMPQ    LEN, $16   // while LEN >= 16
	JB      dq5_tail   // no: on to dq5_tail
	DQ_AVX512(0, Z0)   // Z0 = results for src[i:i+16]
	VMOVUPS Z0, (DST)  // dst[i:i+16] = Z0
	ADDQ    $16, SRC   // i += 16
	ADDQ    $64, DST   // DST += 64 bytes
	SUBQ    $16, LEN   // LEN -= 16
	JMP     dq5_loop16 // next iteration

dq5_tail:
	TESTQ   LEN, LEN      // the last LEN < 16 elements, if any
	JZ      dq5_done      // none: go to dq5_done
	MOVQ    LEN, SHIFT    // K1 = their lanes
	LANES                 // K1 = lanes [0, SHIFT)
	DQ_AVX512_MASKED      // Z0 = their results
	VMOVUPS Z0, K1, (DST) // dst[i:i+LEN] = Z0

dq5_done:
	VZEROUPPER // clear the upper halves for SSE code
	RET        // return

dq5_nt:
	MOVQ    DST, SHIFT          // SHIFT = elements before DST is 64-byte aligned
	NEGQ    SHIFT               // SHIFT = -DST
	ANDQ    $63, SHIFT          // bytes to the next 64-byte boundary
	SHRQ    $2, SHIFT           // as float32 elements, 0..15
	LANES                       // K1 = those lanes (none when aligned)
	DQ_AVX512_MASKED            // Z0 = their results
	VMOVUPS Z0, K1, (DST)       // dst[i:i+SHIFT] = Z0
	ADDQ    SHIFT, SRC          // i += SHIFT
	LEAQ    (DST)(SHIFT*4), DST // DST += SHIFT elements
	SUBQ    SHIFT, LEN          // LEN -= SHIFT

dq5_ntloop:
	DQ_AVX512(0, Z0)      // Z0 = results for [i, i+16)
	DQ_AVX512(16, Z1)     // Z1 = results for [i+16, i+32)
	DQ_AVX512(32, Z2)     // Z2 = results for [i+32, i+48)
	DQ_AVX512(48, Z3)     // Z3 = results for [i+48, i+64)
	VMOVNTPS Z0, (DST)    // stream dst[i:i+16] = Z0, a whole cache line
	VMOVNTPS Z1, 64(DST)  // stream dst[i+16:i+32] = Z1
	VMOVNTPS Z2, 128(DST) // stream dst[i+32:i+48] = Z2
	VMOVNTPS Z3, 192(DST) // stream dst[i+48:i+64] = Z3
	ADDQ     $64, SRC     // i += 64
	ADDQ     $256, DST    // DST += 256 bytes
	SUBQ     $64, LEN     // LEN -= 64
	CMPQ     LEN, $64     // while LEN >= 64
	JAE      dq5_ntloop   // loop
	SFENCE                // order the streamed stores before later ones
	JMP      dq5_loop16   // the rest as usual

// ---------------------------------------------------------------------------
// ste: dst[i] = dy[i] where |x[i]| <= amax, else +0. The ordered compare is
// false for a NaN x or amax, which gives 0 as in Go.

#define DYP    R8 // &dy[i]
#define Y_ABS  Y10 // 0x7fffffff in every lane
#define Y_AMAX Y11 // amax in every lane

DATA absMask<>+0(SB)/4, $0x7fffffff
GLOBL absMask<>(SB), RODATA|NOPTR, $4

// STE_AVX2 computes 8 results for the elements at off into r.
#define STE_AVX2(off, r) \
	VANDPS off(SRC), Y_ABS, r; /* r = |x|                            */ \
	VCMPPS $2, Y_AMAX, r, r;   /* r = |x| <= amax, all ones or zeros */ \
	VANDPS off(DYP), r, r      // r = dy or +0

// STE_SCALAR computes the result for element i into X0.
#define STE_SCALAR \
	VMOVSS (SRC), X0;       /* X0 = x      */ \
	VANDPS X0, X10, X0;     /* |x|         */ \
	VCMPPS $2, X11, X0, X0; /* |x| <= amax */ \
	VMOVSS (DYP), X1;       /* X1 = dy     */ \
	VANDPS X1, X0, X0       // dy or +0

// ADVANCE3 moves every pointer of ste on by n bytes.
#define ADVANCE3(n) \
	ADDQ $n, SRC; /* SRC += n */ \
	ADDQ $n, DYP; /* DYP += n */ \
	ADDQ $n, DST  // DST += n

// func steAVX2(dst, x, dy []float32, amax float32)
TEXT ·steAVX2(SB), NOSPLIT, $0-76
	MOVQ         dst_base+0(FP), DST  // DST = &dst[0]
	MOVQ         x_base+24(FP), SRC   // SRC = &x[0]
	MOVQ         x_len+32(FP), LEN    // LEN = len(x)
	MOVQ         dy_base+48(FP), DYP  // DYP = &dy[0]
	VBROADCASTSS amax+72(FP), Y_AMAX  // broadcast amax
	VBROADCASTSS absMask<>(SB), Y_ABS // Y_ABS = 0x7fffffff in every lane
	CMPQ         LEN, NT_MIN          // if LEN >= NT_MIN
	JAE          ste2_nt              // stream the output

ste2_loop32:
	CMPQ    LEN, $32    // while LEN >= 32
	JB      ste2_loop8  // no: on to ste2_loop8
	STE_AVX2(0, Y0)     // Y0 = results for [i, i+8)
	STE_AVX2(32, Y1)    // Y1 = results for [i+8, i+16)
	STE_AVX2(64, Y2)    // Y2 = results for [i+16, i+24)
	STE_AVX2(96, Y3)    // Y3 = results for [i+24, i+32)
	VMOVUPS Y0, (DST)   // dst[i:i+8] = Y0
	VMOVUPS Y1, 32(DST) // dst[i+8:i+16] = Y1
	VMOVUPS Y2, 64(DST) // dst[i+16:i+24] = Y2
	VMOVUPS Y3, 96(DST) // dst[i+24:i+32] = Y3
	ADVANCE3(128)       // i += 32
	SUBQ    $32, LEN    // LEN -= 32
	JMP     ste2_loop32 // next iteration

ste2_loop8:
	CMPQ    LEN, $8    // while LEN >= 8
	JB      ste2_tail  // no: on to ste2_tail
	STE_AVX2(0, Y0)    // Y0 = results for [i, i+8)
	VMOVUPS Y0, (DST)  // dst[i:i+8] = Y0
	ADVANCE3(32)       // i += 8
	SUBQ    $8, LEN    // LEN -= 8
	JMP     ste2_loop8 // next iteration

ste2_tail:
	TESTQ  LEN, LEN  // for the last LEN < 8 elements
	JZ     ste2_done // none: go to ste2_done
	STE_SCALAR       // X0 = result for element i
	VMOVSS X0, (DST) // dst[i] = X0
	ADVANCE3(4)      // i++
	DECQ   LEN       // LEN--
	JMP    ste2_tail // next iteration

ste2_done:
	VZEROUPPER // clear the upper halves for SSE code
	RET        // return

ste2_nt:
	TESTQ  $63, DST    // until DST is 64-byte aligned (LEN is far above 15)
	JZ     ste2_ntloop // aligned: stream
	STE_SCALAR         // X0 = result for element i
	VMOVSS X0, (DST)   // dst[i] = X0
	ADVANCE3(4)        // i++
	DECQ   LEN         // LEN--
	JMP    ste2_nt     // next iteration

ste2_ntloop:
	STE_AVX2(0, Y0)      // Y0 = results for [i, i+8)
	STE_AVX2(32, Y1)     // Y1 = results for [i+8, i+16)
	STE_AVX2(64, Y2)     // Y2 = results for [i+16, i+24)
	STE_AVX2(96, Y3)     // Y3 = results for [i+24, i+32)
	VMOVNTPS Y0, (DST)   // stream dst[i:i+8] = Y0
	VMOVNTPS Y1, 32(DST) // stream dst[i+8:i+16] = Y1
	VMOVNTPS Y2, 64(DST) // stream dst[i+16:i+24] = Y2
	VMOVNTPS Y3, 96(DST) // stream dst[i+24:i+32] = Y3
	ADVANCE3(128)        // i += 32
	SUBQ     $32, LEN    // LEN -= 32
	CMPQ     LEN, $32    // while LEN >= 32
	JAE      ste2_ntloop // loop
	SFENCE               // order the streamed stores before later ones
	JMP      ste2_loop8  // the rest as usual

#define Z_ABS  Z26 // 0x7fffffff in every lane
#define Z_AMAX Z27 // amax in every lane

// STE_AVX512 computes 16 results for the elements at off into r (K2
// scratch). dy is loaded unmasked and then masked, so that its load does not
// wait for the compare: out of cache a masked load there halved the speed.
#define STE_AVX512(off, r) \
	VPANDD    off(SRC), Z_ABS, r; /* r = |x|          */ \
	VCMPPS    $2, Z_AMAX, r, K2;  /* K2 = |x| <= amax */ \
	VMOVUPS   off(DYP), r;        /* r = dy           */ \
	VMOVAPS.Z r, K2, r            // r = dy or +0

// STE_AVX512_MASKED computes the lanes of K1 into Z0, reading no others.
#define STE_AVX512_MASKED \
	VPANDD.Z  (SRC), Z_ABS, K1, Z0;   /* Z0 = |x| in the lanes of K1 */ \
	VCMPPS    $2, Z_AMAX, Z0, K1, K2; /* K2 = those with |x| <= amax */ \
	VMOVUPS.Z (DYP), K2, Z0           // dy or +0

// func steAVX512(dst, x, dy []float32, amax float32)
TEXT ·steAVX512(SB), NOSPLIT, $0-76
	MOVQ         dst_base+0(FP), DST  // DST = &dst[0]
	MOVQ         x_base+24(FP), SRC   // SRC = &x[0]
	MOVQ         x_len+32(FP), LEN    // LEN = len(x)
	MOVQ         dy_base+48(FP), DYP  // DYP = &dy[0]
	VBROADCASTSS amax+72(FP), Z_AMAX  // broadcast amax
	VBROADCASTSS absMask<>(SB), Z_ABS // Z_ABS = 0x7fffffff in every lane
	CMPQ         LEN, NT_MIN          // if LEN >= NT_MIN
	JAE          ste5_nt              // stream the output

ste5_loop64:
	CMPQ    LEN, $64     // while LEN >= 64
	JB      ste5_loop16  // no: on to ste5_loop16
	STE_AVX512(0, Z0)    // Z0 = results for [i, i+16)
	STE_AVX512(64, Z1)   // Z1 = results for [i+16, i+32)
	STE_AVX512(128, Z2)  // Z2 = results for [i+32, i+48)
	STE_AVX512(192, Z3)  // Z3 = results for [i+48, i+64)
	VMOVUPS Z0, (DST)    // dst[i:i+16] = Z0
	VMOVUPS Z1, 64(DST)  // dst[i+16:i+32] = Z1
	VMOVUPS Z2, 128(DST) // dst[i+32:i+48] = Z2
	VMOVUPS Z3, 192(DST) // dst[i+48:i+64] = Z3
	ADVANCE3(256)        // i += 64
	SUBQ    $64, LEN     // LEN -= 64
	JMP     ste5_loop64  // next iteration

ste5_loop16:
	CMPQ    LEN, $16    // while LEN >= 16
	JB      ste5_tail   // no: on to ste5_tail
	STE_AVX512(0, Z0)   // Z0 = results for [i, i+16)
	VMOVUPS Z0, (DST)   // dst[i:i+16] = Z0
	ADVANCE3(64)        // i += 16
	SUBQ    $16, LEN    // LEN -= 16
	JMP     ste5_loop16 // next iteration

ste5_tail:
	TESTQ   LEN, LEN      // the last LEN < 16 elements, if any
	JZ      ste5_done     // none: go to ste5_done
	MOVQ    LEN, SHIFT    // K1 = their lanes
	LANES                 // K1 = lanes [0, SHIFT)
	STE_AVX512_MASKED     // Z0 = their results
	VMOVUPS Z0, K1, (DST) // dst[i:i+LEN] = Z0

ste5_done:
	VZEROUPPER // clear the upper halves for SSE code
	RET        // return

ste5_nt:
	MOVQ    DST, SHIFT          // SHIFT = elements before DST is 64-byte aligned
	NEGQ    SHIFT               // SHIFT = -DST
	ANDQ    $63, SHIFT          // bytes to the next 64-byte boundary
	SHRQ    $2, SHIFT           // as float32 elements, 0..15
	LANES                       // K1 = those lanes (none when aligned)
	STE_AVX512_MASKED           // Z0 = their results
	VMOVUPS Z0, K1, (DST)       // dst[i:i+SHIFT] = Z0
	LEAQ    (SRC)(SHIFT*4), SRC // i += SHIFT
	LEAQ    (DYP)(SHIFT*4), DYP // DYP += SHIFT elements
	LEAQ    (DST)(SHIFT*4), DST // DST += SHIFT elements
	SUBQ    SHIFT, LEN          // LEN -= SHIFT

ste5_ntloop:
	STE_AVX512(0, Z0)     // Z0 = results for [i, i+16)
	STE_AVX512(64, Z1)    // Z1 = results for [i+16, i+32)
	STE_AVX512(128, Z2)   // Z2 = results for [i+32, i+48)
	STE_AVX512(192, Z3)   // Z3 = results for [i+48, i+64)
	VMOVNTPS Z0, (DST)    // stream dst[i:i+16] = Z0, a whole cache line
	VMOVNTPS Z1, 64(DST)  // stream dst[i+16:i+32] = Z1
	VMOVNTPS Z2, 128(DST) // stream dst[i+32:i+48] = Z2
	VMOVNTPS Z3, 192(DST) // stream dst[i+48:i+64] = Z3
	ADVANCE3(256)         // i += 64
	SUBQ     $64, LEN     // LEN -= 64
	CMPQ     LEN, $64     // while LEN >= 64
	JAE      ste5_ntloop  // loop
	SFENCE                // order the streamed stores before later ones
	JMP      ste5_loop16  // the rest as usual
