//go:build gc && !purego

#include "textflag.h"

// The Go assembler has no mnemonics for these vector instructions; the
// encodings follow the Arm ARM (A64 Advanced SIMD three same) and decode
// back in go tool objdump. The macros take (m, n, d) and compute
// d = n OP m.
#define FADD4S(m, n, d) WORD $(0x4e20d400 | ((m)<<16) | ((n)<<5) | (d)) // fadd vd.4s, vn.4s, vm.4s
#define FMAX4S(m, n, d) WORD $(0x4e20f400 | ((m)<<16) | ((n)<<5) | (d)) // fmax vd.4s, vn.4s, vm.4s
#define FMIN4S(m, n, d) WORD $(0x4ea0f400 | ((m)<<16) | ((n)<<5) | (d)) // fmin vd.4s, vn.4s, vm.4s

// func finishNEON(dst, x, add []float32, bias, lo, hi float32)
TEXT ·finishNEON(SB), NOSPLIT, $0-84
	MOVD  dst_base+0(FP), R0   // R0 = &dst[0]
	MOVD  x_base+24(FP), R1    // R1 = &x[0]
	MOVD  x_len+32(FP), R2     // R2 = len(x)
	MOVD  add_base+48(FP), R3  // R3 = &add[0], or 0
	MOVWU bias+72(FP), R4
	VDUP  R4, V20.S4           // V20 = bias in every lane
	MOVWU lo+76(FP), R4
	VDUP  R4, V21.S4           // V21 = lo
	MOVWU hi+80(FP), R4
	VDUP  R4, V22.S4           // V22 = hi
	LSR   $2, R2, R2           // R2 = blocks of 4
	CBZ   R2, done
	CBZ   R3, plain            // no add

loopadd:
	VLD1.P 16(R1), [V0.S4]     // V0 = x[i:i+4]
	VLD1.P 16(R3), [V1.S4]     // V1 = add[i:i+4]
	FADD4S(20, 0, 0)           // V0 += bias
	FADD4S(1, 0, 0)            // V0 += add
	FMAX4S(21, 0, 0)           // V0 = max(V0, lo)
	FMIN4S(22, 0, 0)           // V0 = min(V0, hi)
	VST1.P [V0.S4], 16(R0)     // dst[i:i+4] = V0
	SUBS   $1, R2, R2
	BNE    loopadd
	RET

plain:
	VLD1.P 16(R1), [V0.S4]     // V0 = x[i:i+4]
	FADD4S(20, 0, 0)           // V0 += bias
	FMAX4S(21, 0, 0)           // V0 = max(V0, lo)
	FMIN4S(22, 0, 0)           // V0 = min(V0, hi)
	VST1.P [V0.S4], 16(R0)     // dst[i:i+4] = V0
	SUBS   $1, R2, R2
	BNE    plain

done:
	RET
