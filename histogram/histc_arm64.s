//go:build gc && !purego

#include "textflag.h"
#include "go_asm.h"

// The NEON torch.histc binning kernel (see histcGeneric for the rule, and
// histc_amd64.s for the method). The Go assembler has no mnemonics for the
// vector floating-point instructions; they are written as WORDs, the GNU
// mnemonic beside each (operands m, n, d: d = n OP m).
#define FABS4S(n, d)      WORD $(0x4ea0f800 | ((n)<<5) | (d))              // fabs   vd.4s, vn.4s
#define FCMGE4S(m, n, d)  WORD $(0x6e20e400 | ((m)<<16) | ((n)<<5) | (d))  // fcmge  vd.4s, vn.4s, vm.4s
#define FCMEQ4S(m, n, d)  WORD $(0x4e20e400 | ((m)<<16) | ((n)<<5) | (d))  // fcmeq  vd.4s, vn.4s, vm.4s
#define FSUB4S(m, n, d)   WORD $(0x4ea0d400 | ((m)<<16) | ((n)<<5) | (d))  // fsub   vd.4s, vn.4s, vm.4s
#define FDIV4S(m, n, d)   WORD $(0x6e20fc00 | ((m)<<16) | ((n)<<5) | (d))  // fdiv   vd.4s, vn.4s, vm.4s
#define FMUL4S(m, n, d)   WORD $(0x6e20dc00 | ((m)<<16) | ((n)<<5) | (d))  // fmul   vd.4s, vn.4s, vm.4s
#define FCVTZS4S(n, d)    WORD $(0x4ea1b800 | ((n)<<5) | (d))              // fcvtzs vd.4s, vn.4s

// func histcNEON(sub []uint32, x []float32, p *histcParams)
TEXT ·histcNEON(SB), NOSPLIT, $0-56
	MOVD sub_base+0(FP), R0
	MOVD x_base+24(FP), R1
	MOVD x_len+32(FP), R2
	MOVD p+48(FP), R3
	LSR  $2, R2                          // vectors of 4
	CBZ  R2, done
	FMOVS histcParams_lo(R3), F16
	VDUP  V16.S[0], V16.S4
	FMOVS histcParams_hi(R3), F17
	VDUP  V17.S[0], V17.S4
	FMOVS histcParams_rng(R3), F18
	VDUP  V18.S[0], V18.S4
	FMOVS histcParams_fn(R3), F19
	VDUP  V19.S[0], V19.S4
	FMOVS histcParams_zero(R3), F20
	VDUP  V20.S[0], V20.S4
	MOVWU histcParams_last(R3), R4
	VDUP  R4, V21.S4
	MOVWU histcParams_trashOut(R3), R4
	VDUP  R4, V22.S4
	MOVWU histcParams_trashZero(R3), R4
	VDUP  R4, V23.S4
	ADD   $histcParams_laneOff, R3, R4
	VLD1  (R4), [V24.S4]

loop:
	VLD1.P 16(R1), [V0.S4]
	FABS4S(0, 0)                         // v = |x|
	FCMGE4S(16, 0, 1)                    // V1 = v >= lo
	FCMGE4S(0, 17, 2)                    // V2 = hi >= v
	VAND  V2.B16, V1.B16, V1.B16         // in range (NaN fails both)
	FCMEQ4S(20, 0, 3)                    // V3 = v == zero
	VAND  V1.B16, V3.B16, V3.B16         // dropped zero
	FSUB4S(16, 0, 4)                     // v - lo
	FDIV4S(18, 4, 4)                     // / rng
	FMUL4S(19, 4, 4)                     // * fn
	FCVTZS4S(4, 4)                       // truncate (NaN gives 0)
	VUMIN V21.S4, V4.S4, V4.S4           // min(., n-1)
	VMOV  V22.B16, V5.B16                // slot = n+1
	VBIT  V1.B16, V4.B16, V5.B16         // in range: the bin
	VBIT  V3.B16, V23.B16, V5.B16        // dropped zero: n
	VADD  V24.S4, V5.S4, V5.S4           // + sub-histogram offset
	VMOV  V5.S[0], R4
	VMOV  V5.S[1], R5
	VMOV  V5.S[2], R6
	VMOV  V5.S[3], R7
	MOVWU (R0)(R4<<2), R8
	ADDW  $1, R8
	MOVW  R8, (R0)(R4<<2)
	MOVWU (R0)(R5<<2), R9
	ADDW  $1, R9
	MOVW  R9, (R0)(R5<<2)
	MOVWU (R0)(R6<<2), R10
	ADDW  $1, R10
	MOVW  R10, (R0)(R6<<2)
	MOVWU (R0)(R7<<2), R11
	ADDW  $1, R11
	MOVW  R11, (R0)(R7<<2)
	SUB   $1, R2
	CBNZ  R2, loop

done:
	RET
