//go:build gc && !purego

#include "textflag.h"

// The Go assembler has no mnemonics for these vector instructions; the
// encodings were checked with llvm-mc and decode back in go tool objdump.
// Three-register macros take (m, n, d) and compute d = n OP m.
#define FABS4S(n, d)     WORD $(0x4ea0f800 | ((n)<<5) | (d))             // fabs  vd.4s, vn.4s
#define FMAX4S(m, n, d)  WORD $(0x4e20f400 | ((m)<<16) | ((n)<<5) | (d)) // fmax  vd.4s, vn.4s, vm.4s
#define FMAXV4S(n, d)    WORD $(0x6e30f800 | ((n)<<5) | (d))             // fmaxv sd, vn.4s

#define X_PTR R0 // next element of x
#define N     R1 // elements left to do after the current stage
#define CNT   R2 // iterations left in the current loop
#define QNAN  R3 // bits of the quiet NaN

// func absMaxNEON(x []float32) float32
TEXT ·absMaxNEON(SB), NOSPLIT, $0-28
	MOVD x_base+0(FP), X_PTR            // X_PTR = &x[0]
	MOVD x_len+8(FP), N                 // N = len(x)
	VEOR V16.B16, V16.B16, V16.B16      // acc0 = 0
	VEOR V17.B16, V17.B16, V17.B16      // acc1 = 0
	VEOR V18.B16, V18.B16, V18.B16      // acc2 = 0
	VEOR V19.B16, V19.B16, V19.B16      // acc3 = 0
	LSR  $4, N, CNT                     // CNT = N / 16
	AND  $15, N, N                      // N = N % 16
	CBZ  CNT, fold                      // fewer than 16 elements: skip the wide loop

loop16:
	VLD1.P 64(X_PTR), [V0.S4, V1.S4, V2.S4, V3.S4] // V0..V3 = next 16 elements
	FABS4S(0, 0)                                   // V0 = |V0|
	FABS4S(1, 1)                                   // V1 = |V1|
	FABS4S(2, 2)                                   // V2 = |V2|
	FABS4S(3, 3)                                   // V3 = |V3|
	FMAX4S(0, 16, 16)                              // acc0 = max(acc0, V0), NaN sticks
	FMAX4S(1, 17, 17)                              // acc1 = max(acc1, V1)
	FMAX4S(2, 18, 18)                              // acc2 = max(acc2, V2)
	FMAX4S(3, 19, 19)                              // acc3 = max(acc3, V3)
	SUBS   $1, CNT, CNT                            // CNT--
	BNE    loop16                                  // more blocks of 16

fold:
	FMAX4S(17, 16, 16)                  // acc0 = max(acc0, acc1)
	FMAX4S(19, 18, 18)                  // acc2 = max(acc2, acc3)
	FMAX4S(18, 16, 16)                  // acc0 = max(acc0, acc2)
	LSR  $2, N, CNT                     // CNT = N / 4
	AND  $3, N, N                       // N = N % 4
	CBZ  CNT, lanes                     // no block of 4 left

loop4:
	VLD1.P 16(X_PTR), [V0.S4]           // V0 = next 4 elements
	FABS4S(0, 0)                        // V0 = |V0|
	FMAX4S(0, 16, 16)                   // acc0 = max(acc0, V0)
	SUBS   $1, CNT, CNT                 // CNT--
	BNE    loop4                        // more blocks of 4

lanes:
	FMAXV4S(16, 16)                     // F16 = max of the 4 lanes of acc0
	CBZ  N, done                        // no single element left

loop1:
	FMOVS.P 4(X_PTR), F0                // F0 = next element
	FABSS   F0, F0                      // F0 = |F0|
	FMAXS   F0, F16, F16                // F16 = max(F16, F0), NaN sticks
	SUBS    $1, N, N                    // N--
	BNE     loop1                       // more single elements

done:
	FCMPS F16, F16                      // unordered iff F16 is NaN
	BVC   ret                           // not NaN: return it as it is
	MOVW  $0x7fc00000, QNAN             // the one quiet NaN AbsMax returns
	FMOVS QNAN, F16                     // F16 = quiet NaN

ret:
	FMOVS F16, ret+24(FP)               // return F16
	RET
