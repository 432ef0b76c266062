//go:build gc && !purego

#include "textflag.h"

// AbsMax on integers: with the sign bit cleared, the bits of two floats
// compare as unsigned integers in the order of the floats, and the bits of
// every NaN exceed those of +Inf (0x7f800000). So an unsigned integer max of
// the sign-cleared words is the abs-max, or the bits of a NaN if any element
// is NaN; the end maps those to the one quiet NaN 0x7fc00000. Integer max is
// cheaper than VMAXPS and needs no NaN test in the loop.

DATA absMask<>+0(SB)/4, $0x7fffffff
GLOBL absMask<>(SB), RODATA|NOPTR, $4

#define X_PTR SI // &x[i]
#define LEN   CX // elements left
#define MAX   AX // the running max, as bits
#define TMP   DX // scratch

// FINISH maps the bits in MAX to the result: a NaN's bits become 0x7fc00000.
#define FINISH \
	CMPL MAX, $0x7f800000; /* is the max above +Inf's bits? */ \
	JLS  2(PC);            /* no: it is the abs-max         */ \
	MOVL $0x7fc00000, MAX  // yes: the quiet NaN

// func absMaxAVX2(x []float32) float32
TEXT ·absMaxAVX2(SB), NOSPLIT, $0-28
	MOVQ         x_base+0(FP), X_PTR // X_PTR = &x[0]
	MOVQ         x_len+8(FP), LEN    // LEN = len(x)
	VPBROADCASTD absMask<>(SB), Y15  // Y15 = sign-clearing mask
	VPXOR        Y0, Y0, Y0          // four accumulators, 0 = +0's bits
	VPXOR        Y1, Y1, Y1          // Y1 = 0
	VPXOR        Y2, Y2, Y2          // Y2 = 0
	VPXOR        Y3, Y3, Y3          // Y3 = 0
	CMPQ         LEN, $32            // if LEN < 32
	JB           avx2_loop8          // skip the unrolled loop

avx2_loop32:
	VPAND   (X_PTR), Y15, Y4   // Y4 = |x[i:i+8]| bits
	VPAND   32(X_PTR), Y15, Y5 // Y5 = |x[i+8:i+16]| bits
	VPAND   64(X_PTR), Y15, Y6 // Y6 = |x[i+16:i+24]| bits
	VPAND   96(X_PTR), Y15, Y7 // Y7 = |x[i+24:i+32]| bits
	VPMAXUD Y4, Y0, Y0         // Y0 = max(Y0, Y4)
	VPMAXUD Y5, Y1, Y1         // Y1 = max(Y1, Y5)
	VPMAXUD Y6, Y2, Y2         // Y2 = max(Y2, Y6)
	VPMAXUD Y7, Y3, Y3         // Y3 = max(Y3, Y7)
	ADDQ    $128, X_PTR        // i += 32
	SUBQ    $32, LEN           // LEN -= 32
	CMPQ    LEN, $32           // while LEN >= 32
	JAE     avx2_loop32        // loop
	VPMAXUD Y1, Y0, Y0         // fold the accumulators into Y0
	VPMAXUD Y3, Y2, Y2         // Y2 = max(Y2, Y3)
	VPMAXUD Y2, Y0, Y0         // Y0 = max(Y0, Y2)

avx2_loop8:
	CMPQ    LEN, $8          // while LEN >= 8
	JB      avx2_fold        // no: on to avx2_fold
	VPAND   (X_PTR), Y15, Y4 // Y4 = |x[i:i+8]| bits
	VPMAXUD Y4, Y0, Y0       // Y0 = max(Y0, Y4)
	ADDQ    $32, X_PTR       // i += 8
	SUBQ    $8, LEN          // LEN -= 8
	JMP     avx2_loop8       // next iteration

avx2_fold:
	VEXTRACTI128 $1, Y0, X1    // fold the 8 lanes of Y0 into one
	VPMAXUD      X1, X0, X0    // X0 = max(X0, X1)
	VPSHUFD      $0x4e, X0, X1 // X1 = X0 with its 64-bit halves swapped
	VPMAXUD      X1, X0, X0    // X0 = max(X0, X1)
	VPSHUFD      $0xb1, X0, X1 // X1 = X0 with neighbouring lanes swapped
	VPMAXUD      X1, X0, X0    // X0 = max(X0, X1)
	VMOVD        X0, MAX       // MAX = lane 0
	VZEROUPPER                 // clear the upper halves for SSE code

