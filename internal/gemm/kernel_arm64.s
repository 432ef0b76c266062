//go:build gc && !purego

#include "textflag.h"

// NEON micro-kernel of Sgemm (see kernelGeneric in kernel_generic.go, the
// specification). The Go assembler has no mnemonic for the by-element
// FMLA nor for vector FADD, so they are WORDs, each with its GNU form in the
// comment (encodings checked with llvm-mc and go tool objdump).

// func sgemmNEON(k int, a, b, c []float32, ldc int, acc bool)
// 8×8 tile: row i in V(2i) (columns 0-3) and V(2i+1) (columns 4-7).
TEXT ·sgemmNEON(SB), NOSPLIT, $0-89
	MOVD k+0(FP), R0        // R0 = k
	MOVD a_base+8(FP), R1   // R1 = &a[0]
	MOVD b_base+32(FP), R2  // R2 = &b[0]
	MOVD c_base+56(FP), R3  // R3 = &c[0]
	MOVD ldc+80(FP), R4
	LSL $2, R4, R4          // R4 = ldc in bytes
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	VEOR V4.B16, V4.B16, V4.B16
	VEOR V5.B16, V5.B16, V5.B16
	VEOR V6.B16, V6.B16, V6.B16
	VEOR V7.B16, V7.B16, V7.B16
	VEOR V8.B16, V8.B16, V8.B16
	VEOR V9.B16, V9.B16, V9.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V11.B16, V11.B16, V11.B16
	VEOR V12.B16, V12.B16, V12.B16
	VEOR V13.B16, V13.B16, V13.B16
	VEOR V14.B16, V14.B16, V14.B16
	VEOR V15.B16, V15.B16, V15.B16
	CBZ R0, store

loop:
	VLD1.P 32(R2), [V16.S4, V17.S4]  // b[p][0:8]
	VLD1.P 32(R1), [V18.S4, V19.S4]  // a[p][0:8]
	WORD $0x4f921200 // fmla v0.4s, v16.4s, v18.s[0]
	WORD $0x4f921221 // fmla v1.4s, v17.4s, v18.s[0]
	WORD $0x4fb21202 // fmla v2.4s, v16.4s, v18.s[1]
	WORD $0x4fb21223 // fmla v3.4s, v17.4s, v18.s[1]
	WORD $0x4f921a04 // fmla v4.4s, v16.4s, v18.s[2]
	WORD $0x4f921a25 // fmla v5.4s, v17.4s, v18.s[2]
	WORD $0x4fb21a06 // fmla v6.4s, v16.4s, v18.s[3]
	WORD $0x4fb21a27 // fmla v7.4s, v17.4s, v18.s[3]
	WORD $0x4f931208 // fmla v8.4s, v16.4s, v19.s[0]
	WORD $0x4f931229 // fmla v9.4s, v17.4s, v19.s[0]
	WORD $0x4fb3120a // fmla v10.4s, v16.4s, v19.s[1]
	WORD $0x4fb3122b // fmla v11.4s, v17.4s, v19.s[1]
	WORD $0x4f931a0c // fmla v12.4s, v16.4s, v19.s[2]
	WORD $0x4f931a2d // fmla v13.4s, v17.4s, v19.s[2]
	WORD $0x4fb31a0e // fmla v14.4s, v16.4s, v19.s[3]
	WORD $0x4fb31a2f // fmla v15.4s, v17.4s, v19.s[3]
	SUBS $1, R0, R0
	BNE loop

store:
	MOVBU acc+88(FP), R5
	CBZ R5, write
	MOVD R3, R6
	VLD1 (R6), [V20.S4, V21.S4]       // c[0][0:8]
	WORD $0x4e34d400 // fadd v0.4s, v0.4s, v20.4s
	WORD $0x4e35d421 // fadd v1.4s, v1.4s, v21.4s
	ADD R4, R6, R6
	VLD1 (R6), [V20.S4, V21.S4]       // c[1][0:8]
	WORD $0x4e34d442 // fadd v2.4s, v2.4s, v20.4s
	WORD $0x4e35d463 // fadd v3.4s, v3.4s, v21.4s
	ADD R4, R6, R6
	VLD1 (R6), [V20.S4, V21.S4]       // c[2][0:8]
	WORD $0x4e34d484 // fadd v4.4s, v4.4s, v20.4s
	WORD $0x4e35d4a5 // fadd v5.4s, v5.4s, v21.4s
	ADD R4, R6, R6
	VLD1 (R6), [V20.S4, V21.S4]       // c[3][0:8]
	WORD $0x4e34d4c6 // fadd v6.4s, v6.4s, v20.4s
	WORD $0x4e35d4e7 // fadd v7.4s, v7.4s, v21.4s
	ADD R4, R6, R6
	VLD1 (R6), [V20.S4, V21.S4]       // c[4][0:8]
	WORD $0x4e34d508 // fadd v8.4s, v8.4s, v20.4s
	WORD $0x4e35d529 // fadd v9.4s, v9.4s, v21.4s
	ADD R4, R6, R6
	VLD1 (R6), [V20.S4, V21.S4]       // c[5][0:8]
	WORD $0x4e34d54a // fadd v10.4s, v10.4s, v20.4s
	WORD $0x4e35d56b // fadd v11.4s, v11.4s, v21.4s
	ADD R4, R6, R6
	VLD1 (R6), [V20.S4, V21.S4]       // c[6][0:8]
	WORD $0x4e34d58c // fadd v12.4s, v12.4s, v20.4s
	WORD $0x4e35d5ad // fadd v13.4s, v13.4s, v21.4s
	ADD R4, R6, R6
	VLD1 (R6), [V20.S4, V21.S4]       // c[7][0:8]
	WORD $0x4e34d5ce // fadd v14.4s, v14.4s, v20.4s
	WORD $0x4e35d5ef // fadd v15.4s, v15.4s, v21.4s

write:
	VST1 [V0.S4, V1.S4], (R3)
	ADD R4, R3, R3
	VST1 [V2.S4, V3.S4], (R3)
	ADD R4, R3, R3
	VST1 [V4.S4, V5.S4], (R3)
	ADD R4, R3, R3
	VST1 [V6.S4, V7.S4], (R3)
	ADD R4, R3, R3
	VST1 [V8.S4, V9.S4], (R3)
	ADD R4, R3, R3
	VST1 [V10.S4, V11.S4], (R3)
	ADD R4, R3, R3
	VST1 [V12.S4, V13.S4], (R3)
	ADD R4, R3, R3
	VST1 [V14.S4, V15.S4], (R3)
	RET
