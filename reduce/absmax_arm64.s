//go:build gc && !purego

#include "textflag.h"

// The Go assembler has no mnemonics for these vector instructions; the
// encodings were checked with llvm-mc and decode back in go tool objdump.
// Three-register macros take (m, n, d) and compute d = n OP m.
#define FABS4S(n, d)     WORD $(0x4ea0f800 | ((n)<<5) | (d))             // fabs  vd.4s, vn.4s
#define FMAX4S(m, n, d)  WORD $(0x4e20f400 | ((m)<<16) | ((n)<<5) | (d)) // fmax  vd.4s, vn.4s, vm.4s
#define FMAXV4S(n, d)    WORD $(0x6e30f800 | ((n)<<5) | (d))             // fmaxv sd, vn.4s

// func absMaxNEON(x []float32) float32
// The abs-max of x, len(x) >= 4: four accumulators over blocks of 16,
// folded, then blocks of 4, then the last 4 elements again for the rest.
// FMAX keeps a NaN; the result is canonicalised to 0x7fc00000 at the end.
TEXT ·absMaxNEON(SB), NOSPLIT, $0-28
	MOVD x_base+0(FP), R0
	MOVD x_len+8(FP), R1
	ADD  R1<<2, R0, R4
	SUB  $16, R4, R4
	VLD1 (R4), [V20.S4] // the last 4 elements
	FABS4S(20, 20)
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	LSR  $4, R1, R2 // blocks of 16
	AND  $15, R1, R1
	CBZ  R2, fold

loop16:
	VLD1.P 64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	FABS4S(0, 0)
	FABS4S(1, 1)
	FABS4S(2, 2)
	FABS4S(3, 3)
	FMAX4S(0, 16, 16)
	FMAX4S(1, 17, 17)
	FMAX4S(2, 18, 18)
	FMAX4S(3, 19, 19)
	SUBS   $1, R2, R2
	BNE    loop16

fold:
	FMAX4S(17, 16, 16)
	FMAX4S(19, 18, 18)
	FMAX4S(18, 16, 16)
	LSR  $2, R1, R2 // blocks of 4
	CBZ  R2, lanes

loop4:
	VLD1.P 16(R0), [V0.S4]
	FABS4S(0, 0)
	FMAX4S(0, 16, 16)
	SUBS   $1, R2, R2
	BNE    loop4

lanes:
	FMAX4S(20, 16, 16)
	FMAXV4S(16, 16)
	FCMPS F16, F16 // unordered iff NaN
	BVC   ret
	MOVW  $0x7fc00000, R3
	FMOVS R3, F16

ret:
	FMOVS F16, ret+24(FP)
	RET