avx2_tail:
	TESTQ   LEN, LEN         // for the last LEN < 8 elements
	JZ      avx2_done        // none: go to avx2_done
	MOVL    (X_PTR), TMP     // TMP = x[i] bits
	ANDL    $0x7fffffff, TMP // TMP = |x[i]| bits
	CMPL    TMP, MAX         // MAX = max(MAX, TMP), unsigned
	CMOVLHI TMP, MAX         // (if above)
	ADDQ    $4, X_PTR        // i++
	DECQ    LEN              // LEN--
	JMP     avx2_tail        // next iteration

avx2_done:
	FINISH               // MAX = result bits
	MOVL MAX, ret+24(FP) // return MAX
	RET                  // return

// func absMaxAVX512(x []float32) float32
TEXT ·absMaxAVX512(SB), NOSPLIT, $0-28
	MOVQ         x_base+0(FP), X_PTR // X_PTR = &x[0]
	MOVQ         x_len+8(FP), LEN    // LEN = len(x)
	VPBROADCASTD absMask<>(SB), Z31  // Z31 = sign-clearing mask
	VPXORD       Z0, Z0, Z0          // four accumulators, 0 = +0's bits
	VPXORD       Z1, Z1, Z1          // Z1 = 0
	VPXORD       Z2, Z2, Z2          // Z2 = 0
	VPXORD       Z3, Z3, Z3          // Z3 = 0
	CMPQ         LEN, $64            // if LEN < 64
	JB           avx512_loop16       // skip the unrolled loop

avx512_loop64:
	VPANDD  (X_PTR), Z31, Z4    // Z4 = |x[i:i+16]| bits
	VPANDD  64(X_PTR), Z31, Z5  // Z5 = |x[i+16:i+32]| bits
	VPANDD  128(X_PTR), Z31, Z6 // Z6 = |x[i+32:i+48]| bits
	VPANDD  192(X_PTR), Z31, Z7 // Z7 = |x[i+48:i+64]| bits
	VPMAXUD Z4, Z0, Z0          // Z0 = max(Z0, Z4)
	VPMAXUD Z5, Z1, Z1          // Z1 = max(Z1, Z5)
	VPMAXUD Z6, Z2, Z2          // Z2 = max(Z2, Z6)
	VPMAXUD Z7, Z3, Z3          // Z3 = max(Z3, Z7)
	ADDQ    $256, X_PTR         // i += 64
	SUBQ    $64, LEN            // LEN -= 64
	CMPQ    LEN, $64            // while LEN >= 64
	JAE     avx512_loop64       // loop
	VPMAXUD Z1, Z0, Z0          // fold the accumulators into Z0
	VPMAXUD Z3, Z2, Z2          // Z2 = max(Z2, Z3)
	VPMAXUD Z2, Z0, Z0          // Z0 = max(Z0, Z2)

avx512_loop16:
	CMPQ    LEN, $16         // while LEN >= 16
	JB      avx512_tail      // no: on to avx512_tail
	VPANDD  (X_PTR), Z31, Z4 // Z4 = |x[i:i+16]| bits
	VPMAXUD Z4, Z0, Z0       // Z0 = max(Z0, Z4)
	ADDQ    $64, X_PTR       // i += 16
	SUBQ    $16, LEN         // LEN -= 16
	JMP     avx512_loop16    // next iteration

avx512_tail:
	MOVL          $1, TMP         // K1 = (1<<LEN) - 1: the last LEN < 16 lanes
	SHLL          CX, TMP
	DECL          TMP             // (minus one)
	KMOVW         TMP, K1         // K1 = TMP
	VMOVDQU32.Z   (X_PTR), K1, Z4 // Z4 = x[i:i+LEN], 0 in the other lanes
	VPANDD        Z4, Z31, Z4     // Z4 = |x[i:i+LEN]| bits
	VPMAXUD       Z4, Z0, Z0      // Z0 = max(Z0, Z4)
	VEXTRACTI64X4 $1, Z0, Y1      // fold the 16 lanes of Z0 into one
	VPMAXUD       Y1, Y0, Y0      // Y0 = max(Y0, Y1)
	VEXTRACTI128  $1, Y0, X1      // X1 = upper half of Y0
	VPMAXUD       X1, X0, X0      // X0 = max(X0, X1)
	VPSHUFD       $0x4e, X0, X1   // X1 = X0 with its 64-bit halves swapped
	VPMAXUD       X1, X0, X0      // X0 = max(X0, X1)
	VPSHUFD       $0xb1, X0, X1   // X1 = X0 with neighbouring lanes swapped
	VPMAXUD       X1, X0, X0      // X0 = max(X0, X1)
	VMOVD         X0, MAX         // MAX = lane 0
	VZEROUPPER                    // clear the upper halves for SSE code
	FINISH                        // MAX = result bits
	MOVL          MAX, ret+24(FP) // return MAX
	RET                           // return
