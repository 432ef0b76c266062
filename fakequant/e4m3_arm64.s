//go:build gc && !purego

#include "textflag.h"

// The original toolkit's scaled E4M3 fake quantization for NEON
// (scaledE4M3Generic in e4m3_generic.go is the specification; the steps
// are those of e4m3_amd64.s): all len(src) elements, at least 4, 4 per
// iteration and, where len is not a multiple of 4, the last 4 again for
// the rest, computed before anything is stored and stored last, over the
// overlap with the same values (so dst may be src).
// FPCR is Go's default (round to nearest even, no flush to zero), so FMUL,
// FADD, FSUB and FDIV give the bits of the Go code, subnormals included.

// The Go assembler has no mnemonics for these vector instructions; the
// encodings were checked with llvm-mc (and decode back in go tool objdump).
// Three-register macros take (m, n, d) and compute d = n OP m.
#define FMUL4S(m, n, d) WORD $(0x6e20dc00 | ((m)<<16) | ((n)<<5) | (d)) // fmul vd.4s, vn.4s, vm.4s
#define FDIV4S(m, n, d) WORD $(0x6e20fc00 | ((m)<<16) | ((n)<<5) | (d)) // fdiv vd.4s, vn.4s, vm.4s
#define FADD4S(m, n, d) WORD $(0x4e20d400 | ((m)<<16) | ((n)<<5) | (d)) // fadd vd.4s, vn.4s, vm.4s
#define FSUB4S(m, n, d) WORD $(0x4ea0d400 | ((m)<<16) | ((n)<<5) | (d)) // fsub vd.4s, vn.4s, vm.4s
#define UMIN4S(m, n, d) WORD $(0x6ea06c00 | ((m)<<16) | ((n)<<5) | (d)) // umin vd.4s, vn.4s, vm.4s
#define CMHI4S(m, n, d) WORD $(0x6ea03400 | ((m)<<16) | ((n)<<5) | (d)) // cmhi vd.4s, vn.4s, vm.4s (n > m, unsigned)
#define BIT16B(m, n, d) WORD $(0x6ea01c00 | ((m)<<16) | ((n)<<5) | (d)) // bit  vd.16b, vn.16b, vm.16b (d = m ? n : d)

// e4m3c<>: the constants, one 32-bit word each, broadcast into vectors.
DATA e4m3c<>+0(SB)/4, $0x7FFFFFFF  // clears the sign bit
DATA e4m3c<>+4(SB)/4, $1           // the lowest kept bit, once shifted down
DATA e4m3c<>+8(SB)/4, $0x0007FFFF  // round bias: 1<<19 - 1
DATA e4m3c<>+12(SB)/4, $0xFFF00000 // the bits E4M3 keeps
DATA e4m3c<>+16(SB)/4, $0x3C800000 // 2^-6, the smallest normal E4M3 value
DATA e4m3c<>+20(SB)/4, $0x43E00000 // 448, the largest
DATA e4m3c<>+24(SB)/4, $0x7F800000 // +Inf: |v| bits above are NaN
DATA e4m3c<>+28(SB)/4, $0x46800000 // magic 2^14: its float32 ulp is 2^-9
DATA e4m3c<>+32(SB)/4, $0x337FFFFF // the float32 below 2^-24
GLOBL e4m3c<>(SB), RODATA|NOPTR, $36

#define DST R0 // &dst[i]
#define SRC R1 // &src[i]
#define CNT R2 // blocks of 4 left
#define C   R3 // &e4m3c<>, walked by the constant loads
#define ARG R4 // scale's bits on their way into a vector
#define ESRC R5 // the last 4 elements of src
#define EDST R6 // the last 4 elements of dst
#define TAIL R7 // len % 4: the last 4 elements are done again unless 0

// SCALED4 computes the results of the 4 elements in V0 into V3 (V0, V1,
// V2, V4 and V5 scratch).
#define SCALED4 \
	FMUL4S(16, 0, 1);             /* v = x * scale */ \
	VAND  V17.B16, V1.B16, V2.B16; /* a = |v| */ \
	VEOR  V2.B16, V1.B16, V1.B16;  /* the sign bit of v */ \
	VUSHR $20, V2.S4, V3.S4; \
	VAND  V18.B16, V3.B16, V3.B16; /* the lowest kept bit */ \
	VADD  V19.S4, V3.S4, V3.S4;    /* + round bias */ \
	VADD  V2.S4, V3.S4, V3.S4; \
	VAND  V20.B16, V3.B16, V3.B16; /* the normal-range rounding */ \
	UMIN4S(22, 3, 3);             /* saturate: above 448 (and Inf) is 448 */ \
	FADD4S(24, 2, 4);             /* a + magic - magic: the subnormal rounding */ \
	FSUB4S(24, 4, 4); \
	CMHI4S(2, 21, 5);             /* a < 2^-6 */ \
	BIT16B(5, 4, 3); \
	CMHI4S(23, 2, 5);             /* a > Inf: NaN */ \
	BIT16B(5, 2, 3); \
	VORR  V1.B16, V3.B16, V3.B16; \
	FDIV4S(16, 3, 3);             /* / scale */ \
	VAND  V17.B16, V0.B16, V0.B16; \
	CMHI4S(25, 0, 0);             /* |x| >= 2^-24 (NaN too) */ \
	VAND  V0.B16, V3.B16, V3.B16    /* +0 elsewhere */

// func scaledE4M3NEON(dst, src []float32, scale float32)
TEXT ·scaledE4M3NEON(SB), NOSPLIT, $0-52
	MOVD    dst_base+0(FP), DST
	MOVD    src_base+24(FP), SRC
	MOVD    src_len+32(FP), CNT
	MOVWU   scale+48(FP), ARG
	VDUP    ARG, V16.S4
	MOVD    $e4m3c<>(SB), C // V17..V25 = the constants, in order
	VLD1R.P 4(C), [V17.S4]
	VLD1R.P 4(C), [V18.S4]
	VLD1R.P 4(C), [V19.S4]
	VLD1R.P 4(C), [V20.S4]
	VLD1R.P 4(C), [V21.S4]
	VLD1R.P 4(C), [V22.S4]
	VLD1R.P 4(C), [V23.S4]
	VLD1R.P 4(C), [V24.S4]
	VLD1R   (C), [V25.S4]
	AND   $3, CNT, TAIL
	CBZ   TAIL, scaled_body
	ADD     CNT<<2, SRC, ESRC
	SUB     $16, ESRC, ESRC
	ADD     CNT<<2, DST, EDST
	SUB     $16, EDST, EDST
	VLD1    (ESRC), [V0.S4]
	SCALED4
	VMOV    V3.B16, V26.B16

scaled_body:
	LSR     $2, CNT, CNT

loop:
	VLD1.P 16(SRC), [V0.S4]
	SCALED4
	VST1.P [V3.S4], 16(DST)
	SUBS   $1, CNT, CNT
	BNE    loop
	CBZ    TAIL, scaled_ret
	VST1   [V26.S4], (EDST)

scaled_ret:
	RET
